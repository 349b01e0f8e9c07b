"""The User API on the wire: JSON bodies, ``Version`` header, Bearer tokens, RFC 9457 problem errors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar

from ...core import jsonbody
from ...core.auth.bearer import MalformedBearer, bearer_token, challenge
from ...core.errors import ServiceError
from ...core.request import Reply, json_reply, request_host
from ...core.service import Exchange, Operation, ServiceProtocol, operation
from ...core.validation import SchemaSet, Violation
from .errors import ERRORS, invalid_token
from .model import Mount, UserApiModel

_PREFIX = "/User/"  # every operation lives at {base}/User/<operation>
_JSON_TYPES = {"application/json", "text/json"}
_RFC6750_ERRORS = {"invalid_request", "invalid_token", "insufficient_scope"}
_REASONS = {s.value: s.phrase for s in HTTPStatus}
_JSON = "application/json; charset=utf-8"
_PROBLEM = "application/problem+json; charset=utf-8"
_NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]  # token responses (RFC 6749 §5.1)


def _code_of(status: int) -> str:
    """``too_many_requests`` for 429: the error code of a status that has no more specific one."""
    return _REASONS.get(status, "error").lower().replace(" ", "_").replace("-", "_")


def _violation_message(violation: Violation) -> str:
    name = ".".join(map(str, violation.path)) or "body"
    if violation.kind == "required":
        return f"The {name} field is required."
    if violation.kind == "minLength":
        return f"The {name} field must not be empty."
    if violation.kind == "maxLength":
        return f"The {name} field must be at most {violation.limit} characters long."
    return f"The {name} field must be a {violation.limit if isinstance(violation.limit, str) else 'valid value'}."


@dataclass(slots=True, eq=False)
class UserApiExchange(Exchange):
    mount: Mount | None = None  # the mount the request's host and path resolved to


def _mounted(exchange: UserApiExchange) -> Mount:
    """The request's mount: ``authenticate`` refuses a request without one, so every later step has it."""
    mount = exchange.mount
    assert mount is not None
    return mount


