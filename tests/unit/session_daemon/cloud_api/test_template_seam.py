"""The template seam of the outbox (issue 16's broadcasts use it): `enqueue_send(template=...)`
keeps a checked template on the item; the worker's `send_item` sends it as a template on a
cloud account and refuses it (never retried) on a linked device. Plus the account-kind cache
learning from account documents and the operator's sentences for health reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from session_daemon.cloud_api.health import describe, sentence
from session_daemon.cloud_api.wiring import AccountKinds
from session_daemon.outbox.send_kinds import TemplateNotSupported, send_item
from session_daemon.transport.port import SendResult
from session_daemon.transport.simulated import SimulatedTransport
from shared.outbox import SendRejected, check_template, enqueue_send
from shared.paths import outbox_path, thread_path
from shared.store.sqlite import SqliteStore
from shared.timeutil import utc_now

TEMPLATE = {
    "name": "party_reminder",
    "language": "ro",
    "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
}


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "party_reminder",
        {"name": "Party Reminder", "language": "ro"},
        {"name": "ok", "language": "r"},
        {"name": "ok", "language": "ro", "components": {"type": "body"}},
        {"name": "ok", "language": "ro", "components": ["body"]},
        {"name": "ok", "language": "ro", "components": [{}] * 21},
    ],
)
def test_a_malformed_template_is_refused(bad: Any) -> None:
    with pytest.raises(SendRejected) as caught:
        check_template(bad)
    assert (caught.value.code, caught.value.http_status) == ("invalid_template", 400)


def test_enqueue_keeps_the_template_on_the_item(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    jid = "40733111222@s.whatsapp.net"
    tid = f"wa_40722000009__{jid}"
    store.set(
        thread_path(tid),
        {"accountId": "wa_40722000009", "clientJid": jid, "lastMessageAt": utc_now()},
    )
    result = enqueue_send(
        store,
        thread_id=tid,
        account_id="wa_40722000009",
        to_jid=jid,
        text="[template] party_reminder",
        uid="service:broadcast",
        client_message_id="b-1",
        privileged=True,
        template={**TEMPLATE, "extra": "dropped"},
    )
    item = store.get(outbox_path(result.request_id))
    assert item is not None and item.data["template"] == TEMPLATE
    assert item.data["body"] == "[template] party_reminder"  # what the chat shows


class CloudLike:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def send_text(self, account_id: str, to_jid: str, text: str) -> SendResult:
        raise AssertionError("a template item is never sent as text")

    async def send_template(self, *args: Any, **kwargs: Any) -> SendResult:
        self.calls.append((args, kwargs))
        return SendResult(message_id="wamid.T", timestamp=utc_now())


async def test_send_item_sends_the_template_or_refuses_it() -> None:
    cloud = CloudLike()
    result = await send_item(
        cloud,  # type: ignore[arg-type]
        "wa_1",
        "40733111222@s.whatsapp.net",
        "x",
        {"template": TEMPLATE},
    )
    assert result.message_id == "wamid.T"
    [(args, kwargs)] = cloud.calls
    assert args[2:] == ("party_reminder", "ro")
    assert kwargs["components"] == TEMPLATE["components"]
    linked = SimulatedTransport()
    with pytest.raises(TemplateNotSupported) as caught:
        await send_item(linked, "wa_1", "40733111222@s.whatsapp.net", "x", {"template": TEMPLATE})
    assert not caught.value.retryable
    assert str(caught.value).startswith("template_requires_cloud_account")
    await linked.close()


def test_the_kind_cache_learns_from_account_documents() -> None:
    kinds = AccountKinds()
    kinds.learn("wa_1", {"kind": "cloud", "status": "connected"})
    assert kinds.kind_of("wa_1") == "cloud"
    kinds.learn("wa_1", {"status": "connected"})  # back to a linked device
    assert kinds.kind_of("wa_1") == "linked"


def test_health_reasons_read_as_sentences_with_the_code_first() -> None:
    assert sentence("token_expired").startswith("token_expired: Meta refused the access token")
    assert sentence("number_banned").startswith("number_banned: Meta reports the number as BANNED")
    assert describe(None) is None and sentence("something_new") == "something_new"
