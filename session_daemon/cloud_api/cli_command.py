"""`superparty-daemon add-cloud-account`: add a WhatsApp Cloud API number (or convert the linked
account of the same phone, or save a new token) through the running daemon's
`POST /api/whatsapp/cloud-accounts`. Idempotent by phone number id, like the route.

The access token, app secret and verify token are read from the environment or asked for with
hidden input, so they never land in the shell history or the process list.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Annotated

import typer

from session_daemon.cli_daemon import DEFAULT_DAEMON_URL, DaemonToken, DaemonUrl, require_token

__all__ = ["make_add_cloud_account"]


def make_add_cloud_account() -> Callable[..., None]:
    """The command (`cli.py` registers it)."""

    def add_cloud_account(
        name: Annotated[str, typer.Option(help="the account's name in the app")],
        phone: Annotated[
            str, typer.Option(help="the number, e.g. +40722000009 (gives wa_<digits>)")
        ],
        phone_number_id: Annotated[str, typer.Option(help="Meta's phone number id")],
        waba_id: Annotated[str, typer.Option(help="the WhatsApp Business Account id")],
        access_token: Annotated[
            str,
            typer.Option(
                envvar="WHATSAPP_CLOUD_ACCESS_TOKEN",
                prompt=True,
                hide_input=True,
                show_default=False,
            ),
        ],
        app_secret: Annotated[
            str,
            typer.Option(
                envvar="WHATSAPP_CLOUD_APP_SECRET", prompt=True, hide_input=True, show_default=False
            ),
        ],
        verify_token: Annotated[
            str,
            typer.Option(
                envvar="WHATSAPP_CLOUD_VERIFY_TOKEN",
                prompt=True,
                hide_input=True,
                show_default=False,
            ),
        ],
        url: DaemonUrl = DEFAULT_DAEMON_URL,
        token: DaemonToken = None,
    ) -> None:
        """Add a WhatsApp Cloud API account (or convert / re-key the one of this number)."""
        bearer = require_token(token)
        payload = {
            "name": name,
            "phone": phone,
            "phoneNumberId": phone_number_id,
            "wabaId": waba_id,
            "accessToken": access_token,
            "appSecret": app_secret,
            "verifyToken": verify_token,
        }
        request = urllib.request.Request(
            f"{url.rstrip('/')}/api/whatsapp/cloud-accounts",
            data=json.dumps(payload).encode(),
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read())
                message = f"{answer.get('error')}: {answer.get('message')}"
            except ValueError:
                message = str(exc.reason)
            typer.echo(f"daemon answered {exc.code}: {message}", err=True)
            raise typer.Exit(1) from None
        except (urllib.error.URLError, OSError) as exc:
            typer.echo(f"cannot reach the daemon at {url}: {exc}", err=True)
            raise typer.Exit(1) from None
        what = (
            "converted from a linked device"
            if body.get("converted")
            else ("added" if body.get("created") else "already there; credentials saved")
        )
        typer.echo(f"{body['accountId']}: {what}")
        typer.echo(
            f"webhook URL: https://<public host>/webhooks/whatsapp-cloud/{body['accountId']} "
            "(set it with the verify token in the Meta app's WhatsApp > Configuration)"
        )

    return add_cloud_account
