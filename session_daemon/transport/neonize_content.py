"""What a WhatsApp message (neonize's `waE2E.Message`) holds, pure: its content as the daemon
stores it (type, text, media metadata) and its attachment's download info.

Wrappers (ephemeral, view-once, document-with-caption, ...) are unwrapped first; protocol
messages, edits, poll votes and the like are not content. Used by `neonize_convert.py` (live
and history-sync messages) and `neonize_media.py` (downloads).
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Callable
from typing import Any, Final

# neonize loads its Go library on first import and Go reads the environment only then: the
# "AI" badge on outgoing 1:1 messages must be switched off before any neonize import.
os.environ["NEONIZE_BOT_TAG"] = "off"

from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from session_daemon.transport.port import Media, MessageType

__all__ = ["DownloadInfo", "download_info", "message_content", "unwrap", "with_download"]

# ---- content -------------------------------------------------------------------------------------

# Containers whose `.message` holds the real content (whatsmeow unwraps some of them for live
# messages, never for history sync).
_WRAPPERS = (
    "deviceSentMessage",
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "groupMentionedMessage",
    "botInvokeMessage",
    "lottieStickerMessage",
    "associatedChildMessage",
    "spoilerMessage",
)
# Fields that ride along with content but are not content themselves.
_CARRIERS = frozenset(
    {
        "messageContextInfo",
        "senderKeyDistributionMessage",
        "fastRatchetKeySenderKeyDistributionMessage",
    }
)
# Present without user-visible content: never a message of a thread.
_NOT_CONTENT = frozenset(
    {
        "protocolMessage",
        "editedMessage",
        "pollUpdateMessage",
        "encReactionMessage",
        "keepInChatMessage",
        "pinInChatMessage",
        "encEventResponseMessage",
        "secretEncryptedMessage",
        "placeholderMessage",
        "stickerSyncRmrMessage",
        "messageHistoryBundle",
        "messageHistoryNotice",
    }
)
_POLLS = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV4",
    "pollCreationMessageV5",
    "pollCreationMessageV6",
)
_MAX_UNWRAP = 5
# Interactive messages (business buttons, lists, templates, events) and a client's tap on one:
# no text field of their own, but the words the person saw or chose are the message.
_VISIBLE_TEXT: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("buttonsResponseMessage", lambda m: m.selectedDisplayText),
    ("templateButtonReplyMessage", lambda m: m.selectedDisplayText),
    ("listResponseMessage", lambda m: m.title or m.singleSelectReply.selectedRowID),
    ("interactiveResponseMessage", lambda m: m.body.text),
    ("buttonsMessage", lambda m: m.contentText or m.text),
    ("listMessage", lambda m: m.description or m.title),
    ("templateMessage", lambda m: m.hydratedTemplate.hydratedContentText),
    ("interactiveMessage", lambda m: m.body.text),
    ("eventMessage", lambda m: m.name),
)


def unwrap(msg: e2e.Message) -> e2e.Message:
    for _ in range(_MAX_UNWRAP):
        for name in _WRAPPERS:
            if msg.HasField(name):
                inner = getattr(msg, name)
                if inner.HasField("message"):
                    msg = inner.message
                    break
        else:
            return msg
    return msg


def _thumb(data: bytes) -> str | None:
    return base64.b64encode(data).decode("ascii") if data else None


def _opt(text: str) -> str | None:
    return text or None


def message_content(message: e2e.Message) -> tuple[MessageType, str, Media | None] | None:
    """(message_type, text, media) of a WhatsApp message, or None when it is not content.

    Text covers `conversation`, `extendedTextMessage` and image/video/document captions (the
    same fields as `neonize.utils.extract_text`), after unwrapping ephemeral/view-once/
    document-with-caption containers. Media carries metadata only: nothing is downloaded.
    """
    msg = unwrap(message)
    present = {field.name for field, _ in msg.ListFields()} - _CARRIERS
    if not present or present & _NOT_CONTENT:
        return None
    if msg.HasField("imageMessage"):
        img = msg.imageMessage
        media = Media("image", _opt(img.mimetype), None, None, _thumb(img.JPEGThumbnail))
        return "image", img.caption, media
    if msg.HasField("videoMessage") or msg.HasField("ptvMessage"):
        vid = msg.videoMessage if msg.HasField("videoMessage") else msg.ptvMessage
        media = Media("video", _opt(vid.mimetype), None, None, _thumb(vid.JPEGThumbnail))
        return "video", vid.caption, media
    if msg.HasField("documentMessage"):
        doc = msg.documentMessage
        name = doc.fileName or doc.title or None
        media = Media("document", _opt(doc.mimetype), name, None, _thumb(doc.JPEGThumbnail))
        return "document", doc.caption, media
    if msg.HasField("audioMessage"):
        return "audio", "", Media("audio", _opt(msg.audioMessage.mimetype))
    if msg.HasField("extendedTextMessage"):
        return "text", msg.extendedTextMessage.text, None
    if msg.HasField("conversation"):
        return "text", msg.conversation, None
    if msg.HasField("stickerMessage"):
        return "sticker", "", None
    if msg.HasField("reactionMessage"):
        return "reaction", msg.reactionMessage.text, None
    if msg.HasField("locationMessage"):
        return "location", msg.locationMessage.name or msg.locationMessage.address, None
    if msg.HasField("liveLocationMessage"):
        return "location", msg.liveLocationMessage.caption, None
    if msg.HasField("contactMessage"):
        return "contact", msg.contactMessage.displayName, None
    if msg.HasField("contactsArrayMessage"):
        return "contact", msg.contactsArrayMessage.displayName, None
    for poll in _POLLS:
        if msg.HasField(poll):
            return "other", getattr(msg, poll).name, None
    for name, visible_text in _VISIBLE_TEXT:
        if msg.HasField(name):
            return "other", visible_text(getattr(msg, name)), None
    return "other", "", None


# ---- attachments ---------------------------------------------------------------------------------

# (field of waE2E.Message, our media type); whatsmeow's DownloadAny looks at exactly these
# top-level fields, so a wrapped attachment must be handed over unwrapped.
_ATTACHMENTS: Final = (
    ("imageMessage", "image"),
    ("videoMessage", "video"),
    ("ptvMessage", "video"),
    ("audioMessage", "audio"),
    ("documentMessage", "document"),
    ("stickerMessage", "sticker"),
)


@dataclasses.dataclass(frozen=True)
class DownloadInfo:
    """What the message says about its file, and the bytes `download_any` needs to fetch it
    (kept in the journal, so a download can be retried after a restart)."""

    media_type: str
    mimetype: str | None
    filename: str | None
    size_bytes: int | None
    sha256: str | None  # hex of the decrypted file (WhatsApp's `fileSHA256`)
    thumb_base64: str | None
    voice: bool
    message_b64: str  # a waE2E.Message holding only this attachment, serialized
    downloadable: bool = True  # a media key and a path or URL: what DownloadAny needs

    def message(self) -> e2e.Message:
        return e2e.Message.FromString(base64.b64decode(self.message_b64))


def download_info(message: e2e.Message) -> DownloadInfo | None:
    """The attachment of a message (through its wrappers), or None when it has none."""
    msg = unwrap(message)
    for field_name, media_type in _ATTACHMENTS:
        if not msg.HasField(field_name):
            continue
        part = getattr(msg, field_name)
        alone = e2e.Message()
        # ptvMessage (round video notes) downloads like a video; whatsmeow knows only the five.
        target = "videoMessage" if field_name == "ptvMessage" else field_name
        getattr(alone, target).CopyFrom(part)
        filename = (getattr(part, "fileName", "") or getattr(part, "title", "")) or None
        thumb = getattr(part, "JPEGThumbnail", b"") or b""
        return DownloadInfo(
            media_type=media_type,
            mimetype=part.mimetype or None,
            filename=filename if media_type == "document" else None,
            size_bytes=int(part.fileLength) if part.fileLength else None,
            sha256=part.fileSHA256.hex() if part.fileSHA256 else None,
            thumb_base64=base64.b64encode(thumb).decode("ascii") if thumb else None,
            voice=bool(getattr(part, "PTT", False)),
            message_b64=base64.b64encode(alone.SerializeToString()).decode("ascii"),
            downloadable=bool(part.mediaKey) and bool(part.directPath or part.URL),
        )
    return None


def with_download(media: Media | None, message: e2e.Message | None) -> Media | None:
    """Media with what `download_media` needs to fetch its file (kept in the journal)."""
    if media is None or message is None:
        return media
    info = download_info(message)
    if info is None:
        return media
    return dataclasses.replace(
        media,
        size_bytes=info.size_bytes,
        sha256=info.sha256,
        voice=info.voice,
        download=info.message_b64 if info.downloadable else None,
    )
