"""firestore.rules and firestore.indexes.json, the app's only files of their kind (CONTRACT.md,
"The whole app's Firestore").

Indexes: every index and field override of the app's reference file is kept; every query the code
runs (found by reading the source for `query(...)` calls) and every query the app runs has its
index; nothing beyond the reference is there without a query that needs it.

Rules: an access matrix (document x operation x signed-out / signed-in / employee / admin /
owner) evaluated over firestore.rules parsed with a real parser (lark, scripts/firestore_rules.py),
and the same matrix evaluated over the reference rules: every cell where the two differ is a
decision listed in DIFFERENCES (and in docs/cutover.md).

What this does NOT cover (no Firestore rules engine runs here; the official emulator is a jar we
cannot download): list queries are evaluated as reads of one document, so "rules are not filters"
(a query must be provably restricted by its filters) is not checked; the limit of 10 get()/exists()
per request is not checked; request.time, getAfter(), let bindings and the other parts of the
language the file does not use are not implemented (the parser rejects what its grammar lacks);
field values are JSON-like (no Timestamps, references or bytes)."""

from __future__ import annotations

import ast
import functools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared import paths
from tests.support.sources import parsed

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from firestore_rules import Request, Rules, RulesSyntaxError  # noqa: E402 - scripts/ on the path

REFERENCE = ROOT.parent / "shared" / "reference"
SOURCES = [ROOT / "shared", ROOT / "session_daemon", *sorted((ROOT / "functions").glob("*.py"))]
SOURCES += [ROOT / "functions" / "superparty_functions"]

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
    return list(_queries_in_source())


@functools.cache
def _queries_in_source() -> tuple[QueryShape, ...]:
    """Parsed once per session: collection and two tests read it (QueryShape is frozen)."""
    found = []
    files = [p for s in SOURCES for p in ([s] if s.is_file() else sorted(s.rglob("*.py")))]
    for path in files:
        tree = parsed(path)
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
    return tuple(found)


APP_QUERIES = [
    QueryShape("app: inbox", "threads", False, ("accountId",), (), (("lastMessageAt", "desc"),)),
    QueryShape("app: chat", "messages", False, (), (), (("tsClient", "desc"),)),
    QueryShape("app: client events", "evenimente", False, ("phoneE164",), (), (("date", "desc"),)),
    QueryShape("app: archive", "evenimente", False, ("isArchived",), (), (("archivedAt", "desc"),)),
    QueryShape(
        "app: diagnostics",
        "messages",
        True,
        ("accountId", "direction"),
        (),
        (("tsClient", "desc"),),
    ),
]


IndexKey = tuple[str, str, tuple[tuple[str, str], ...]]


def load_indexes(path: Path = ROOT / "firestore.indexes.json") -> list[IndexKey]:
    data = json.loads(path.read_text())
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


def test_every_index_and_override_of_the_app_is_kept() -> None:
    ours = json.loads((ROOT / "firestore.indexes.json").read_text())
    reference = json.loads((REFERENCE / "app-firestore.indexes.json").read_text())
    missing = [i for i in reference["indexes"] if i not in ours["indexes"]]
    assert not missing, missing
    for override in reference["fieldOverrides"]:
        mine = [
            o
            for o in ours["fieldOverrides"]
            if (o["collectionGroup"], o["fieldPath"])
            == (override["collectionGroup"], override["fieldPath"])
        ]
        assert len(mine) == 1, override
        assert all(entry in mine[0]["indexes"] for entry in override["indexes"]), override


def test_indexes_beyond_the_app_s_serve_a_query() -> None:
    reference = load_indexes(REFERENCE / "app-firestore.indexes.json")
    needed = {needed_index(q) for q in queries_in_source() + APP_QUERIES}
    extra = [
        i
        for i in load_indexes()
        if i not in reference and i not in needed and i[1] != "FIELD_OVERRIDE"
    ]
    # (status, threadId) serves an equality-only query faster than index merging.
    assert extra == [("outbox", "COLLECTION", (("status", "asc"), ("threadId", "asc")))]


