"""`import-sessions` end to end with the real neonize library: Baileys folders built in the rc.9
format are imported into whatsmeow session databases, which neonize then opens offline."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from session_daemon.cli import cli
from session_daemon.session_import.model import LEFT_EMPTY
from session_daemon.sessions.status import should_restore
from shared.store.sqlite import SqliteStore
from tests.session_import.baileys_folder import Folder, buf, make_folder, stringify

ROOT = Path(__file__).resolve().parents[2]
A1, A2 = "account_prod_a1", "account_prod_a2"


def dump(db: Path) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Every row of every table, in a stable order (what 'no stored row changed' compares)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(t, sorted(con.execute(f"SELECT * FROM {t}").fetchall())) for t in sorted(tables)]
    finally:
        con.close()


def probe(db: Path) -> dict[str, Any]:
    """Open the session database with neonize in a child process (tests/.../neonize_probe.py)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.session_import.neonize_probe", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("PROBE ")), None)
    assert line, f"probe failed: {done.returncode}\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(line[len("PROBE ") :])
    return result


class Env:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.old = tmp / "old-volume"  # the old backend's SESSIONS_PATH
        self.sessions = tmp / "sessions"
        self.store_path = tmp / "store.db"

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            cli,
            [
                "import-sessions",
                "--store",
                f"sqlite:///{self.store_path}",
                "--sessions-path",
                str(self.sessions),
                "--transport",
                "neonize",
                *args,
            ],
        )
        return result.exit_code, result.output

    def report(self, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
        code, out = self.run("--json", *args)
        start = out.index("{")
        body = json.loads(out[start : out.rindex("}") + 1])
        return code, {a["accountId"]: a for a in body["accounts"]}

    def store(self) -> SqliteStore:
        return SqliteStore(str(self.store_path))

    def account(self, account_id: str, **data: Any) -> None:
        store = self.store()
        try:
            store.set(f"accounts/{account_id}", data)
        finally:
            store.close()

    def account_doc(self, account_id: str) -> dict[str, Any] | None:
        store = self.store()
        try:
            snap = store.get(f"accounts/{account_id}")
            return dict(snap.data) if snap else None
        finally:
            store.close()


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


LONG_AGO = datetime(2026, 1, 5, tzinfo=UTC)


def old_account(env: Env, account_id: str, phone: str, status: str = "connected") -> None:
    env.account(account_id, name="Vânzări", phone=phone, phoneE164=phone, status=status,
                updatedAt=LONG_AGO)  # fmt: skip


def test_imported_device_is_restored_by_neonize_with_the_rows_of_the_source(env: Env) -> None:
    f1, f2 = make_folder("40722000001"), make_folder("40722000002", device=7)
    f1.write(env.old / A1)
    f2.write(env.old / A2)
    old_account(env, A1, "+40722000001")
    old_account(env, A2, "+40722000002", status="logged_out")

    code, reports = env.report("--from-dir", str(env.old))
    assert code == 0, reports
    assert reports[A1]["outcome"] == reports[A2]["outcome"] == "imported"
    assert reports[A1]["skipped"] == {
        "session": 3, "sender-key": 2, "app-state-sync-version": 2, "device-list": 1,
    }  # fmt: skip
    assert any("logged_out" in w for w in reports[A2]["warnings"])

    db = env.sessions / f"{A1}.db"
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in env.sessions.iterdir()) == [f"{A1}.db", f"{A2}.db"]
    _rows_match_source(db, f1)

    seen = probe(db)
    assert seen["devices"] == [
        {"jid": "40722000001:12@s.whatsapp.net", "pushName": f1.push_name, "init": True}
    ]
    assert seen["me"] == {
        "user": "40722000001", "device": 12, "server": "s.whatsapp.net",
        "lidUser": f1.lid, "pushName": f1.push_name, "platform": "android",
    }  # fmt: skip
    assert seen["qrCodes"] == 0  # restored, not pairing
    assert "127.0.0.1:9" in (seen["connectError"] or "")  # it dialled (through the closed proxy)
    assert probe(env.sessions / f"{A2}.db")["me"]["device"] == 7

    doc = env.account_doc(A1)
    assert doc is not None
    assert doc["paired"] is True and doc["waJid"] == "40722000001@s.whatsapp.net"
    assert doc["sessionImport"]["deviceJid"] == "40722000001:12@s.whatsapp.net"
    assert should_restore(doc, datetime.now(UTC), db.exists())
    assert should_restore(env.account_doc(A2) or {}, datetime.now(UTC), True)

    # A second run (also after neonize opened the database) changes no stored row.
    before = dump(db), env.account_doc(A1), env.account_doc(A2)
    code, reports = env.report("--from-dir", str(env.old))
    assert code == 0
    assert {r["outcome"] for r in reports.values()} == {"unchanged"}
    assert (dump(db), env.account_doc(A1), env.account_doc(A2)) == before


