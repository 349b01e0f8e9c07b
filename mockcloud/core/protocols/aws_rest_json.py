"""AWS REST-JSON: operations routed by method and path template, SigV4, ``x-amzn-ErrorType`` errors.

A service declares its operations as data: ``routes`` maps an operation to
``(method, path template)`` (optionally a third element, the success
status), ``payloads`` names the member that *is* the body when the model
binds one (``"payload": "request"`` in botocore's shape), and ``operations``
names the protocol method that carries the operation out. Path labels in a
template use the member names (``/tokens/{provider}``); a last label written
``{key+}`` takes the rest of the path. The templates are compiled once per
class into a dictionary keyed by method and segment count, so routing a
request is one lookup and a comparison of a few segments.

Errors are rendered as REST-JSON services return them: the code in the
``x-amzn-ErrorType`` header and ``{"message": ...}`` as the body. SigV4
failures answer 403, as REST-JSON front doors do (Lambda, API Gateway-style
endpoints), with the codes and messages of :mod:`..auth.sigv4`.
"""
from __future__ import annotations

import json
from typing import Any, NamedTuple
from urllib.parse import unquote

from .. import jsonbody
from ..auth import sigv4
from ..errors import ServiceError
from ..request import Reply, Request, raw_path, request_body
from ..service import ServiceProtocol
from ..validation import SchemaSet
from .aws_common import raise_for_violations, request_id

_compact = json.JSONEncoder(separators=(",", ":")).encode
_ROUTE_KEY = "mockcloud.rest_route"


class _Route(NamedTuple):
    operation: str
    segments: tuple  # a literal segment is a str, a label is a 1-tuple (member name,)
    greedy: str | None  # member name of a trailing {key+} label
    status: int


def compile_routes(routes: dict[str, tuple]) -> dict[tuple[str, int], list[_Route]]:
    """``{operation: (method, template[, status])}`` → routes by (method, segment count), literal-richest first.

    A greedy route is filed under a negative count: it matches any path at least that long.
    """
    table: dict[tuple[str, int], list[_Route]] = {}
    for operation, spec in routes.items():
        method, template = spec[0].upper(), spec[1].split("?", 1)[0]
        status = spec[2] if len(spec) > 2 else 200
        parts = template.split("/")
        greedy = None
        if parts[-1].startswith("{") and parts[-1].endswith("+}"):
            greedy = parts.pop()[1:-2]
        segments = tuple((p[1:-1],) if p.startswith("{") and p.endswith("}") else p for p in parts)
        key = (method, -len(segments) if greedy else len(segments))
        table.setdefault(key, []).append(_Route(operation, segments, greedy, status))
    for candidates in table.values():
        candidates.sort(key=lambda r: sum(isinstance(s, tuple) for s in r.segments))
    return table


