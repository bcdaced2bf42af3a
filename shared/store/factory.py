"""Open a `DocumentStore` from a URL, so configuration is one string:

- `sqlite:///relative/path.db` (relative to the working directory), `sqlite:////abs/path.db`,
  `sqlite:///:memory:`
- `firestore://PROJECT` or `firestore://PROJECT/DATABASE` (honours FIRESTORE_EMULATOR_HOST)
"""

from __future__ import annotations

from shared.store.port import DocumentStore, StoreError


class InvalidStoreUrl(StoreError, ValueError):
    """A store URL this factory does not understand; the message shows the accepted forms."""


_FORMS = "expected sqlite:///path.db, firestore://PROJECT or firestore://PROJECT/DATABASE"


def open_store(url: str) -> DocumentStore:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidStoreUrl(f"store URL {url!r}: {_FORMS}")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _open_sqlite(url, rest)
    if scheme == "firestore":
        return _open_firestore(url, rest)
    raise InvalidStoreUrl(f"store URL {url!r}: unknown scheme {scheme!r}; {_FORMS}")


def _open_sqlite(url: str, rest: str) -> DocumentStore:
    # `sqlite:///x.db` → rest "/x.db" → "x.db" (relative); `sqlite:////abs.db` → "/abs.db".
    if not rest.startswith("/") or len(rest) < 2:
        raise InvalidStoreUrl(f"store URL {url!r}: {_FORMS}")
    from shared.store.sqlite import SqliteStore

    return SqliteStore(rest[1:])


def _open_firestore(url: str, rest: str) -> DocumentStore:
    parts = rest.rstrip("/").split("/")
    if not parts[0] or len(parts) > 2 or any(not p for p in parts):
        raise InvalidStoreUrl(f"store URL {url!r}: {_FORMS}")
    from shared.store.firestore import FirestoreStore

    return FirestoreStore(parts[0], parts[1] if len(parts) == 2 else None)


def firestore_project(url: str) -> str | None:
    """The project of a `firestore://PROJECT[/DATABASE]` URL; None for any other store."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "firestore":
        return None
    return rest.rstrip("/").split("/")[0] or None


__all__ = ["InvalidStoreUrl", "firestore_project", "open_store"]
