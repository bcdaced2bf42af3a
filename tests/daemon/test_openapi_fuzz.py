"""Schema-driven fuzz of the running daemon (schemathesis): `/openapi.json` must be true.

The daemon runs as a process (simulated transport, SQLite store). Every operation of the
document is walked, so a route added later is fuzzed without touching this file; for each one
schemathesis generates requests from its declared parameters and body (fixed seed), sends them
with the service token, and checks: no 5xx, the status is declared, the media type is declared
for that status, and a JSON body matches its declared schema. About half the cases aim at a real,
paired account instead of a generated id, so handlers run past their 404.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.daemon.conftest import DaemonProcess

SEED = 20261204
EXAMPLES_PER_OPERATION = 40
BUDGET_SECONDS = 90.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _paired_account(d: DaemonProcess) -> str:
    reply = d.post("/api/whatsapp/add-account", {"name": "Fuzz", "phone": "0722000001"})
    account: str = reply.json()["accountId"]
    d.wait_for(lambda: d.account_status(account) == "qr_ready", what="QR")
    assert d.post(f"/api/simulator/pair/{account}", {}).status == 200
    d.wait_for(lambda: d.account_status(account) == "connected", what="connected")
    return account


def test_every_documented_operation_keeps_its_promises(
    daemon_factory: Callable[..., DaemonProcess],
) -> None:
    d = daemon_factory()
    account = _paired_account(d)
    auth = {"Authorization": f"Bearer {d.token}"}
    schema = schemathesis.openapi.from_url(f"{d.base_url}/openapi.json", headers=auth)
    results = list(schema.get_all_operations())
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) == len(results), "schemathesis could not read some operations"
    documented = d.get("/openapi.json").json()["paths"]
    labels = {f"{m.upper()} {path}" for path, ops in documented.items() for m in ops}
    labels.discard("GET /openapi.json")  # schemathesis leaves out the document it was loaded from
    assert {f"{op.method.upper()} {op.path}" for op in operations} == labels
    # deleting the account last keeps it usable for the other operations
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    session = requests.Session()
    started = time.monotonic()
    counts: dict[str, int] = {}

    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"

        @seed(SEED)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), real=st.booleans())
        def run(case: Any, real: bool) -> None:
            if real and "accountId" in (case.path_parameters or {}):
                case.path_parameters["accountId"] = account
            case.call_and_validate(
                base_url=d.base_url, session=session, headers=auth, checks=CHECKS
            )
            done = f"{case.operation.method.upper()} {case.operation.path}"
            counts[done] = counts.get(done, 0) + 1

        run()
        assert time.monotonic() - started < BUDGET_SECONDS, f"over budget at {label}: {counts}"

    assert set(counts) == labels
    assert d.get("/health", token=None).status == 200
    assert "Traceback" not in d.log(), d.log()
    print(f"fuzzed {sum(counts.values())} cases over {len(counts)} operations in "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
