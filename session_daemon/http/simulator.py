"""`/api/simulator/*`: play the phones of a daemon running `--transport simulated`.

Only registered with the simulated transport; service token (or super-admin) only. Each route
wraps one control method of `SimulatedTransport`, run in a worker thread: a delivered message is
acknowledged (journalled by the daemon) when the call returns. While the inbound pipeline is
closed (daemon starting or stopping) delivering answers 503 `inbound_unavailable`.

    curl -H "Authorization: Bearer $TOKEN" -X POST localhost:8080/api/simulator/pair/wa_4072...
    curl ... -d '{"from": "+40711111111", "text": "Bună!"}' .../api/simulator/messages/wa_4072...

Size (over 600 lines, on purpose): the routes and their request bodies are one table that the
OpenAPI document is built from; issue 12's message kinds (group, media, edit, revoke, reaction,
poll, call, undecryptable) added their bodies here. Moving the bodies out is a follow-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from session_daemon.http.context import CONTEXT
from session_daemon.http.errors import ApiError
from session_daemon.http.routes_accounts import account_id_param
from session_daemon.http.routing import RouteSpec, read_body
from session_daemon.inbound.pipeline import PipelineClosed
from session_daemon.kinds import call as call_kind
from session_daemon.kinds import edit as edit_kind
from session_daemon.kinds import poll as poll_kind
from session_daemon.kinds import reaction as reaction_kind
from session_daemon.kinds import revoke as revoke_kind
from session_daemon.kinds import undecryptable as undecryptable_kind
from session_daemon.transport.port import Content, TransportError
from session_daemon.transport.simnet import SimnetTransport
from session_daemon.transport.simulated import SimulatedTransport
from session_daemon.transport.simulated_wire import SimulatorError, lid_for_phone

T = TypeVar("T")
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


SIMULATOR: web.AppKey[SimnetTransport] = web.AppKey("simulator", SimnetTransport)


def _sim(request: web.Request) -> SimulatedTransport | SimnetTransport:
    """The phone network: in this process, or the machine's shared one (WHATSAPP_SIMULATOR)."""
    if SIMULATOR in request.app:  # sessions run in hosts; the daemon plays the phones
        return request.app[SIMULATOR]
    transport = request.app[CONTEXT].transport
    transport = getattr(transport, "linked", transport)  # the Cloud API's dispatcher in front
    if not isinstance(transport, SimulatedTransport | SimnetTransport):
        raise ApiError(404, "not_found", "The simulator runs only with --transport simulated.")
    return transport


_STATE_ERRORS = {"not_pairing", "not_connected", "logged_out", "bad_pairing_code"}


async def _run(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    try:
        return await asyncio.to_thread(fn, *args, **kw)
    except SimulatorError as exc:
        if exc.code == "unknown_account":
            raise ApiError(404, "unknown_account", str(exc)) from None
        if exc.code in _STATE_ERRORS:
            raise ApiError(409, exc.code, str(exc)) from None
        raise ApiError(400, "invalid_request", str(exc)) from None
    except TransportError as exc:
        raise ApiError(409, "transport_error", str(exc)) from None
    except PipelineClosed:
        # the daemon is starting or shutting down: the message was not acknowledged and stays on
        # the simulated server, to be delivered at the next connect (as WhatsApp would)
        raise ApiError(
            503,
            "inbound_unavailable",
            "The daemon is not accepting messages right now (starting or stopping); "
            "the message stays queued on the simulated server.",
        ) from None


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"success": True, **fields})


async def pair(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, PairBody)
    own = await _run(sim.pair, account, body.phone, body.push_name)
    return _ok(accountId=account, ownJid=own)


async def pair_with_code(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, PairWithCodeBody)
    own = await _run(sim.pair_with_code, account, body.code, body.push_name)
    return _ok(accountId=account, ownJid=own)


async def deliver(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, MessageBody, max_bytes=HISTORY_MAX_BYTES)  # media files
    media = body.media.model_dump(by_alias=True, exclude_none=True) if body.media else None
    group = body.group.model_dump() if body.group else None
    message_id = await _run(
        sim.deliver_message, account, body.sender, "" if body.edit else body.text, media=media,
        push_name=body.push_name, msg_id=body.id, timestamp=body.timestamp,
        via_lid=body.via_lid, lid=body.lid, content=body.content(), group=group,
    )  # fmt: skip
    return _ok(messageId=message_id)


async def type_on_phone(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, TypeOnPhoneBody)
    message_id = await _run(
        sim.type_on_phone, account, body.to, body.text, msg_id=body.id,
        timestamp=body.timestamp, via_lid=body.via_lid,
    )  # fmt: skip
    return _ok(messageId=message_id)


