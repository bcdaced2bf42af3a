"""The operator's fleet dashboard at `/`: one row per number, live, with its actions.

The HTML is a shell; `/dashboard.js` (our own script, no third-party code: the CSP allows
scripts from this origin only) fills it from `GET /api/fleet` every few seconds, updating the
cells that changed in place (no full-page refresh, no flicker), shows a pairing number's QR
from `GET /api/whatsapp/qr/{accountId}`, and runs the actions (re-pair with a QR or a pairing
code, backfill, pause or turn on auto-reply, add a number) through the same bearer-protected
JSON routes as the app, each after a confirmation dialog. Every text from the store is set as
text, never as HTML.

Who may see it, and why: the service token only, typed into the sign-in form (a POST body).
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
SameSite=Strict and only opens this page (the JSON API accepts bearer tokens only, so a forged
cross-site request carries no credential). The script needs the token itself for its bearer
calls: the sign-in form's script keeps it in the tab's `sessionStorage` (gone when the tab
closes; cleared by Sign out and by the sign-in page), never in a cookie, the URL or the HTML.
A tab without it (another tab, a restored session) is sent back to the sign-in form.
Rotating the service token invalidates every cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from pathlib import Path

from aiohttp import web

from session_daemon.http.context import CONTEXT, DaemonContext
from session_daemon.http.errors import ApiError, read_in_time
from session_daemon.http.routing import RouteSpec

COOKIE = "sp_dashboard"
SCRIPT = Path(__file__).with_name("dashboard.js")
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "img-src data:; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_STYLE = (
    ":root{--ok:#0a7a32;--bad:#b3261e;--warn:#9a6700;--line:#d0d7de;--muted:#57606a}"
    "*{box-sizing:border-box}[hidden]{display:none!important}body{font-family:system-ui,sans-serif;margin:0;color:#1f2328;"
    "background:#f6f8fa}header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;"
    "padding:.8rem 1rem;background:#fff;border-bottom:1px solid var(--line)}"
    "h1{font-size:1.15rem;margin:0;flex:1 1 auto}main{padding:1rem}"
    "button{font:inherit;padding:.35rem .7rem;border:1px solid var(--line);border-radius:6px;"
    "background:#fff;cursor:pointer}button.primary{background:#1f6feb;color:#fff;"
    "border-color:#1f6feb}button.danger{background:var(--bad);color:#fff;border-color:var(--bad)}"
    "button:disabled{opacity:.5;cursor:default}input{font:inherit;padding:.35rem;"
    "border:1px solid var(--line);border-radius:6px}"
    "table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}"
    "th,td{padding:.5rem .6rem;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:top;font-size:.92rem}th{background:#f0f3f6;font-weight:600}"
    ".status{font-weight:600}.s-connected{color:var(--ok)}.s-bad{color:var(--bad)}"
    ".s-wait{color:var(--warn)}.reason{color:var(--muted);font-size:.85rem;max-width:28rem}"
    ".muted{color:var(--muted)}.actions{display:flex;flex-wrap:wrap;gap:.3rem}"
    ".qr img{width:220px;height:220px;image-rendering:pixelated;display:block}"
    ".code{font:600 1.3rem ui-monospace,monospace;letter-spacing:.15em}"
    "#notice{min-height:1.4rem;margin:0 0 .6rem}#notice.err{color:var(--bad)}"
    "#offline{display:none;background:#fff8c5;padding:.4rem 1rem}#offline.on{display:block}"
    "form.inline{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:0 0 1rem}"
    "dialog{border:1px solid var(--line);border-radius:8px;max-width:26rem}"
    "dialog::backdrop{background:rgba(0,0,0,.3)}"
    "@media (max-width:760px){main{padding:.5rem}thead{display:none}table,tbody,tr,td{"
    "display:block;width:100%}tr{border-bottom:6px solid #f6f8fa}td{border:0;"
    "padding:.25rem .7rem}td[data-label]::before{content:attr(data-label) ': ';"
    "color:var(--muted)}td.name{padding-top:.6rem;font-size:1rem}"
    ".qr img{width:180px;height:180px}}"
)


def _cookie_value(ctx: DaemonContext) -> str:
    token = ctx.settings.service_token or ""
    return hmac.new(token.encode(), b"dashboard-session-v1", hashlib.sha256).hexdigest()


def _logged_in(request: web.Request) -> bool:
    ctx = request.app[CONTEXT]
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, _cookie_value(ctx))


def _document(title: str, body: str, status: int) -> web.Response:
    doc = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style>"
        "<script src='/dashboard.js' defer></script></head>"
        f"<body>{body}</body></html>"
    )
    return web.Response(text=doc, content_type="text/html", status=status, headers=_HEADERS)


def _login_form(message: str = "") -> web.Response:
    note = f"<p id='notice' class='err'>{escape(message)}</p>" if message else ""
    body = (
        "<header><h1>Superparty WhatsApp daemon</h1></header><main data-view='login'>"
        + note
        + "<form id='login' class='inline' method='post' action='/login'><label>Service token "
        "<input type='password' name='token' autocomplete='current-password' required></label> "
        "<button class='primary'>Sign in</button></form></main>"
    )
    return _document("Sign in", body, 401)


_TABLE_HEAD = "".join(
    f"<th>{name}</th>"
    for name in (
        "Number", "Status", "Last inbound", "Last outbound", "Today in / out", "Queue",
        "Failures", "Owner", "Actions",
    )
)  # fmt: skip

_CONFIRM = (
    "<dialog id='confirm'><form method='dialog'><p id='confirm-text'></p>"
    "<p id='confirm-extra' hidden><label>Phone <input id='confirm-phone' "
    "inputmode='tel' autocomplete='off'></label></p>"
    "<div class='actions'><button value='cancel'>Cancel</button>"
    "<button value='ok' id='confirm-ok' class='primary'>Confirm</button></div></form></dialog>"
)


def _dashboard(ctx: DaemonContext) -> web.Response:
    body = (
        "<header><h1>Superparty WhatsApp fleet</h1>"
        f"<span class='muted'>Daemon <b>{escape(ctx.settings.instance_id)}</b></span>"
        "<span id='summary' class='muted'></span>"
        "<form id='logout' method='post' action='/logout'><button>Sign out</button></form>"
        "</header><div id='offline'>The daemon does not answer; retrying…</div>"
        "<main data-view='fleet'><p id='notice' role='status'></p>"
        "<form id='add' class='inline'><input name='name' placeholder='Name' required "
        "maxlength='100'><input name='phone' placeholder='Phone, e.g. 0722 123 456' required "
        "inputmode='tel'><button class='primary'>Add number</button></form>"
        f"<table><thead><tr>{_TABLE_HEAD}</tr></thead><tbody id='rows'>"
        "<tr id='empty'><td colspan='9'>Loading…</td></tr></tbody></table>"
        "<noscript>This page needs JavaScript (its own script only).</noscript>"
        f"</main>{_CONFIRM}"
    )
    return _document("Superparty WhatsApp fleet", body, 200)


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
    if "token" in request.query:
        return _login_form(
            "The token is not accepted in the address (it would stay in the browser history "
            "and in proxy logs): type it here instead."
        )
    if not _logged_in(request):
        return _login_form()
    return _dashboard(request.app[CONTEXT])


async def script(request: web.Request) -> web.StreamResponse:
    """The page's own script (static, no secrets: public like the sign-in form)."""
    return web.Response(
        text=SCRIPT.read_text(encoding="utf-8"),
        content_type="text/javascript",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


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
        "Fleet dashboard (HTML; service token via the sign-in form, then a cookie)",
        tag="page",
        content_type="text/html",
        responses={200: "Page", 401: "Login form"},
        media={401: ("text/html",)},
    ),
    RouteSpec(
        "GET",
        "/dashboard.js",
        script,
        "public",
        "The dashboard page's script (static)",
        tag="page",
        content_type="text/javascript",
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
