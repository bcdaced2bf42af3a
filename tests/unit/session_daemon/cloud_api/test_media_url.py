"""The `media.url` check of sends (server-side request forgery): only our own stores, the
configured bucket and the operator's allow-list; the tricks parsers disagree on are refused."""

from __future__ import annotations

import pytest

from session_daemon.cloud_api.media_url import (
    MediaUrlRules,
    OwnLink,
    classify_media_url,
    parse_origin,
    rules_from_env,
)

BUCKET = "superparty.firebasestorage.app"
RULES = rules_from_env(
    {"WHATSAPP_SEND_MEDIA_HOSTS": "cdn.example.com, http://127.0.0.1:8123,::bad::"},
    project="superparty",
    own_base="http://10.0.0.5:8765",
)
FIREBASE = f"https://firebasestorage.googleapis.com/v0/b/{BUCKET}/o/a%2Fb.pdf?alt=media&token=t"


@pytest.mark.parametrize(
    "url",
    [
        FIREBASE,
        f"https://storage.googleapis.com/{BUCKET}/wa/a.pdf",
        f"https://FirebaseStorage.googleapis.com:443/v0/b/{BUCKET}/o/x",
        "https://cdn.example.com/x.pdf",
        "http://127.0.0.1:8123/oferta.pdf",
    ],
)
def test_our_stores_and_the_allow_list_are_fetched(url: str) -> None:
    assert classify_media_url(url, RULES) == "remote"


@pytest.mark.parametrize(
    "url",
    [
        FIREBASE.replace("https://", "http://"),  # not https
        f"https://firebasestorage.googleapis.com:8443/v0/b/{BUCKET}/o/x",  # another port
        f"https://{BUCKET}@evil.example/v0/b/{BUCKET}/o/x",  # userinfo: the host is evil
        f"https://firebasestorage.googleapis.com@169.254.169.254/v0/b/{BUCKET}/o/x",
        f"https://firebasestorage.googleapis.com.evil.example/v0/b/{BUCKET}/o/x",
        f"https://evil.example/firebasestorage.googleapis.com/v0/b/{BUCKET}/o/x",
        "https://firebasestorage.googleapis.com/v0/b/other-bucket/o/x",  # not our bucket
        f"https://firebasestorage.googleapis.com/v0/b/{BUCKET}evil/o/x",  # a prefix is not it
        f"https://storage.googleapis.com/{BUCKET}/../other/x",
        f"https://storage.googleapis.com/{BUCKET}/%2e%2e/other/x",
        f"https://firebasestorage.googleapis.com\\@evil.example/v0/b/{BUCKET}/o/x",
        f" https://storage.googleapis.com/{BUCKET}/x",
        "http://169.254.169.254/computeMetadata/v1/",  # IP literals: metadata, loopback
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "http://127.0.0.1:8124/oferta.pdf",  # the allowed origin's host, another port
        "https://127.0.0.1:8123/oferta.pdf",  # ... and another scheme
        "http://cdn.example.com/x.pdf",  # a bare host is https only
        "https://cdn.example.com:444/x.pdf",
        "file:///etc/passwd",
        "ftp://cdn.example.com/x",
        "/media/a/b.pdf",  # relative
        "",
        "https://",
    ],
)
def test_anything_else_is_refused(url: str) -> None:
    assert classify_media_url(url, RULES) is None


def test_the_daemons_own_links_are_read_locally() -> None:
    url = "http://10.0.0.5:8765/media/acc%201/f.pdf?sig=abc"
    assert classify_media_url(url, RULES) == OwnLink("acc 1", "f.pdf", "abc")
    # the same path elsewhere, or a path beside /media/, is not an own link
    assert classify_media_url("http://10.0.0.5:8766/media/a/f.pdf?sig=abc", RULES) is None
    assert classify_media_url("http://10.0.0.5:8765/metrics", RULES) is None
    assert classify_media_url("http://10.0.0.5:8765/media/a/b/c", RULES) is None


def test_without_settings_nothing_is_allowed() -> None:
    assert classify_media_url(FIREBASE, MediaUrlRules()) is None
    assert rules_from_env({}, project=None, own_base=None) == MediaUrlRules()


def test_allow_list_entries() -> None:
    assert parse_origin("CDN.example.com") == ("https", "cdn.example.com", 443)
    assert parse_origin("http://127.0.0.1:9") == ("http", "127.0.0.1", 9)
    assert parse_origin("https://x.example/path") is None  # an origin, not a prefix
    assert parse_origin("user@x.example") is None
    assert parse_origin("gopher://x") is None
    assert parse_origin("  ") is None
