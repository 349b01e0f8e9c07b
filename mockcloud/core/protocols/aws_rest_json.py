"""AWS REST-JSON: operations routed by method and path template, SigV4, ``x-amzn-ErrorType`` errors.

A service declares each operation's route on its method::

    @operation(method="POST", path="/tokens/{provider}/refresh", payload="refreshTokenBody")
    def refresh_token(self, x: RestJsonExchange) -> dict[str, Any]: ...

``status`` is the success status (200 by default), ``payload`` names the
member that *is* the body when the model binds one (``"payload": "request"``
in botocore's shape), and ``query`` names the members bound to the query
string (``query=("nextToken", "maxResults")``): a member whose schema is an
integer is read as one, an array takes every value of its name. Path labels in a template use the member names
(``/tokens/{provider}``); a last label written ``{key+}`` takes the rest of
the path. The templates are compiled once per class into a dictionary keyed
by method and segment count, so routing a request is one lookup and a
comparison of a few segments; two operations on one route fail the class.

Errors are rendered as REST-JSON services return them: the code in the
``x-amzn-ErrorType`` header and ``{"message": ...}`` as the body. SigV4
failures answer 403, as REST-JSON front doors do (Lambda, API Gateway-style
endpoints), with the codes and messages of :mod:`..auth.sigv4`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, TypeVar
from urllib.parse import unquote

from .. import jsonbody
from ..auth import sigv4
from ..errors import ServiceError
from ..request import Reply, json_reply, raw_path
from ..service import Exchange, Operation, ServiceProtocol
from .aws_common import AwsAuthorization, raise_for_violations


class _Route(NamedTuple):
    operation: str
    segments: tuple[str | tuple[str], ...]  # a literal segment is a str, a label is a 1-tuple (member name,)
    greedy: str | None  # member name of a trailing {key+} label
    status: int


RouteTable = dict[tuple[str, int], list[_Route]]
RouteMatch = tuple[_Route, dict[str, str]]  # the route a request took, and its path labels decoded
RouteSpec = tuple[str, str] | tuple[str, str, int]  # (method, template[, status])


def compile_routes(routes: dict[str, RouteSpec]) -> RouteTable:
    """``{operation: (method, template[, status])}`` → routes by (method, segment count), literal-richest first.

    A greedy route is filed under a negative count: it matches any path at least that long. Two
    operations on the same method and template are a ``TypeError``: a request could not tell them apart.
    """
    table: RouteTable = {}
    seen: dict[tuple[str, tuple[str | tuple[()], ...], str | None], str] = {}
    for operation, spec in routes.items():
        method, template = spec[0].upper(), spec[1].split("?", 1)[0]
        status = spec[2] if len(spec) > 2 else 200
        parts = template.split("/")
        greedy = None
        if parts[-1].startswith("{") and parts[-1].endswith("+}"):
            greedy = parts.pop()[1:-2]
        segments = tuple((p[1:-1],) if p.startswith("{") and p.endswith("}") else p for p in parts)
        shape = (method, tuple(() if isinstance(s, tuple) else s for s in segments), greedy and "+")
        if shape in seen:
            raise TypeError(f"operations {seen[shape]} and {operation} share the route {method} {spec[1]}")
        seen[shape] = operation
        key = (method, -len(segments) if greedy else len(segments))
        table.setdefault(key, []).append(_Route(operation, segments, greedy, status))
    for candidates in table.values():
        candidates.sort(key=lambda r: sum(isinstance(s, tuple) for s in r.segments))
    return table


def match_route(table: RouteTable, method: str, path: str) -> RouteMatch | None:
    """The route a (still percent-encoded) path takes, and its labels decoded."""
    parts = path.split("/")
    for candidate in table.get((method, len(parts)), ()):
        labels = _match(candidate, parts)
        if labels is not None:
            return candidate, labels
    for (route_method, count), candidates in table.items():
        if count < 0 and route_method == method and len(parts) > -count:
            for candidate in candidates:
                labels = _match(candidate, parts[:-count])
                if labels is not None:
                    assert candidate.greedy is not None  # filed under a negative count: it has a greedy label
                    labels[candidate.greedy] = unquote("/".join(parts[-count:]))
                    return candidate, labels
    return None


def _match(route: _Route, parts: list[str]) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    # as many (a greedy route's rest is cut off before); strict= would cost a keyword call on every request
    for expected, actual in zip(route.segments, parts):  # noqa: B905
        if isinstance(expected, tuple):
            labels[expected[0]] = unquote(actual)
        elif expected != unquote(actual):
            return None
    return labels


def _is_integer(text: str) -> bool:
    digits = text[1:] if text[:1] == "-" else text
    return 0 < len(digits) <= 20 and digits.isascii() and digits.isdigit()


@dataclass(slots=True, eq=False)
class RestJsonExchange(Exchange):
    route: RouteMatch | None = None  # the route ``operation_of`` matched, for ``parse`` and ``render``


R = TypeVar("R", bound=RestJsonExchange)


class AwsRestJsonProtocol(AwsAuthorization, ServiceProtocol[R]):
    """Subclasses set the class attributes and declare one routed ``@operation`` method per operation."""

    exchange_type = RestJsonExchange  # type: ignore[assignment]
    signing_name: str = ""
    operation_options = frozenset({"method", "path", "status", "payload", "query"})
    payloads: ClassVar[dict[str, str]] = {}  # operation -> the member bound to the whole body (from ``payload=``)
    query_members: ClassVar[dict[str, tuple[str, ...]]] = {}  # operation -> members bound to the query string
    validation_code: str = "ValidationException"
    serialization_code: str = "SerializationException"
    throttling_code: str = "ThrottlingException"
    throttling_status: int = 429
    throttling_message: str = "Rate exceeded"
    internal_code: str = "InternalFailure"
    internal_message: str = "An internal error occurred."
    unknown_operation_status: int = 404
    auth_error_status: int = 403
    access_denied_status = 403
    _route_table: ClassVar[RouteTable] = {}
    _model_route_table: ClassVar[RouteTable | None] = None  # every route the model declares, compiled when needed

    @classmethod
    def routed_operations(cls) -> Iterable[Operation]:
        """The operations the REST-JSON routes reach (a subclass may answer others on another wire)."""
        return cls.operations.values()

    @classmethod
    def compile_operations(cls) -> None:
        routes: dict[str, RouteSpec] = {}
        for op in cls.routed_operations():
            options = op.options
            if "method" not in options or "path" not in options:
                raise TypeError(f"{cls.__qualname__}.{op.attribute}: a REST-JSON operation needs method= and path=")
            routes[op.name] = (options["method"], options["path"], options.get("status", 200))
        cls._route_table = compile_routes(routes)
        cls._model_route_table = None
        routed = list(cls.routed_operations())
        cls.payloads = {op.name: op.options["payload"] for op in routed if "payload" in op.options}
        cls.query_members = {op.name: tuple(op.options["query"]) for op in routed if "query" in op.options}

    # ---- the steps ------------------------------------------------------------
    def operation_of(self, exchange: R) -> str:
        request = exchange.request
        found = exchange.route = match_route(self._route_table, request.method, raw_path(request))
        if found is not None:
            return found[0].operation
        # not emulated, perhaps: the model's own route names it (``parse`` still refuses it)
        model = match_route(self._model_routes(), request.method, raw_path(request))
        return model[0].operation if model is not None else ""

    @classmethod
    def _model_routes(cls) -> RouteTable:
        table = cls._model_route_table
        if table is None:
            declared = cls.model_operations()
            routes: dict[str, RouteSpec] = dict(declared.routes()) if declared is not None else {}
            table = cls._model_route_table = compile_routes(routes)
        return table

    def authenticate(self, exchange: R) -> sigv4.AwsPrincipal:
        try:
            return sigv4.authenticate(exchange.request, self.context, self.signing_name)
        except ServiceError as error:
            raise self._front_door_error(error) from None

    def _front_door_error(self, error: ServiceError) -> ServiceError:
        """A SigV4 refusal as REST-JSON endpoints word it: 403, API Gateway's missing-token message."""
        error.status = self.auth_error_status
        if error.code == "MissingAuthenticationTokenException":
            error.message = "Missing Authentication Token"
        return error

    def parse(self, exchange: R) -> dict[str, Any]:
        found = exchange.route
        operation = exchange.operation
        if found is None or operation not in self.operations:
            raise ServiceError(
                "UnknownOperationException", "Unknown operation", self.unknown_operation_status, common=True
            )
        labels = found[1]
        params: dict[str, Any] = {}
        body = exchange.body
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
        self.bind(exchange, params)
        return params

    def bind(self, exchange: R, params: dict[str, Any]) -> None:
        """Add the members bound to the query string (``query=``), typed as their schemas say."""
        members = self.query_members.get(exchange.operation)
        if not members:
            return
        from urllib.parse import parse_qsl

        raw = exchange.request.environ.get("QUERY_STRING", "")
        pairs = parse_qsl(raw.encode("latin-1").decode("utf-8", "replace"), keep_blank_values=True)
        properties = self.schemas.schema(exchange.operation).get("properties", {}) if self.schemas else {}
        for member in members:
            values = [value for name, value in pairs if name == member]
            if not values:
                continue
            kind = properties.get(member, {}).get("type")
            if kind == "array":
                params[member] = values
            elif kind == "integer" and _is_integer(values[0]):
                params[member] = int(values[0])
            else:  # a string, or an integer that is none: validation words it
                params[member] = values[0]

    def validate(self, exchange: R) -> None:
        if self.schemas is None:
            return
        raise_for_violations(
            self.schemas.violations(exchange.operation, exchange.params),
            validation_code=self.validation_code,
            serialization_code=self.serialization_code,
            common=False,
        )

    # ---- the answers ------------------------------------------------------------
    def _reply(self, status: int, payload: dict[str, Any], extra: Iterable[tuple[str, str]] = ()) -> Reply:
        headers = [("x-amzn-RequestId", self.context.entropy.request_id())]
        headers.extend(extra)
        return json_reply(status, payload, "application/json", headers)

    def render(self, exchange: R, result: Any) -> Reply:
        found = exchange.route
        return self._reply(found[0].status if found else 200, result or {})

    def render_error(self, exchange: R, error: ServiceError) -> Reply:
        payload = {"message": error.message}
        payload.update(error.fields)
        extra = [("x-amzn-ErrorType", error.code)]
        extra.extend(error.headers.items())
        return self._reply(error.status, payload, extra)

    def throttling_error(self, exchange: R, retry_after: float | None) -> ServiceError:
        return ServiceError(self.throttling_code, self.throttling_message, self.throttling_status)

    def internal_error(self) -> ServiceError:
        return ServiceError(self.internal_code, self.internal_message, 500)

    def malformed_request(self, exchange: R, message: str) -> ServiceError:
        return ServiceError(self.serialization_code, message, 400)
