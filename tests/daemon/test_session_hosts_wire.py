"""The session-host wire codec: every port event survives the trip with its exact types."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from session_daemon.hosts import wire
from session_daemon.transport.port import (
    Connected,
    Disconnected,
    HistorySyncChunk,
    Media,
    MessageReceived,
    QrCode,
    ReceiptReceived,
    SendResult,
    TemporaryBan,
    WireMessage,
)

TS = datetime(2026, 6, 14, 10, 30, 5, 123000, tzinfo=UTC)
MSG = WireMessage(
    id="3EB0A1",
    chat_jid="123@lid",
    sender_jid="123@lid",
    from_me=False,
    timestamp=TS,
    text="Bună! Vrem Elsa pe 14 iunie",
    chat_pn_jid="40733111222@s.whatsapp.net",
    push_name="Ana",
    media=Media(type="image", mimetype="image/jpeg"),
)
EVENTS = [
    QrCode("acc", "2@abc"),
    Connected("acc"),
    Disconnected("acc", reason="the session host was killed (SIGKILL)"),
    TemporaryBan("acc", code=101, expires_at=TS),
    TemporaryBan("acc", code=102, expires_at=None),
    MessageReceived("acc", MSG),
    HistorySyncChunk(
        "acc", (MSG, MSG), lid_to_pn={"123@lid": "40733111222@s.whatsapp.net"}, chunk_order=2
    ),
    ReceiptReceived("acc", ("A", "B"), "40733111222@s.whatsapp.net", "read", TS),
    SendResult("3EB0FF", TS),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_events_round_trip_through_frames(event: object) -> None:
    frame = wire.encode_frame({"op": "event", "event": wire.to_wire(event)})
    decoder = wire.FrameDecoder()
    # bytes arrive in arbitrary pieces
    messages = [m for i in range(0, len(frame), 7) for m in decoder.feed(frame[i : i + 7])]
    assert len(messages) == 1
    back = wire.from_wire(messages[0]["event"])
    assert back == event
    assert type(back) is type(event)


def test_several_frames_in_one_read() -> None:
    data = b"".join(wire.encode_frame({"op": "ack", "seq": n}) for n in range(5))
    assert [m["seq"] for m in wire.FrameDecoder().feed(data)] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "bad",
    [
        {"$t": "os.system", "f": {}},
        {"$t": "Connected", "f": {"nope": 1}},
        {"$dt": "yesterday"},
        {"plain": "object"},
    ],
)
def test_bad_values_are_wire_errors(bad: object) -> None:
    with pytest.raises(wire.WireError):
        wire.from_wire(bad)


def test_only_port_types_are_sent() -> None:
    class Foreign:
        pass

    with pytest.raises(wire.WireError):
        wire.to_wire(Foreign())
    with pytest.raises(wire.WireError):
        wire.to_wire({1: "int key"})


def test_oversized_or_garbage_frames_are_refused() -> None:
    with pytest.raises(wire.WireError):
        wire.FrameDecoder().feed((wire.MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(wire.WireError):
        wire.FrameDecoder().feed((3).to_bytes(4, "big") + b"{x}")
