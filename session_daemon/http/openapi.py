"""`/openapi.json`, built by walking the app's router: every registered route appears, described
by its `RouteSpec` when it has one (routes added without a spec get a generic entry)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from session_daemon.http.routing import ROUTE_SPECS, RouteSpec
from session_daemon.sessions.accounts import ACCOUNT_ID_PATTERN
from session_daemon.sessions.status import STATUS_TABLE

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "error", "message"],
    "properties": {
        "success": {"type": "boolean", "const": False},
        "error": {"type": "string"},
        "message": {"type": "string"},
    },
}

DESCRIPTION = (
    "Every route except /health and /ready needs `Authorization: Bearer <token>`: the daemon's "
    "service token (WHATSAPP_DAEMON_TOKEN, or the generated ./data/admin-token) or a Firebase ID "
    "token of an employee; `x-access: super_admin` routes need a super-admin (or the service "
    "token). A bad token is 401 `unauthorized`; a token that cannot be checked right now (key "
    "server, user lookup or store unreachable) is 503 `auth_unavailable`; a disabled or "
    "signed-out user's token is 401 at once (revocation is checked); repeated failed "
    "credentials from one address are 429 `too_many_auth_failures` with `retryAfterSeconds`. "
    "Every JSON error is `{success: false, error: <stable code>, message}`. "
    "QR and pairing codes are only returned to super-admins. /api/simulator/* exists only with "
    "`--transport simulated`. "
    "`/webhooks/whatsapp-cloud/{accountId}` (Meta's Cloud API webhook) is public: the "
    "`X-Hub-Signature-256` HMAC of the raw body and the verify token are its credentials; a "
    "bad or missing signature is 401 `invalid_signature`, never throttled per address (Meta "
    "delivers through one proxy). Its GET (the verification handshake) answers the challenge "
    "as `text/plain`: the one success answer that is not JSON (its errors are JSON)."
)

# Answered by any route: the error middleware, the body reader and the authenticator.
_STANDARD_ERRORS = {
    "400": "invalid_request, or bad_request for a request the HTTP parser rejects",
    "401": "missing_auth_token / unauthorized",
    "403": "employee_only / super_admin_only",
    "404": "not_found / account_not_found",
    "408": "body_timeout: the request body did not arrive in time",
    "413": "payload_too_large",
    "429": "too_many_auth_failures (failed credentials from this address; retryAfterSeconds)",
    "500": "internal_error",
    "503": "auth_unavailable (the ID token could not be checked: retry)",
}
_AUTH_ONLY = ("401", "403", "429", "503")
_BODY_ONLY = ("408", "413")
# Path parameters are checked before anything else (404 otherwise): declared as strictly.
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "accountId": {"type": "string", "pattern": ACCOUNT_ID_PATTERN},
}


def router_routes(app: web.Application) -> list[tuple[str, str]]:
    """(METHOD, path template) of every route the router serves, HEAD and OPTIONS excluded."""
    found = []
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if not path:
            continue
        for route in resource:
            if route.method in ("HEAD", "OPTIONS"):
                continue
            found.append((route.method, _PARAM.sub(r"{\1}", path)))
    return found


REF_TEMPLATE = "#/components/schemas/{model}"


def _body_schema(spec: RouteSpec, components: dict[str, Any]) -> dict[str, Any]:
    """The request model's JSON schema, its nested models hoisted into components."""
    assert spec.body is not None
    schema = spec.body.model_json_schema(ref_template=REF_TEMPLATE)
    components.update(schema.pop("$defs", {}))
    return schema


def _content(media: tuple[str, ...], schema: dict[str, Any]) -> dict[str, Any]:
    return {m: {"schema": schema} if m == "application/json" else {} for m in media}


def _responses(spec: RouteSpec) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, description in spec.responses.items():
        media = spec.media.get(status)
        if media is None:
            media = (spec.content_type,) if status < 300 else ("application/json",)
        responses[str(status)] = {
            "description": description,
            "content": _content(media, {"type": "object"}),
        }
    has_body = spec.method in ("POST", "PUT", "PATCH")
    for code, text in _STANDARD_ERRORS.items():
        if spec.access == "public" and code in _AUTH_ONLY:
            continue
        if code in _BODY_ONLY and not has_body:
            continue
        responses.setdefault(
            code,
            {
                "description": text,
                "content": _content(("application/json",), {"$ref": "#/components/schemas/Error"}),
            },
        )
    return responses


def _operation(
    spec: RouteSpec | None, method: str, path: str, components: dict[str, Any]
) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": PATH_PARAMS.get(name, {"type": "string"}),
        }
        for name in _PARAM.findall(path)
    ]
    if spec is None:
        return {
            "summary": f"{method} {path}",
            "parameters": params,
            "security": [{"bearer": []}],
            "responses": {"200": {"description": "Success"}},
        }
    for q in spec.query:
        params.append(
            {
                "name": q.name,
                "in": "query",
                "required": q.required,
                "schema": q.schema,
                "description": q.description,
            }
        )
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{spec.handler.__name__}",
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": params,
        "responses": _responses(spec),
        "x-access": spec.access,
    }
    operation["security"] = [] if spec.access == "public" else [{"bearer": []}]
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _body_schema(spec, components)}},
        }
    return operation


def account_status_schema() -> dict[str, Any]:
    """`accounts[].status` with the meaning of each value and what the operator does; every
    status comes with a human `lastError` on the account."""
    lines = [
        f"- `{name}`: {meaning} Operator: {action}"
        for name, (meaning, action) in (STATUS_TABLE.items())
    ]
    return {
        "type": "string",
        "enum": list(STATUS_TABLE),
        "description": "Account status; `lastError` on the account says why, in words the app "
        "and the dashboard show. `phoneOfflineWarning` is set when the phone was not seen for "
        "12 days (`phoneLastSeenAt`).\n" + "\n".join(lines),
    }


def openapi_document(app: web.Application, version: str) -> dict[str, Any]:
    specs = {(s.method, _PARAM.sub(r"{\1}", s.path)): s for s in app.get(ROUTE_SPECS, [])}
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA, "AccountStatus": account_status_schema()}
    for method, path in router_routes(app):
        paths.setdefault(path, {})[method.lower()] = _operation(
            specs.get((method, path)), method, path, schemas
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Superparty WhatsApp session daemon",
            "version": version,
            "description": DESCRIPTION,
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The daemon service token or a Firebase ID token",
                }
            },
            "schemas": schemas,
        },
    }
