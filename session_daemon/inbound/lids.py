"""LID chats: which phone JID a `@lid` address belongs to, and the messages waiting for one.

WhatsApp addresses some chats by LID. A thread id is always the client's phone JID, so a message
from a LID chat is stored only once its phone is known (its own alt JID, the mappings learned
from earlier messages and history sync, then the resolver, normally the transport's
`pn_for_lid`). Until then it is parked: it stays in the journal and moves into the phone thread
as soon as a mapping arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from session_daemon.inbound.entries import Entry
from shared.jids import normalize_jid

__all__ = ["LidBook", "LidResolver", "history_mappings", "phone_jid"]

LidResolver = Callable[[str, str], "str | None"]
Mapping3 = tuple[str, str, str]  # account id, LID JID, phone JID


def phone_jid(raw: str | None) -> str | None:
    """`raw` as a phone-number JID, or None when it is not one."""
    found = normalize_jid(raw or "")
    if found is None or not found.endswith("@s.whatsapp.net"):
        return None
    return found


def history_mappings(account_id: str, lid_to_pn: Mapping[str, str]) -> list[Mapping3]:
    """The usable LID -> phone pairs of a history-sync chunk."""
    out: list[Mapping3] = []
    for lid, pn in lid_to_pn.items():
        lid_jid, pn_jid = normalize_jid(lid), normalize_jid(pn)
        if lid_jid and pn_jid and lid_jid.endswith("@lid") and pn_jid.endswith("@s.whatsapp.net"):
            out.append((account_id, lid_jid, pn_jid))
    return out


class LidBook:
    """Known mappings and parked entries. Not thread-safe: the pipeline calls it holding its
    lock (a mapping and the queue the parked entries go back to move together)."""

    def __init__(self, known: dict[tuple[str, str], str] | None = None) -> None:
        self.known: dict[tuple[str, str], str] = dict(known or {})
        self.parked: dict[tuple[str, str], list[Entry]] = {}

    def phone(self, account: str, lid: str) -> str | None:
        return self.known.get((account, lid))

    def learn(self, account: str, lid: str, pn: str) -> tuple[bool, list[Entry]]:
        """Record a mapping; returns whether it was new, and the entries it unparks."""
        new = self.known.get((account, lid)) != pn
        if new:
            self.known[(account, lid)] = pn
        return new, self.parked.pop((account, lid), None) or []

    def park(self, entry: Entry) -> bool:
        """Park a message of an unknown LID chat; False when its mapping was learned meanwhile
        (while its batch was being written): the caller queues it again instead."""
        assert entry.record is not None
        key = (entry.record.account_id, entry.record.addr_jid)
        if key in self.known:
            return False
        self.parked.setdefault(key, []).append(entry)
        return True

    def parked_keys(self) -> list[tuple[str, str]]:
        return list(self.parked)

    @property
    def parked_count(self) -> int:
        return sum(len(v) for v in self.parked.values())
