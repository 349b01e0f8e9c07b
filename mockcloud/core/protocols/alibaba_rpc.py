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

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ..auth import alibaba
from ..errors import ServiceError
from ..request import Reply, json_reply, request_host
from ..service import Exchange, ServiceContext, ServiceProtocol
from ..text import xml_safe

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


def _text(raw: str) -> str:
    """A query string as the client sent it: WSGI hands bytes over as latin-1."""
    if raw.isascii():
        return raw
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


@dataclass(slots=True, eq=False)
class RpcExchange(Exchange):
    wire: dict[str, str] | None = None  # every parameter (query, then form body over it), parsed once
    query: list[tuple[str, str]] | None = None  # the query string's own pairs, for the signature


class AlibabaRpcProtocol(ServiceProtocol[RpcExchange]):
    """Subclasses set the class attributes and declare one ``@operation`` method per Action.

    Each method gets the exchange, whose ``params`` are the operation's
    parameters (a dict of strings, common parameters removed) and whose
    ``caller`` is the signer (an :class:`~..auth.alibaba.AlibabaPrincipal`, or
    None for an anonymous request). ``@operation(anonymous=True)`` lets an
    operation be called without a signature; a signature, when sent, is verified.
    """

    exchange_type = RpcExchange
    api_version: str = ""
    product: str = ""  # for the Recommend link, as the API troubleshooter names it
    operation_options = frozenset({"anonymous"})
    anonymous_operations: frozenset[str] = frozenset()
    time_window: float = alibaba.TIME_WINDOW_SECONDS

    @classmethod
    def compile_operations(cls) -> None:
        cls.anonymous_operations = frozenset(name for name, op in cls.operations.items() if op.options.get("anonymous"))

    def __init__(self, context: ServiceContext, model: Any) -> None:
        super().__init__(context, model)
        self.nonces = alibaba.NonceCache(self.time_window)

    @staticmethod
    def parameters(exchange: RpcExchange) -> dict[str, str]:
        """All parameters (query, then form body over it); parsed once per request, with the query's own pairs."""
        params = exchange.wire
        if params is not None:
            return params
        environ = exchange.request.environ
        query = parse_qsl(_text(environ.get("QUERY_STRING", "")), keep_blank_values=True, errors="replace")
        params = dict(query)
        if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
            body = exchange.body
            if body:
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, errors="replace"))
        exchange.wire, exchange.query = params, query
        return params

    # ---- steps --------------------------------------------------------------
    def operation_of(self, exchange: RpcExchange) -> str:
        return self.parameters(exchange).get("Action") or exchange.request.environ.get("HTTP_X_ACS_ACTION") or ""

    def authenticate(self, exchange: RpcExchange) -> alibaba.AlibabaPrincipal | None:
        params = self.parameters(exchange)
        principal = alibaba.verify(
            exchange.request,
            params,
            self.context.credentials,
            self.context.clock.time(),
            self.nonces,
            body=exchange.body,
            query=exchange.query or (),
            window=self.time_window,
            host_now=self.context.clock.host_time(),
        )
        operation = exchange.operation
        if principal is None and operation in self.operations and operation not in self.anonymous_operations:
            raise alibaba.missing("AccessKeyId")
        return principal

    def parse(self, exchange: RpcExchange) -> dict[str, str]:
        request = exchange.request
        if request.method not in ("GET", "POST"):
            raise ServiceError("UnsupportedHTTPMethod", "Specified http method is not supported.", 400, common=True)
        params = self.parameters(exchange)
        operation = exchange.operation
        version = params.get("Version") or request.environ.get("HTTP_X_ACS_VERSION")
        if not operation:
            raise alibaba.missing("Action")
        if not version:
            raise alibaba.missing("Version")
        if version != self.api_version:
            raise ServiceError("InvalidVersion", "Specified parameter Version is not valid.", 400, common=True)
        if operation not in self.operations or request.environ.get("PATH_INFO", "/") not in ("/", ""):
            raise ServiceError(
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
                404,
                common=True,
            )
        return {k: v for k, v in params.items() if k not in COMMON_PARAMETERS}

    def validate(self, exchange: RpcExchange) -> None:
        if self.schemas is None:
            return
        operation = exchange.operation
        violations = self.schemas.violations(operation, exchange.params)
        if not violations:
            return
        # one error per response, as the gateway gives: the first missing parameter in the schema's order
        order = {name: i for i, name in enumerate(self.schemas.schema(operation).get("required", ()))}
        first = min(
            violations, key=lambda v: (v.kind != "required", order.get(v.path[0] if v.path else "", len(order)))
        )
        name = str(first.path[0]) if first.path else "Parameter"
        if first.kind == "required" or (first.kind == "minLength" and first.value == ""):
            raise alibaba.missing(name)  # a blank value counts as a missing one
        raise invalid(name)

    # ---- replies ------------------------------------------------------------
    def _reply(
        self,
        exchange: RpcExchange,
        status: int,
        payload: dict[str, Any],
        request_id_: str,
        root: str,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Reply:
        headers = [("x-acs-request-id", request_id_)]
        headers.extend(extra)
        if self.parameters(exchange).get("Format", "").lower() == "xml":
            import xmltodict

            body = xmltodict.unparse({root: _xml_safe(payload)}, encoding="UTF-8").encode()
            content_type = "text/xml;charset=utf-8"
            return Reply(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers], body)
        return json_reply(status, payload, "application/json;charset=utf-8", headers, ascii_only=False)

    def render(self, exchange: RpcExchange, result: Any) -> Reply:
        rid = self.context.entropy.request_id().upper()
        return self._reply(
            exchange, 200, {"RequestId": rid, **(result or {})}, rid, f"{exchange.operation or 'Action'}Response"
        )

    def render_error(self, exchange: RpcExchange, error: ServiceError) -> Reply:
        rid = self.context.entropy.request_id().upper()
        payload = {
            "RequestId": rid,
            "HostId": request_host(exchange.request),
            "Code": error.code,
            "Message": error.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product={self.product}&requestId={rid}",
        }
        payload.update(error.fields)
        return self._reply(exchange, error.status, payload, rid, "Error", error.headers.items())

    # ---- errors the shared layers need ---------------------------------------
    def throttling_error(self, exchange: RpcExchange, retry_after: float | None) -> ServiceError:
        """``Throttling.User``; ``x-acs-retry-after`` in milliseconds (the tea SDK sleeps that many ms)."""
        headers = {}
        if retry_after is not None:
            headers["x-acs-retry-after"] = str(max(1, math.ceil(retry_after * 1000)))
        return ServiceError(
            "Throttling.User", "Request was denied due to user flow control.", 400, headers=headers, common=True
        )

    def internal_error(self) -> ServiceError:
        return ServiceError(
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
            500,
            common=True,
        )

    def malformed_request(self, exchange: RpcExchange, message: str) -> ServiceError:
        """The gateway's generic ``InvalidParameter`` (400), with the reason."""
        return ServiceError("InvalidParameter", f"Specified parameter is not valid. {message}", 400, common=True)

    def not_emulated_error(self, service: str, operation: str) -> ServiceError:
        """The gateway's error form, its ``Recommend`` link pointing at the coverage page."""
        from ..coverage import NotEmulated, anchor

        return NotEmulated(service, operation, fields={"Recommend": anchor(service)})

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
