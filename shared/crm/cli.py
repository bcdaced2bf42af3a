"""`superparty-crm`: CRM extraction and questions on JSON-lines files; client totals upkeep.

    superparty-crm extract FILE.jsonl   one JSON line per conversation: id, action, draftEvent,
                                        confidence, reasons
    superparty-crm ask FILE.jsonl       one JSON line per record: id, answer, sources
    superparty-crm eval FILE.jsonl      scores extraction or ask records against `expected`
    superparty-crm rebuild-client-stats --store URL
                                        recomputes every client's totals from its events

`--extractor heuristic` (default) is deterministic; `model` uses OPENAI_API_KEY /
OPENAI_BASE_URL / OPENAI_MODEL (and falls back to the heuristics on any model failure); `auto`
uses the model when a key is set."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from shared.crm.ask import FreeTextModel, answer_question
from shared.crm.drafting import draft_event, quick_check
from shared.crm.extractors import Extractor, HeuristicExtractor, ModelAsk, ModelExtractor
from shared.crm.llm import ChatModel, model_config_from_env
from shared.crm.scoring import AskScore, ExtractionScore
from shared.crm.types import ChatMessage
from shared.events import LOCAL_TZ


class InputError(ValueError):
    pass


class ExtractorKind(StrEnum):
    heuristic = "heuristic"
    model = "model"
    auto = "auto"


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise InputError(f"{path}:{number}: a record must be a JSON object")
            yield number, record


def _parse_ts(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise InputError(f"{where}: `ts` must be an ISO-8601 string")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{where}: `ts` {value!r} is not ISO-8601") from exc
    if ts.tzinfo is None:
        raise InputError(f"{where}: `ts` {value!r} needs a UTC offset")
    return ts


def messages_of(record: dict[str, Any], where: str) -> list[ChatMessage]:
    raw = record.get("messages")
    if not isinstance(raw, list):
        raise InputError(f"{where}: `messages` must be a list")
    out = []
    for index, item in enumerate(raw):
        spot = f"{where} message {index}"
        if not isinstance(item, dict):
            raise InputError(f"{spot}: must be an object")
        direction = item.get("direction")
        if direction not in ("inbound", "outbound"):
            raise InputError(f"{spot}: `direction` must be inbound or outbound")
        text = item.get("text")
        out.append(
            ChatMessage(
                str(item.get("id") or index),
                direction,
                text if isinstance(text, str) else "",
                _parse_ts(item.get("ts"), spot),
            )
        )
    return out


def _now_of(record: dict[str, Any], messages: Sequence[ChatMessage]) -> datetime:
    raw = record.get("now")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
            if parsed.tzinfo is not None:
                return parsed
        except ValueError:
            pass
    return max((m.ts for m in messages), default=datetime.now().astimezone())


def extract_record(record: dict[str, Any], extractor: Extractor, where: str) -> dict[str, Any]:
    messages = messages_of(record, where)
    phone = record.get("phoneE164") if isinstance(record.get("phoneE164"), str) else None
    skip = quick_check(messages)
    if skip:
        return {
            "id": record.get("id"),
            "action": "NOOP",
            "draftEvent": None,
            "confidence": 0.9,
            "reasons": [skip],
        }
    fields = extractor.extract(messages, phone_e164=phone, now=_now_of(record, messages))
    booking = fields.intent == "BOOKING"
    return {
        "id": record.get("id"),
        "action": "CREATE_EVENT" if booking else "NOOP",
        "draftEvent": draft_event(fields, phone_e164=phone) if booking else None,
        "confidence": fields.confidence,
        "reasons": fields.reasons,
    }


def ask_record(
    record: dict[str, Any], model: FreeTextModel | None, where: str, today: date | None = None
) -> dict[str, Any]:
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InputError(f"{where}: `question` must be a non-empty string")
    events = record.get("events") or []
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise InputError(f"{where}: `events` must be a list of objects")
    client = record.get("client") if isinstance(record.get("client"), dict) else {}
    if today is None and record.get("now") is not None:
        # "next party" is relative to when the question is asked; a record may pin that moment
        today = _parse_ts(record.get("now"), f"{where}: `now`").astimezone(LOCAL_TZ).date()
    answer = answer_question(client, events, question, model=model, today=today).as_dict()
    return {"id": record.get("id"), **answer}


def _chat_model(kind: str) -> ChatModel | None:
    if kind == "heuristic":
        return None
    config = model_config_from_env()
    if config is None:
        if kind == "model":
            raise InputError("--extractor model needs OPENAI_API_KEY")
        return None
    return ChatModel(config)


def _emit(out: TextIO, payload: dict[str, Any]) -> None:
    out.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=(__doc__ or "").split("\n\n")[0],
    pretty_exceptions_enable=False,
)
FileArg = Annotated[Path, typer.Argument(help="a JSON-lines file", show_default=False)]
Which = Annotated[
    ExtractorKind,
    typer.Option(help="which extractor / free-text model to use (default: heuristic)"),
]
AsJson = Annotated[bool, typer.Option("--json", help="eval: print the summary as JSON")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="eval: list every miss")]


def _out(ctx: typer.Context) -> TextIO:
    return ctx.obj if ctx.obj is not None else sys.stdout


def _file_command(name: str, summary: str) -> None:
    """`extract`, `ask` and `eval` take the same file and options and differ only in the
    work `_on_file` does for their name."""

    def command(
        ctx: typer.Context,
        file: FileArg,
        extractor: Which = ExtractorKind.heuristic,
        json_: AsJson = False,
        verbose: Verbose = False,
    ) -> None:
        _on_file(_out(ctx), name, file, extractor.value, json_, verbose)

    app.command(name, help=summary)(command)


_file_command("extract", "draft an event from each conversation")
_file_command("ask", "answer each question from the client's events")
_file_command("eval", "score extraction or ask records against `expected`")


@app.command("rebuild-client-stats")
def rebuild_client_stats_command(
    ctx: typer.Context,
    store: Annotated[str, typer.Option(help="sqlite:///path.db or firestore://PROJECT")],
) -> None:
    """recompute clients/ totals from every event (the cut-over from the old system)"""
    raise typer.Exit(_rebuild_client_stats(store, _out(ctx)))


def _on_file(
    out: TextIO, command: str, file: Path, kind: str, as_json: bool, verbose: bool
) -> None:
    if not file.is_file():
        print(f"superparty-crm: no such file: {file}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        chat_model = _chat_model(kind)
        extractor: Extractor = (
            ModelExtractor(chat_model) if chat_model is not None else HeuristicExtractor()
        )
        ask_model = ModelAsk(chat_model) if chat_model is not None else None
        if command == "extract":
            for number, record in _records(file):
                _emit(out, extract_record(record, extractor, f"{file}:{number}"))
        elif command == "ask":
            for number, record in _records(file):
                _emit(out, ask_record(record, ask_model, f"{file}:{number}"))
        else:
            _evaluate(EvalArgs(file, kind, as_json, verbose), extractor, ask_model, out)
    except InputError as exc:
        print(f"superparty-crm: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


@dataclass(frozen=True)
class EvalArgs:
    file: Path
    extractor: str
    json: bool
    verbose: bool


def run(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run one command (argv without the program name); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:  # standalone: typer prints usage errors and help itself, then exits
        app(args=args, prog_name="superparty-crm", standalone_mode=True, obj=out)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


def _rebuild_client_stats(store_url: str, out: TextIO) -> int:
    from shared.crm.client_stats import rebuild_client_stats
    from shared.store.factory import open_store

    try:
        store = open_store(store_url)
    except ValueError as exc:
        print(f"superparty-crm: {exc}", file=sys.stderr)
        return 2
    try:
        count = rebuild_client_stats(store)
    finally:
        store.close()
    _emit(out, {"events": count, "store": store_url.split(":", 1)[0]})
    return 0


def _evaluate(
    args: EvalArgs, extractor: Extractor, ask_model: FreeTextModel | None, out: TextIO
) -> None:
    extraction = ExtractionScore()
    ask = AskScore()
    for number, record in _records(args.file):
        where = f"{args.file}:{number}"
        expected = record.get("expected")
        if not isinstance(expected, dict):
            raise InputError(f"{where}: eval needs an `expected` object")
        record_id = str(record.get("id") or number)
        if "messages" in record:
            result = extract_record(record, extractor, where)
            intent = "BOOKING" if result["action"] != "NOOP" else "OTHER"
            event = dict(result["draftEvent"] or {})
            extraction.add(record_id, expected, intent, event or None)
        elif "question" in record:
            answered = ask_record(record, ask_model, where)
            ask.add(
                record_id,
                expected,
                answered["answer"],
                answered["sources"],
                events=list(record.get("events") or []),
            )
        else:
            raise InputError(f"{where}: neither a conversation nor an ask record")
    summary: dict[str, Any] = {}
    if extraction.records:
        summary["extraction"] = {
            "records": extraction.records,
            "intent": round(extraction.intent_accuracy, 4),
            "fields": {
                name: round(extraction.field_accuracy(name), 4)
                for name in extraction.field_hits or {}
            },
            "fieldAccuracy": round(extraction.overall_field_accuracy, 4),
            "misses": extraction.misses,
        }
    if ask.records:
        summary["ask"] = {
            "records": ask.records,
            "answerAccuracy": round(ask.accuracy, 4),
            "sourcesExact": ask.source_exact,
            "correct": round(ask.correct_rate, 4),
            "unverifiableSources": ask.unverifiable,
            "misses": ask.misses,
            "wrong": ask.wrong,
        }
    if args.json:
        _emit(out, summary)
        return
    if extraction.records:
        out.write(f"extraction: {extraction.records} records, {args.extractor} extractor\n")
        out.write(extraction.table() + "\n")
        out.write(
            f"overall: intent {extraction.intent_accuracy:.3f}, "
            f"fields {extraction.overall_field_accuracy:.3f}\n"
        )
        if args.verbose:
            for record_id, name in extraction.misses:
                out.write(f"  miss {record_id}: {name}\n")
    if ask.records:
        out.write(f"ask: {ask.records} records\n")
        out.write(ask.table() + "\n")
        out.write(f"overall: answers {ask.accuracy:.3f}, correct {ask.correct_rate:.3f}\n")
        if args.verbose:
            for record_id in ask.wrong:
                out.write(f"  wrong {record_id}\n")


def main() -> None:
    try:
        code = run()
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