def _rows_match_source(db: Path, f: Folder) -> None:
    con = sqlite3.connect(db)
    try:
        device = con.execute(
            "SELECT jid, lid, registration_id, noise_key, identity_key, signed_pre_key,"
            " signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details, adv_account_sig,"
            " adv_account_sig_key, adv_device_sig, platform, push_name FROM whatsmeow_device"
        ).fetchall()
        assert device == [(
            f.me_id, f"{f.lid}:{f.device}@lid", f.registration_id, f.noise[0], f.identity[0],
            f.signed_pre_key[0], f.signed_pre_key_id, f.signed_pre_key_sig, f.adv_secret,
            f.adv_details, f.account_sig, f.account_sig_key, f.device_sig, "android", f.push_name,
        )]  # fmt: skip
        pre = con.execute("SELECT key_id, key, uploaded FROM whatsmeow_pre_keys").fetchall()
        assert sorted(pre) == sorted(
            (i, pair[0], int(i < f.first_unuploaded)) for i, pair in f.pre_keys.items()
        )
        keys = con.execute(
            "SELECT key_id, key_data, timestamp, fingerprint FROM whatsmeow_app_state_sync_keys"
        ).fetchall()
        assert sorted(keys) == sorted(
            (k.key_id, k.key_data, k.timestamp, k.fingerprint()) for k in f.app_keys
        )
        lids = con.execute("SELECT lid, pn FROM whatsmeow_lid_map").fetchall()
        assert sorted(lids) == sorted([(lid, pn) for pn, lid in f.lid_map.items()]
                                      + [(f.lid, f.phone)])  # fmt: skip
        tokens = con.execute(
            "SELECT our_jid, their_jid, token, timestamp, sender_timestamp"
            " FROM whatsmeow_privacy_tokens"
        ).fetchall()
        assert sorted(tokens) == sorted(
            (f.me_id, jid, tok, ts, None) for jid, (tok, ts) in f.tc_tokens.items()
        )
        identity = con.execute("SELECT our_jid, their_id, identity FROM whatsmeow_identity_keys")
        assert identity.fetchall() == [(f.me_id, f"{f.lid}_1:0", f.account_sig_key)]
        for table in LEFT_EMPTY:
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
        assert con.execute("SELECT version, compat FROM whatsmeow_version").fetchall() == [(15, 8)]
    finally:
        con.close()


