"""The layout as the architecture says it is: layers, short functions, one filter table, mirrored tests."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from hfmrs.filters import FIELDS

ROOT = Path(__file__).resolve().parents[1]
WEB_FRAMEWORKS = {"fastapi", "gradio", "uvicorn", "starlette", "gradio_client"}
MAX_FUNCTION_LINES = 80


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_library_imports_no_web_framework_and_nothing_from_services():
    offenders = {
        str(p.relative_to(ROOT)): sorted(found)
        for p in python_files("hfmrs")
        if (found := imported_roots(p) & (WEB_FRAMEWORKS | {"services"}))
    }
    assert offenders == {}


def test_no_function_over_80_lines_outside_benchmarks():
    long = []
    for path in python_files("hfmrs", "services", "tests", "deploy"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


# A filter whose name is a compound word of its own (min_downloads reads `downloads`, fits_in_gb two memory
# fields) is spelled in its one declaration only; frontends and adapters are generated from the table.
# Payload field names (pipeline_tag) and plain words (purpose, dtype, family) are every module's to use.
DECLARED_ONCE = [f.name for f in FIELDS if "_" in f.name and f.name not in {index.key for index in f.indexes}]


@pytest.mark.parametrize("name", DECLARED_ONCE)
def test_a_filter_is_named_in_one_definition(name: str):
    pattern = re.compile(rf"\b{name}\b")
    found = [str(p.relative_to(ROOT)) for p in python_files("hfmrs", "services") if pattern.search(p.read_text())]
    assert found == ["hfmrs/filters.py"]


def test_tests_mirror_the_package():
    packages = [p.parent for p in (ROOT / "hfmrs").rglob("__init__.py") if p.parent != ROOT / "hfmrs"]
    services = [p.parent for p in (ROOT / "services").glob("*/__init__.py")]
    missing = [
        str(folder.relative_to(ROOT))
        for folder in [*packages, *services, ROOT / "services" / "recommender" / "routes"]
        if not (ROOT / "tests" / folder.relative_to(ROOT)).is_dir()
    ]
    assert missing == []
    for module in ("explain", "ranking", "filters", "sizes", "catalog", "engine"):
        assert (ROOT / "tests" / "hfmrs" / f"test_{module}.py").exists(), module
    assert (ROOT / "tests" / "services" / "test_jobs.py").exists()


def test_the_readme_layout_tree_names_every_module():
    text = (ROOT / "README.md").read_text()
    tree = text.split("<!-- layout:start -->", 1)[1].split("<!-- layout:end -->", 1)[0]
    for path in python_files("hfmrs", "services"):
        if path.name == "__init__.py":
            continue
        relative = path.relative_to(ROOT)
        # a module is named in its folder's line, as "name.py" (top-level ones as "folder/name.py" or "name.py")
        assert path.name in tree or str(relative) in tree, f"{relative} is missing from README's layout tree"
    for folder in re.findall(r"^  (\w+)/ ", tree, re.M):
        assert (ROOT / "hfmrs" / folder).is_dir() or (ROOT / "services" / folder).is_dir(), folder
