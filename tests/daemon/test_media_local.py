"""The embedded media store: object names, signed links, and the public route that serves them
(a real aiohttp server and client, real files)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from session_daemon.http.auth import Authenticator
from session_daemon.http.context import CONTEXT
from session_daemon.http.errors import error_middleware
from session_daemon.http.routing import add_routes
from session_daemon.media.local import LocalMediaStore, load_or_create_key
from session_daemon.media.port import (
    InvalidObjectName,
    extension_for,
    object_name,
    split_object_name,
)
from session_daemon.media.routes import media_routes, served_content_type

KEY = b"k" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 100


def test_object_names_are_one_per_message_and_plain() -> None:
    assert object_name("wa_40722000001", "3EB0ABC", "image/jpeg") == "wa_40722000001/3EB0ABC.jpg"
    assert object_name("a", "m", "audio/ogg; codecs=opus") == "a/m.ogg"
    assert object_name("a", "m", "application/x-unknown-thing") == "a/m"
    assert object_name("a", "m", None) == "a/m"
    assert split_object_name("a/m.jpg") == ("a", "m.jpg")
    for account, message in (("a/b", "m"), ("a", "../m"), ("", "m"), ("a", "__x__"), ("a", "m.")):
        with pytest.raises(InvalidObjectName):
            object_name(account, message, None)
    for bad in ("a/../m", "a/m/x", "a", "/m.jpg", "a/m.jpg/", "a/.hidden"):
        with pytest.raises(InvalidObjectName):
            split_object_name(bad)
    assert extension_for("image/webp") == ".webp"


def test_signature_binds_account_and_name_and_key(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path, KEY, "http://daemon:8080/")
    sig = store.signature("acc", "m.jpg")
    assert len(sig) == 64
    assert store.signature("acc2", "m.jpg") != sig
    assert store.signature("acc", "m2.jpg") != sig
    # length-prefixed: moving characters between the fields changes the signature
    assert store.signature("ac", "cm.jpg") != store.signature("acc", "m.jpg")
    other = LocalMediaStore(tmp_path, b"z" * 32, "http://daemon:8080")
    assert other.signature("acc", "m.jpg") != sig
    assert store.url_for("acc/m.jpg") == f"http://daemon:8080/media/acc/m.jpg?sig={sig}"
    with pytest.raises(ValueError):
        LocalMediaStore(tmp_path, b"short", "http://x")


def test_key_is_created_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / "media-key"
    first = load_or_create_key(path)
    assert len(first) == 64 and (path.stat().st_mode & 0o777) == 0o600
    assert load_or_create_key(path) == first
    assert load_or_create_key(path, env_value="e" * 40) == b"e" * 40
    with pytest.raises(ValueError):
        load_or_create_key(path, env_value="too-short")


def test_served_content_types_never_render_active_content() -> None:
    assert served_content_type("m.jpg") == ("image/jpeg", True)
    assert served_content_type("m.pdf") == ("application/pdf", True)
    assert served_content_type("m.html") == ("application/octet-stream", False)
    assert served_content_type("m.svg") == ("application/octet-stream", False)
    assert served_content_type("m") == ("application/octet-stream", False)


def _app(store: LocalMediaStore) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    # The route is public: the authenticator is consulted but must not ask for a token.
    app[CONTEXT] = SimpleNamespace(authenticator=Authenticator("service-token", None))  # type: ignore[misc]
    add_routes(app, media_routes(store))
    return app


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[TestClient, LocalMediaStore]]:
    store = LocalMediaStore(tmp_path / "media", KEY, "http://placeholder")
    async with TestClient(TestServer(_app(store))) as client:
        yield client, store


def _route(url: str) -> str:
    return url.removeprefix("http://placeholder")


async def test_signed_link_serves_the_bytes_with_no_header(
    served: tuple[TestClient, LocalMediaStore],
) -> None:
    client, store = served
    kept = store.put(object_name("wa_1", "3EB0AA", "image/jpeg"), JPEG, "image/jpeg")
    assert kept.size_bytes == len(JPEG)
    resp = await client.get(_route(kept.url))
    assert resp.status == 200
    assert await resp.read() == JPEG
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]


async def test_bad_missing_or_foreign_signatures_are_refused(
    served: tuple[TestClient, LocalMediaStore],
) -> None:
    client, store = served
    kept = store.put("wa_1/3EB0AA.jpg", JPEG, "image/jpeg")
    sig = kept.url.rsplit("=", 1)[1]
    for path in (
        "/media/wa_1/3EB0AA.jpg",  # no signature
        "/media/wa_1/3EB0AA.jpg?sig=",
        f"/media/wa_1/3EB0AA.jpg?sig={'0' * 64}",
        f"/media/wa_2/3EB0AA.jpg?sig={sig}",  # another account's folder
        f"/media/wa_1/3EB0AB.jpg?sig={sig}",  # another file
        f"/media/wa_1/..%2F..%2Fetc?sig={sig}",
        "/media/wa_1/3EB0AA.jpg?sig=%C2%80",  # non-ASCII: compare_digest would raise
        f"/media/wa_1/3EB0AA.jpg?sig={sig.upper()}",
    ):
        resp = await client.get(path)
        body = await resp.json()
        assert (resp.status, body["error"]) == (403, "invalid_signature"), path


async def test_rotating_the_key_revokes_every_link(
    served: tuple[TestClient, LocalMediaStore],
) -> None:
    client, store = served
    kept = store.put("wa_1/3EB0AA.jpg", JPEG, "image/jpeg")
    assert (await client.get(_route(kept.url))).status == 200
    rotated = LocalMediaStore(store.root, b"n" * 32, "http://placeholder")
    async with TestClient(TestServer(_app(rotated))) as after:
        old = await after.get(_route(kept.url))
        assert (old.status, (await old.json())["error"]) == (403, "invalid_signature")
        new = await after.get(_route(rotated.url_for("wa_1/3EB0AA.jpg")))
        assert new.status == 200 and await new.read() == JPEG


async def test_revoking_one_file_keeps_its_bytes_and_kills_its_link(
    served: tuple[TestClient, LocalMediaStore],
) -> None:
    client, store = served
    kept = store.put("wa_1/3EB0AA.jpg", JPEG, "image/jpeg")
    store.revoke("wa_1/3EB0AA.jpg")
    resp = await client.get(_route(kept.url))
    assert (resp.status, (await resp.json())["error"]) == (404, "media_not_found")
    assert (store.root / ".revoked" / "wa_1" / "3EB0AA.jpg").read_bytes() == JPEG


async def test_html_documents_download_instead_of_rendering(
    served: tuple[TestClient, LocalMediaStore],
) -> None:
    client, store = served
    kept = store.put(object_name("wa_1", "3EB0AC", "text/html"), b"<script>x</script>", "text/html")
    resp = await client.get(_route(kept.url))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith("attachment")