def test_bad_input_is_refused_with_the_reason_and_nothing_is_written(env: Env) -> None:
    good, wrong_phone, short_key = (
        make_folder("40722000001"), make_folder("40722000009"), make_folder("40722000003"),
    )  # fmt: skip
    good.write(env.old / A1)
    wrong_phone.write(env.old / "account_prod_b2")
    old_account(env, "account_prod_b2", "+40722000002")
    folder = short_key.write(env.old / "account_prod_b3")
    creds = json.loads((folder / "creds.json").read_text())
    creds["signedPreKey"]["signature"] = buf(short_key.signed_pre_key_sig[:63])
    (folder / "creds.json").write_text(stringify(creds))
    (env.old / "account_prod_b4").mkdir()  # a folder without creds.json
    (env.old / "account_prod_b5").mkdir()
    (env.old / "account_prod_b5" / "creds.json").write_text('{"noiseKey": {"private": ')
    make_folder("40722000006").write(env.old / "account_prod_b6")
    old_account(env, "account_prod_b6", "+40722000006", status="deleted")
    docs_before = {a: env.account_doc(a) for a in ("account_prod_b2", A1)}

    code, reports = env.report("--from-dir", str(env.old))
    assert code == 3  # partial failure
    assert reports[A1]["outcome"] == "imported"
    b2, b3 = reports["account_prod_b2"], reports["account_prod_b3"]
    assert (b2["outcome"], b2["field"]) == ("failed", "creds.json: me.id")
    assert "+40722000002" in b2["reason"]
    assert (b3["field"], b3["outcome"]) == ("creds.json: signedPreKey.signature", "failed")
    assert "64 bytes, got 63" in b3["reason"]
    assert reports["account_prod_b4"]["field"] == "creds.json"
    assert reports["account_prod_b5"]["field"] == "creds.json"
    assert "deleted" in reports["account_prod_b6"]["reason"]
    assert sorted(p.name for p in env.sessions.iterdir()) == [f"{A1}.db"]  # no temp files
    assert env.account_doc("account_prod_b2") == docs_before["account_prod_b2"]
    assert env.account_doc("account_prod_b3") is None

    code, reports = env.report("--from-dir", str(env.old), "--account", "../account_prod_b3")
    assert code == 4 and reports["../account_prod_b3"]["outcome"] == "failed"  # one segment only
    code, out = env.run("--from-dir", str(env.old), "--account", "account_prod_b3")
    assert code == 4  # every account asked for failed
    assert "account_prod_b3: failed" in out and "signedPreKey.signature" in out


def test_another_device_is_replaced_only_with_force(env: Env) -> None:
    make_folder("40722000001").write(env.old / A1)
    assert env.run("--from-dir", str(env.old))[0] == 0
    before = dump(env.sessions / f"{A1}.db")
    relinked = make_folder("40722000001", device=14)  # the number linked anew: other keys
    shutil.rmtree(env.old / A1)
    relinked.write(env.old / A1)
    code, reports = env.report("--from-dir", str(env.old))
    assert code == 4
    assert "another device" in reports[A1]["reason"] and "--force" in reports[A1]["reason"]
    assert dump(env.sessions / f"{A1}.db") == before
    code, reports = env.report("--from-dir", str(env.old), "--force", "--old-backend-stopped")
    assert (code, reports[A1]["outcome"]) == (0, "replaced")
    _rows_match_source(env.sessions / f"{A1}.db", relinked)


def test_same_device_used_since_is_kept(env: Env) -> None:
    make_folder("40722000001").write(env.old / A1)
    assert env.run("--from-dir", str(env.old))[0] == 0
    db = env.sessions / f"{A1}.db"
    con = sqlite3.connect(db)
    with con:  # what whatsmeow does once connected: a Signal session with a contact
        con.execute(
            "INSERT INTO whatsmeow_sessions VALUES (?, ?, ?)",
            ("40722000001:12@s.whatsapp.net", "40733111222.0", b"session-record"),
        )
    con.close()
    before = dump(db)
    code, reports = env.report("--from-dir", str(env.old))
    assert (code, reports[A1]["outcome"]) == (0, "kept")
    assert dump(db) == before


