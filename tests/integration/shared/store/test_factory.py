"""`open_store(url)`: each accepted form opens the right backend; anything else is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.store.factory import InvalidStoreUrl, open_store
from shared.store.firestore import FirestoreStore
from shared.store.sqlite import SqliteStore
from tests.conftest import unique_project_id


def test_sqlite_relative_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/nested/app.db")
    try:
        assert isinstance(store, SqliteStore)
        store.create("threads/a", {"v": 1})
    finally:
        store.close()
    assert (tmp_path / "data" / "nested" / "app.db").is_file()


def test_sqlite_absolute_path_persists_across_opens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/abs.db"  # four slashes: sqlite:////tmp/...
    assert url.startswith("sqlite:////")
    first = open_store(url)
    first.create("threads/a", {"v": 1})
    first.close()
    second = open_store(url)
    try:
        snap = second.get("threads/a")
        assert snap is not None and snap.data == {"v": 1}
    finally:
        second.close()


def test_sqlite_in_memory() -> None:
    store = open_store("sqlite:///:memory:")
    try:
        assert store.ping()
    finally:
        store.close()


def test_firestore_url_opens_a_working_store(
    firestore_emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    project = unique_project_id()
    store = open_store(f"firestore://{project}")
    try:
        assert isinstance(store, FirestoreStore)
        assert store.client.project == project
        store.create("threads/a", {"v": 1})
        snap = store.get("threads/a")
        assert snap is not None and snap.data == {"v": 1}
    finally:
        store.close()


def test_firestore_url_with_database(monkeypatch: pytest.MonkeyPatch) -> None:
    # Building the client does no I/O; the emulator host keeps it off real credentials.
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    store = open_store("firestore://my-project/crm-db")
    try:
        assert isinstance(store, FirestoreStore)
        assert store.client.project == "my-project"
        assert store.client._database == "crm-db"
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "threads.db",
        "sqlite://",
        "sqlite:///",
        "sqlite:relative.db",
        "postgres://localhost/db",
        "firestore://",
        "firestore:///db",
        "firestore://p/d/extra",
        "firestore://p//d",
    ],
)
def test_bad_urls_raise_a_clear_error(url: str) -> None:
    with pytest.raises(InvalidStoreUrl, match=r"expected sqlite:///path\.db"):
        open_store(url)
