"""Who the client is on a Cloud API number: a phone, a business-scoped user id (BSUID), or both.

Since 2026 Meta identifies every user by a BSUID (`user_id`, `US.13491208655302741918`: a
two-letter country, an optional `ENT` part for parent ids, then up to 128 letters and digits),
and omits the phone (`wa_id`, `from`) of users with a username. Our threads are keyed by
`clientJid` (`{accountId}__{clientJid}`), so a sender without a phone needs an address too:

- a phone known → `clientJid` is the phone JID (`40733111222@s.whatsapp.net`), as for linked
  devices, so moving a number between kinds keeps its threads;
- BSUID only → `clientJid` is `{BSUID}@bsuid`. The BSUID is kept exactly as Meta sent it (Meta
  says to send it back unchanged); it never holds `/` or `__`, so the thread id stays one path
  segment and splits on its last `__` like every other thread id.

When the phone of a BSUID becomes known (a later payload carries both, or a `system` message),
the BSUID thread becomes an alias of the phone thread (`redirectTo`/`canonicalThreadId`, hidden by
the app, as with LIDs) and its messages are copied there: one client, one thread, nothing deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from shared.ids import THREAD_ID_SEPARATOR
from shared.ids import thread_id as phone_thread_id
from shared.jids import PHONE_SERVER, jid_to_e164

__all__ = [
    "BSUID_SERVER",
    "ClientRef",
    "ThreadMerge",
    "bsuid_jid",
    "bsuid_of_jid",
    "client_thread_id",
    "is_bsuid",
    "merge_plan",
    "merged_message",
    "phone_jid_of_wa_id",
    "wa_id_of_jid",
]

BSUID_SERVER: Final = "bsuid"
_BSUID = re.compile(r"^[A-Z]{2}(?:\.ENT)?\.[A-Za-z0-9]{1,128}$")
_WA_ID = re.compile(r"^[1-9]\d{6,14}$")


def is_bsuid(value: object) -> bool:
    return isinstance(value, str) and bool(_BSUID.match(value))


def bsuid_jid(user_id: str) -> str:
    if not is_bsuid(user_id):
        raise ValueError(f"not a business-scoped user id: {user_id!r}")
    return f"{user_id}@{BSUID_SERVER}"


def bsuid_of_jid(jid: str) -> str | None:
    user, sep, server = jid.rpartition("@")
    return user if sep and server == BSUID_SERVER and is_bsuid(user) else None


def phone_jid_of_wa_id(wa_id: object) -> str | None:
    """`40733111222` → `40733111222@s.whatsapp.net`; None for anything that is not a phone.

    Meta's `wa_id` is already WhatsApp's own digits: keep them (as `jid_to_e164` does) rather than
    re-normalising through a national format that could change them.
    """
    if not isinstance(wa_id, str) or not _WA_ID.match(wa_id):
        return None
    jid = f"{wa_id}@{PHONE_SERVER}"
    return jid if jid_to_e164(jid) is not None else None


def wa_id_of_jid(jid: str) -> str | None:
    """The `to` of a Graph API send for a phone JID (digits only), else None."""
    e164 = jid_to_e164(jid)
    return e164[1:] if e164 else None


@dataclass(frozen=True, slots=True)
class ClientRef:
    """A WhatsApp user as a payload named them: phone JID and/or BSUID, and display names."""

    pn_jid: str | None
    bsuid: str | None
    profile_name: str | None = None
    username: str | None = None

    @property
    def known(self) -> bool:
        return self.pn_jid is not None or self.bsuid is not None

    @property
    def client_jid(self) -> str:
        """The thread's address: the phone when known, else the BSUID address."""
        if self.pn_jid is not None:
            return self.pn_jid
        if self.bsuid is not None:
            return bsuid_jid(self.bsuid)
        raise ValueError("a client without phone or user id has no address")

    def send_target(self) -> dict[str, str]:
        """The recipient part of a Graph API send: `to` (phone) wins over `recipient` (BSUID),
        as Meta applies it when both are given."""
        if self.pn_jid is not None:
            wa_id = wa_id_of_jid(self.pn_jid)
            if wa_id:
                return {"to": wa_id}
        if self.bsuid is not None:
            return {"recipient": self.bsuid}
        raise ValueError("a client without phone or user id cannot be messaged")


def client_thread_id(account_id: str, client_jid: str) -> str:
    """`{accountId}__{clientJid}` for phone JIDs (the shared rule) and BSUID addresses."""
    bsuid = bsuid_of_jid(client_jid)
    if bsuid is None:
        return phone_thread_id(account_id, client_jid)
    # shared.ids.thread_id knows phone/LID/group JIDs only; the account id rule is its own.
    if not isinstance(account_id, str) or not account_id.strip() or "/" in account_id:
        raise ValueError(f"not an account id: {account_id!r}")
    return f"{account_id}{THREAD_ID_SEPARATOR}{client_jid}"


@dataclass(frozen=True)
class ThreadMerge:
    """Move a BSUID thread under the client's phone thread: copy its messages there (same
    document ids, so repeating the merge creates nothing twice), then mark it an alias."""

    alias_thread_id: str
    canonical_thread_id: str
    canonical_client_jid: str
    alias_patch: dict[str, Any]


def merge_plan(account_id: str, bsuid: str, pn_jid: str) -> ThreadMerge:
    alias = client_thread_id(account_id, bsuid_jid(bsuid))
    canonical = client_thread_id(account_id, pn_jid)
    return ThreadMerge(
        alias_thread_id=alias,
        canonical_thread_id=canonical,
        canonical_client_jid=pn_jid,
        alias_patch={
            "redirectTo": canonical,
            "canonicalThreadId": canonical,
            "hidden": True,
            "bsuid": bsuid,
        },
    )


def merged_message(doc: dict[str, Any], pn_jid: str) -> dict[str, Any]:
    """A BSUID thread's message as it is copied into the phone thread."""
    out = dict(doc)
    out["clientJid"] = pn_jid
    return out