def test_diagnostics_index_is_there() -> None:
    """The app's diagnostics screen: collection group `messages`, accountId and direction
    equal, ordered by tsClient descending."""
    assert (
        "messages",
        "COLLECTION_GROUP",
        (("accountId", "asc"), ("direction", "asc"), ("tsClient", "desc")),
    ) in load_indexes()


def test_overrides_keep_the_collection_scope_the_chat_uses() -> None:
    """A field override replaces the automatic single-field indexes of its field: one that
    listed only collection-group entries for messages.tsClient would drop the collection-scope
    index the chat's `order by tsClient desc` needs."""
    data = json.loads((ROOT / "firestore.indexes.json").read_text())
    for override in data["fieldOverrides"]:
        scopes = {(i["queryScope"], i.get("order")) for i in override["indexes"]}
        assert ("COLLECTION", "ASCENDING") in scopes, override
        assert ("COLLECTION", "DESCENDING") in scopes, override


# ---- rules: the access matrix ------------------------------------------------------------------

RULES = Rules((ROOT / "firestore.rules").read_text())
REFERENCE_RULES = Rules((REFERENCE / "app-firestore.rules").read_text())

# The app's current admin check is this address, hard-coded in its rules and its source.
APP_ADMIN_EMAIL = "ursache.andrei1995@gmail.com"
OWNER = "u-owner"
ROLES: dict[str, dict[str, Any] | None] = {
    "out": None,
    "in": {"uid": "u-in", "token": {"email": "in@example.com", "email_verified": True}},
    "emp": {"uid": "u-emp", "token": {"email": "emp@example.com", "email_verified": True}},
    # The admin holds the claim and the app's admin address, so the reference sees an admin
    # too, and has a staff profile as the app's admin does (an admin without one is in
    # test_an_admin_needs_no_staff_profile).
    "adm": {"uid": "u-adm",
            "token": {"email": APP_ADMIN_EMAIL, "email_verified": True, "admin": True}},
    # signed in, no staff profile, and the user the document belongs to
    "own": {"uid": OWNER, "token": {"email": "owner@example.com", "email_verified": True}},
}  # fmt: skip
ROLE_ORDER = tuple(ROLES)

# The database every request sees. "$owner" in a fixture is the owner's uid in stored
# documents and the requester's own uid in the data of a create (a create made for oneself).
WORLD: dict[str, dict[str, Any]] = {
    "staffProfiles/u-emp": {"role": "staff", "phone": "+40722000001"},
    "staffProfiles/u-adm": {"role": "admin", "phone": "+40722000002"},
    "config/super_admins": {"emails": [APP_ADMIN_EMAIL, "boss@example.com"]},
    "config/whatsapp_inbox": {"adminOnlyAccountIds": ["acc_admin"]},
    "users/u-owner": {"uid": OWNER, "email": "owner@example.com", "phone": "+40722000003",
                      "status": "active", "myWhatsAppAccountId": "acc1"},
    "threads/acc1__c": {"accountId": "acc1"},
    "threads/acc_admin__c": {"accountId": "acc_admin"},
    "evenimente/e1/evidenceState/locked": {"locked": True},
}  # fmt: skip

