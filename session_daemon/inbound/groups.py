"""Pure fields of group chats (CONTRACT.md section 4, Groups).

A group thread's `clientJid` ends with `@g.us`; it has `isGroup: true`, `groupSubject` (the app
shows it as the name, so `displayName` follows it), and no phone fields (null: a group has no
number). Its messages carry `senderName` and `senderJid`, the participant who wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.jids import jid_to_e164, parse_jid

__all__ = ["group_sender_fields", "group_thread_patch", "is_group_jid"]


def is_group_jid(raw: str | None) -> bool:
    jid = parse_jid(raw) if raw else None
    return jid is not None and jid.is_group


def group_thread_patch(
    existing: Mapping[str, Any] | None, group_jid: str, subject: str | None
) -> dict[str, Any] | None:
    """What a group thread must say (merge it into the thread write); None when it already
    says it. A missing subject (group info not fetched yet) never erases a known one."""
    current = existing or {}
    clean = " ".join((subject or "").split()) or None
    wanted: dict[str, Any] = {
        "isGroup": True,
        "normalizedPhone": None,
        "phoneE164": None,
    }
    if clean is not None:
        wanted["groupSubject"] = clean
        wanted["displayName"] = clean
    elif not current.get("groupSubject"):
        wanted["groupSubject"] = None
        if not current.get("displayName"):
            wanted["displayName"] = "Grup"
    patch = {k: v for k, v in wanted.items() if k not in current or current[k] != v}
    if existing is None:
        patch["clientJid"] = group_jid
    return patch or None


def group_sender_fields(
    sender_jid: str | None, sender_pn_jid: str | None, push_name: str | None
) -> dict[str, Any]:
    """`senderJid` (the phone JID when known, device stripped) and `senderName` (the push
    name, else the phone number, else None)."""
    chosen = None
    for raw in (sender_pn_jid, sender_jid):
        jid = parse_jid(raw) if raw else None
        if jid is not None and jid.is_user:
            chosen = str(jid.to_non_device())
            if jid.is_phone:
                break
    name = " ".join((push_name or "").split()) or (jid_to_e164(chosen) if chosen else None)
    return {"senderJid": chosen, "senderName": name}
