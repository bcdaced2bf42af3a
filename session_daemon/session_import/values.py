"""Reading Baileys' JSON values as Baileys itself reads them (pure, no I/O).

Baileys 7.0.0-rc.9 writes every file with `JSON.stringify(value, BufferJSON.replacer)` and reads it
back with `JSON.parse(text, BufferJSON.reviver)`. So a byte string on disk is one of:

- `{"type": "Buffer", "data": "<base64>"}`: what the replacer writes for a Buffer/Uint8Array;
- `{"0": 5, "1": 17, ...}`: the numeric-key form the reviver also turns into a Buffer (what a
  Uint8Array becomes when something serialised it without the replacer);
- a plain base64 string: protobufjs messages (`creds.account`, app-state sync key data) have a
  `toJSON` that JSON.stringify calls *before* the replacer, and it renders `bytes` fields as
  base64 and 64-bit integers as decimal strings.

Every reader takes the field's dotted name, so an error names the exact field that is wrong.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")
_JS_PARSE_INT = re.compile(r"^\s*[+-]?\d")  # JS parseInt(k, 10) is not NaN
_DECIMAL = re.compile(r"^-?\d{1,20}$")


class SourceError(ValueError):
    """One field of the Baileys auth state is missing or wrong. `field` is `file: dotted.path`."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def b64decode(text: str, field: str) -> bytes:
    """Standard or URL-safe base64, padding optional (Node's `Buffer.from(s, 'base64')` accepts
    both); anything else is refused rather than silently skipped as Node would."""
    if not _BASE64.match(text):
        raise SourceError(field, "not base64")
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    padded = body + "=" * (-len(body) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SourceError(field, f"not base64 ({exc})") from None


def _is_js_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_numeric_key_buffer(value: object) -> bool:
    """The reviver's second rule: a non-empty object whose keys all parse as integers and whose
    values are all numbers."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(_JS_PARSE_INT.match(k) for k in value)
        and all(_is_js_number(v) for v in value.values())
    )


def _numeric_key_bytes(value: dict[str, Any], field: str) -> bytes:
    # Stricter than `Buffer.from(Object.values(v))` (which wraps 300 to 44 and orders odd keys by
    # insertion): a key file with holes or out-of-range bytes is corrupt, not a key.
    try:
        indexed = {int(k): v for k, v in value.items() if str(int(k)) == k}
    except ValueError:
        indexed = {}
    if len(indexed) != len(value) or sorted(indexed) != list(range(len(value))):
        raise SourceError(field, "numeric-key buffer whose keys are not 0..n-1")
    out = bytearray()
    for i in range(len(value)):
        byte = indexed[i]
        if not isinstance(byte, int) or isinstance(byte, bool) or not 0 <= byte <= 255:
            raise SourceError(field, f"numeric-key buffer with a non-byte value at {i}")
        out.append(byte)
    return bytes(out)


def to_bytes(value: object, field: str, *, base64_string: bool = False) -> bytes:
    """A Buffer in any form the reviver accepts (and, where protobufjs wrote the value, a base64
    string)."""
    if isinstance(value, dict) and value.get("type") == "Buffer":
        data = value.get("data")
        if isinstance(data, str):
            return b64decode(data, field)
        raise SourceError(field, "Buffer object whose data is not a base64 string")
    if is_numeric_key_buffer(value):
        assert isinstance(value, dict)
        return _numeric_key_bytes(value, field)
    if base64_string and isinstance(value, str):
        return b64decode(value, field)
    if value is None:
        raise SourceError(field, "missing")
    raise SourceError(field, f"expected bytes, got {type(value).__name__}")


def sized_bytes(value: object, field: str, size: int, *, base64_string: bool = False) -> bytes:
    data = to_bytes(value, field, base64_string=base64_string)
    if len(data) != size:
        raise SourceError(field, f"expected {size} bytes, got {len(data)}")
    return data


def to_int(value: object, field: str, *, low: int, high: int) -> int:
    """A JSON number that is an integer in [low, high] (JS writes 5 as 5, never 5.0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        if value is None:
            raise SourceError(field, "missing")
        raise SourceError(field, f"expected an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise SourceError(field, f"{value} is outside {low}..{high}")
    return value


def to_int64(value: object, field: str) -> int:
    """A protobuf int64 as protobufjs leaves it: a number, a decimal string (toJSON's `longs:
    String`) or a Long object `{low, high, unsigned}` (a message serialised without toJSON)."""
    if isinstance(value, str):
        if not _DECIMAL.match(value):
            raise SourceError(field, f"not a decimal integer: {value[:30]!r}")
        number = int(value)
    elif isinstance(value, dict) and "low" in value and "high" in value:
        lo = to_int(value["low"], f"{field}.low", low=-(2**31), high=2**32 - 1)
        hi = to_int(value["high"], f"{field}.high", low=-(2**31), high=2**32 - 1)
        number = ((hi & 0xFFFFFFFF) << 32) | (lo & 0xFFFFFFFF)
        if not value.get("unsigned") and number >= 2**63:
            number -= 2**64
    else:
        number = to_int(value, field, low=INT64_MIN, high=INT64_MAX)
    if not INT64_MIN <= number <= INT64_MAX:
        raise SourceError(field, f"{number} does not fit in 64 bits")
    return number


def to_str(value: object, field: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise SourceError(field, "missing" if value is None else "expected a string")
    return value
