"""The FCM v1 message for one thread's new messages (pure).

CONTRACT.md, `users/{uid}`: notification title = thread name, body = the first 100 characters
(of the newest message: a burst is coalesced into one push per thread), data
`{type: "whatsapp_message", accountId, threadId, clientJid}`. FCM data values must be strings.

The Android `tag` and the APNs collapse id make a newer push for the same thread replace the
older one on the phone instead of stacking; APNs caps that id at 64 bytes, so it is a hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["BODY_CHARS", "PUSH_TYPE", "ThreadPush", "fcm_message"]

BODY_CHARS: Final = 100
PUSH_TYPE: Final = "whatsapp_message"


@dataclass(frozen=True)
class ThreadPush:
    """What one coalesced push says: the thread, its name, the newest text, how many new."""

    account_id: str
    thread_id: str
    client_jid: str
    title: str
    text: str
    count: int = 1


def _collapse_id(thread_id: str) -> str:
    return hashlib.sha256(thread_id.encode("utf-8")).hexdigest()[:32]


def fcm_message(push: ThreadPush, token: str) -> dict[str, Any]:
    """The `message` object of `POST /v1/projects/{project}/messages:send` for one device."""
    body = push.text[:BODY_CHARS]
    return {
        "token": token,
        "notification": {"title": push.title, "body": body},
        "data": {
            "type": PUSH_TYPE,
            "accountId": push.account_id,
            "threadId": push.thread_id,
            "clientJid": push.client_jid,
        },
        "android": {"priority": "HIGH", "notification": {"tag": push.thread_id}},
        "apns": {"headers": {"apns-collapse-id": _collapse_id(push.thread_id)}},
    }
