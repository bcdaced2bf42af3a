"""Bad input against the real daemon process: clear 4xx JSON, and the store does not change.
Then a fuzz test driven by the daemon's own `/openapi.json` (hypothesis)."""

from __future__ import annotations

import json
import sqlite3
import string
import urllib.parse
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.daemon import DaemonProcess

PHONE = "0722000001"


def store_rows(d: DaemonProcess) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{d.store_path}?mode=ro", uri=True)
    try:
        return list(conn.execute("SELECT path, data FROM docs ORDER BY path"))
    finally:
        conn.close()


@pytest.fixture
def paired(daemon: DaemonProcess) -> tuple[DaemonProcess, str]:
    d = daemon
    body = d.post("/api/whatsapp/add-account", {"name": "A", "phone": PHONE}).json()
    account = body["accountId"]
    d.wait_for(lambda: d.account_status(account) == "qr_ready", what="QR")
    assert d.post(f"/api/simulator/pair/{account}", {}).status == 200
    d.wait_for(lambda: d.account_status(account) == "connected", what="connected")
    d.post("/api/simulator/drain")
    return d, account


def bad_requests(account: str) -> list[tuple[str, str, dict[str, Any], int, str]]:
    """(method, path, request kwargs, status, error code)."""
    add = "/api/whatsapp/add-account"
    return [
        ("POST", add, {"raw": b"{oops"}, 400, "invalid_request"),
        ("POST", add, {"raw": b"[]"}, 400, "invalid_request"),
        ("POST", add, {"raw": b"null"}, 400, "invalid_request"),
        ("POST", add, {"body": {"name": ["A"], "phone": PHONE}}, 400, "invalid_request"),
        ("POST", add, {"body": {"name": "A", "phone": ["0722000009"]}}, 400, "invalid_request"),
        ("POST", add, {"body": {"name": "A", "phone": "abc"}}, 400, "invalid_request"),
        ("POST", add, {"body": {"phone": "0722000009"}}, 400, "invalid_request"),
        ("POST", add, {"raw": b'{"name":"' + b"A" * 70000 + b'"}'}, 413, "payload_too_large"),
        ("POST", add, {"body": {"name": "A", "phone": "0722000009"}, "token": None}, 401,
         "missing_auth_token"),
        ("POST", add, {"body": {"name": "A", "phone": "0722000009"}, "token": "nope"}, 401,
         "unauthorized"),
        ("POST", add, {"body": {"name": "A", "phone": "0722000009"},
                       "headers": {"Authorization": "Token abc"}, "token": None}, 401,
         "missing_auth_token"),
        ("GET", "/api/whatsapp/accounts", {"token": None}, 401, "missing_auth_token"),
        ("GET", "/metrics", {"token": "x"}, 401, "unauthorized"),
        ("POST", "/api/whatsapp/regenerate-qr/wa_40799999999", {}, 404, "account_not_found"),
        ("DELETE", "/api/whatsapp/accounts/wa_40799999999", {}, 404, "account_not_found"),
        ("POST", "/api/whatsapp/backfill/no%20such", {}, 404, "account_not_found"),
        ("GET", "/api/whatsapp/threads/wa_40799999999", {}, 404, "account_not_found"),
        ("GET", f"/api/whatsapp/threads/{account}?limit=ten", {}, 400, "invalid_request"),
        ("GET", f"/api/whatsapp/inbox/{account}?limit=1e9", {}, 400, "invalid_request"),
        ("POST", f"/api/whatsapp/auto-reply-settings/{account}", {"body": {"enabled": "on"}},
         400, "invalid_request"),
        ("POST", f"/api/whatsapp/auto-reply-settings/{account}",
         {"body": {"prompt": "x" * 5000}}, 400, "invalid_request"),
        ("POST", f"/api/whatsapp/pairing-code/{account}", {"body": {"phone": 7}}, 400,
         "invalid_request"),
        ("PATCH", f"/api/whatsapp/accounts/{account}", {}, 405, "method_not_allowed"),
        ("GET", "/api/whatsapp/nothing-here", {}, 404, "not_found"),
        ("POST", "/api/whatsapp/send", {"body": {"threadId": 5}}, 400, "invalid_request"),
        ("POST", f"/api/simulator/messages/{account}", {"body": {"from": 5}}, 400,
         "invalid_request"),
    ]  # fmt: skip


