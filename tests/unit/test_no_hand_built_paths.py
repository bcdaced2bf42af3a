"""No document path is built or split by hand outside `shared.paths` (issue 9): every id goes
through one builder that checks it is one path segment.

An AST scan of the domain code (`shared/`, `session_daemon/`, `functions/`; the store adapters'
own internals in `shared/store/` excepted) for:
- a string or f-string that starts with a collection name and `/` (`"threads/..."`,
  `f"evenimente/{x}"`), or an f-string that puts `/` after a collection constant
  (`f"{EVENTS}/{x}"`);
- a split of a path or an id by hand: `.split("/")`, `.rsplit("/", ...)`, `.partition("/")`,
  `.rpartition("/")`, and the same with the thread-id separator `"__"`.
Docstrings are prose and are skipped.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

from shared import paths
from tests.support.sources import parsed

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("shared", "session_daemon", "functions")
EXCEPTED = (
    "shared/paths.py",  # the one module allowed to build paths
    "shared/store/",  # the adapters' own path handling
    "functions/venv/",
    "functions/shared/",  # the deploy-time copy of shared/
)
SPLITS = {"split", "rsplit", "partition", "rpartition"}
SEPARATORS = {"/", "__"}
PREFIXES = tuple(f"{c}/" for c in sorted(paths.COLLECTIONS))
CONSTANT_NAMES = {name for name in paths.__all__ if name.isupper()} | {
    "THREADS",
    "OUTBOX",
    "ACCOUNTS",
    "EVENTS",
    "CLIENTS",
    "INDEX",
    "STAFF_PROFILES",
    "SECRETS_COLLECTION",
    "PENDING_RECEIPTS",
}


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _name_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def findings_in(source: str | ast.Module, where: str) -> list[str]:
    tree = ast.parse(source) if isinstance(source, str) else source
    skip = _docstrings(tree)
    for node in ast.walk(tree):  # an f-string's literal parts are reported with the f-string
        if isinstance(node, ast.JoinedStr):
            skip.update(id(part) for part in node.values)
    found: list[str] = []
    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if node.value.startswith(PREFIXES):
                found.append(f"{line}: path literal {node.value[:40]!r}")
        elif isinstance(node, ast.JoinedStr):
            parts = node.values
            first = parts[0] if parts else None
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and first.value.startswith(PREFIXES)
            ):
                found.append(f"{line}: f-string path {first.value[:40]!r}")
            for before, after in itertools.pairwise(parts):
                if (
                    isinstance(before, ast.FormattedValue)
                    and _name_of(before.value) in CONSTANT_NAMES
                    and isinstance(after, ast.Constant)
                    and str(after.value).startswith("/")
                ):
                    found.append(f"{line}: f-string path after {_name_of(before.value)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SPLITS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in SEPARATORS
        ):
            found.append(f"{line}: .{node.func.attr}({node.args[0].value!r}) of a path or id")
    return found


def scan(root: Path) -> list[str]:
    found: list[str] = []
    for top in SCANNED:
        for file in sorted((root / top).rglob("*.py")):
            rel = file.relative_to(root).as_posix()
            if rel.startswith(EXCEPTED):
                continue
            found += findings_in(parsed(file), rel)
    return found


def test_no_document_path_is_built_or_split_by_hand() -> None:
    assert scan(ROOT) == []


def test_the_scan_sees_each_kind_of_hand_built_path() -> None:
    """The scan can fail: each pattern it looks for, in a snippet, is reported."""
    snippets = {
        'p = f"threads/{tid}/messages/{mid}"': "f-string path",
        'p = "config/whatsapp_inbox"': "path literal",
        'p = f"{EVENTS}/{event_id}"': "after EVENTS",
        'tid = path.split("/")[1]': ".split('/')",
        'parent = path.rsplit("/", 2)[0]': ".rsplit('/')",
        'jid = tid.rsplit("__", 1)[1]': ".rsplit('__')",
    }
    for code, expected in snippets.items():
        found = findings_in(code, "x.py")
        assert len(found) == 1 and expected in found[0], (code, found)
    assert findings_in('"""threads/{threadId} in a docstring."""\nx = "/api/threads"', "x.py") == []