FIXTURES: dict[str, dict[str, Any]] = {
    "users/u-owner": {"uid": "$owner", "email": "owner@example.com", "phone": "+40722000003",
                      "status": "kyc_required"},
    "staffProfiles/u-owner": {"role": "staff", "phone": "+40722000009"},
    "kycSubmissions/k1": {"uid": "$owner"},
    "staffHours/s1": {"staffUid": "$owner"},
    "tasks/t1": {"assigneeUid": "$owner", "status": "OPEN"},
    "notifications/n1": {"assigneeUid": "$owner", "status": "NEW"},
    "events/e1": {"createdBy": "$owner"},
    "evenimente/e1": {"createdBy": "$owner", "isArchived": False, "schemaVersion": 3},
    "evenimente/e1/dovezi/d1": {"category": "open", "categorie": "open"},
    "evenimente/e1/dovezi/d2": {"category": "locked", "categorie": "open"},
    "conversationStates/s1": {"ownerUid": "$owner"},
    "conversations/c1": {"userId": "$owner"},
    "threads/acc1__c": {"accountId": "acc1"},
    "threads/acc_admin__c": {"accountId": "acc_admin"},
    "threads/acc1__c/messages/m1": {"accountId": "acc1"},
    "threads/acc_admin__c/messages/m1": {"accountId": "acc_admin"},
    "accounts/acc1/chats/c1/messages/m1": {"accountId": "acc1"},
}  # fmt: skip


@dataclass(frozen=True)
class Cell:
    path: str
    method: str  # get, create, update, delete
    expected: str  # one character per role of ROLE_ORDER: Y allowed, . denied
    change: tuple[tuple[str, Any], ...] = (("updatedAt", 1),)  # an update's changed fields

    @property
    def id(self) -> str:
        keys = ",".join(k for k, _ in self.change) if self.method in ("update", "create") else ""
        return f"{self.method} {self.path} {keys}".strip()


def cell(path: str, method: str, expected: str, **change: Any) -> Cell:
    assert len(expected) == len(ROLE_ORDER), expected
    return Cell(path, method, expected, tuple(change.items()) or (("updatedAt", 1),))