def test_bad_input_gets_clear_4xx_and_changes_nothing(paired: tuple[DaemonProcess, str]) -> None:
    d, account = paired
    before = store_rows(d)
    for method, path, kwargs, status, code in bad_requests(account):
        reply = d.request(method, path, **kwargs)
        assert reply.content_type == "application/json", (method, path, reply.body[:200])
        body = reply.json()
        assert (reply.status, body.get("error")) == (status, code), (method, path, body)
        assert body["success"] is False and isinstance(body["message"], str) and body["message"]
        assert "Traceback" not in reply.body.decode()
    assert store_rows(d) == before
    assert d.account_status(account) == "connected"


# ---- fuzz from the OpenAPI document ------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False),
    st.text(max_size=40),
)  # fmt: skip
ANY_JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
WEIRD_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)


def from_schema(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """A strategy for values that mostly match `schema` and sometimes do not."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if depth > 3:
        return ANY_JSON
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), JSON_LEAVES)
    if "anyOf" in schema:
        return st.one_of(*(from_schema(s, components, depth + 1) for s in schema["anyOf"]))
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        fields = {name: from_schema(sub, components, depth + 1) for name, sub in props.items()}
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
    if kind == "string":
        size = min(schema.get("maxLength", 50), 50)
        phoneish = st.text(alphabet=string.digits + "+ ", min_size=3, max_size=15)
        return st.one_of(st.text(max_size=size), phoneish, JSON_LEAVES)
    if kind == "integer":
        return st.one_of(st.integers(-10, 10**6), JSON_LEAVES)
    if kind == "number":
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False), JSON_LEAVES)
    if kind == "boolean":
        return st.one_of(st.booleans(), JSON_LEAVES)
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), components, depth + 1), max_size=3)
    return ANY_JSON


# Operations that would only slow the fuzz down (a 10 s drain) or stop the whole daemon's use.
SKIP = {("post", "/api/simulator/drain")}
NON_JSON = {"/", "/login", "/logout", "/metrics", "/dashboard.js"}


def test_fuzz_every_documented_operation(paired: tuple[DaemonProcess, str]) -> None:
    d, account = paired
    doc = d.get("/openapi.json").json()
    components = doc["components"]["schemas"]
    operations = [
        (method, path, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if (method, path) not in SKIP
    ]
    assert len(operations) >= 30

    @settings(
        max_examples=250, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        method, path, op = data.draw(st.sampled_from(operations))
        url = path
        for param in op.get("parameters", []):
            if param["in"] != "path":
                continue
            value = data.draw(st.one_of(st.just(account), WEIRD_TEXT), label=param["name"])
            url = url.replace("{" + param["name"] + "}", urllib.parse.quote(value, safe=""))
        query = {}
        for param in op.get("parameters", []):
            if param["in"] == "query" and data.draw(st.booleans()):
                value = data.draw(st.one_of(st.text(max_size=10), st.integers().map(str)))
                query[param["name"]] = value
        if query:
            url += "?" + urllib.parse.urlencode(query)
        kwargs: dict[str, Any] = {}
        body_spec = op.get("requestBody")
        if body_spec is not None:
            schema = body_spec["content"]["application/json"]["schema"]
            body = data.draw(st.one_of(from_schema(schema, components), ANY_JSON))
            kwargs["raw"] = json.dumps(body).encode()
        elif method == "post" and data.draw(st.booleans()):
            kwargs["raw"] = json.dumps(data.draw(ANY_JSON)).encode()
        reply = d.request(method.upper(), url, **kwargs)
        assert reply.status < 500, (method, url, kwargs, reply.body[:300], d.log()[-2000:])
        if path in NON_JSON or reply.content_type == "image/png":
            return
        assert reply.content_type == "application/json", (method, url, reply.body[:200])
        parsed = reply.json()
        assert isinstance(parsed, dict)
        if reply.status >= 400:
            assert parsed["success"] is False and isinstance(parsed["error"], str), parsed
            assert parsed["message"], parsed

    run()
    assert d.get("/health", token=None).status == 200
