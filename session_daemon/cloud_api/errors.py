"""Graph API errors → stable codes the outbox, the account status and the app understand. Pure.

Meta's codes (`error.code` in an API answer, `errors[].code` in a failed status):

| code | meaning | our code | retry | stops the account's sends |
|---|---|---|---|---|
| 190 | access token expired or invalid | `token_expired` | no | yes |
| 10, 200–299 | permission missing on the token | `permission_denied` | no | yes |
| 4, 80007, 130429 | app / account / throughput rate limit | `rate_limited` | later | no |
| 131056 | too many messages to one recipient | `pair_rate_limited` | later | no |
| 131026 | undeliverable (not on WhatsApp, old app) | `recipient_not_on_whatsapp` | no | no |
| 131047 | more than 24 h since the client wrote | `outside_service_window` | no | no |
| 368, 131031 | number blocked for policy / account locked | `number_blocked` | no | yes |
| 131048 | spam rate limit | `spam_limited` | later | no |
| 131049, 131050 | marketing limit / user stopped marketing | `marketing_refused` | no | no |
| 131051–131053 | unsupported type, media upload or download | `media_error` | no | no |
| 131062 | business-scoped user id problem | `invalid_user_id` | no | no |
| 132000–132999 | template missing, paused, wrong params | `template_error` | no | no |
| 100 (subcode 33) | object (phone number id) does not exist | `not_found` | no | yes |
| 1, 2, 131000, 131016 | Meta's side failed | `graph_unavailable` | later | no |

Anything else is `graph_error`, retried only when the HTTP status says the server failed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GraphFailure", "MappedError", "classify"]


@dataclass(frozen=True)
class MappedError:
    code: str
    retryable: bool
    stops_account: bool = False  # the account's sends stop until an operator acts


_EXACT: dict[int, MappedError] = {
    190: MappedError("token_expired", False, True),
    10: MappedError("permission_denied", False, True),
    4: MappedError("rate_limited", True),
    80007: MappedError("rate_limited", True),
    130429: MappedError("rate_limited", True),
    131056: MappedError("pair_rate_limited", True),
    131026: MappedError("recipient_not_on_whatsapp", False),
    131047: MappedError("outside_service_window", False),
    368: MappedError("number_blocked", False, True),
    131031: MappedError("number_blocked", False, True),
    131048: MappedError("spam_limited", True),
    131049: MappedError("marketing_refused", False),
    131050: MappedError("marketing_refused", False),
    131051: MappedError("media_error", False),
    131052: MappedError("media_error", False),
    131053: MappedError("media_error", False),
    131062: MappedError("invalid_user_id", False),
    1: MappedError("graph_unavailable", True),
    2: MappedError("graph_unavailable", True),
    131000: MappedError("graph_unavailable", True),
    131016: MappedError("graph_unavailable", True),
}


def classify(
    code: int | None, title: str = "", *, http_status: int | None = None, subcode: int | None = None
) -> MappedError:
    if code is not None:
        if code in _EXACT:
            return _EXACT[code]
        if 200 <= code <= 299:
            return MappedError("permission_denied", False, True)
        if 132000 <= code <= 132999:
            return MappedError("template_error", False)
        if code == 100 and subcode == 33:
            return MappedError("not_found", False, True)
    if http_status is not None and (http_status >= 500 or http_status == 429):
        return MappedError("graph_unavailable", True)
    return MappedError("graph_error", False)


class GraphFailure(Exception):
    """A Graph API call failed; `code` is stable, `meta_code` is Meta's number when it gave one."""

    code: str
    retryable: bool
    stops_account: bool

    def __init__(
        self,
        mapped: MappedError,
        message: str,
        *,
        meta_code: int | None = None,
        http_status: int | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message)
        # the request may have reached Meta (a timeout or a dropped connection after sending):
        # a send must then never be repeated (the outbox reads this attribute)
        self.ambiguous = ambiguous
        self.code = mapped.code
        self.retryable = mapped.retryable
        self.stops_account = mapped.stops_account
        self.meta_code = meta_code
        self.http_status = http_status
        self.message = message
