"""Write-time sentinels, translated by each adapter (Firestore maps them to its own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


SERVER_TIMESTAMP: Any = _Marker("SERVER_TIMESTAMP")
"""The commit time, as a timezone-aware datetime."""

DELETE_FIELD: Any = _Marker("DELETE_FIELD")
"""Removes one field (never a document: no code path deletes documents)."""


@dataclass(frozen=True)
class Increment:
    amount: int | float


@dataclass(frozen=True)
class ArrayUnion:
    values: tuple[Any, ...]

    def __init__(self, values: list[Any] | tuple[Any, ...]) -> None:
        object.__setattr__(self, "values", tuple(values))


@dataclass(frozen=True)
class ArrayRemove:
    values: tuple[Any, ...]

    def __init__(self, values: list[Any] | tuple[Any, ...]) -> None:
        object.__setattr__(self, "values", tuple(values))


def is_sentinel(value: Any) -> bool:
    return (
        value is SERVER_TIMESTAMP
        or value is DELETE_FIELD
        or isinstance(value, Increment | ArrayUnion | ArrayRemove)
    )