#              document                                 operation  out in emp adm own
MATRIX = [
    # people
    cell("users/u-owner", "get", "...YY"),
    cell("users/u-owner", "create", "...YY", updatedAt=1),
    cell("users/u-owner", "create", "...Y.", myWhatsAppAccountId="acc1"),
    cell("users/u-owner", "create", "...Y.", employeeWhatsAppAccountIds=["acc1"]),
    cell("users/u-owner", "create", "...Y.", role="admin"),
    cell("users/u-owner", "update", "...YY", displayName="Ana", kycDone=True),
    cell("users/u-owner", "update", "...YY", fcmToken="t", notificationsEnabled=True),
    cell("users/u-owner", "update", "...Y.", myWhatsAppAccountId="acc_admin"),
    cell("users/u-owner", "update", "...Y.", role="admin"),
    cell("users/u-owner", "delete", "....."),
    cell("staffProfiles/u-owner", "get", "...YY"),
    cell("staffProfiles/u-owner", "create", "...Y."),
    cell("staffProfiles/u-owner", "update", "...YY", phone="+40722999999"),
    cell("staffProfiles/u-owner", "update", "...Y.", role="admin"),
    cell("staffProfiles/u-owner", "delete", "....."),
    cell("teams/t1", "get", ".YYYY"),
    cell("teams/t1", "create", "...Y."),
    cell("teams/t1", "delete", "...Y."),
    cell("teamCodePools/t1", "get", "...Y."),
    cell("teamCodePools/t1", "update", "....."),
    cell("teamAssignments/a1", "get", "...Y."),
    cell("teamAssignments/a1", "create", "....."),
    cell("teamAssignmentsHistory/h1", "get", "...Y."),
    cell("teamAssignmentsHistory/h1", "create", "....."),
    cell("adminActions/x1", "get", "...Y."),
    cell("adminActions/x1", "create", "....."),
    cell("staffRequestTokens/x1", "get", "....."),
    cell("staffRequestTokens/x1", "create", "....."),
    cell("kycSubmissions/k1", "get", "...YY"),
    cell("kycSubmissions/k1", "create", ".YYYY"),
    cell("kycSubmissions/k1", "update", "...Y."),
    cell("kycSubmissions/k1", "delete", "...Y."),
    cell("staffHours/s1", "get", "...Y."),
    cell("staffHours/s1", "create", "....."),
    cell("tasks/t1", "get", "..YY."),
    cell("tasks/t1", "update", "....."),
    cell("notifications/n1", "get", "...YY"),
    cell("notifications/n1", "update", "....Y", status="READ"),
    cell("notifications/n1", "update", ".....", status="DONE"),
    cell("notifications/n1", "create", "....."),
    cell("notifications/n1", "delete", "....."),
    # events and evidence
    cell("events/e1", "get", ".YYYY"),
    cell("events/e1", "create", ".YYYY"),
    cell("events/e1", "update", "..YYY"),
    cell("events/e1", "delete", "....."),
    cell("evenimente/e1", "get", ".YYYY"),
    cell("evenimente/e1", "create", ".YYYY"),
    cell("evenimente/e1", "create", ".....", isArchived=True),
    cell("evenimente/e1", "create", ".....", schemaVersion=1),
    cell("evenimente/e1", "update", "..YYY", isArchived=True),
    cell("evenimente/e1", "delete", "....."),
    cell("evenimente/e1/audit/a1", "get", "...Y."),
    cell("evenimente/e1/audit/a1", "create", "....."),
    cell("evenimente/e1/dovezi/d1", "get", ".YYYY"),
    cell("evenimente/e1/dovezi/d1", "create", "..YY."),
    cell("evenimente/e1/dovezi/d1", "update", "..YY."),
    cell("evenimente/e1/dovezi/d2", "update", "....."),  # its category is locked
    cell("evenimente/e1/dovezi/d1", "delete", "....."),
    cell("evenimente/e1/evidenceState/open", "get", ".YYYY"),
    cell("evenimente/e1/evidenceState/open", "update", "...Y."),
    cell("evenimente/e1/evidenceState/open", "delete", "....."),
    cell("evenimente/e1/dovezi_meta/open", "get", ".YYYY"),
    cell("evenimente/e1/dovezi_meta/open", "create", "...Y."),
    cell("evenimente/e1/dovezi_meta/open", "delete", "....."),
    cell("evenimente/e1/comments/x1", "get", ".YYYY"),
    cell("evenimente/e1/comments/x1", "create", "...Y."),
    cell("evenimente/e1/comments/x1", "delete", "....."),
    cell("evenimente/e1/history/h1", "get", "..YY."),
    cell("evenimente/e1/history/h1", "create", "....."),
    cell("counters/eventShortCode", "get", "..YY."),
    cell("counters/eventShortCode", "update", ".....", value=100),
    cell("counters/eventShortCode", "create", "....."),
    # AI
    cell("aiConversations/c1", "get", ".YYYY"),
    cell("aiConversations/c1", "create", ".YYYY"),
    cell("aiConversations/c1", "delete", ".YYYY"),
    cell("aiCorrections/c1", "get", ".YYYY"),
    cell("aiCorrections/c1", "create", "...Y."),
    cell("conversationStates/s1", "create", ".YYYY"),
    cell("conversationStates/s1", "get", "....Y"),
    cell("conversationStates/s1", "update", "....Y"),
    cell("conversationStates/s1", "delete", "....Y"),
    cell("conversations/c1", "create", ".YYYY"),
    cell("conversations/c1", "get", "....Y"),
    cell("conversations/c1", "delete", "....Y"),
    cell("userEventQuota/u-owner", "get", "...YY"),
    cell("userEventQuota/u-owner", "update", "....."),
    cell("ai_global_rules/r1", "get", "..YY."),
    cell("ai_global_rules/r1", "create", "...Y."),
    # settings
    cell("app_config/version", "get", "YYYYY"),  # forced updates are checked before sign-in
    cell("app_config/version", "update", "...Y."),
    cell("app_config/version", "delete", "....."),
    cell("app_config/ai_prompts", "get", "..YY."),
    cell("app_config/ai_prompts", "update", "...Y."),
    cell("app_config/ai_prompts", "delete", "....."),
    cell("config/super_admins", "get", "....."),
    cell("config/super_admins", "update", "....."),
    cell("config/whatsapp_inbox", "get", "....."),
    cell("config/whatsapp_inbox", "update", "....."),
    # WhatsApp mirror
    cell("threads/acc1__c", "get", "..YYY"),  # the owner's "My Inbox" account
    cell("threads/acc1__c", "create", "....."),
    cell("threads/acc1__c", "update", "....."),
    cell("threads/acc1__c", "delete", "....."),
    cell("threads/acc_admin__c", "get", "...Y."),  # an admin-only account
    cell("threads/acc1__c/messages/m1", "get", "..YYY"),
    cell("threads/acc1__c/messages/m1", "create", "....."),
    cell("threads/acc1__c/messages/m1", "delete", "....."),
    cell("threads/acc_admin__c/messages/m1", "get", "...Y."),
    cell("threads/acc1__c/extractions/x1", "get", "..YYY"),
    cell("threads/acc1__c/extractions/x1", "create", "....."),
    cell("threads/acc_admin__c/extractions/x1", "get", "...Y."),
    cell("accounts/acc1", "get", "..YY."),
    cell("accounts/acc1", "update", "....."),
    cell("accounts/acc1", "delete", "....."),
    cell("accounts/acc1/chats/c1", "get", ".YYYY"),
    cell("accounts/acc1/chats/c1/messages/m1", "get", ".YYYY"),
    cell("accounts/acc1/chats/c1/messages/m1", "create", "....."),
    cell("accountSecrets/acc1", "get", "...Y."),
    cell("accountSecrets/acc1", "update", "....."),
    cell("outbox/r1", "get", "..YY."),
    cell("outbox/r1", "create", "....."),
    cell("outbox/r1", "delete", "....."),
    cell("whatsappConversations/c1", "get", "..YY."),
    cell("whatsappConversations/c1", "create", "..YY."),
    cell("whatsappConversations/c1", "delete", "....."),
    cell("whatsappMessages/m1", "create", "..YY."),
    cell("whatsappMessages/m1", "update", "....."),
    cell("whatsapp_messages/m1", "get", ".YYYY"),
    cell("whatsapp_messages/m1", "create", "....."),
    cell("whatsapp_threads/t1", "get", ".YYYY"),
    cell("whatsapp_threads/t1", "update", "....."),
    # CRM
    cell("customers/c1", "get", "..YY."),
    cell("customers/c1", "create", "....."),
    cell("customers/c1/orders/o1", "get", "..YY."),
    cell("customers/c1/orders/o1", "update", "....."),
    cell("customers/c1/events/e1", "get", "..YY."),
    cell("clients/+40722000003", "get", "..YY."),
    cell("clients/+40722000003", "update", "....."),
    cell("clients/+40722000003", "delete", "....."),
    # server-only collections of ours and of the old backend
    cell("wa_sessions/acc1", "get", "....."),
    cell("pendingReceipts/p1", "get", "....."),
    cell("clientStatsIndex/x1", "get", "....."),
    cell("clientStatsIndex/x1", "create", "....."),
]  # fmt: skip

