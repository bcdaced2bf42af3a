"""The two protobuf messages the import touches, read and written at the wire level (pure).

Importing neonize's generated modules loads the whole Go library (about a second, plus its
logging set-up), which the decoder does not need: `ADVDeviceIdentity` only has to parse, and
`AppStateSyncKeyFingerprint` is three integer fields. The tests compare both with neonize's own
protobuf classes.
"""

from __future__ import annotations

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long")


def parse_fields(buf: bytes) -> dict[int, list[int | bytes]]:
    """Field number → values of a serialised message (varints as ints, length-delimited as
    bytes); ValueError on anything that is not well-formed protobuf."""
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        value: int | bytes
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire == _LEN:
            size, pos = _read_varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated length-delimited field")
            value, pos = buf[pos : pos + size], pos + size
        elif wire in (_I64, _I32):
            width = 8 if wire == _I64 else 4
            if pos + width > len(buf):
                raise ValueError("truncated fixed-width field")
            value, pos = int.from_bytes(buf[pos : pos + width], "little"), pos + width
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def fingerprint_bytes(
    raw_id: int | None, current_index: int | None, device_indexes: list[int]
) -> bytes:
    """`AppStateSyncKeyFingerprint{rawID=1, currentIndex=2, deviceIndexes=3 [packed]}` as Go's
    proto.Marshal writes it (whatsmeow stores these bytes): set fields in number order."""
    out = bytearray()
    if raw_id is not None:
        out += b"\x08" + _varint(raw_id)
    if current_index is not None:
        out += b"\x10" + _varint(current_index)
    if device_indexes:
        packed = b"".join(_varint(i) for i in device_indexes)
        out += b"\x1a" + _varint(len(packed)) + packed
    return bytes(out)
