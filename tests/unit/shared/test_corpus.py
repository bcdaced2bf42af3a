"""The team corpus (``../shared/corpus``) through the core: real-shaped data must validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.events import event_phone, event_sort_key, event_start_datetime, normalize_event
from shared.phones import to_e164
from shared.schemas import Client, Event
from shared.timeutil import parse_iso

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no team corpus at {CORPUS}")


def _records(name: str) -> list[dict[str, Any]]:
    with (CORPUS / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_ask_corpus_clients_and_events_validate() -> None:
    records = _records("ask_dev.jsonl")
    assert records
    for record in records:
        client = Client.model_validate(record["client"])
        assert to_e164(client.phone_e164) == client.phone_e164
        for raw in record["events"]:
            event = Event.from_any(raw)
            assert event.event_short_id == raw["eventShortId"]
            assert event.date == raw["date"]


def test_last_event_at_is_the_start_of_the_latest_party() -> None:
    checked = 0
    for record in _records("ask_dev.jsonl"):
        live = [e for e in record["events"] if not e.get("isArchived")]
        expected = parse_iso(record["client"].get("lastEventAt") or "")
        if not live or expected is None:
            continue
        latest = max(live, key=event_sort_key)
        assert event_start_datetime(latest) == expected, record["id"]
        checked += 1
    assert checked >= 5


def test_extraction_corpus_expected_events_normalize_and_validate() -> None:
    checked = 0
    for record in _records("extraction_dev.jsonl"):
        expected = record["expected"].get("event")
        if not expected:
            continue
        normalized = normalize_event({**expected, "phoneE164": record["phoneE164"]})
        Event.model_validate(normalized)
        assert event_phone(normalized) == record["phoneE164"]
        kinds = [role["roleType"] for role in normalized["rolesBySlot"].values()]
        assert kinds == [role["roleType"] for role in expected["roles"]]
        checked += 1
    assert checked >= 30