class UserApiProtocol(ServiceProtocol[UserApiExchange]):
    """Checks run in the order a real API gateway does them: route (404/405), ``Version`` (400),
    bearer token (401), content type (415), body (400), then the operation's own rules.

    Each operation declares its HTTP ``method``; ``body=True`` for one that takes
    a JSON body (checked against its schema) and answers tokens (not cached);
    ``bearer=False`` for one called without an access token; ``expired=True``
    for one that still takes an expired access token.
    """

    model: UserApiModel
    exchange_type = UserApiExchange
    schemas = SchemaSet(Path(__file__).with_name("schemas"))
    operation_options = frozenset({"method", "body", "bearer", "expired"})
    methods: ClassVar[dict[str, str]] = {}  # operation -> its HTTP method
    with_body: frozenset[str] = frozenset()
    without_bearer: frozenset[str] = frozenset()
    expired_bearer: frozenset[str] = frozenset()

    @classmethod
    def needs_schema(cls, declared: Operation) -> bool:
        return bool(declared.options.get("body"))

    @classmethod
    def compile_operations(cls) -> None:
        ops = cls.operations.values()
        for op in ops:
            if "method" not in op.options:
                raise TypeError(f"{cls.__qualname__}.{op.attribute}: a User API operation needs method=")
        cls.methods = {op.name: op.options["method"] for op in ops}
        cls.with_body = frozenset(op.name for op in ops if op.options.get("body"))
        cls.without_bearer = frozenset(op.name for op in ops if op.options.get("bearer") is False)
        cls.expired_bearer = frozenset(op.name for op in ops if op.options.get("expired"))

    # ---- the operations -------------------------------------------------------
    @operation(method="POST", body=True, bearer=False)
    def login(self, x: UserApiExchange) -> dict[str, Any]:
        access, refresh = self.model.login(_mounted(x), x.params["username"], x.params["password"])
        return {"accessToken": access, "refreshToken": refresh}

    # an expired access token is still good for refreshing it: that is the point of RefreshToken
    @operation(method="POST", body=True, expired=True)
    def refresh_token(self, x: UserApiExchange) -> dict[str, Any]:
        access, refresh = self.model.refresh(_mounted(x), x.caller, x.params["refreshToken"])
        return {"accessToken": access, "refreshToken": refresh}

    @operation(method="POST")
    def logout(self, x: UserApiExchange) -> None:
        self.model.logout(_mounted(x), x.caller)

    @operation(method="GET")
    def me(self, x: UserApiExchange) -> dict[str, Any]:
        return self.model.me(_mounted(x), x.caller)

    # ---- the steps ----------------------------------------------------------
    def operation_of(self, exchange: UserApiExchange) -> str:
        request = exchange.request
        found = self.model.resolve(
            request_host(request), request.environ.get("PATH_INFO", "/"), not exchange.in_process
        )
        if found is None:
            return ""
        exchange.mount, rest = found
        return rest[len(_PREFIX) :] if rest.startswith(_PREFIX) else ""

    def authenticate(self, exchange: UserApiExchange) -> dict[str, Any] | None:
        request, operation, mount = exchange.request, exchange.operation, exchange.mount
        environ = request.environ
        method = self.methods.get(operation)
        if mount is None or method is None:
            raise ERRORS.error("not_found", f"No resource at {request.method} {request.path}.")
        if request.method != method:
            raise ERRORS.error(
                "method_not_allowed", f"{operation} takes {method}, not {request.method}.", headers={"Allow": method}
            )
        version = environ.get("HTTP_VERSION")
        if version is None:
            raise ERRORS.error(
                "api_version_unspecified",
                f"The Version header is required; supported: {', '.join(sorted(mount.versions))}.",
            )
        if version.strip() not in mount.versions:
            raise ERRORS.error(
                "unsupported_api_version",
                f"API version {version!r} is not supported; supported: {', '.join(sorted(mount.versions))}.",
            )
        if operation in self.without_bearer:
            return None
        try:
            token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        except MalformedBearer:
            raise invalid_token("malformed", "The Authorization header is not a Bearer access token.") from None
        if token is None:
            raise invalid_token("missing", "The request has no Bearer access token.")
        return self.model.verify_access(mount, token, allow_expired=operation in self.expired_bearer)

    def parse(self, exchange: UserApiExchange) -> Any:
        if exchange.operation not in self.with_body:
            return None
        request = exchange.request
        mimetype = request.mimetype
        if mimetype not in _JSON_TYPES and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
            shown = request.environ.get("CONTENT_TYPE") or "none"
            raise ERRORS.error(
                "unsupported_media_type", f"The Content-Type {shown!r} is not supported; use application/json."
            )
        body = exchange.body
        if not body.strip():
            raise ERRORS.error("invalid_request", "A non-empty request body is required.")
        try:
            params = jsonbody.loads(body)
        except jsonbody.BadJson as exc:
            raise ERRORS.error("invalid_request", f"The request body is not valid JSON: {exc}.") from None
        if not isinstance(params, dict):
            raise ERRORS.error("invalid_request", "The request body must be a JSON object.")
        return params

    def validate(self, exchange: UserApiExchange) -> None:
        params = exchange.params
        if params is None:
            return
        violations = self.schemas.violations(exchange.operation, params)
        if violations:
            errors: dict[str, list[str]] = {}
            for violation in violations:
                errors.setdefault(".".join(map(str, violation.path)), []).append(_violation_message(violation))
            raise ERRORS.error("invalid_request", "One or more validation errors occurred.", fields={"errors": errors})

    def render(self, exchange: UserApiExchange, result: Any) -> Reply:
        versions = self._versions(_mounted(exchange))
        if result is None:
            return Reply(204, [versions], b"")
        headers = [versions]
        if exchange.operation in self.with_body:
            headers.extend(_NO_STORE)
        return json_reply(200, result, _JSON, headers, ascii_only=False)

    def render_error(self, exchange: UserApiExchange, error: ServiceError) -> Reply:
        """RFC 9457 problem details, with the machine-readable ``error`` code beside them."""
        status = error.status
        payload = {
            "type": "about:blank",
            "title": _REASONS.get(status, "Error"),
            "status": status,
            "detail": error.message,
            "error": error.code,
        }
        payload.update(error.fields)
        headers = []
        mount = exchange.mount
        if mount is not None:
            headers.append(self._versions(mount))
        headers.extend(error.headers.items())
        names = {name.lower() for name in error.headers}
        if status == 401 and "www-authenticate" not in names:
            # RFC 9110 §15.5.2: every 401 carries a challenge; RFC 6750 §3 words it for bearer tokens
            rfc6750 = error.code in _RFC6750_ERRORS
            realm = mount.base_url if mount is not None else None
            headers.append(
                (
                    "WWW-Authenticate",
                    challenge(realm, error.code if rfc6750 else None, error.message if rfc6750 else None),
                )
            )
        if status == 429 and "retry-after" not in names:
            headers.append(("Retry-After", "1"))
        return json_reply(status, payload, _PROBLEM, headers, ascii_only=False)  # client text may hold a lone surrogate

    @staticmethod
    def _versions(mount: Mount) -> tuple[str, str]:
        return ("api-supported-versions", ", ".join(sorted(mount.versions)))

    # ---- errors the shared layers need worded --------------------------------
    def throttling_error(self, exchange: UserApiExchange, retry_after: float | None) -> ServiceError:
        seconds = max(1, math.ceil(retry_after)) if retry_after else 1
        return ERRORS.error(
            "too_many_requests",
            f"Too many requests: retry after {seconds} second(s).",
            headers={"Retry-After": str(seconds)},
        )

    def internal_error(self) -> ServiceError:
        return ERRORS.error("server_error")

    def malformed_request(self, exchange: UserApiExchange, message: str) -> ServiceError:
        return ERRORS.error("invalid_request", message)

    def injected_error(self, code: str | None, status: int | None, message: str | None) -> ServiceError:
        if code is None:
            status = status or 500
            code = "server_error" if status >= 500 else _code_of(status)
        return ServiceError(code, message or f"mockcloud injected fault: {code}", status or 400)
