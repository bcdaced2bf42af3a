"""No import cycles among our modules, counting imports hidden inside functions.

A cycle hidden in a function-level import (as the heuristics had: people ↔ services ↔ text) makes
import order matter and the layering unreadable. This reads the source (no imports run), builds
the graph of explicit imports between modules of `shared` and `session_daemon`, and fails on any
strongly connected component of more than one module. Imports under `if TYPE_CHECKING:` are left
out: they never run.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

from tests.support.sources import parsed

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "session_daemon")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(
    tree: ast.AST, module: str, is_package: bool, known: frozenset[str] = frozenset()
) -> Iterator[str]:
    """Every module name imported anywhere in `tree` (function bodies included). `from pkg
    import mod` of a submodule in `known` depends on that submodule, not on `pkg`'s names: it
    works while `pkg/__init__` is still running (the package's own submodules use it); `from pkg
    import name` of anything else depends on `pkg` itself."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            submodules = [f"{target}.{alias.name}" for alias in node.names]
            yield from (name for name in submodules if name in known)
            if not all(name in known for name in submodules):
                yield target
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    return {name: set(targets) for name, targets in _import_graph().items()}


@functools.cache
def _import_graph() -> dict[str, frozenset[str]]:
    """Parsed once per test session (the tests below share it; callers get a copy)."""
    modules = _modules()
    graph: dict[str, frozenset[str]] = {}
    for name, path in modules.items():
        tree = parsed(path)
        targets = set(_imports(tree, name, path.name == "__init__.py", frozenset(modules)))
        graph[name] = frozenset(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _reaches(graph: dict[str, set[str]], source: str, target: str) -> list[str] | None:
    """An import chain from a module of package `source` to one of package `target`, or None."""
    inside = [m for m in graph if m == source or m.startswith(source + ".")]
    seen: dict[str, str | None] = {m: None for m in inside}
    todo = list(inside)
    while todo:
        node = todo.pop()
        for child in sorted(graph[node]):
            if child in seen:
                continue
            seen[child] = node
            if child == target or child.startswith(target + "."):
                chain = [child]
                while (back := seen[chain[-1]]) is not None:
                    chain.append(back)
                return chain[::-1]
            todo.append(child)
    return None


def test_the_graph_sees_the_heuristics() -> None:
    graph = import_graph()
    assert "shared.crm.heuristics.lexicon" in graph["shared.crm.heuristics.text"]
    assert "shared.crm.heuristics.text" in graph["shared.crm.heuristics.services"]


def test_a_submodule_imported_from_its_package_is_not_the_package() -> None:
    known = frozenset({"p", "p.a", "p.b"})
    tree = ast.parse("from p import a\nfrom p import b, thing")
    assert sorted(_imports(tree, "p.c", False, known)) == ["p", "p.a", "p.b"]
    assert sorted(_imports(ast.parse("from p import a"), "p.c", False, known)) == ["p.a"]


def test_finds_a_cycle_hidden_in_a_function() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    """A package's `__init__` counts too: a submodule importing names from its own package while
    the `__init__` imports that submodule is a cycle (import order decides what exists)."""
    assert cycles(import_graph()) == []


def test_finds_an_indirect_chain() -> None:
    graph = {"a.x": {"b"}, "b": {"c.y"}, "c.y": set(), "c": set()}
    assert _reaches(graph, "a", "c") == ["a.x", "b", "c.y"]
    assert _reaches(graph, "c", "a") is None


def test_inbound_does_not_import_the_outbox() -> None:
    """Receipts, which both use, live beside them (`session_daemon.receipts`, rules in
    `shared.receipts`): the inbound path does not depend on the send worker, even indirectly."""
    assert _reaches(import_graph(), "session_daemon.inbound", "session_daemon.outbox") is None


def test_the_outbox_does_not_import_http() -> None:
    """The worker is usable without the web layer; its routes live in `session_daemon.http`."""
    assert _reaches(import_graph(), "session_daemon.outbox", "session_daemon.http") is None


def test_the_core_imports_no_daemon_code() -> None:
    assert _reaches(import_graph(), "shared", "session_daemon") is None


def test_heuristics_have_no_function_level_imports() -> None:
    """The lexicon ended the cycle that needed them; a new one would hide a new cycle."""
    for path in sorted((ROOT / "shared" / "crm" / "heuristics").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                nested = [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not nested, f"{path.name}: {node.name} imports inside the function"