@pytest.fixture
def health_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)  # the old backend, volume not writable: still up
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_account_the_old_backend_may_serve_is_refused(env: Env, health_server: str) -> None:
    make_folder("40722000001").write(env.old / A1)
    env.account(A1, name="V", phone="+40722000001", phoneE164="+40722000001",
                status="connected", updatedAt=datetime.now(UTC) - timedelta(minutes=2))  # fmt: skip
    code, reports = env.report("--from-dir", str(env.old))
    assert (code, reports[A1]["outcome"]) == (4, "refused")
    assert (
        "'connected'" in reports[A1]["reason"] and "--old-backend-stopped" in reports[A1]["reason"]
    )
    code, reports = env.report("--from-dir", str(env.old), "--dry-run")
    assert reports[A1]["outcome"] == "refused"
    assert not env.sessions.exists() or not any(env.sessions.iterdir())

    env.account(A1, name="V", phone="+40722000001", status="connected", updatedAt=LONG_AGO)
    code, reports = env.report("--from-dir", str(env.old), "--old-backend-url", health_server)
    assert reports[A1]["outcome"] == "refused" and "answered 503" in reports[A1]["reason"]
    code, reports = env.report("--from-dir", str(env.old), "--dry-run")
    assert (code, reports[A1]["outcome"]) == (0, "would-import")
    assert not env.sessions.exists() or not any(env.sessions.iterdir())

    code, reports = env.report(
        "--from-dir", str(env.old), "--old-backend-url", health_server, "--old-backend-stopped"
    )
    assert (code, reports[A1]["outcome"]) == (0, "imported")


def test_from_store_reads_wa_sessions_with_a_staleness_warning(env: Env) -> None:
    f = make_folder("40722000001")
    copied = datetime(2026, 11, 1, tzinfo=UTC)
    store = env.store()
    try:
        store.set(
            f"wa_sessions/{A1}", {"files": f.files(), "updatedAt": copied, "schemaVersion": 2}
        )
        newer = f.files()
        store.set("wa_sessions/account_prod_new", {"files": newer, "schemaVersion": 3})
        store.set(f"accounts/{A1}", {"name": "V", "phone": "0722000001", "status": "disconnected",
                                     "updatedAt": copied + timedelta(days=3)})  # fmt: skip
    finally:
        store.close()
    code, reports = env.report("--from-store")
    assert code == 3
    assert reports[A1]["outcome"] == "imported"
    assert reports[A1]["source"] == f"store:wa_sessions/{A1}"
    assert any("older than the account document" in w for w in reports[A1]["warnings"])
    newer_report = reports["account_prod_new"]
    assert newer_report["outcome"] == "failed" and "schemaVersion 3" in newer_report["reason"]
    assert not (env.sessions / "account_prod_new.db").exists()
    _rows_match_source(env.sessions / f"{A1}.db", f)


def test_both_transports_implement_the_import_path() -> None:
    from session_daemon.transport.neonize_transport import NeonizeTransport
    from session_daemon.transport.port import SessionImporter
    from session_daemon.transport.simulated import SimulatedTransport

    importers: list[SessionImporter] = [NeonizeTransport(executor_workers=2), SimulatedTransport()]
    assert all(callable(i.import_session) for i in importers)


def test_usage_errors(env: Env) -> None:
    assert env.run()[0] == 2
    assert env.run("--from-store", "--from-dir", str(env.tmp))[0] == 2
    bad_store = CliRunner().invoke(cli, ["import-sessions", "--from-store", "--store", "mysql://x"])
    assert bad_store.exit_code == 2 and "cannot open the store" in bad_store.output
    env.old.mkdir()
    code, out = env.run("--from-dir", str(env.old))
    assert code == 2 and "no accounts" in out
    assert os.environ.get("WHATSAPP_TRANSPORT") in (None, "", "neonize", "simulated")


def test_a_failed_write_leaves_nothing_behind(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from session_daemon.session_import import whatsmeow_db

    make_folder("40722000001").write(env.old / A1)

    def disk_full(path: Path) -> None:  # after the rows are in, before the rename
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(whatsmeow_db, "_fsync", disk_full)
    code, reports = env.report("--from-dir", str(env.old))
    assert (code, reports[A1]["outcome"]) == (4, "failed")
    assert "No space left" in reports[A1]["reason"]
    assert list(env.sessions.iterdir()) == []  # neither the database nor its temporary file
    assert env.account_doc(A1) is None
