"""The session-host wire protocol: length-prefixed JSON frames over a socketpair (pure codec).

A frame is a 4-byte big-endian length and a UTF-8 JSON object. Daemon → host frames are commands
(`{"op": "call", "id": n, "method": ..., "args": {...}}`, `{"op": "ack", "seq": n}`); host →
daemon frames are `hello`, `reply`, `event` and `loop_ended` (see `session_daemon/hosts/host.py`).

Transport events cross as tagged JSON so that they decode to the very dataclasses of the port
(`session_daemon/transport/port.py`): datetimes, tuples and nested dataclasses keep their types.
Nothing here touches a socket: `encode_frame` / `FrameDecoder` work on bytes.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from datetime import datetime
from typing import Any, Final

from session_daemon.transport import port

MAX_FRAME: Final[int] = 64 * 1024 * 1024  # a history-sync chunk can be large; a bad length cannot
_HEADER = struct.Struct(">I")

# Every dataclass that may cross the boundary, by name (events and what they carry).
_TYPES: Final[dict[str, type[Any]]] = {
    cls.__name__: cls
    for cls in (
        port.Media,
        port.WireMessage,
        port.QrCode,
        port.PairingCode,
        port.Paired,
        port.PairFailed,
        port.Connected,
        port.Disconnected,
        port.LoggedOut,
        port.StreamReplaced,
        port.TemporaryBan,
        port.QrTimeout,
        port.SessionEnded,
        port.KeepAliveTimeout,
        port.KeepAliveRestored,
        port.ConnectFailure,
        port.ClientOutdated,
        port.PasskeyRequired,
        port.MessageReceived,
        port.HistorySyncChunk,
        port.ReceiptReceived,
        port.SendResult,
        # the typed content of issue 12's message kinds (WireMessage.content)
        port.PollContent,
        port.CallContent,
        port.UndecryptableContent,
        port.EditContent,
        port.RevokeContent,
        port.ReactionContent,
    )
}


class WireError(ValueError):
    """A frame or value that does not follow the protocol."""


def register(cls: type[Any]) -> type[Any]:
    """Let another module add a port dataclass (new event kinds) to the codec."""
    _TYPES[cls.__name__] = cls
    return cls


def to_wire(value: Any) -> Any:
    """A JSON-ready form of `value` that `from_wire` turns back into an equal value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, tuple):
        return {"$tuple": [to_wire(v) for v in value]}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        if any(not isinstance(k, str) for k in value):
            raise WireError("only string keys cross the wire")
        return {"$map": {k: to_wire(v) for k, v in value.items()}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _TYPES.get(name) is not type(value):
            raise WireError(f"{name} is not a wire type")
        fields = {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$t": name, "f": fields}
    raise WireError(f"cannot send a {type(value).__name__}")


def from_wire(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if not isinstance(value, dict):
        raise WireError(f"unexpected {type(value).__name__}")
    if "$dt" in value:
        try:
            return datetime.fromisoformat(str(value["$dt"]))
        except ValueError as exc:
            raise WireError(f"bad datetime {value['$dt']!r}") from exc
    if "$tuple" in value:
        return tuple(from_wire(v) for v in value["$tuple"])
    if "$map" in value:
        return {str(k): from_wire(v) for k, v in dict(value["$map"]).items()}
    if "$t" in value:
        cls = _TYPES.get(str(value["$t"]))
        if cls is None:
            raise WireError(f"unknown wire type {value['$t']!r}")
        fields = value.get("f")
        if not isinstance(fields, dict):
            raise WireError("a wire dataclass needs its fields")
        try:
            return cls(**{k: from_wire(v) for k, v in fields.items()})
        except TypeError as exc:
            raise WireError(f"bad {cls.__name__}: {exc}") from exc
    raise WireError("an object without a type tag")


def encode_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_FRAME:
        raise WireError(f"frame of {len(body)} bytes exceeds {MAX_FRAME}")
    return _HEADER.pack(len(body)) + body


class FrameDecoder:
    """Feed bytes as they arrive; get whole messages back."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buf += data
        out: list[dict[str, Any]] = []
        while len(self._buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buf)
            if size > MAX_FRAME:
                raise WireError(f"frame of {size} bytes exceeds {MAX_FRAME}")
            if len(self._buf) < _HEADER.size + size:
                break
            body = bytes(self._buf[_HEADER.size : _HEADER.size + size])
            del self._buf[: _HEADER.size + size]
            try:
                message = json.loads(body)
            except ValueError as exc:
                raise WireError(f"frame is not JSON: {exc}") from exc
            if not isinstance(message, dict):
                raise WireError("a frame must be a JSON object")
            out.append(message)
        return out


def header_size() -> int:
    return _HEADER.size


def frame_length(header: bytes) -> int:
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes exceeds {MAX_FRAME}")
    return int(size)