# Every cell where firestore.rules answers differently from the app's reference rules, and why
# (docs/cutover.md, "Rules: what changed from the app's").
DIFFERENCES: dict[tuple[str, str], str] = {
    ("create users/u-owner myWhatsAppAccountId", "own"):
        "a sign-up may not give itself a WhatsApp account (it would read its threads)",
    ("create users/u-owner employeeWhatsAppAccountIds", "own"):
        "a sign-up may not give itself WhatsApp accounts",
    ("update users/u-owner fcmToken,notificationsEnabled", "own"):
        "the app saves its push token here; the reference refused it",
    ("get counters/eventShortCode", "in"): "counters: employees read, the backend writes",
    ("get counters/eventShortCode", "own"): "counters: employees read, the backend writes",
    ("get accounts/acc1", "in"): "accounts: employees only (QR codes lived there: flaw 2)",
    ("get accounts/acc1", "own"): "accounts: employees only (QR codes lived there: flaw 2)",
    ("get accountSecrets/acc1", "adm"): "ours: QR and pairing codes, super-admins only",
    ("get evenimente/e1/audit/a1", "in"): "audit logs: admins read (the catch-all opened them)",
    ("get evenimente/e1/audit/a1", "emp"): "audit logs: admins read (the catch-all opened them)",
    ("get evenimente/e1/audit/a1", "own"): "audit logs: admins read (the catch-all opened them)",
    ("get evenimente/e1/history/h1", "in"): "history: employees read (the catch-all opened it)",
    ("get evenimente/e1/history/h1", "own"): "history: employees read (the catch-all opened it)",
    ("create evenimente/e1/history/h1 updatedAt", "adm"): "history: backend only",
    ("create evenimente/e1/audit/a1 updatedAt", "adm"): "audit logs: backend only",
    ("update evenimente/e1/dovezi/d2 updatedAt", "adm"): "a locked evidence category is locked",
}  # fmt: skip


