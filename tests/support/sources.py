"""The repository's Python files parsed once per test session: several unit tests scan the same
source trees (import cycles, hand-built paths, Firestore queries); they only read the trees."""

from __future__ import annotations

import ast
import functools
from pathlib import Path


@functools.cache
def parsed(path: Path) -> ast.Module:
    """The syntax tree of a source file (shared: do not modify it)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
