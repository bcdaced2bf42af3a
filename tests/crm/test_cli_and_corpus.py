"""`superparty-crm` on the dev corpus (the issue's thresholds) and on bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from shared.crm.cli import run
from shared.crm.heuristics.text import strip_diacritics
from shared.crm.scoring import address_matches, field_hits

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
EXTRACTION_DEV = CORPUS / "extraction_dev.jsonl"
ASK_DEV = CORPUS / "ask_dev.jsonl"


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run(list(args), out=out)
    return code, out.getvalue()


@pytest.mark.skipif(not EXTRACTION_DEV.is_file(), reason="dev corpus not present")
def test_extraction_eval_meets_the_thresholds() -> None:
    code, out = cli("eval", str(EXTRACTION_DEV), "--json")
    assert code == 0
    summary = json.loads(out)["extraction"]
    assert summary["intent"] >= 0.95
    assert summary["fieldAccuracy"] >= 0.85
    assert all(value >= 0.75 for value in summary["fields"].values()), summary["fields"]


DATA = Path(__file__).parent / "data"
FRESH = DATA / "extraction_fresh.jsonl"

# Held-out sets, each labelled by hand by an engineer who had not read the heuristics (the
# rules were generalized from them afterwards): file, least number of records, what they stress.
HELD_OUT = [
    # typos, no diacritics, staff-initiated chats, corrections, cancellations
    pytest.param(FRESH, 76, id="fresh"),
    # multi-day chats, staff-proposed times, deposits, villages, amounts in words
    pytest.param(DATA / "extraction_blind.jsonl", 80, id="blind"),
    # terse replies to checklists, map-app addresses, English, tips, discounts
    pytest.param(DATA / "extraction_blind2.jsonl", 80, id="blind2"),
    # staff recaps corrected by the client, two children, schools, christenings, capitals, emoji
    pytest.param(DATA / "extraction_blind3.jsonl", 72, id="blind3"),
]


@pytest.mark.parametrize(("path", "least"), HELD_OUT)
def test_extraction_on_held_out_sets(path: Path, least: int) -> None:
    code, out = cli("eval", str(path), "--json")
    assert code == 0
    summary = json.loads(out)["extraction"]
    assert summary["records"] >= least
    assert summary["intent"] >= 0.95
    assert summary["fieldAccuracy"] >= 0.9


def _rewritten(source: Path, target: Path, style: str) -> None:
    """The same chats typed without diacritics, or also all in lowercase (common on phones)."""
    with source.open(encoding="utf-8") as handle, target.open("w", encoding="utf-8") as out:
        for line in handle:
            record = json.loads(line)
            for message in record["messages"]:
                text = strip_diacritics(message["text"])
                message["text"] = text.lower() if style == "lower" else text
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


@pytest.mark.parametrize("style", ["plain", "lower"])
@pytest.mark.parametrize("source", [EXTRACTION_DEV, FRESH], ids=["dev", "fresh"])
def test_extraction_survives_phone_typing_styles(tmp_path: Path, source: Path, style: str) -> None:
    if not source.is_file():
        pytest.skip("corpus not present")
    rewritten = tmp_path / f"{style}.jsonl"
    _rewritten(source, rewritten, style)
    code, out = cli("eval", str(rewritten), "--json")
    assert code == 0
    summary = json.loads(out)["extraction"]
    assert summary["intent"] >= 0.95
    assert summary["fieldAccuracy"] >= 0.95


@pytest.mark.skipif(not ASK_DEV.is_file(), reason="dev corpus not present")
def test_ask_eval_answers_every_question_exactly_without_a_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out = cli("eval", str(ASK_DEV), "--json", "--extractor", "auto")
    assert code == 0
    summary = json.loads(out)["ask"]
    assert summary["answerAccuracy"] == 1.0
    assert summary["sourcesExact"] == summary["records"]


def test_ask_on_questions_written_apart_from_the_corpus() -> None:
    """16 other questions (genitive names, years, services, cheapest, counts) on the same kind
    of client data: every answer exact, every source right."""
    code, out = cli("eval", str(Path(__file__).parent / "data" / "ask_fresh.jsonl"), "--json")
    assert code == 0
    summary = json.loads(out)["ask"]
    assert summary["answerAccuracy"] == 1.0
    assert summary["sourcesExact"] == summary["records"]


def test_ask_on_the_blind_questions() -> None:
    """25 questions written before the answerer was read (paid / unpaid / all, next and last
    relative to the record's `now`, a child's last party, a year, average, cancelled and
    archived parties, a client without parties, questions the data cannot answer)."""
    code, out = cli("eval", str(Path(__file__).parent / "data" / "ask_blind.jsonl"), "--json")
    assert code == 0
    summary = json.loads(out)["ask"]
    assert summary["records"] >= 20
    assert summary["answerAccuracy"] == 1.0
    assert summary["sourcesExact"] == summary["records"]


def test_ask_on_the_second_blind_set() -> None:
    """67 questions over 13 client histories (legacy and V3, archived duplicates, cancellations,
    undated events, several children, relative dates against a pinned `now`), written before
    the table of kinds and scored, not tuned. A record is correct when its facts appear, its
    cited events support the answer and, where the data cannot answer, the answer says so.
    The 2 misses cite an undated event, which a source cannot carry (its date is DD-MM-YYYY)."""
    code, out = cli("eval", str(Path(__file__).parent / "data" / "ask_blind2.jsonl"), "--json")
    assert code == 0
    summary = json.loads(out)["ask"]
    assert summary["records"] >= 60
    assert summary["correct"] >= 0.97
    assert summary["unverifiableSources"] == 0


@pytest.mark.skipif(not EXTRACTION_DEV.is_file(), reason="dev corpus not present")
def test_extract_prints_one_json_line_per_conversation() -> None:
    code, out = cli("extract", str(EXTRACTION_DEV))
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == sum(1 for line in EXTRACTION_DEV.open() if line.strip())
    for line in lines:
        assert set(line) >= {"id", "action", "draftEvent", "confidence"}
        assert line["action"] in ("CREATE_EVENT", "NOOP")
        if line["draftEvent"] is not None:
            roles = line["draftEvent"]["roles"]
            assert all(set(r) == {"roleType", "character", "count"} for r in roles)
            assert line["draftEvent"]["schemaVersion"] == 3


def test_eval_table_output(tmp_path: Path) -> None:
    record = {
        "id": "x1",
        "now": "2026-05-01T10:00:00+03:00",
        "phoneE164": "+40722000111",
        "messages": [
            {
                "id": "m1",
                "direction": "inbound",
                "text": "Vrem Sonic pe 9 mai, ora 12, pentru Dan, 6 ani, "
                "la Str. Lungă nr. 2, Iași.",
                "ts": "2026-05-01T09:00:00+03:00",
            },
            {
                "id": "m2",
                "direction": "outbound",
                "text": "Sonic, 2 ore: 600 lei. Notat!",
                "ts": "2026-05-01T09:05:00+03:00",
            },
        ],
        "expected": {
            "intent": "BOOKING",
            "event": {
                "date": "09-05-2026",
                "startTime": "12:00",
                "address": "Str. Lungă nr. 2, Iași",
                "childName": "Dan",
                "childAge": 6,
                "numChildren": None,
                "payment": {"amount": 600, "status": "UNPAID"},
                "roles": [{"roleType": "ANIMATOR", "character": "Sonic", "count": 1}],
            },
        },
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n")
    code, out = cli("eval", str(path))
    assert code == 0
    assert "intent          1.000  1/1" in out
    assert "address         1.000  1/1" in out
    assert "overall: intent 1.000, fields 1.000" in out


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json\n", "not valid JSON"),
        ('{"id": 1, "messages": "hello"}\n', "`messages` must be a list"),
        (
            '{"id": 1, "messages": [{"direction": "sideways", "text": "x", '
            '"ts": "2026-01-01T00:00:00+00:00"}]}\n',
            "`direction`",
        ),
        (
            '{"id": 1, "messages": [{"direction": "inbound", "text": "x", "ts": "ieri"}]}\n',
            "ISO-8601",
        ),
        ('{"id": 1, "question": ""}\n', "`question`"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    command = "ask" if "question" in content else "extract"
    code, _ = cli(command, str(path))
    assert code == 2
    assert needle in capsys.readouterr().err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("eval", "/nonexistent/file.jsonl")[0] == 2
    assert "no such file" in capsys.readouterr().err


def test_scoring_rules() -> None:
    assert address_matches(
        "Str. Lalelelor nr. 8, Sector 2, București", "strada lalelelor 8 sector 2 bucuresti"
    )
    assert not address_matches("Restaurant Casa Viilor, Șos. Pipera nr. 51", "Șos. Pipera nr. 51")
    assert address_matches(None, None) and not address_matches("Str. A nr. 1", None)
    hits = field_hits(
        {"childName": "Ștefan", "roles": [{"roleType": "ANIMATOR"}, {"roleType": "ANIMATOR"}]},
        {"childName": "stefan", "roles": [{"roleType": "ANIMATOR"}]},
    )
    assert hits["childName"] and not hits["roles"]


def test_rebuild_client_stats_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shared.store.sqlite import SqliteStore

    db = tmp_path / "crm.db"
    store = SqliteStore(db)
    store.set("clients/+40722000001", {"phoneE164": "+40722000001", "eventsCount": 42})
    store.set(
        "evenimente/e1",
        {"phoneE164": "+40722000001", "date": "12-12-2026", "payment": {"amount": 500}},
    )
    store.close()
    code, out = cli("rebuild-client-stats", "--store", f"sqlite:///{db}")
    assert code == 0 and json.loads(out) == {"events": 1, "store": "sqlite"}
    store = SqliteStore(db)
    client = store.get("clients/+40722000001")
    assert client is not None and client.data["eventsCount"] == 1
    store.close()
    assert cli("rebuild-client-stats", "--store", "mysql://x")[0] == 2
    assert "unknown scheme" in capsys.readouterr().err
