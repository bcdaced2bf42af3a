"""`/api/simulator/*`: play the phones of a daemon running `--transport simulated`.

Only registered with the simulated transport; service token (or super-admin) only. Each route
wraps one control method of `SimulatedTransport`, run in a worker thread: a delivered message is
acknowledged (journalled by the daemon) when the call returns. While the inbound pipeline is
closed (daemon starting or stopping) delivering answers 503 `inbound_unavailable`. The request
bodies are in `simulator_bodies.py`.

    curl -H "Authorization: Bearer $TOKEN" -X POST localhost:8080/api/simulator/pair/wa_4072...
    curl ... -d '{"from": "+40711111111", "text": "Bună!"}' .../api/simulator/messages/wa_4072...
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from session_daemon.http.context import CONTEXT
from session_daemon.http.errors import ApiError
from session_daemon.http.routes_accounts import account_id_param
from session_daemon.http.routing import Handler, RouteSpec, read_body
from session_daemon.http.simulator_bodies import (
    HISTORY_MAX_BYTES,
    BanBody,
    ConnectFailureBody,
    FailConnectsBody,
    FailSendsBody,
    GroupSubjectBody,
    HistorySyncBody,
    KeepAliveBody,
    LearnLidBody,
    MessageBody,
    PairBody,
    PairWithCodeBody,
    ProfilePictureBody,
    ReadBody,
    ReasonBody,
    ReceiptBody,
    StallBody,
    TypeOnPhoneBody,
)
from session_daemon.inbound.pipeline import PipelineClosed
from session_daemon.transport.port import TransportError
from session_daemon.transport.simnet import SimnetTransport
from session_daemon.transport.simulated import SimulatedTransport
from session_daemon.transport.simulated_wire import SimulatorError, lid_for_phone

T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)


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


def _control(
    method: str, body: type[B] | None = None, args: Callable[[B], tuple[Any, ...]] | None = None
) -> Handler:
    """The route of a control method that takes the account and what `args` reads from the body
    (most routes are that and nothing more); named after the method, as the OpenAPI
    operationId."""

    async def handler(request: web.Request) -> web.Response:
        sim, account = _sim(request), account_id_param(request)
        extra = args(await read_body(request, body)) if body is not None and args else ()
        await _run(getattr(sim, method), account, *extra)
        return _ok()

    handler.__name__ = handler.__qualname__ = method
    return handler


receipt = _control("receipt", ReceiptBody, lambda b: (b.chat, b.message_ids, b.status))
disconnect = _control("disconnect", ReasonBody, lambda b: (b.reason or "simulated network loss",))
reconnect = _control("reconnect")
logout = _control("logout", ReasonBody, lambda b: (b.reason or "device removed from the phone",))
ban = _control("ban", BanBody, lambda b: (b.seconds, b.code))
stream_replace = _control("stream_replace")
keepalive_timeout = _control("keepalive_timeout", KeepAliveBody, lambda b: (b.missed,))
keepalive_restored = _control("keepalive_restored")
end_loop = _control("end_loop")
connect_failure = _control("connect_failure", ConnectFailureBody, lambda b: (b.reason,))
learn_lid = _control("learn_lid", LearnLidBody, lambda b: (b.lid, b.phone))


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


async def read(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, ReadBody)
    ids = await _run(sim.read, account, body.phone, body.message_ids)
    return _ok(messageIds=ids)


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


async def stall_connects(request: web.Request) -> web.Response:
    sim, account = _sim(request), account_id_param(request)
    body = await read_body(request, StallBody)
    sim.stall_connects(account, body.seconds)
    return _ok()


async def profile_picture(request: web.Request) -> web.Response:
    sim = _sim(request)
    account_id_param(request)
    body = await read_body(request, ProfilePictureBody, max_bytes=HISTORY_MAX_BYTES)
    await _run(sim.set_profile_picture, body.who, body.data_base64)
    return _ok()


async def group_subject(request: web.Request) -> web.Response:
    sim = _sim(request)
    account_id_param(request)
    body = await read_body(request, GroupSubjectBody)
    await _run(sim.set_group_subject, body.jid, body.subject)
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


def _on_account(action: str, handler: Any, summary: str, body: Any = None) -> RouteSpec:
    return _route("POST", f"/api/simulator/{action}/{{accountId}}", handler, summary, body)


SIMULATOR_ROUTES: tuple[RouteSpec, ...] = (
    _on_account("pair", pair, "The phone scans the QR", PairBody),
    _on_account(
        "pair-with-code", pair_with_code, "The phone enters the pairing code", PairWithCodeBody
    ),
    _on_account(
        "messages", deliver, "A client writes to the account (phone or LID addressed)", MessageBody
    ),
    _on_account(
        "type-on-phone",
        type_on_phone,
        "The owner types on the linked phone (from-me message)",
        TypeOnPhoneBody,
    ),
    _on_account(
        "history-sync",
        history_sync,
        "The linked phone sends a history-sync chunk",
        HistorySyncBody,
    ),
    _on_account("receipts", receipt, "Emit a delivery/read receipt", ReceiptBody),
    _on_account("read", read, "A client reads what the account sent", ReadBody),
    _on_account("disconnect", disconnect, "Network loss", ReasonBody),
    _on_account("reconnect", reconnect, "Network back"),
    _on_account("logout", logout, "The owner unlinks the device on the phone", ReasonBody),
    _on_account("ban", ban, "A temporary ban", BanBody),
    _on_account("stream-replace", stream_replace, "Another client takes over the session"),
    _on_account("fail-connects", fail_connects, "Make the next connects fail", FailConnectsBody),
    _on_account(
        "profile-picture",
        profile_picture,
        "A client or group sets (or removes, with null) its profile picture",
        ProfilePictureBody,
    ),
    _on_account(
        "group-subject",
        group_subject,
        "A group is created or renamed (its group info)",
        GroupSubjectBody,
    ),
    _on_account(
        "learn-lid", learn_lid, "The session's LID store learns a mapping (no event)", LearnLidBody
    ),
    _on_account(
        "keepalive-timeout",
        keepalive_timeout,
        "WhatsApp stops answering keep-alives (status degraded)",
        KeepAliveBody,
    ),
    _on_account("keepalive-restored", keepalive_restored, "Keep-alives answered again"),
    _on_account(
        "end-loop",
        end_loop,
        "The session's event loop ends (an event the Go encoder cannot map)",
    ),
    _on_account(
        "connect-failure",
        connect_failure,
        "WhatsApp refuses the connection (reason `client_outdated` plays ClientOutdated)",
        ConnectFailureBody,
    ),
    _on_account(
        "stall-connects",
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
