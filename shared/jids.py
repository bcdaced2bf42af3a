"""WhatsApp JIDs: parse, format, strip the device part, and map phone numbers to JIDs.

whatsmeow writes a device JID as ``user:device@server`` or, with an agent byte,
``user.agent:device@server``; both orders are accepted here. The address of a chat (a thread's
``clientJid``) never carries the device or agent, and ``c.us`` (the legacy user server) is
rewritten to ``s.whatsapp.net``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from shared.phones import to_e164_lenient

__all__ = [
    "BROADCAST_SERVER",
    "GROUP_SERVER",
    "LID_SERVER",
    "NEWSLETTER_SERVER",
    "PHONE_SERVER",
    "STATUS_BROADCAST",
    "Jid",
    "chat_jid",
    "is_phone_jid",
    "jid_to_e164",
    "normalize_jid",
    "parse_jid",
    "phone_jid",
]

PHONE_SERVER = "s.whatsapp.net"
LID_SERVER = "lid"
GROUP_SERVER = "g.us"
BROADCAST_SERVER = "broadcast"
NEWSLETTER_SERVER = "newsletter"
LEGACY_USER_SERVER = "c.us"
STATUS_BROADCAST = "status@broadcast"

# What a user part may look like on each server. Phone and LID users are digits; groups are
# digits, or the old ``creatorphone-timestamp`` form; broadcast is ``status`` or a list id.
_USER_PATTERNS: dict[str, re.Pattern[str]] = {
    PHONE_SERVER: re.compile(r"^[1-9]\d{4,19}$"),
    LID_SERVER: re.compile(r"^\d{1,25}$"),
    GROUP_SERVER: re.compile(r"^\d{5,25}(-\d{5,15})?$"),
    BROADCAST_SERVER: re.compile(r"^(status|\d{1,25})$"),
    NEWSLETTER_SERVER: re.compile(r"^\d{1,25}$"),
}
# ``c.us`` is the old user server; ``hosted``/``hosted.lid`` address a business account's
# hosted (Cloud API) device of the same user, whose chat is the user's own.
_SERVER_ALIASES = {
    LEGACY_USER_SERVER: PHONE_SERVER,
    "hosted": PHONE_SERVER,
    "hosted.lid": LID_SERVER,
}
_NUMBER_RE = re.compile(r"^\d{1,5}$")
_E164_SHAPE = re.compile(r"^\+[1-9]\d{6,14}$")
_MAX_JID_LEN = 128


@dataclass(frozen=True, slots=True)
class Jid:
    """A parsed JID. ``device`` 0 and ``agent`` 0 mean "the account itself" (no suffix)."""

    user: str
    server: str
    device: int = 0
    agent: int = 0

    @property
    def is_phone(self) -> bool:
        return self.server == PHONE_SERVER

    @property
    def is_lid(self) -> bool:
        return self.server == LID_SERVER

    @property
    def is_group(self) -> bool:
        return self.server == GROUP_SERVER

    @property
    def is_broadcast(self) -> bool:
        return self.server == BROADCAST_SERVER

    @property
    def is_status(self) -> bool:
        return self.server == BROADCAST_SERVER and self.user == "status"

    @property
    def is_newsletter(self) -> bool:
        return self.server == NEWSLETTER_SERVER

    @property
    def is_user(self) -> bool:
        """A person's address (phone number or LID), as opposed to a group or a list."""
        return self.server in (PHONE_SERVER, LID_SERVER)

    def to_non_device(self) -> Jid:
        return Jid(self.user, self.server)

    def __str__(self) -> str:
        if self.agent:
            return f"{self.user}.{self.agent}:{self.device}@{self.server}"
        if self.device:
            return f"{self.user}:{self.device}@{self.server}"
        return f"{self.user}@{self.server}"


def _small_int(text: str) -> int | None:
    return int(text) if _NUMBER_RE.fullmatch(text) else None


