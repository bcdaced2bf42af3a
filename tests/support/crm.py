"""CRM test fixtures: a SQLite store, a seeded WhatsApp thread, the local OpenAI server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from shared.store.sqlite import SqliteStore
from tests.support.openai_server import OpenAIServer

ACCOUNT = "acc1"
PHONE = "+40722111222"
CLIENT_JID = "40722111222@s.whatsapp.net"
THREAD = f"{ACCOUNT}__{CLIENT_JID}"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "crm.db")
    yield store
    store.close()


@dataclass
class Chat:
    """Writes messages of one thread as the daemon does (tsClient Timestamps, direction)."""

    store: SqliteStore
    thread_id: str = THREAD
    count: int = 0

    def __post_init__(self) -> None:
        self.store.set(
            f"threads/{self.thread_id}",
            {
                "accountId": ACCOUNT,
                "clientJid": CLIENT_JID,
                "normalizedPhone": PHONE,
                "phoneE164": PHONE,
            },
        )

    def say(self, direction: str, text: str, ts: str) -> str:
        self.count += 1
        message_id = f"m{self.count:03d}"
        self.store.set(
            f"threads/{self.thread_id}/messages/{message_id}",
            {
                "accountId": ACCOUNT,
                "clientJid": CLIENT_JID,
                "direction": direction,
                "body": text,
                "tsClient": datetime.fromisoformat(ts),
                "status": "delivered",
            },
        )
        return message_id

    def client(self, text: str, ts: str) -> str:
        return self.say("inbound", text, ts)

    def staff(self, text: str, ts: str) -> str:
        return self.say("outbound", text, ts)


@pytest.fixture
def chat(db: SqliteStore) -> Chat:
    return Chat(db)


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm(openai_server: OpenAIServer) -> Iterator[OpenAIServer]:
    openai_server.replies.clear()
    openai_server.requests.clear()
    openai_server.default = None
    yield openai_server
    openai_server.replies.clear()
    openai_server.default = None