def decide(rules: Rules, c: Cell, role: str) -> bool:
    auth = ROLES[role]
    requester = auth["uid"] if auth is not None else "nobody"
    stored = _fill(FIXTURES.get(c.path, {}), OWNER)
    db = {**WORLD}
    if c.method != "create":
        db[c.path] = stored
    data: dict[str, Any] | None = None
    if c.method == "create":
        data = {**_fill(FIXTURES.get(c.path, {}), requester), **dict(c.change)}
    elif c.method == "update":
        data = {**stored, **dict(c.change)}
    return rules.allows_request(Request(c.method, c.path, auth, data), db)


def _fill(fixture: dict[str, Any], uid: str) -> dict[str, Any]:
    return {k: (uid if v == "$owner" else v) for k, v in fixture.items()}


def _row(rules: Rules, c: Cell) -> str:
    return "".join("Y" if decide(rules, c, role) else "." for role in ROLE_ORDER)


@pytest.mark.parametrize("c", MATRIX, ids=lambda c: c.id)
def test_access_matrix(c: Cell) -> None:
    got = _row(RULES, c)
    assert got == c.expected, f"{c.id}: roles {' '.join(ROLE_ORDER)} expected {c.expected}"


def test_every_difference_from_the_app_s_rules_is_decided() -> None:
    found = {}
    for c in MATRIX:
        for role in ROLE_ORDER:
            if decide(RULES, c, role) != decide(REFERENCE_RULES, c, role):
                found[(c.id, role)] = decide(RULES, c, role)
    undeclared = sorted(set(found) - set(DIFFERENCES))
    assert not undeclared, f"differences from the reference not in DIFFERENCES: {undeclared}"
    unseen = sorted(set(DIFFERENCES) - set(found))
    assert not unseen, f"declared differences the matrix does not show: {unseen}"
    cutover = (ROOT / "docs" / "cutover.md").read_text()
    for (cell_id, _), _reason in DIFFERENCES.items():
        collection = cell_id.split()[1].split("/")[0]
        assert f"`{collection}`" in cutover, f"docs/cutover.md does not discuss {collection}"


def _shape(path: str) -> str:
    """A match path with its wildcard names dropped: /a/{x}/b/{y=**} -> /a/{}/b/{**}."""
    return re.sub(r"\{[A-Za-z_]+(=\*\*)?\}", lambda m: "{**}" if m.group(1) else "{}", path)


def test_every_collection_of_the_app_keeps_a_rule() -> None:
    """Each match path of the reference exists here too (admin-only `config/whatsapp_inbox`
    is covered by the server-only `config/{docId}`)."""
    ours = {_shape(p) for p in RULES.paths()}
    inbox = "/databases/{database}/documents/config/whatsapp_inbox"
    for path in REFERENCE_RULES.paths() - {inbox}:
        assert _shape(path) in ours, path
    assert _shape("/databases/{database}/documents/config/{docId}") in ours


