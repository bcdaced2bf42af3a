"""The request bodies of `/api/simulator/*` (session_daemon/http/simulator.py): one pydantic
model per route, strict and closed, so a malformed call answers 400 and the OpenAPI document
shows each body. The message kinds of issue 12 (edit, revoke, reaction, poll, call,
undecryptable) are parsed into typed content by their own files in `session_daemon/kinds/`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from session_daemon.kinds import call as call_kind
from session_daemon.kinds import edit as edit_kind
from session_daemon.kinds import poll as poll_kind
from session_daemon.kinds import reaction as reaction_kind
from session_daemon.kinds import revoke as revoke_kind
from session_daemon.kinds import undecryptable as undecryptable_kind
from session_daemon.transport.port import Content

HISTORY_MAX_BYTES = 32 * 1024 * 1024  # history chunks are big; the rest keeps the app's limit
MEDIA_MAX_CHARS = 24 * 1024 * 1024  # a simulated file, base64 (within HISTORY_MAX_BYTES)
Text = Annotated[str, StringConstraints(max_length=65536)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Timestamp = int | float | str | None


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


class PairBody(_Body):
    phone: Short | None = None
    push_name: Short | None = Field(None, alias="pushName")


class PairWithCodeBody(_Body):
    code: Short
    push_name: Short | None = Field(None, alias="pushName")


class MediaBody(_Body):
    type: Literal["image", "video", "audio", "document", "sticker"]
    mimetype: Short | None = None
    filename: Short | None = None
    url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    thumb_base64: Text | None = Field(None, alias="thumbBase64")
    data_base64: Annotated[str, StringConstraints(max_length=MEDIA_MAX_CHARS)] | None = Field(
        None, alias="dataBase64"
    )


class GroupBody(_Body):
    jid: Short
    subject: Short | None = None


class ReactionBody(_Body):
    to: Short
    emoji: Annotated[str, StringConstraints(max_length=32)] = ""


class PollBody(_Body):
    name: Short | None = None
    options: Annotated[list[Short], Field(min_length=1, max_length=12)]


class MessageBody(_Body):
    sender: Short = Field(alias="from")
    text: Text = ""
    id: Short | None = None
    timestamp: Timestamp = None
    via_lid: bool = Field(False, alias="viaLid")
    lid: Short | None = None
    push_name: Short | None = Field(None, alias="pushName")
    media: MediaBody | None = None
    group: GroupBody | None = None
    # the message kinds of issue 12 (at most one per message)
    edit: Short | None = None
    revoke: Short | None = None
    reaction: ReactionBody | None = None
    poll: PollBody | None = None
    call: bool = False
    undecryptable: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> MessageBody:
        kinds = [self.edit, self.revoke, self.reaction, self.poll, self.call or None]
        kinds.append(self.undecryptable or None)
        if sum(k is not None for k in kinds) > 1:
            raise ValueError(
                "send at most one of edit, revoke, reaction, poll, call, undecryptable"
            )
        return self

    def content(self) -> Content | None:
        """The kind's typed content, parsed by that kind's own file."""
        if self.edit is not None:
            return edit_kind.from_simulator(self.edit, self.text)
        if self.revoke is not None:
            return revoke_kind.from_simulator(self.revoke)
        if self.reaction is not None:
            return reaction_kind.from_simulator(
                {"to": self.reaction.to, "emoji": self.reaction.emoji}
            )
        if self.poll is not None:
            return poll_kind.from_simulator({"name": self.poll.name, "options": self.poll.options})
        if self.call:
            return call_kind.from_simulator(True)
        if self.undecryptable:
            return undecryptable_kind.from_simulator(True)
        return None


class TypeOnPhoneBody(_Body):
    to: Short
    text: Text
    id: Short | None = None
    timestamp: Timestamp = None
    via_lid: bool = Field(False, alias="viaLid")


class HistorySyncBody(_Body):
    messages: Annotated[list[dict[str, Any]], Field(max_length=5000)] = []
    lid_mappings: dict[str, str] = Field(default_factory=dict, alias="lidMappings")
    push_names: dict[str, str] = Field(default_factory=dict, alias="pushNames")
    chunk_order: int = Field(0, alias="chunkOrder")
    progress: int | None = None


class ReceiptBody(_Body):
    chat: Short
    message_ids: Annotated[list[Short], Field(min_length=1, max_length=1000)] = Field(
        alias="messageIds"
    )
    status: Literal["delivered", "read", "played"] = "delivered"


class ReadBody(_Body):
    phone: Short
    message_ids: list[Short] | None = Field(None, alias="messageIds")


class ReasonBody(_Body):
    reason: Short | None = None


class BanBody(_Body):
    seconds: float = Field(3600.0, gt=0, le=10**7)
    code: int = 101


class FailSendsBody(_Body):
    mode: Literal["retryable", "permanent"] | None
    count: int | None = Field(None, ge=1)


class FailConnectsBody(_Body):
    times: int = Field(ge=0, le=1000)


class KeepAliveBody(_Body):
    missed: int = Field(3, ge=1, le=1000)


class ConnectFailureBody(_Body):
    reason: Short = "bad_user_agent"


class StallBody(_Body):
    seconds: float = Field(gt=0, le=3600)


class LearnLidBody(_Body):
    lid: Short
    phone: Short


class ProfilePictureBody(_Body):
    who: Short  # a client's phone, or a group JID
    data_base64: Annotated[str, StringConstraints(max_length=MEDIA_MAX_CHARS)] | None = Field(
        None, alias="dataBase64"
    )  # null removes the picture


class GroupSubjectBody(_Body):
    jid: Short
    subject: Short | None = None
