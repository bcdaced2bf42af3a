"""Request/response values of the proxy, independent of Flask, and the contract's errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProxyRequest:
    method: str
    headers: Mapping[str, str]  # case-insensitive look-ups go through `header()`
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    body: dict[str, Any]


class ProxyError(Exception):
    """A contract error: `{success: false, error: code, message}` with `status`."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self) -> ProxyResponse:
        body = {"success": False, "error": self.code, "message": self.message, **self.extra}
        return ProxyResponse(self.status, body)


def invalid(message: str) -> ProxyError:
    return ProxyError(400, "invalid_request", message)


INTERNAL_ERROR = ProxyError(500, "internal_error", "Something went wrong; try again later.")