async def history_sync(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, HistorySyncBody, max_bytes=HISTORY_MAX_BYTES)
    count = await _run(
        sim.history_sync, account, body.messages, body.lid_mappings, body.push_names,
        chunk_order=body.chunk_order, progress=body.progress,
    )  # fmt: skip
    return _ok(count=count)


async def receipt(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, ReceiptBody)
    await _run(sim.receipt, account, body.chat, body.message_ids, body.status)
    return _ok()


async def read(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, ReadBody)
    ids = await _run(sim.read, account, body.phone, body.message_ids)
    return _ok(messageIds=ids)


async def disconnect(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, ReasonBody)
    await _run(sim.disconnect, account, body.reason or "simulated network loss")
    return _ok()


async def reconnect(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    await _run(sim.reconnect, account)
    return _ok()


async def logout(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, ReasonBody)
    await _run(sim.logout, account, body.reason or "device removed from the phone")
    return _ok()


async def ban(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, BanBody)
    await _run(sim.ban, account, body.seconds, body.code)
    return _ok()


async def stream_replace(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    await _run(sim.stream_replace, account)
    return _ok()


async def fail_sends(request: web.Request) -> web.Response:
    sim = _sim(request)
    body = await read_body(request, FailSendsBody)
    sim.fail_sends(body.mode, count=body.count)
    return _ok()


async def fail_connects(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, FailConnectsBody)
    sim.fail_connects(account, body.times)
    return _ok()


class ProfilePictureBody(_Body):
    who: Short  # a client's phone, or a group JID
    data_base64: Annotated[str, StringConstraints(max_length=MEDIA_MAX_CHARS)] | None = Field(
        None, alias="dataBase64"
    )  # null removes the picture


async def profile_picture(request: web.Request) -> web.Response:
    sim = _sim(request)
    account_id_param(request)
    body = await read_body(request, ProfilePictureBody, max_bytes=HISTORY_MAX_BYTES)
    await _run(sim.set_profile_picture, body.who, body.data_base64)
    return _ok()


class GroupSubjectBody(_Body):
    jid: Short
    subject: Short | None = None


async def group_subject(request: web.Request) -> web.Response:
    sim = _sim(request)
    account_id_param(request)
    body = await read_body(request, GroupSubjectBody)
    await _run(sim.set_group_subject, body.jid, body.subject)
    return _ok()


async def keepalive_timeout(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, KeepAliveBody)
    await _run(sim.keepalive_timeout, account, body.missed)
    return _ok()


async def keepalive_restored(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    await _run(sim.keepalive_restored, account)
    return _ok()


async def end_loop(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    await _run(sim.end_loop, account)
    return _ok()


async def connect_failure(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, ConnectFailureBody)
    await _run(sim.connect_failure, account, body.reason)
    return _ok()


async def stall_connects(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, StallBody)
    sim.stall_connects(account, body.seconds)
    return _ok()


async def learn_lid(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, LearnLidBody)
    await _run(sim.learn_lid, account, body.lid, body.phone)
    return _ok()


async def state(request: web.Request) -> web.Response:
    sim = _sim(request)
    sessions, sent = await _run(lambda: (sim.accounts(), sim.sent_count))
    doubles = getattr(sim, "double_sessions", None)  # the shared network counts them
    extra = {"doubleSessions": await _run(doubles)} if callable(doubles) else {}
    return _ok(sessions=sessions, sentCount=sent, **extra)


async def received(request: web.Request) -> web.Response:
    sim = _sim(request)
    phone = request.match_info["phone"]
    items = [
        {"accountId": r.account_id, "text": r.text, "messageId": r.message_id}
        for r in await _run(sim.received_by, phone)
    ]
    return _ok(phone=phone, messages=items)


async def lid(request: web.Request) -> web.Response:
    _sim(request)
    phone = request.match_info["phone"]
    return _ok(phone=phone, lid=lid_for_phone(phone))


async def drain(request: web.Request) -> web.Response:
    """Wait until the inbound pipeline wrote everything it acknowledged (tests read the store
    right after)."""
    _sim(request)
    inbound = request.app[CONTEXT].inbound
    waiter = getattr(inbound, "drain", None)
    idle = bool(await waiter(10.0)) if waiter is not None else True
    return _ok(idle=idle)


def _route(method: str, path: str, handler: Any, summary: str, body: Any = None) -> RouteSpec:
    return RouteSpec(
        method,
        path,
        handler,
        "super_admin",
        summary,
        tag="simulator",
        body=body,
        responses={
            200: "Done",
            409: "The session's state does not allow it",
            503: "inbound_unavailable",
        },
    )


_A = "/api/simulator/{action}/{accountId}"
SIMULATOR_ROUTES: tuple[RouteSpec, ...] = (
    _route(
        "POST",
        _A.format(action="pair", accountId="{accountId}"),
        pair,
        "The phone scans the QR",
        PairBody,
    ),
    _route(
        "POST",
        _A.format(action="pair-with-code", accountId="{accountId}"),
        pair_with_code,
        "The phone enters the pairing code",
        PairWithCodeBody,
    ),
    _route(
        "POST",
        _A.format(action="messages", accountId="{accountId}"),
        deliver,
        "A client writes to the account (phone or LID addressed)",
        MessageBody,
    ),
    _route(
        "POST",
        _A.format(action="type-on-phone", accountId="{accountId}"),
        type_on_phone,
        "The owner types on the linked phone (from-me message)",
        TypeOnPhoneBody,
    ),
    _route(
        "POST",
        _A.format(action="history-sync", accountId="{accountId}"),
        history_sync,
        "The linked phone sends a history-sync chunk",
        HistorySyncBody,
    ),
    _route(
        "POST",
        _A.format(action="receipts", accountId="{accountId}"),
        receipt,
        "Emit a delivery/read receipt",
        ReceiptBody,
    ),
    _route(
        "POST",
        _A.format(action="read", accountId="{accountId}"),
        read,
        "A client reads what the account sent",
        ReadBody,
    ),
    _route(
        "POST",
        _A.format(action="disconnect", accountId="{accountId}"),
        disconnect,
        "Network loss",
        ReasonBody,
    ),
    _route(
        "POST", _A.format(action="reconnect", accountId="{accountId}"), reconnect, "Network back"
    ),
    _route(
        "POST",
        _A.format(action="logout", accountId="{accountId}"),
        logout,
        "The owner unlinks the device on the phone",
        ReasonBody,
    ),
    _route(
        "POST", _A.format(action="ban", accountId="{accountId}"), ban, "A temporary ban", BanBody
    ),
    _route(
        "POST",
        _A.format(action="stream-replace", accountId="{accountId}"),
        stream_replace,
        "Another client takes over the session",
    ),
    _route(
        "POST",
        _A.format(action="fail-connects", accountId="{accountId}"),
        fail_connects,
        "Make the next connects fail",
        FailConnectsBody,
    ),
    _route(
        "POST",
        _A.format(action="profile-picture", accountId="{accountId}"),
        profile_picture,
        "A client or group sets (or removes, with null) its profile picture",
        ProfilePictureBody,
    ),
    _route(
        "POST",
        _A.format(action="group-subject", accountId="{accountId}"),
        group_subject,
        "A group is created or renamed (its group info)",
        GroupSubjectBody,
    ),
    _route(
        "POST",
        _A.format(action="learn-lid", accountId="{accountId}"),
        learn_lid,
        "The session's LID store learns a mapping (no event)",
        LearnLidBody,
    ),
    _route(
        "POST",
        _A.format(action="keepalive-timeout", accountId="{accountId}"),
        keepalive_timeout,
        "WhatsApp stops answering keep-alives (status degraded)",
        KeepAliveBody,
    ),
    _route(
        "POST",
        _A.format(action="keepalive-restored", accountId="{accountId}"),
        keepalive_restored,
        "Keep-alives answered again",
    ),
    _route(
        "POST",
        _A.format(action="end-loop", accountId="{accountId}"),
        end_loop,
        "The session's event loop ends (an event the Go encoder cannot map)",
    ),
    _route(
        "POST",
        _A.format(action="connect-failure", accountId="{accountId}"),
        connect_failure,
        "WhatsApp refuses the connection (reason `client_outdated` plays ClientOutdated)",
        ConnectFailureBody,
    ),
    _route(
        "POST",
        _A.format(action="stall-connects", accountId="{accountId}"),
        stall_connects,
        "The next connect of the account hangs this many seconds",
        StallBody,
    ),
    _route("POST", "/api/simulator/fail-sends", fail_sends, "Make sends fail", FailSendsBody),
    _route("POST", "/api/simulator/drain", drain, "Wait until inbound messages are stored"),
    _route("GET", "/api/simulator/state", state, "Simulated session states"),
    _route("GET", "/api/simulator/received/{phone}", received, "What a client phone received"),
    _route("GET", "/api/simulator/lid/{phone}", lid, "The simulated LID of a phone"),
)
