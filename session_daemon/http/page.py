"""The operator page at `/`: accounts with status, and the QR while an account is pairing.

Server-rendered, no JavaScript, refreshes itself.

Who may see it, and why: the service token only, typed into the login form (a POST body).
- The page shows live QR and pairing codes, which reach super-admins only (CONTRACT.md section 6,
  hole 2). The service token acts as a super-admin, so every signed-in viewer may see them.
- The operator runs it on the daemon's machine (it listens on 127.0.0.1 by default) and has the
  token: `WHATSAPP_DAEMON_TOKEN`, or the file whose location the daemon logs at first start
  (`./data/admin-token`). Staff use the app, not this page; a Firebase sign-in would need the
  Firebase web SDK, i.e. JavaScript and Google's servers, which this page deliberately avoids.
- The token is never accepted in the URL (`/?token=...` is refused, not honoured): a URL lands in
  the browser history, in a reverse proxy's access log and in shell history. The daemon's own
  access log is off (see app.py).
After sign-in the cookie holds an HMAC derived from the token, not the token; it is HttpOnly and
SameSite=Strict, and only this page reads it (the JSON API accepts bearer tokens only). Rotating
the service token invalidates every cookie.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from html import escape

from aiohttp import web

from session_daemon.http.context import CONTEXT, DaemonContext
from session_daemon.http.errors import ApiError, read_in_time
from session_daemon.http.qr_image import qr_data_url
from session_daemon.http.routing import RouteSpec
from session_daemon.sessions.accounts import account_view
from shared.paths import ACCOUNTS
from shared.store.port import query

COOKIE = "sp_dashboard"
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.4rem .7rem;"
    "text-align:left;vertical-align:top}.connected{color:#080}.err{color:#a00}"
)


def _cookie_value(ctx: DaemonContext) -> str:
    token = ctx.settings.service_token or ""
    return hmac.new(token.encode(), b"dashboard-session-v1", hashlib.sha256).hexdigest()


def _logged_in(request: web.Request) -> bool:
    ctx = request.app[CONTEXT]
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, _cookie_value(ctx))


def _html(body: str, status: int = 200) -> web.Response:
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Superparty WhatsApp</title>"
        f"<meta http-equiv='refresh' content='5'><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return web.Response(text=doc, content_type="text/html", status=status, headers=_HEADERS)


def _login_form(message: str = "") -> web.Response:
    note = f"<p class='err'>{escape(message)}</p>" if message else ""
    body = (
        "<h1>Superparty WhatsApp daemon</h1>"
        + note
        + "<form method='post' action='/login'><label>Service token "
        "<input type='password' name='token' autocomplete='current-password'></label> "
        "<button>Sign in</button></form>"
    )
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Sign in</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return web.Response(text=doc, content_type="text/html", status=401, headers=_HEADERS)


def _see_other() -> web.Response:
    return web.Response(status=303, headers={**_HEADERS, "Location": "/"})


def _set_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.set_cookie(
        COOKIE,
        _cookie_value(request.app[CONTEXT]),
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
        max_age=12 * 3600,
    )


async def page(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if "token" in request.query:
        return _login_form(
            "The token is not accepted in the address (it would stay in the browser history "
            "and in proxy logs): type it here instead."
        )
    if not _logged_in(request):
        return _login_form()
    docs = await asyncio.to_thread(ctx.store.query, query(ACCOUNTS))
    rows = []
    for snap in sorted(docs, key=lambda s: str(s.data.get("name", ""))):
        if snap.data.get("status") == "deleted":
            continue
        view = account_view(snap.id, snap.data)
        status = ctx.manager.status_of(snap.id) or view["status"] or ""
        qr_cell = ""
        secrets = ctx.manager.secrets.get(snap.id)
        if ctx.manager.is_pairing(snap.id) and secrets.qr_code:
            url = await asyncio.to_thread(qr_data_url, secrets.qr_code)
            qr_cell = f"<img alt='QR code' width='240' src='{escape(url)}'>"
            if secrets.pairing_code:
                qr_cell += f"<div>Pairing code: <b>{escape(secrets.pairing_code)}</b></div>"
        error = escape(" ".join(filter(None, [view["lastError"], view["phoneOfflineWarning"]])))
        rows.append(
            f"<tr><td>{escape(view['name'] or '')}<br><small>{escape(snap.id)}</small></td>"
            f"<td>{escape(view['phone'] or '')}</td>"
            f"<td class='{escape(status)}'>{escape(status)}<div class='err'>{error}</div></td>"
            f"<td>{qr_cell}</td></tr>"
        )
    summary = ctx.manager.summary()
    table = (
        "<table><tr><th>Account</th><th>Phone</th><th>Status</th><th>QR</th></tr>"
        + ("".join(rows) or "<tr><td colspan='4'>No accounts yet.</td></tr>")
        + "</table>"
    )
    body = (
        "<h1>Superparty WhatsApp daemon</h1>"
        f"<p>Instance {escape(ctx.settings.instance_id)} · {summary['sessions']} sessions · "
        f"{summary['pairingsInProgress']} pairing</p>{table}"
        "<form method='post' action='/logout'><button>Sign out</button></form>"
    )
    return _html(body)


async def login(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    try:
        form = await read_in_time(request, request.post())
    except (ValueError, LookupError):  # multipart without a boundary, unknown charset, ...
        raise ApiError(400, "invalid_form", "Send the sign-in form as a normal form.") from None
    address = ctx.authenticator.check_throttle(request)
    token = form.get("token")
    if not isinstance(token, str) or not ctx.authenticator.is_service_token(token):
        ctx.authenticator.note_failure(address)
        return _login_form("That token is not valid.")
    redirect = _see_other()
    _set_cookie(request, redirect)
    return redirect


async def logout(request: web.Request) -> web.StreamResponse:
    redirect = _see_other()
    redirect.del_cookie(COOKIE, path="/")
    return redirect


PAGE_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/",
        page,
        "public",
        "Operator page (HTML; service token via the login form, then a cookie)",
        tag="page",
        content_type="text/html",
        responses={200: "Page", 401: "Login form"},
        media={401: ("text/html",)},
    ),
    RouteSpec(
        "POST",
        "/login",
        login,
        "public",
        "Dashboard sign-in (form field 'token')",
        tag="page",
        content_type="text/html",
        responses={303: "Signed in", 400: "invalid_form", 401: "Refused", 429: "Throttled"},
        media={303: (), 401: ("text/html",)},
    ),
    RouteSpec(
        "POST",
        "/logout",
        logout,
        "public",
        "Dashboard sign-out",
        tag="page",
        content_type="text/html",
        responses={303: "Signed out"},
        media={303: ()},
    ),
)
