"""Every route table is listed in one place (`session_daemon.http.routes`) and registered by
`build_app` only, so a newcomer finds every route from one file."""

from __future__ import annotations

import ast
from pathlib import Path

from session_daemon.http import routes

ROOT = Path(__file__).resolve().parents[4]


def _sources() -> list[Path]:
    return sorted((ROOT / "session_daemon").rglob("*.py"))


def test_only_build_app_registers_routes() -> None:
    callers = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in ("add_routes", "add_route", "add_get", "add_post"):
                    callers.add(path.relative_to(ROOT).as_posix())
    # routing.add_routes itself calls aiohttp's add_route
    assert callers == {"session_daemon/http/app.py", "session_daemon/http/routing.py"}


def test_every_route_table_is_listed() -> None:
    tables = set()
    for path in _sources():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (
                [node.target]
                if isinstance(node, ast.AnnAssign)
                else node.targets
                if isinstance(node, ast.Assign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and target.id.endswith("_ROUTES"):
                    tables.add(target.id)
    listed = {
        name
        for name in vars(routes)
        if name.endswith("_ROUTES")
        and any(
            getattr(routes, name) is t for t in routes.route_tables(outbox=True, simulator=True)
        )
    }
    assert tables == listed
