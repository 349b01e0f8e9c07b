"""The User API on the wire: JSON bodies, ``Version`` header, Bearer tokens, RFC 9457 problem errors."""
from __future__ import annotations

import json
import math
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ...core import jsonbody
from ...core.auth.bearer import MalformedBearer, bearer_token, challenge
from ...core.errors import ServiceError
from ...core.request import Reply, Request, request_body, request_host
from ...core.service import ServiceProtocol
from ...core.validation import SchemaSet, Violation
from .model import invalid_token

_SCHEMAS = SchemaSet(Path(__file__).with_name("schemas"))
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_MOUNT = "mockcloud.userapi.mount"  # where operation_of leaves the mount for the later steps
_PREFIX = "/User/"

# operation -> method; every operation lives at {base}/User/<operation>
OPERATIONS = {"Login": "POST", "RefreshToken": "POST", "Logout": "POST", "Me": "GET"}
_WITH_BODY = {"Login", "RefreshToken"}
_JSON_TYPES = {"application/json", "text/json"}
_RFC6750_ERRORS = {"invalid_request", "invalid_token", "insufficient_scope"}
_REASONS = {s.value: s.phrase for s in HTTPStatus}
_JSON_HEADER = ("Content-Type", "application/json; charset=utf-8")
_PROBLEM_HEADER = ("Content-Type", "application/problem+json; charset=utf-8")
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


class UserApiProtocol(ServiceProtocol):
    """Checks run in the order a real API gateway does them: route (404/405), ``Version`` (400),
    bearer token (401), content type (415), body (400), then the operation's own rules."""

    # ---- the steps ----------------------------------------------------------
    def operation_of(self, request: Request) -> str:
        environ = request.environ
        found = self.model.resolve(request_host(request), environ.get("PATH_INFO", "/"), "mockcloud.in_process" not in environ)
        if found is None:
            environ[_MOUNT] = None
            return ""
        mount, rest = found
        environ[_MOUNT] = mount
        return rest[len(_PREFIX) :] if rest.startswith(_PREFIX) else ""

    def authenticate(self, request: Request, operation: str) -> dict | None:
        environ = request.environ
        mount = environ[_MOUNT]
        method = OPERATIONS.get(operation)
        if mount is None or method is None:
            raise ServiceError("not_found", f"No resource at {request.method} {request.path}.", 404)
        if request.method != method:
            raise ServiceError(
                "method_not_allowed", f"{operation} takes {method}, not {request.method}.", 405, headers={"Allow": method}
            )
        version = environ.get("HTTP_VERSION")
        if version is None:
            raise ServiceError(
                "api_version_unspecified",
                f"The Version header is required; supported: {', '.join(sorted(mount.versions))}.",
                400,
            )
        if version.strip() not in mount.versions:
            raise ServiceError(
                "unsupported_api_version",
                f"API version {version!r} is not supported; supported: {', '.join(sorted(mount.versions))}.",
                400,
            )
        if operation == "Login":
            return None
        try:
            token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        except MalformedBearer:
            raise invalid_token("malformed", "The Authorization header is not a Bearer access token.") from None
        if token is None:
            raise invalid_token("missing", "The request has no Bearer access token.")
        # an expired access token is still good for refreshing it: that is the point of RefreshToken
        return self.model.verify_access(mount, token, allow_expired=operation == "RefreshToken")

    def parse(self, request: Request, operation: str) -> Any:
        if operation not in _WITH_BODY:
            return None
        mimetype = request.mimetype
        if mimetype not in _JSON_TYPES and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
            shown = request.environ.get("CONTENT_TYPE") or "none"
            raise ServiceError(
                "unsupported_media_type", f"The Content-Type {shown!r} is not supported; use application/json.", 415
            )
        body = request_body(request)
        if not body.strip():
            raise ServiceError("invalid_request", "A non-empty request body is required.", 400)
        try:
            params = jsonbody.loads(body)
        except jsonbody.BadJson as exc:
            raise ServiceError("invalid_request", f"The request body is not valid JSON: {exc}.", 400) from None
        if not isinstance(params, dict):
            raise ServiceError("invalid_request", "The request body must be a JSON object.", 400)
        return params

    def validate(self, operation: str, params: Any) -> None:
        if params is None:
            return
        violations = _SCHEMAS.violations(operation, params)
        if violations:
            errors: dict[str, list[str]] = {}
            for violation in violations:
                errors.setdefault(".".join(map(str, violation.path)), []).append(_violation_message(violation))
            raise ServiceError("invalid_request", "One or more validation errors occurred.", 400, fields={"errors": errors})

    def invoke(self, operation: str, params: Any, caller: Any, request: Request) -> Any:
        mount = request.environ[_MOUNT]
        if operation == "RefreshToken":
            access, refresh = self.model.refresh(mount, caller, params["refreshToken"])
        elif operation == "Login":
            access, refresh = self.model.login(mount, params["username"], params["password"])
        elif operation == "Me":
            return self.model.me(mount, caller)
        else:
            return self.model.logout(mount, caller)
        return {"accessToken": access, "refreshToken": refresh}

    def render(self, operation: str, result: Any, request: Request) -> Reply:
        mount = request.environ[_MOUNT]
        if operation == "Logout":
            return Reply(204, [self._versions(mount)], b"")
        body = _compact(result).encode("utf-8", "replace")
        headers = [_JSON_HEADER, ("Content-Length", str(len(body))), self._versions(mount)]
        if operation in _WITH_BODY:
            headers.extend(_NO_STORE)
        return Reply(200, headers, body)

    def render_error(self, error: ServiceError, operation: str, request: Request) -> Reply:
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
        body = _compact(payload).encode("utf-8", "replace")  # client text may hold a lone surrogate
        headers = [_PROBLEM_HEADER, ("Content-Length", str(len(body)))]
        mount = request.environ.get(_MOUNT)
        if mount is not None:
            headers.append(self._versions(mount))
        headers.extend(error.headers.items())
        names = {name.lower() for name in error.headers}
        if status == 401 and "www-authenticate" not in names:
            # RFC 9110 §15.5.2: every 401 carries a challenge; RFC 6750 §3 words it for bearer tokens
            rfc6750 = error.code in _RFC6750_ERRORS
            realm = mount.base_url if mount is not None else None
            headers.append(
                ("WWW-Authenticate", challenge(realm, error.code if rfc6750 else None, error.message if rfc6750 else None))
            )
        if status == 429 and "retry-after" not in names:
            headers.append(("Retry-After", "1"))
        return Reply(status, headers, body)

    @staticmethod
    def _versions(mount) -> tuple[str, str]:
        return ("api-supported-versions", ", ".join(sorted(mount.versions)))

    # ---- errors the shared layers need worded --------------------------------
    def throttling_error(self, operation: str, retry_after: float | None) -> ServiceError:
        seconds = max(1, math.ceil(retry_after)) if retry_after else 1
        return ServiceError(
            "too_many_requests", f"Too many requests: retry after {seconds} second(s).", 429, headers={"Retry-After": str(seconds)}
        )

    def internal_error(self) -> ServiceError:
        return ServiceError("server_error", "An unexpected error occurred.", 500)

    def malformed_request(self, request: Request, message: str) -> ServiceError:
        return ServiceError("invalid_request", message, 400)

    def injected_error(self, code: str | None, status: int | None, message: str | None) -> ServiceError:
        if code is None:
            status = status or 500
            code = "server_error" if status >= 500 else _code_of(status)
        return ServiceError(code, message or f"mockcloud injected fault: {code}", status or 400)
