"""Every HTTP route table of the daemon, listed in one place.

`build_app` registers exactly these, in this order; `/openapi.json` describes what was
registered. A new table goes here (and nowhere else registers routes):

| table | module | when |
|---|---|---|
| `OPS_ROUTES` | `routes_ops` | always: probes, `/diag`, `/metrics`, status |
| `PAGE_ROUTES` | `page` | always: the dashboard page and its script |
| `FLEET_ROUTES` | `routes_fleet` | always: the dashboard's data (`/api/fleet`) |
| `ACCOUNT_ROUTES` | `routes_accounts` | always: accounts, pairing, backfill |
| `PROXY_ROUTES` | `routes_proxy` | always: an account's own proxy (super-admins) |
| `DATA_ROUTES` | `routes_data` | always: threads, messages, inbox |
| `AUTO_REPLY_ROUTES` | `routes_autoreply` | always: a thread's auto-reply opt-out, broadcasts |
| `SIMULATOR_ROUTES` | `simulator` | `--transport simulated` only |
| `OUTBOX_ROUTES` | `routes_outbox` | with an outbox worker: send, wake |
| `media_routes(store)` | `media.routes` | a local media store (no bucket): signed files |
| `CloudRuntime.route_specs` | `cloud_api.routes*` | always: cloud accounts, webhook, templates |

The media table is built by the media service (it holds the store it serves) and handed to
`build_app`, which registers it here with the others; the Cloud API's the same way by
`session_daemon.cloud_api.runtime.CloudRuntime.route_specs`.
"""

from __future__ import annotations

from collections.abc import Sequence

from session_daemon.http.page import PAGE_ROUTES
from session_daemon.http.routes_accounts import ACCOUNT_ROUTES
from session_daemon.http.routes_autoreply import AUTO_REPLY_ROUTES
from session_daemon.http.routes_data import DATA_ROUTES
from session_daemon.http.routes_fleet import FLEET_ROUTES
from session_daemon.http.routes_ops import OPS_ROUTES
from session_daemon.http.routes_outbox import OUTBOX_ROUTES
from session_daemon.http.routes_proxy import PROXY_ROUTES
from session_daemon.http.routing import RouteSpec
from session_daemon.http.simulator import SIMULATOR_ROUTES

__all__ = ["route_tables"]


def route_tables(
    *,
    outbox: bool,
    simulator: bool,
    media: Sequence[RouteSpec] = (),
    cloud: Sequence[RouteSpec] = (),
) -> list[Sequence[RouteSpec]]:
    """The tables a daemon serves: the API, plus the simulator's, the outbox's and the local
    media store's when it has them."""
    tables: list[Sequence[RouteSpec]] = [
        OPS_ROUTES,
        PAGE_ROUTES,
        FLEET_ROUTES,
        ACCOUNT_ROUTES,
        PROXY_ROUTES,
        DATA_ROUTES,
        AUTO_REPLY_ROUTES,
    ]
    if simulator:
        tables.append(SIMULATOR_ROUTES)
    if outbox:
        tables.append(OUTBOX_ROUTES)
    if media:
        tables.append(media)
    if cloud:
        tables.append(cloud)
    return tables
