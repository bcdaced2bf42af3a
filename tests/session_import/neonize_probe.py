"""Run as a child process: open an imported session database with the real neonize library,
offline, and print what whatsmeow restored as one JSON line.

1. `ClientFactory.get_all_devices_from_db`: whatsmeow's `GetAllDevices` loads every device row
   (it rebuilds the key pairs from the private keys and refuses wrong lengths).
2. A real client on that database, connecting through a proxy on a closed port: whatsmeow
   takes the "already logged in" path (no QR is ever produced), the connect fails offline, and
   `get_me()` reports the device the client loaded from the store.

Usage: python -m tests.session_import.neonize_probe DB_PATH
"""

from __future__ import annotations

import json
import os
import sys

CLOSED_PROXY = "socks5://127.0.0.1:9"  # never reach WhatsApp with test keys
os.environ["NEONIZE_BOT_TAG"] = "off"


def main(db: str) -> None:
    from neonize._binder import ProxySettings
    from neonize.client import ClientFactory, NewClient
    from neonize.exc import NeonizeError

    devices = ClientFactory.get_all_devices_from_db(db)
    qr_codes: list[bytes] = []
    client = NewClient(db, uuid="probe")
    client.event.qr(lambda _client, data: qr_codes.append(data))
    connect_error = None
    try:
        # A SOCKS proxy on a closed port: the dial fails at once and nothing leaves the machine.
        client.connect(ProxySettings(proxy_address=CLOSED_PROXY))
    except NeonizeError as exc:
        connect_error = str(exc)
    me = client.get_me()
    result = {
        "devices": [
            {"jid": f"{d.JID.User}@{d.JID.Server}", "pushName": d.PushName, "init": d.Initialized}
            for d in devices
        ],
        "me": {
            "user": me.JID.User,
            "device": me.JID.Device,
            "server": me.JID.Server,
            "lidUser": me.LID.User,
            "pushName": me.PushName,
            "platform": me.Platform,
        },
        "qrCodes": len(qr_codes),
        "connectError": connect_error,
    }
    sys.stdout.write("PROBE " + json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # the Go runtime holds threads and handles: leave without tearing them down


if __name__ == "__main__":
    main(sys.argv[1])