def _split_user(raw_user: str) -> tuple[str, int, int] | None:
    """Split ``user[.agent][:device]`` (or ``user[:device][.agent]``) into its parts."""
    user, device, agent = raw_user, 0, 0
    if ":" in user:
        user, _, rest = user.partition(":")
        # Tolerate the device-before-agent order too.
        dev_text, _, agent_text = rest.partition(".")
        parsed_device = _small_int(dev_text)
        if parsed_device is None:
            return None
        device = parsed_device
        if agent_text:
            parsed_agent = _small_int(agent_text)
            if parsed_agent is None:
                return None
            agent = parsed_agent
    if "." in user:
        user, _, agent_text = user.partition(".")
        parsed_agent = _small_int(agent_text)
        if parsed_agent is None or agent:
            return None
        agent = parsed_agent
    if device > 0xFFFF or agent > 0xFF:
        return None
    return user, device, agent


def parse_jid(raw: object) -> Jid | None:
    """Parse a JID string; None for anything that is not a well-formed user/group/list JID."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > _MAX_JID_LEN or text.count("@") != 1:
        return None
    raw_user, _, raw_server = text.partition("@")
    server = raw_server.lower()
    server = _SERVER_ALIASES.get(server, server)
    pattern = _USER_PATTERNS.get(server)
    if pattern is None:
        return None
    parts = _split_user(raw_user)
    if parts is None:
        return None
    user, device, agent = parts
    if not pattern.fullmatch(user):
        return None
    if (device or agent) and server not in (PHONE_SERVER, LID_SERVER):
        return None  # only a person's account has devices
    return Jid(user=user, server=server, device=device, agent=agent)


def normalize_jid(raw: object) -> str | None:
    """The chat address of a JID: device and agent stripped, server canonical; None if junk."""
    jid = parse_jid(raw)
    return str(jid.to_non_device()) if jid is not None else None


def phone_jid(e164: str) -> str:
    """``+40722123456`` → ``40722123456@s.whatsapp.net``. Raises ValueError on a non-number."""
    normalized = to_e164_lenient(e164)
    if normalized is None and isinstance(e164, str) and _E164_SHAPE.fullmatch(e164.strip()):
        # What jid_to_e164 returned for a legacy form phonenumbers rejects: keep its digits.
        digits = e164.strip()[1:]
        normalized = "+" + digits if _known_country_code(digits) else None
    if normalized is None:
        raise ValueError(f"not a phone number: {e164!r}")
    return f"{normalized[1:]}@{PHONE_SERVER}"


def jid_to_e164(raw: object) -> str | None:
    """E.164 of a phone JID (any device), else None (LID, group, broadcast, junk).

    The digits are WhatsApp's own, kept as they are (``phone_jid`` of the result gives the JID
    back). A user part ``phonenumbers`` finds impossible still counts when it has an E.164
    length and a known country code: WhatsApp keeps legacy forms (Mexico's ``521…``) that the
    metadata no longer allows, and that client must still get a phone number.
    """
    jid = parse_jid(raw)
    if jid is None or not jid.is_phone:
        return None
    candidate = "+" + jid.user
    if to_e164_lenient(candidate) is not None or _known_country_code(jid.user):
        return candidate if 8 <= len(candidate) <= 16 else None
    return None


def _known_country_code(digits: str) -> bool:
    if not 7 <= len(digits) <= 15:
        return False
    return any(
        phonenumbers.region_code_for_country_code(int(digits[:size])) != "ZZ" for size in (1, 2, 3)
    )


def is_phone_jid(raw: object) -> bool:
    return jid_to_e164(raw) is not None


def chat_jid(raw: object) -> str | None:
    """A chat address from a JID *or* a phone number: ``0722 123 456`` → a phone JID.

    Used where a caller may hand over either (CLI arguments, API inputs). A phone JID is kept
    as WhatsApp wrote it (its user part is authoritative); broadcast lists, status and
    newsletters are not chats: None.
    """
    jid = parse_jid(raw)
    if jid is not None:
        return str(jid.to_non_device()) if jid.is_user or jid.is_group else None
    if isinstance(raw, str) and "@" not in raw:
        try:
            return phone_jid(raw)
        except ValueError:
            return None
    return None
