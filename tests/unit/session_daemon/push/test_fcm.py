"""The FCM v1 adapter against a local stand-in server: the exact request it sends, and what it
makes of each answer FCM documents."""

from __future__ import annotations

from typing import Any

from session_daemon.push.fcm import FCM_SCOPE, FcmV1Client, GoogleAccessToken, StaticAccessToken
from session_daemon.push.payload import ThreadPush, fcm_message
from tests.support.daemon import free_port
from tests.support.fcm_standin import fcm_error, fcm_standin

PUSH = ThreadPush(
    account_id="wa_40722000001",
    thread_id="wa_40722000001__40733111222@s.whatsapp.net",
    client_jid="40733111222@s.whatsapp.net",
    title="Ana Popescu",
    text="Bună! Vrem Elsa pe 14 iunie " + "x" * 200,
)


class CountingToken(StaticAccessToken):
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.invalidated = 0

    def invalidate(self) -> None:
        self.invalidated += 1


def _client(base_url: str, sleeps: list[float], token: StaticAccessToken | None = None) -> Any:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return FcmV1Client(
        "demo-superparty",
        token or StaticAccessToken("test-access-token"),
        base_url=base_url,
        backoff=(1.0, 4.0),
        sleep=sleep,
    )


def test_the_payload_is_the_contracts() -> None:
    message = fcm_message(PUSH, "device-token-1")
    assert message == {
        "token": "device-token-1",
        "notification": {"title": "Ana Popescu", "body": PUSH.text[:100]},
        "data": {
            "type": "whatsapp_message",
            "accountId": "wa_40722000001",
            "threadId": "wa_40722000001__40733111222@s.whatsapp.net",
            "clientJid": "40733111222@s.whatsapp.net",
        },
        "android": {
            "priority": "HIGH",
            "notification": {"tag": "wa_40722000001__40733111222@s.whatsapp.net"},
        },
        "apns": {"headers": {"apns-collapse-id": message["apns"]["headers"]["apns-collapse-id"]}},
    }
    assert len(message["notification"]["body"]) == 100
    assert len(message["apns"]["headers"]["apns-collapse-id"]) <= 64
    assert all(isinstance(v, str) for v in message["data"].values())  # FCM data is strings


async def test_the_exact_request() -> None:
    async with fcm_standin() as fcm:
        client = _client(fcm.base_url, [])
        outcome = await client.send(fcm_message(PUSH, "device-token-1"))
        await client.close()
    assert (outcome.status, outcome.detail, outcome.attempts) == (
        "sent",
        "projects/p/messages/1",
        1,
    )
    [seen] = fcm.requests
    assert seen.method == "POST"
    assert seen.path == "/v1/projects/demo-superparty/messages:send"
    assert seen.headers["Authorization"] == "Bearer test-access-token"
    assert seen.headers["Content-Type"].startswith("application/json")
    assert seen.body == {"message": fcm_message(PUSH, "device-token-1")}


async def test_unregistered_and_sender_mismatch_are_dead_tokens_nothing_else() -> None:
    async with fcm_standin() as fcm:
        fcm.token_errors = {
            "gone": (404, "UNREGISTERED"),
            "other-project": (403, "SENDER_ID_MISMATCH"),
            "bad-payload": (400, "INVALID_ARGUMENT"),
        }
        client = _client(fcm.base_url, [])
        outcomes = {t: await client.send(fcm_message(PUSH, t)) for t in fcm.token_errors}
        await client.close()
    assert {t: (o.status, o.detail) for t, o in outcomes.items()} == {
        "gone": ("dead_token", "UNREGISTERED"),
        "other-project": ("dead_token", "SENDER_ID_MISMATCH"),
        "bad-payload": ("failed", "INVALID_ARGUMENT"),  # may be our bug: the token is kept
    }
    assert len(fcm.requests) == 3  # none of them retried


async def test_temporary_errors_retry_honouring_retry_after() -> None:
    sleeps: list[float] = []
    async with fcm_standin() as fcm:
        fcm.script = [
            (503, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE"), {"Retry-After": "7"}),
            (429, fcm_error(429, "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"), {}),
        ]
        client = _client(fcm.base_url, sleeps)
        outcome = await client.send(fcm_message(PUSH, "t"))
        await client.close()
    assert (outcome.status, outcome.attempts) == ("sent", 3)
    assert sleeps == [7.0, 4.0]


async def test_retries_end_in_failed() -> None:
    sleeps: list[float] = []
    async with fcm_standin() as fcm:
        fcm.script = [(500, fcm_error(500, "INTERNAL", "INTERNAL"), {})] * 5
        client = _client(fcm.base_url, sleeps)
        outcome = await client.send(fcm_message(PUSH, "t"))
        await client.close()
    assert (outcome.status, outcome.detail, outcome.attempts) == ("failed", "INTERNAL", 3)
    assert len(fcm.requests) == 3 and sleeps == [1.0, 4.0]


async def test_401_refreshes_the_access_token_once() -> None:
    token = CountingToken("test-access-token")
    async with fcm_standin() as fcm:
        fcm.script = [(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, {})] * 2
        client = _client(fcm.base_url, [], token)
        first = await client.send(fcm_message(PUSH, "t"))
        await client.close()
    assert (first.status, first.detail) == ("failed", "UNAUTHENTICATED")
    assert token.invalidated == 1 and len(fcm.requests) == 2


async def test_unreachable_endpoint_fails_after_retries() -> None:
    sleeps: list[float] = []
    client = _client(f"http://127.0.0.1:{free_port()}", sleeps)
    outcome = await client.send(fcm_message(PUSH, "t"))
    await client.close()
    assert outcome.status == "failed" and outcome.detail == "ClientConnectorError"
    assert sleeps == [1.0, 4.0]


async def test_service_account_credentials_sign_in_and_refresh_after_401() -> None:
    """The production credentials path: a service-account key (made here) exchanges a signed
    JWT at its token URI (the stand-in's /token) for the bearer FCM receives."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    async with fcm_standin() as fcm:
        info = {
            "type": "service_account",
            "project_id": "demo-superparty",
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": "daemon@demo-superparty.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{fcm.base_url}/token",
        }
        credentials = service_account.Credentials.from_service_account_info(
            info, scopes=[FCM_SCOPE]
        )
        fcm.script = [(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, {})]
        client = FcmV1Client(
            "demo-superparty", GoogleAccessToken(credentials), base_url=fcm.base_url
        )
        outcome = await client.send(fcm_message(PUSH, "t"))
        await client.close()
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert [r.headers["Authorization"] for r in fcm.requests] == [
        "Bearer ya29.token-1",
        "Bearer ya29.token-2",  # refreshed after the 401
    ]
    assert len(fcm.token_requests) == 2
    assert "grant_type=urn" in fcm.token_requests[0] and "assertion=" in fcm.token_requests[0]
