"""Alibaba Cloud RPC style: ``Action``/``Version`` APIs on ``/``, JSON (or XML) out, POP gateway errors.

Parameters come from the query and from an ``application/x-www-form-urlencoded``
body, decoded with form semantics (``+`` and ``%20`` are spaces, a raw ``:``
is a colon, blank values are kept); ``Action`` and ``Version`` may instead
travel in the ``x-acs-action``/``x-acs-version`` headers (the ACS3 style).
Signatures are checked by :mod:`..auth.alibaba`; errors are the gateway's
``{RequestId, HostId, Code, Message, Recommend}`` with a 4xx/5xx status,
because both Python SDKs judge success by the status alone.
"""
from __future__ import annotations

import json
import math
import uuid
from typing import Any
from urllib.parse import parse_qsl

from ..auth import alibaba
from ..errors import ServiceError
from ..request import Reply, Request, request_body, request_host
from ..service import ServiceContext, ServiceProtocol
from ..text import xml_safe
from ..validation import SchemaSet

_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_PARAMS = "mockcloud.alibaba.params"
_QUERY = "mockcloud.alibaba.query"

# Parameters of the protocol itself, never handed to an operation.
COMMON_PARAMETERS = frozenset(
    {
        "Action",
        "Version",
        "Format",
        "Timestamp",
        "SignatureNonce",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureType",
        "AccessKeyId",
        "Signature",
        "SecurityToken",
        "BearerToken",
    }
)
_TRUE = frozenset({"true"})
_BOOLEANS = frozenset({"true", "false"})


def boolean(value: str | bool | None) -> bool | None:
    """An RPC boolean: ``true``/``True``/``TRUE`` (Python SDKs send ``str(True)``)."""
    if value is None or isinstance(value, bool):
        return value
    return value.strip().lower() in _TRUE


def is_boolean(value: str) -> bool:
    return value.strip().lower() in _BOOLEANS


def request_id() -> str:
    """Alibaba's RequestId: an upper-case UUID."""
    return str(uuid.uuid4()).upper()


def _text(raw: str) -> str:
    """A query string as the client sent it: WSGI hands bytes over as latin-1."""
    if raw.isascii():
        return raw
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def request_parameters(request: Request) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """All parameters (query, then form body over it) and the query's own pairs; parsed once per request."""
    environ = request.environ
    params = environ.get(_PARAMS)
    if params is not None:
        return params, environ[_QUERY]
    query = parse_qsl(_text(environ.get("QUERY_STRING", "")), keep_blank_values=True, errors="replace")
    params = dict(query)
    if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
        body = request_body(request)
        if body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, errors="replace"))
    environ[_PARAMS] = params
    environ[_QUERY] = query
    return params, query