def test_every_rule_is_exercised_by_the_matrix() -> None:
    """Each match path with an allow statement matches at least one document of the matrix."""
    documents = {c.path for c in MATRIX}
    for path in RULES.paths():
        parts = []
        for segment in path.removeprefix("/databases/{database}/documents/").split("/"):
            if segment.endswith("=**}"):
                parts.append(".*")
            elif segment.startswith("{"):
                parts.append("[^/]+")
            else:
                parts.append(re.escape(segment))
        assert any(re.fullmatch("/".join(parts), d) for d in documents), path


# ---- rules: who is an admin -----------------------------------------------------------------


def _reads_users_doc(rules: Rules, token: dict[str, Any], uid: str = "u-x") -> bool:
    request = Request("get", "users/u-owner", {"uid": uid, "token": token})
    return rules.allows_request(request, {**WORLD, "users/u-owner": {"uid": OWNER}})


def test_admin_is_the_claim_or_a_verified_listed_address() -> None:
    assert _reads_users_doc(RULES, {"admin": True})
    assert _reads_users_doc(RULES, {"email": "Boss@Example.com", "email_verified": True})
    assert not _reads_users_doc(RULES, {"email": "boss@example.com", "email_verified": False})
    assert not _reads_users_doc(RULES, {"email": "boss@example.com"})
    assert not _reads_users_doc(RULES, {"admin": "true"})  # the boolean, not a truthy string
    # The app's hard-coded address counts only verified (anyone can sign up with a password
    # under an address whose owner signs in with Google); the reference took it unverified.
    unverified_app_admin = {"email": APP_ADMIN_EMAIL, "email_verified": False}
    assert not _reads_users_doc(RULES, unverified_app_admin)
    assert _reads_users_doc(REFERENCE_RULES, unverified_app_admin)


def test_an_admin_needs_no_staff_profile() -> None:
    """One definition: an admin is an employee (the reference asked admins for a profile)."""
    auth = {"uid": "u-new-admin", "token": {"admin": True}}
    request = Request("get", "clients/+40722000003", auth)
    assert RULES.allows_request(request, {**WORLD, "clients/+40722000003": {}})


def test_the_admin_definition_is_one_function() -> None:
    text = (ROOT / "firestore.rules").read_text()
    code = re.sub(r"//[^\n]*", "", text)
    assert "isAdminUser" not in code and "isAdmin()" not in code
    assert "@" not in code, "no address hard-coded in the rules"
    assert code.count("function isSuperAdmin()") == 1


# ---- rules: the parser itself ---------------------------------------------------------------


def test_the_parser_refuses_what_is_not_rules() -> None:
    good = (ROOT / "firestore.rules").read_text()
    for broken in (
        good.replace("allow read: if signedIn();", "allow read: if signedIn()", 1),
        good.replace("match /users/{userId} {", "match /users/{userId}", 1),
        good.replace("request.auth != null", "request.auth !== null", 1),
        good + "\n}",
    ):
        with pytest.raises(RulesSyntaxError):
            Rules(broken)


def test_a_condition_that_errors_denies() -> None:
    rules = Rules(
        "rules_version = '2'; service cloud.firestore { match /databases/{database}/documents {"
        " match /a/{id} { allow read: if resource.data.missing == 1 || request.auth.uid == 'x'; }"
        " match /b/{id} { allow read: if resource.data.missing == 1; } } }"
    )
    db: dict[str, dict[str, Any]] = {"a/1": {}, "b/1": {}}
    assert rules.allows_request(Request("get", "a/1", {"uid": "x", "token": {}}), db)
    assert not rules.allows_request(Request("get", "b/1", {"uid": "x", "token": {}}), db)
