"""Figma's REST API on the wire, as far as a UI Builder user needs it: ``GET /v1/me``.

Figma answers JSON; its errors are ``{"status": <code>, "err": <text>}`` with
that status, e.g. ``{"status": 403, "err": "Invalid token"}`` for a token it
does not accept and ``{"status": 404, "err": "Not found"}`` for a path it
does not serve. Its operations are declared on the service's protocol, named
``figma.<operationId>`` and routed by exact method and path.
"""

from __future__ import annotations

import math
from typing import Any

from ...core.auth.sigv4 import is_presigned
from ...core.errors import ServiceError
from ...core.request import Reply, Request, json_reply, request_host
from .errors import ERRORS

FIGMA_HOST = "api.figma.com"
OPERATION_PREFIX = "figma."
GET_ME = "figma.getMe"  # Figma's own operationId for GET /v1/me
UNKNOWN = "figma.unknown"


def is_figma(request: Request) -> bool:
    """Whether a request routed to this service is for Figma rather than Amplify UI Builder.

    Figma's host always is; an Amplify UI Builder host never is; elsewhere (the
    server on loopback) a request without a SigV4 signature (header or query) is Figma's.
    """
    host = request_host(request)
    if host == FIGMA_HOST:
        return True
    if host.startswith("amplifyuibuilder."):
        return False
    environ = request.environ  # SigV4 in the Authorization header or in the query string (presigned) is Amplify's
    return not environ.get("HTTP_AUTHORIZATION", "").startswith("AWS4-") and not is_presigned(
        environ.get("QUERY_STRING", "")
    )


def operation_of(request: Request, routes: dict[tuple[str, str], str]) -> str:
    """Figma's operation for the request's method and path, among ``routes``; :data:`UNKNOWN` for none."""
    return routes.get((request.method, request.environ.get("PATH_INFO", "/")), UNKNOWN)


def not_found() -> ServiceError:
    return ERRORS.error("NotFound")


def presented_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (OAuth) or ``X-Figma-Token`` (Figma's own header)."""
    environ = request.environ
    authorization: str = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token: str = environ.get("HTTP_X_FIGMA_TOKEN", "").strip()
    return token or None


def reply(status: int, payload: Any) -> Reply:
    return json_reply(status, payload, "application/json; charset=utf-8")


def error_reply(error: ServiceError) -> Reply:
    return json_reply(
        error.status,
        {"status": error.status, "err": error.message},
        "application/json; charset=utf-8",
        error.headers.items(),
    )


def throttling_error(retry_after: float | None) -> ServiceError:
    """Figma's 429, with the Retry-After (seconds) it sends."""
    seconds = max(1, math.ceil(retry_after)) if retry_after else 60
    return ERRORS.error("RateLimited", headers={"Retry-After": str(seconds)})
