#!/usr/bin/env python3
"""Pack the extension into dist/hfmrs-extension-<version>.zip (Chrome Web Store / Edge Add-ons upload).

Only what the browser loads goes in: the manifest and the .js/.css/.html/.png files beside it; never
this script, the README, dotfiles or anything test-only.  Entries are sorted with fixed timestamps, so
the same sources give the same zip.  Standard library only:  python3 chrome-ext/pack.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIPPED_SUFFIXES = {".json", ".js", ".css", ".html", ".png"}
NOT_SHIPPED = {"pack.py", "pack.sh", "README.md", "package.json", "package-lock.json"}
FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def _test_only(part: str) -> bool:
    """Dotfiles, private folders, dependencies and anything named like a test never ship."""
    lowered = part.lower()
    return (
        part.startswith((".", "_"))
        or part == "node_modules"
        or lowered.startswith(("test", "fixture"))
        or any(marker in lowered for marker in (".test.", ".spec.", "-test.", "_test."))
    )


def shipped_files(root: Path = HERE) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or path.name in NOT_SHIPPED or path.suffix not in SHIPPED_SUFFIXES:
            continue
        if any(_test_only(part) for part in rel.parts):
            continue
        files.append(rel)
    return files


def referenced_files(manifest: dict) -> set[str]:
    """Every file the manifest names: a missing one would make the browser refuse the extension."""
    refs = set(manifest.get("icons", {}).values())
    refs |= set(manifest.get("action", {}).get("default_icon", {}).values())
    refs.add(manifest["background"]["service_worker"])
    for script in manifest.get("content_scripts", []):
        refs |= set(script.get("js", [])) | set(script.get("css", []))
    refs.add(manifest["options_ui"]["page"])
    return refs


def pack(out_dir: Path, root: Path = HERE) -> Path:
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    files = shipped_files(root)
    missing = referenced_files(manifest) - {f.as_posix() for f in files}
    if missing:
        raise SystemExit(f"manifest names files that are not shipped: {sorted(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"hfmrs-extension-{manifest['version']}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel in files:
            info = zipfile.ZipInfo(rel.as_posix(), date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / rel).read_bytes())
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "dist", help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    target = pack(args.out)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
