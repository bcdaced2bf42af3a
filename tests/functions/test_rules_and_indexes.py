"""firestore.rules and firestore.indexes.json against the code: every query the code runs (found
by reading the source for `query(...)` calls) and every query the app runs (CONTRACT section 4)
has its index; the rules keep the never-delete, server-only and super-admin-only policies."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared import paths

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "shared", ROOT / "session_daemon", *sorted((ROOT / "functions").glob("*.py"))]
SOURCES += [ROOT / "functions" / "whatsapp_proxy"]

RANGE_OPS = {"<", "<=", ">", ">=", "!=", "not-in"}


# ---- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryShape:
    where: str  # source location or the app query it stands for
    collection: str  # the last collection id of the path
    group: bool
    equalities: tuple[str | None, ...]  # None: a field name computed at run time
    ranges: tuple[str, ...]
    orders: tuple[tuple[str, str], ...]


def _literal(node: ast.AST) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _collection(node: ast.AST, names: dict[str, ast.expr]) -> str | None:
    if isinstance(node, ast.Name) and node.id in names:  # `coll = f"threads/{t}/messages"`
        node = names[node.id]
    # shared.paths: a collection constant (`THREADS`, `paths.EVENTS`) or collection builder
    # (`messages_collection(t)`)
    target = node.func if isinstance(node, ast.Call) else node
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    value = getattr(paths, name, None) if isinstance(name, str) else None
    if isinstance(value, str) and value in paths.COLLECTIONS:
        return value
    if callable(value) and isinstance(node, ast.Call) and str(name).endswith("_collection"):
        return str(value(*["x"] * len(node.args))).split("/")[-1]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rstrip("/").split("/")[-1]
    if isinstance(node, ast.JoinedStr) and node.values:
        last = node.values[-1]
        if isinstance(last, ast.Constant) and isinstance(last.value, str):
            return last.value.rstrip("/").split("/")[-1]
    return None


def queries_in_source() -> list[QueryShape]:
    found = []
    files = [p for s in SOURCES for p in ([s] if s.is_file() else sorted(s.rglob("*.py")))]
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        names = {
            target.id: node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id != "query" or not node.args:
                continue
            collection = _collection(node.args[0], names)
            assert collection, f"{path}:{node.lineno}: query path not readable"
            kw = {k.arg: k.value for k in node.keywords}
            eq: list[str | None] = []
            ranges: list[str] = []
            for item in getattr(kw.get("where"), "elts", []):
                field, op = _literal(item.elts[0]), _literal(item.elts[1])
                assert isinstance(op, str), f"{path}:{node.lineno}: operator not literal"
                if op in ("==", "in", "array-contains"):
                    eq.append(field if isinstance(field, str) else None)
                else:
                    assert isinstance(field, str), f"{path}:{node.lineno}: range field"
                    ranges.append(field)
            orders = []
            for item in getattr(kw.get("order_by"), "elts", []):
                value = _literal(item)
                if isinstance(value, str):
                    orders.append((value, "asc"))
                else:
                    assert isinstance(value, tuple), f"{path}:{node.lineno}: order not literal"
                    orders.append((str(value[0]), str(value[1])))
            group = _literal(kw["group"]) is True if "group" in kw else False
            found.append(
                QueryShape(
                    f"{path.relative_to(ROOT)}:{node.lineno}",
                    collection,
                    group,
                    tuple(eq),
                    tuple(ranges),
                    tuple(orders),
                )
            )
    return found


APP_QUERIES = [
    QueryShape("app: inbox", "threads", False, ("accountId",), (), (("lastMessageAt", "desc"),)),
    QueryShape("app: chat", "messages", False, (), (), (("tsClient", "desc"),)),
    QueryShape("app: client events", "evenimente", False, ("phoneE164",), (), (("date", "desc"),)),
    QueryShape("app: archive", "evenimente", False, ("isArchived",), (), (("archivedAt", "desc"),)),
]


def load_indexes() -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    data = json.loads((ROOT / "firestore.indexes.json").read_text())
    out = []
    for index in data["indexes"]:
        fields = tuple(
            (f["fieldPath"], "desc" if f.get("order") == "DESCENDING" else "asc")
            for f in index["fields"]
        )
        out.append((index["collectionGroup"], index["queryScope"], fields))
    for override in data.get("fieldOverrides", []):
        for scope in {i["queryScope"] for i in override["indexes"] if "order" in i}:
            field = ((override["fieldPath"], scope),)
            out.append((override["collectionGroup"], "FIELD_OVERRIDE", field))
    return out


def needed_index(q: QueryShape) -> tuple[str, str, tuple[tuple[str, str], ...]] | None:
    """The composite index Firestore asks for, or None when single-field indexes serve it
    (one field only, or equalities only, in collection scope)."""
    fields = [f for f in q.equalities if f is not None]
    inequality_or_order = [*q.ranges, *(f for f, _ in q.orders)]
    distinct = set(fields) | set(inequality_or_order)
    assert None not in q.equalities or len(distinct) == 0, f"{q.where}: computed field mixed"
    if not q.group and (len(distinct) <= 1 or not inequality_or_order):
        return None
    if q.group and len(distinct) <= 1:  # a single-field collection-group index (an override)
        field = next(iter(distinct))
        return q.collection, "FIELD_OVERRIDE", ((field, "COLLECTION_GROUP"),)
    orders = list(q.orders)
    for field in q.ranges:  # an inequality field sorts first when no order names it
        if field not in {f for f, _ in orders}:
            orders.insert(0, (field, "asc"))
    spec = tuple((f, "asc") for f in fields) + tuple(orders)
    return q.collection, "COLLECTION_GROUP" if q.group else "COLLECTION", spec


def test_the_scanner_sees_the_known_queries() -> None:
    shapes = queries_in_source()
    assert len(shapes) >= 8
    assert any(q.collection == "outbox" and q.ranges == ("nextAttemptAt",) for q in shapes)
    assert any(q.group and q.collection == "messages" for q in shapes)


@pytest.mark.parametrize("q", queries_in_source() + APP_QUERIES, ids=lambda q: q.where)
def test_every_query_has_its_index(q: QueryShape) -> None:
    need = needed_index(q)
    if need is None:
        return
    assert need in load_indexes(), f"{q.where} needs index {need}"


def test_indexes_file_has_no_unused_entries() -> None:
    needed = {needed_index(q) for q in queries_in_source() + APP_QUERIES}
    extra = [i for i in load_indexes() if i not in needed and i[1] != "FIELD_OVERRIDE"]
    # (status, threadId) serves an equality-only query faster than index merging.
    assert extra == [("outbox", "COLLECTION", (("status", "asc"), ("threadId", "asc")))]


# ---- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allow:
    path: str
    methods: frozenset[str]
    condition: str


def parse_rules(text: str) -> list[Allow]:
    text = re.sub(r"//[^\n]*", "", text)
    tokens = re.findall(r"match\s+(\S+)\s*\{|allow\s+([a-z, ]+):\s*if\s+([^;]+);|(\{)|(\})", text)
    stack: list[str | None] = []
    rules = []
    for match_path, methods, condition, open_brace, close_brace in tokens:
        if match_path:
            stack.append(match_path)
        elif methods:
            path = "".join(p for p in stack if p)
            names = {m.strip() for m in methods.split(",")}
            rules.append(Allow(path, frozenset(names), " ".join(condition.split())))
        elif open_brace:
            stack.append(None)  # a function body or service block
        elif close_brace:
            stack.pop()
    assert not stack, "unbalanced braces"
    return rules


RULES_TEXT = (ROOT / "firestore.rules").read_text()
RULES = parse_rules(RULES_TEXT)
DOCS = "/databases/{database}/documents"
WRITES = {"write", "create", "update", "delete"}


def rules_for(path: str) -> list[Allow]:
    return [r for r in RULES if r.path == DOCS + path]


def test_parser_reads_the_rules() -> None:
    assert len(RULES) > 20
    assert rules_for("/accountSecrets/{accountId}")


@pytest.mark.parametrize(
    "path",
    [
        "/threads/{threadId}",
        "/threads/{threadId}/messages/{messageId}",
        "/clients/{phoneE164}",
        "/evenimente/{eventId}",
    ],
)
def test_never_delete(path: str) -> None:
    assert rules_for(path)
    for rule in RULES:
        covers = rule.path == DOCS + path or "=**" in rule.path
        if covers and rule.methods & {"delete", "write"}:
            assert rule.condition == "false", rule


@pytest.mark.parametrize(
    "path",
    [
        "/threads/{threadId}",
        "/threads/{threadId}/messages/{messageId}",
        "/accounts/{accountId}",
        "/outbox/{requestId}",
        "/clients/{phoneE164}",
        "/accountSecrets/{accountId}",
    ],
)
def test_server_only_writes(path: str) -> None:
    for rule in rules_for(path):
        if rule.methods & WRITES:
            assert rule.condition == "false", rule
    for rule in RULES:  # no wildcard opens them either
        if "=**" in rule.path:
            assert not rule.methods & WRITES, rule


def test_pairing_data_is_super_admin_only() -> None:
    reads = [r for r in rules_for("/accountSecrets/{accountId}") if r.methods & {"read", "get"}]
    assert [r.condition for r in reads] == ["isSuperAdmin()"]
    accounts = [r for r in rules_for("/accounts/{accountId}") if "read" in r.methods]
    assert accounts and all(r.condition == "isEmployee()" for r in accounts)
    wildcards = [r.path for r in RULES if "=**" in r.path]
    assert wildcards == [DOCS + "/{path=**}/messages/{messageId}"]


def test_an_admin_email_counts_only_when_verified() -> None:
    """Anyone can sign up with a password under an address that has no account yet."""
    body = re.search(r"function emailIsSuperAdmin\(\) \{(.*?)\}", RULES_TEXT, re.S)
    assert body is not None
    assert "request.auth.token.email_verified == true" in body.group(1)


def test_only_admins_make_employees() -> None:
    writes = [r for r in rules_for("/staffProfiles/{uid}") if r.methods & WRITES]
    assert writes and all(r.condition == "isSuperAdmin()" for r in writes)


def test_nothing_is_public() -> None:
    for rule in RULES:
        assert rule.condition != "true", rule
        assert rule.condition == "false" or re.search(
            r"isEmployee\(\)|isSuperAdmin\(\)|signedIn\(\)", rule.condition
        ), rule