def match_route(table: dict, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
    """The route a (still percent-encoded) path takes, and its labels decoded."""
    parts = path.split("/")
    for candidate in table.get((method, len(parts)), ()):
        labels = _match(candidate, parts)
        if labels is not None:
            return candidate, labels
    for (route_method, count), candidates in table.items():
        if count < 0 and route_method == method and len(parts) > -count:
            for candidate in candidates:
                labels = _match(candidate, parts[: -count])
                if labels is not None:
                    labels[candidate.greedy] = unquote("/".join(parts[-count:]))
                    return candidate, labels
    return None


def _match(route: _Route, parts: list[str]) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    for expected, actual in zip(route.segments, parts):
        if isinstance(expected, tuple):
            labels[expected[0]] = unquote(actual)
        elif expected != unquote(actual):
            return None
    return labels


class AwsRestJsonProtocol(ServiceProtocol):
    """Subclasses set the class attributes and implement one method per operation."""

    signing_name: str = ""
    routes: dict[str, tuple] = {}
    payloads: dict[str, str] = {}  # operation -> the member bound to the whole body
    operations: dict[str, str] = {}  # operation -> protocol method name
    schemas: SchemaSet | None = None
    validation_code: str = "ValidationException"
    serialization_code: str = "SerializationException"
    throttling_code: str = "ThrottlingException"
    throttling_status: int = 429
    throttling_message: str = "Rate exceeded"
    internal_code: str = "InternalFailure"
    internal_message: str = "An internal error occurred."
    unknown_operation_status: int = 404
    auth_error_status: int = 403
    _route_table: dict = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._route_table = compile_routes(cls.routes)

    # ---- the steps ------------------------------------------------------------
    def operation_of(self, request: Request) -> str:
        found = match_route(self._route_table, request.method, raw_path(request))
        request.environ[_ROUTE_KEY] = found
        return found[0].operation if found is not None else ""

    def authenticate(self, request: Request, operation: str) -> sigv4.AwsPrincipal:
        try:
            return sigv4.authenticate(request, self.context, self.signing_name)
        except ServiceError as error:
            raise self._front_door_error(error) from None

    def _front_door_error(self, error: ServiceError) -> ServiceError:
        """A SigV4 refusal as REST-JSON endpoints word it: 403, API Gateway's missing-token message."""
        error.status = self.auth_error_status
        if error.code == "MissingAuthenticationTokenException":
            error.message = "Missing Authentication Token"
        return error

    def parse(self, request: Request, operation: str) -> dict:
        found = request.environ.get(_ROUTE_KEY)
        if found is None or operation not in self.operations:
            raise ServiceError("UnknownOperationException", "Unknown operation", self.unknown_operation_status, common=True)
        route, labels = found
        params: dict[str, Any] = {}
        body = request_body(request)
        if body.strip():
            try:
                document = jsonbody.loads(body)
            except jsonbody.BadJson as exc:
                raise ServiceError(self.serialization_code, f"The request body is not valid: {exc}.", 400) from None
            if not isinstance(document, dict):
                raise ServiceError(self.serialization_code, "The request body must be a JSON object.", 400)
            payload = self.payloads.get(operation)
            if payload is not None:
                params[payload] = document
            else:
                params.update(document)
        params.update(labels)
        self.bind(operation, request, params)
        return params

    def bind(self, operation: str, request: Request, params: dict) -> None:
        """Add members bound to headers or the query string (none by default)."""

    def validate(self, operation: str, params: Any) -> None:
        if self.schemas is None:
            return
        raise_for_violations(
            self.schemas.violations(operation, params),
            validation_code=self.validation_code,
            serialization_code=self.serialization_code,
            common=False,
        )

    def invoke(self, operation: str, params: Any, caller: Any, request: Request) -> Any:
        return getattr(self, self.operations[operation])(params, caller)

    # ---- the answers ------------------------------------------------------------
    def _reply(self, status: int, payload: dict, extra=()) -> Reply:
        body = _compact(payload).encode()
        headers = [
            ("x-amzn-RequestId", request_id()),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
        ]
        headers.extend(extra)
        return Reply(status, headers, body)

    def render(self, operation: str, result: Any, request: Request) -> Reply:
        found = request.environ.get(_ROUTE_KEY)
        return self._reply(found[0].status if found else 200, result or {})

    def render_error(self, error: ServiceError, operation: str, request: Request) -> Reply:
        payload = {"message": error.message}
        payload.update(error.fields)
        extra = [("x-amzn-ErrorType", error.code)]
        extra.extend(error.headers.items())
        return self._reply(error.status, payload, extra)

    def throttling_error(self, operation: str, retry_after: float | None) -> ServiceError:
        return ServiceError(self.throttling_code, self.throttling_message, self.throttling_status)

    def internal_error(self) -> ServiceError:
        return ServiceError(self.internal_code, self.internal_message, 500)

    def malformed_request(self, request: Request, message: str) -> ServiceError:
        return ServiceError(self.serialization_code, message, 400)
