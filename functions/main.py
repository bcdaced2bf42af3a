"""Cloud Functions entry points: thin wrappers only (the logic lives in the package
`superparty_functions` beside this file: `whatsapp_proxy`, `client_stats`, `crm_handlers`; and in
`shared`).

The `def` names are the contract's function names (the app calls them), hence camelCase.
Heavy clients (Firestore, firebase_admin, OpenAI) are imported on first call: discovery runs this
module with a ~10 s budget.
"""

# ruff: noqa: N802 - the deployed names are the app's contract

from __future__ import annotations

import os
from typing import Any

from firebase_functions import firestore_fn, https_fn, options, params

from shared.identity import default_app
from shared.paths import EVENT_TRIGGER_DOCUMENT

REGION = "us-central1"  # the app calls every function here (CONTRACT section 1)
# The Firestore trigger belongs with the database (nam5 -> us-central1, eur3 -> europe-west1);
# the app never calls it, so its region may differ (functions/.env: CLIENT_STATS_REGION).
CLIENT_STATS_REGION = os.environ.get("CLIENT_STATS_REGION", "").strip() or REGION

options.set_global_options(region=REGION, max_instances=10)

# Callables verify the caller's ID token with the default firebase_admin app before our code
# runs, so it must exist at import (credentials load lazily: this stays cheap).
default_app()

WHATSAPP_DAEMON_TOKEN = params.SecretParam("WHATSAPP_DAEMON_TOKEN")
_PROXY_SECRETS = [WHATSAPP_DAEMON_TOKEN]
# The web app calls from a browser: answer CORS preflights. Credentials travel in the
# Authorization header (no cookies), so any origin is safe; auth is checked in code.
_CORS = options.CorsOptions(cors_origins="*", cors_methods=["GET", "POST", "DELETE", "OPTIONS"])


def _proxy(name: str, request: Any) -> Any:
    from superparty_functions import runtime
    from superparty_functions.whatsapp_proxy.backend import config_from_env
    from superparty_functions.whatsapp_proxy.endpoints import Deps, handle
    from superparty_functions.whatsapp_proxy.flask_adapter import (
        to_flask_response,
        to_proxy_request,
    )

    deps = Deps(
        store=runtime.store,
        verify_token=runtime.verify_token,
        backend_config=lambda: config_from_env(WHATSAPP_DAEMON_TOKEN.value),
    )
    proxy_request = to_proxy_request(request)
    return to_flask_response(
        handle(name, proxy_request, deps), proxy_request.header("X-Request-ID")
    )


@https_fn.on_request(secrets=_PROXY_SECRETS, timeout_sec=60, cors=_CORS)
def whatsappProxyGetAccounts(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappProxyGetAccounts", request)


@https_fn.on_request(secrets=_PROXY_SECRETS, timeout_sec=60, cors=_CORS)
def whatsappProxyGetAccountsStaff(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappProxyGetAccountsStaff", request)


@https_fn.on_request(secrets=_PROXY_SECRETS, timeout_sec=60, cors=_CORS)
def whatsappProxyAddAccount(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappProxyAddAccount", request)


@https_fn.on_request(secrets=_PROXY_SECRETS, timeout_sec=60, cors=_CORS)
def whatsappProxyRegenerateQr(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappProxyRegenerateQr", request)


@https_fn.on_request(secrets=_PROXY_SECRETS, timeout_sec=60, cors=_CORS)
def whatsappProxyDeleteAccount(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappProxyDeleteAccount", request)


@https_fn.on_request(secrets=_PROXY_SECRETS, timeout_sec=60, cors=_CORS)
def whatsappProxyBackfillAccount(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappProxyBackfillAccount", request)


@https_fn.on_request(secrets=_PROXY_SECRETS, timeout_sec=60, cors=_CORS)
def whatsappProxyGetInbox(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappProxyGetInbox", request)


@https_fn.on_request(secrets=_PROXY_SECRETS, timeout_sec=60, cors=_CORS)
def whatsappProxyGetThreads(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappProxyGetThreads", request)


@https_fn.on_request(secrets=_PROXY_SECRETS, timeout_sec=60, cors=_CORS)
def whatsappProxySend(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappProxySend", request)


@https_fn.on_request(timeout_sec=30, cors=_CORS)
def whatsappWhoAmI(request: https_fn.Request) -> https_fn.Response:
    return _proxy("whatsappWhoAmI", request)


@https_fn.on_request(invoker="public", timeout_sec=10)
def whatsapp(request: https_fn.Request) -> https_fn.Response:
    """The legacy single endpoint: gone, for every method and path."""
    from superparty_functions.deprecated_stub import gone

    return gone()


@firestore_fn.on_document_written(
    document=EVENT_TRIGGER_DOCUMENT, region=CLIENT_STATS_REGION, timeout_sec=60
)
def aggregateClientStats(event: firestore_fn.Event[Any]) -> None:
    from superparty_functions import runtime
    from superparty_functions.client_stats import handle_event_written

    handle_event_written(runtime.store(), event.params.get("eventId", ""), event.id)


@https_fn.on_call(timeout_sec=120, memory=options.MemoryOption.MB_512)
def whatsappExtractEventFromThread(req: https_fn.CallableRequest[Any]) -> Any:
    from superparty_functions.crm_handlers import extract_event_from_thread

    return extract_event_from_thread(req)


@https_fn.on_call(timeout_sec=60)
def clientCrmAsk(req: https_fn.CallableRequest[Any]) -> Any:
    from superparty_functions.crm_handlers import client_crm_ask

    return client_crm_ask(req)
