"""The deployed `aggregateClientStats` wrapper, fed a CloudEvent as Eventarc delivers it (JSON
DocumentEventData), applies the event's current state to the client: the SDK's parsing, our
`eventId` param and the store wiring, in process (the npm Firestore emulator cannot fire
triggers). The payload is stale on purpose: the function must re-read the event."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from cloudevents.http import CloudEvent

from shared.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[3]
PROJECT = "demo-superparty"


@pytest.fixture
def main_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, firestore_emulator: str
) -> Iterator[tuple[ModuleType, SqliteStore]]:
    db = tmp_path / "trigger.db"
    monkeypatch.setenv("SUPERPARTY_STORE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("GCLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)  # the SDK builds a client
    monkeypatch.syspath_prepend(str(ROOT / "functions"))
    module = sys.modules.get("superparty_functions_main")
    if module is None:
        spec = importlib.util.spec_from_file_location(
            "superparty_functions_main", ROOT / "functions" / "main.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["superparty_functions_main"] = module
        spec.loader.exec_module(module)
    from superparty_functions import runtime  # the module main.py uses, as deployed

    monkeypatch.setattr(runtime, "_store", None)
    yield module, SqliteStore(db)
    if runtime._store is not None:
        runtime._store.close()


def cloud_event(event_id: str, delivery: str, fields: dict[str, dict[str, str]]) -> CloudEvent:
    name = f"projects/{PROJECT}/databases/(default)/documents/evenimente/{event_id}"
    data = {"value": {"name": name, "fields": fields}}
    return CloudEvent(
        {
            "type": "google.cloud.firestore.document.v1.written",
            "source": f"//firestore.googleapis.com/projects/{PROJECT}/databases/(default)",
            "id": delivery,
            "datacontenttype": "application/json",
            "time": "2026-11-24T06:00:00Z",
            "location": "us-central1",
            "project": PROJECT,
            "namespace": "(default)",
            "database": "(default)",
            "document": f"evenimente/{event_id}",
            "subject": f"documents/evenimente/{event_id}",
        },
        json.dumps(data),
    )


def test_wrapper_re_reads_the_event_and_updates_the_client(
    main_module: tuple[ModuleType, SqliteStore],
) -> None:
    main, store = main_module
    phone = "+40722999111"
    store.set(
        "evenimente/ev1",
        {
            "date": "15-03-2027",
            "phoneE164": phone,
            "payment": {"status": "PAID", "amount": 900},
            "isArchived": False,
        },
    )
    stale = {"phoneE164": {"stringValue": "+40700000000"}, "date": {"stringValue": "01-01-2020"}}
    main.aggregateClientStats(cloud_event("ev1", "delivery-1", stale))
    main.aggregateClientStats(cloud_event("ev1", "delivery-1", stale))  # redelivered
    client = store.get(f"clients/{phone}")
    assert client is not None
    assert client.data["eventsCount"] == 1 and client.data["lifetimeSpendPaid"] == 900.0
    assert client.data["lastEventAt"].date().isoformat() == "2027-03-14"  # Bucharest midnight
    assert store.get("clients/+40700000000") is None