class AlibabaRpcProtocol(ServiceProtocol):
    """Subclasses set the class attributes and implement one method per operation.

    ``operations`` maps an Action to the name of the protocol method that
    carries it out with the operation's parameters (a dict of strings, common
    parameters removed) and the signer (an :class:`~..auth.alibaba.AlibabaPrincipal`
    or None for an anonymous request).
    """

    api_version: str = ""
    product: str = ""  # for the Recommend link, as the API troubleshooter names it
    operations: dict[str, str] = {}
    anonymous_operations: frozenset[str] | None = None  # None: every operation needs a signature
    schemas: SchemaSet | None = None
    time_window: float = alibaba.TIME_WINDOW_SECONDS

    def __init__(self, context: ServiceContext, model: Any) -> None:
        super().__init__(context, model)
        self.nonces = alibaba.NonceCache(self.time_window)

    # ---- steps --------------------------------------------------------------
    def operation_of(self, request: Request) -> str:
        params, _ = request_parameters(request)
        return params.get("Action") or request.environ.get("HTTP_X_ACS_ACTION") or ""

    def authenticate(self, request: Request, operation: str) -> alibaba.AlibabaPrincipal | None:
        params, query = request_parameters(request)
        principal = alibaba.verify(
            request,
            params,
            self.context.credentials,
            self.context.clock.time(),
            self.nonces,
            body=request_body(request),
            query=query,
            window=self.time_window,
        )
        if principal is None and operation in self.operations:
            anonymous = self.anonymous_operations
            if anonymous is None or operation not in anonymous:
                raise alibaba.missing("AccessKeyId")
        return principal

    def parse(self, request: Request, operation: str) -> dict[str, str]:
        if request.method not in ("GET", "POST"):
            raise ServiceError("UnsupportedHTTPMethod", "Specified http method is not supported.", 400, common=True)
        params, _ = request_parameters(request)
        version = params.get("Version") or request.environ.get("HTTP_X_ACS_VERSION")
        if not operation:
            raise alibaba.missing("Action")
        if not version:
            raise alibaba.missing("Version")
        if version != self.api_version:
            raise ServiceError("InvalidVersion", "Specified parameter Version is not valid.", 400, common=True)
        if operation not in self.operations or request.environ.get("PATH_INFO", "/") not in ("/", ""):
            raise ServiceError(
                "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", 404, common=True
            )
        return {k: v for k, v in params.items() if k not in COMMON_PARAMETERS}

    def validate(self, operation: str, params: Any) -> None:
        if self.schemas is None:
            return
        violations = self.schemas.violations(operation, params)
        if not violations:
            return
        # one error per response, as the gateway gives: the first missing parameter in the schema's order
        order = {name: i for i, name in enumerate(self.schemas.schema(operation).get("required", ()))}
        first = min(violations, key=lambda v: (v.kind != "required", order.get(v.path[0] if v.path else "", len(order))))
        name = str(first.path[0]) if first.path else "Parameter"
        if first.kind == "required" or (first.kind == "minLength" and first.value == ""):
            raise alibaba.missing(name)  # a blank value counts as a missing one
        raise invalid(name)

    def invoke(self, operation: str, params: Any, caller: Any, request: Request) -> Any:
        return getattr(self, self.operations[operation])(params, caller)

    # ---- replies ------------------------------------------------------------
    def _format(self, request: Request) -> str:
        params, _ = request_parameters(request)
        return "xml" if params.get("Format", "").lower() == "xml" else "json"

    def _reply(self, status: int, payload: dict, request_id_: str, request: Request, root: str, extra=()) -> Reply:
        if self._format(request) == "xml":
            import xmltodict

            body = xmltodict.unparse({root: _xml_safe(payload)}, encoding="UTF-8").encode()
            content_type = "text/xml;charset=utf-8"
        else:
            body = _compact(payload).encode("utf-8", "replace")  # client text may hold a lone surrogate
            content_type = "application/json;charset=utf-8"
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("x-acs-request-id", request_id_),
        ]
        headers.extend(extra)
        return Reply(status, headers, body)

    def render(self, operation: str, result: Any, request: Request) -> Reply:
        rid = request_id()
        return self._reply(200, {"RequestId": rid, **(result or {})}, rid, request, f"{operation or 'Action'}Response")

    def render_error(self, error: ServiceError, operation: str, request: Request) -> Reply:
        rid = request_id()
        payload = {
            "RequestId": rid,
            "HostId": request_host(request),
            "Code": error.code,
            "Message": error.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product={self.product}&requestId={rid}",
        }
        payload.update(error.fields)
        return self._reply(error.status, payload, rid, request, "Error", error.headers.items())

    # ---- errors the shared layers need ---------------------------------------
    def throttling_error(self, operation: str, retry_after: float | None) -> ServiceError:
        """``Throttling.User``; ``x-acs-retry-after`` in milliseconds (the tea SDK sleeps that many ms)."""
        headers = {}
        if retry_after is not None:
            headers["x-acs-retry-after"] = str(max(1, math.ceil(retry_after * 1000)))
        return ServiceError("Throttling.User", "Request was denied due to user flow control.", 400, headers=headers, common=True)

    def internal_error(self) -> ServiceError:
        return ServiceError(
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
            500,
            common=True,
        )

    def malformed_request(self, request: Request, message: str) -> ServiceError:
        """The gateway's generic ``InvalidParameter`` (400), with the reason."""
        return ServiceError("InvalidParameter", f"Specified parameter is not valid. {message}", 400, common=True)

    def injected_error(self, code: str | None, status: int | None, message: str | None) -> ServiceError:
        if code is None and status == 503:
            return ServiceError(
                "ServiceUnavailable", message or "The request has failed due to a temporary failure of the server.", 503
            )
        return super().injected_error(code, status, message)


def _xml_safe(value: Any) -> Any:
    """The payload with its text fit for XML 1.0 (client text such as HostId may hold control characters)."""
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, dict):
        return {key: _xml_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_xml_safe(item) for item in value]
    return value


def invalid(name: str) -> ServiceError:
    """The gateway's ``Invalid<Param>``."""
    return ServiceError(f"Invalid{name}", f"Specified parameter {name} is not valid.", 400)
