"""Backend-neutral handling of document values: validation, sentinel resolution, deep merge and
dotted field paths. Pure functions shared by the adapters that apply writes themselves."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.store.sentinels import (
    DELETE_FIELD,
    SERVER_TIMESTAMP,
    ArrayRemove,
    ArrayUnion,
    Increment,
    is_sentinel,
)


class InvalidValue(ValueError):
    """A value the store cannot hold (naive datetime, a set, bytes, a non-string key, ...)."""


_SCALARS = (str, int, float, bool, type(None))


def validate(value: Any, where: str = "") -> None:
    """Raise InvalidValue naming the field when `value` is not storable."""
    if isinstance(value, _SCALARS) or is_sentinel(value):
        return
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidValue(f"{where or 'value'}: datetime must be timezone-aware")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise InvalidValue(f"{where or 'value'}: map keys must be non-empty strings")
            validate(item, f"{where}.{key}" if where else key)
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if is_sentinel(item):
                raise InvalidValue(f"{where}[{i}]: sentinels cannot stand inside arrays")
            validate(item, f"{where}[{i}]")
        return
    raise InvalidValue(f"{where or 'value'}: unsupported type {type(value).__name__}")


def resolve(value: Any, old: Any, now: datetime) -> Any:
    """Replace sentinels in `value` given the previous value at the same place."""
    if value is SERVER_TIMESTAMP:
        return now
    if isinstance(value, Increment):
        base = old if isinstance(old, int | float) and not isinstance(old, bool) else 0
        return base + value.amount
    if isinstance(value, ArrayUnion):
        current = list(old) if isinstance(old, list) else []
        for item in value.values:
            if item not in current:
                current.append(item)
        return current
    if isinstance(value, ArrayRemove):
        current = list(old) if isinstance(old, list) else []
        return [item for item in current if item not in value.values]
    if isinstance(value, Mapping):
        return {k: resolve(v, None, now) for k, v in value.items() if v is not DELETE_FIELD}
    if isinstance(value, tuple):
        return list(value)
    return value


def merge_into(target: dict[str, Any], patch: Mapping[str, Any], now: datetime) -> None:
    """`set(..., merge=True)`: maps merge deeply, other values replace, sentinels resolve."""
    for key, value in patch.items():
        if value is DELETE_FIELD:
            target.pop(key, None)
        elif isinstance(value, Mapping) and not is_sentinel(value):
            child = target.get(key)
            if not isinstance(child, dict):
                child = {}
                target[key] = child
            merge_into(child, value, now)
        else:
            target[key] = resolve(value, target.get(key), now)


def split_field_path(field_path: str) -> list[str]:
    parts = field_path.split(".")
    if any(not p for p in parts):
        raise InvalidValue(f"bad field path: {field_path!r}")
    return parts


def apply_update(target: dict[str, Any], patch: Mapping[str, Any], now: datetime) -> None:
    """`update(...)`: keys are dotted field paths; the value at a path replaces what was there."""
    for field_path, value in patch.items():
        parts = split_field_path(field_path)
        parent = target
        for part in parts[:-1]:
            child = parent.get(part)
            if not isinstance(child, dict):
                if value is DELETE_FIELD:
                    parent = {}
                    break
                child = {}
                parent[part] = child
            parent = child
        leaf = parts[-1]
        if value is DELETE_FIELD:
            parent.pop(leaf, None)
        else:
            parent[leaf] = resolve(value, parent.get(leaf), now)


def fresh(data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A new document from `data` (create / set without merge): sentinels resolve on nothing."""
    out = resolve(data, None, now)
    assert isinstance(out, dict)
    return out


def lookup(data: Mapping[str, Any], field_path: str) -> tuple[bool, Any]:
    """(present, value) of a dotted field path."""
    node: Any = data
    for part in field_path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def clone(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)
