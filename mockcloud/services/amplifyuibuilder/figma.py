"""Figma's REST API on the wire, as far as a UI Builder user needs it: ``GET /v1/me``.

Figma answers JSON; its errors are ``{"status": <code>, "err": <text>}`` with
that status, e.g. ``{"status": 403, "err": "Invalid token"}`` for a token it
does not accept and ``{"status": 404, "err": "Not found"}`` for a path it
does not serve.
"""
from __future__ import annotations

import json
import math

from ...core.auth.sigv4 import is_presigned
from ...core.errors import ServiceError
from ...core.request import Reply, Request, request_host

FIGMA_HOST = "api.figma.com"
OPERATION_PREFIX = "figma."
GET_ME = "figma.getMe"  # Figma's own operationId for GET /v1/me
UNKNOWN = "figma.unknown"
_ROUTES = {("GET", "/v1/me"): GET_ME}
_FLAG = "mockcloud.figma"
_compact = json.JSONEncoder(separators=(",", ":")).encode


def is_figma(request: Request) -> bool:
    """Whether a request routed to this service is for Figma rather than Amplify UI Builder.

    Figma's host always is; an Amplify UI Builder host never is; elsewhere (the
    server on loopback) a request without a SigV4 signature (header or query) is Figma's.
    """
    environ = request.environ
    flag = environ.get(_FLAG)
    if flag is None:
        host = request_host(request)
        if host == FIGMA_HOST:
            flag = True
        elif host.startswith("amplifyuibuilder."):
            flag = False
        else:  # SigV4 in the Authorization header or in the query string (presigned) is Amplify's
            flag = not environ.get("HTTP_AUTHORIZATION", "").startswith("AWS4-") and not is_presigned(environ.get("QUERY_STRING", ""))
        environ[_FLAG] = flag
    return flag


def operation_of(request: Request) -> str:
    return _ROUTES.get((request.method, request.environ.get("PATH_INFO", "/")), UNKNOWN)


def not_found() -> ServiceError:
    return ServiceError("NotFound", "Not found", 404)


def presented_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (OAuth) or ``X-Figma-Token`` (Figma's own header)."""
    environ = request.environ
    scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = environ.get("HTTP_X_FIGMA_TOKEN", "").strip()
    return token or None


def reply(status: int, payload: dict, extra=()) -> Reply:
    body = _compact(payload).encode()
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]
    headers.extend(extra)
    return Reply(status, headers, body)


def error_reply(error: ServiceError) -> Reply:
    return reply(error.status, {"status": error.status, "err": error.message}, list(error.headers.items()))


def throttling_error(retry_after: float | None) -> ServiceError:
    """Figma's 429, with the Retry-After (seconds) it sends."""
    seconds = max(1, math.ceil(retry_after)) if retry_after else 60
    return ServiceError("RateLimited", "Rate limit exceeded", 429, headers={"Retry-After": str(seconds)})
