#!/usr/bin/env python3
"""Copy the repository's `shared/` package into a functions folder (default `functions/`), so
the folder the Firebase CLI uploads is self-contained. Usage:

    python scripts/vendor_shared.py [FUNCTIONS_DIR]

The copy replaces any earlier one; caches are left out. `functions/shared/` is git-ignored.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


def vendor_shared(functions_dir: Path, source: Path = ROOT / "shared") -> Path:
    if not (source / "__init__.py").is_file():
        raise SystemExit(f"no shared package at {source}")
    if not (functions_dir / "main.py").is_file():
        raise SystemExit(f"{functions_dir} has no main.py")
    target = functions_dir / "shared"
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=IGNORED)
    return target


def main(argv: list[str]) -> int:
    functions_dir = Path(argv[1]) if len(argv) > 1 else ROOT / "functions"
    target = vendor_shared(functions_dir.resolve())
    print(f"vendored shared -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
