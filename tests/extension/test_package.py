"""The extension as shipped: manifest rules, safe DOM code, and the packed zip (no browser needed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "chrome-ext"
MANIFEST = json.loads((EXT / "manifest.json").read_text(encoding="utf-8"))

# Keys Chrome understands and Edge (or other Chromium browsers) do not, or that tie the package to the
# Chrome Web Store: the manifest must load unchanged in Edge.
CHROME_ONLY_KEYS = {
    "key",
    "update_url",
    "chrome_url_overrides",
    "chrome_settings_overrides",
    "minimum_chrome_version",
    "oauth2",
    "export",
    "import",
    "nacl_modules",
    "platforms",
    "system_indicator",
    "differential_fingerprint",
}
UNSAFE_DOM = re.compile(r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(")


def csp_directives(policy: str) -> dict[str, list[str]]:
    directives = {}
    for part in policy.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name] = values
    return directives


def test_manifest_is_mv3_for_huggingface_model_pages_only():
    assert MANIFEST["manifest_version"] == 3
    assert re.fullmatch(r"\d+\.\d+\.\d+", MANIFEST["version"])
    scripts = MANIFEST["content_scripts"]
    assert [m for s in scripts for m in s["matches"]] == ["https://huggingface.co/*"]
    assert not any("exclude_matches" in s or "all_frames" in s for s in scripts)
    assert set(MANIFEST["host_permissions"]) == {"http://localhost:8000/*", "http://127.0.0.1:8000/*"}
    assert MANIFEST["permissions"] == ["storage"]
    assert MANIFEST["background"] == {"service_worker": "background.js"}
    assert "web_accessible_resources" not in MANIFEST and "externally_connectable" not in MANIFEST


def test_manifest_has_no_chrome_only_keys():
    assert not CHROME_ONLY_KEYS & MANIFEST.keys()
    assert not any(key.startswith("chrome_") for key in MANIFEST)


def test_extension_pages_have_a_strict_csp():
    csp = csp_directives(MANIFEST["content_security_policy"]["extension_pages"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    for values in csp.values():
        assert not {"'unsafe-eval'", "'unsafe-inline'", "*", "data:"} & set(values)
    # the service worker fetches the configured API; host permissions narrow it down further
    assert set(csp["connect-src"]) <= {"http:", "https:"}


def test_every_file_the_manifest_names_exists():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("pack", EXT / "pack.py")
    pack = module_from_spec(spec)
    spec.loader.exec_module(pack)
    for name in pack.referenced_files(MANIFEST):
        assert (EXT / name).is_file(), name


@pytest.mark.parametrize("script", sorted(p.name for p in EXT.glob("*.js")))
def test_extension_js_builds_dom_without_html_strings(script):
    source = (EXT / script).read_text(encoding="utf-8")
    assert not UNSAFE_DOM.search(source), f"{script} must build DOM with createElement/textContent"


def test_options_page_has_no_inline_script_or_remote_resources():
    page = (EXT / "options.html").read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>", page) == ['<script src="common.js">', '<script src="options.js">']
    assert not re.search(r"\son[a-z]+\s*=", page), "inline event handlers"
    assert "http://" not in page.replace("http://localhost:8000", "") and "https://" not in page


def test_pack_makes_a_zip_with_only_the_extension(tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXT / "pack.py"), "--out", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    target = tmp_path / f"hfmrs-extension-{MANIFEST['version']}.zip"
    assert done.stdout.strip() == str(target)
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        assert json.loads(archive.read("manifest.json")) == MANIFEST
    assert {"manifest.json", "background.js", "common.js", "content.js", "content.css", "options.html"} <= names
    assert not {"README.md", "pack.py"} & names
    assert not [n for n in names if re.search(r"(^|/)(\.|_|tests?\b|fixtures?\b)|\.(test|spec)\.|\.py$|\.md$", n)]
