"""AWS JSON 1.0/1.1: ``POST /`` with ``X-Amz-Target``, SigV4, ``__type`` errors."""
from __future__ import annotations

import json
from typing import Any

from .. import jsonbody

from ..auth import sigv4
from ..errors import ServiceError
from ..request import Reply, Request, request_body
from ..service import ServiceProtocol
from ..validation import SchemaSet
from .aws_common import http_date, raise_for_violations, request_id

_compact = json.JSONEncoder(separators=(",", ":")).encode
_CORAL = "com.amazon.coral.service#"
_CORAL_NS = "com.amazon.coral.service"


class AwsJsonProtocol(ServiceProtocol):
    """Subclasses set the class attributes and implement one method per operation.

    ``operations`` maps an operation name to the name of the protocol method
    that carries it out with the parsed parameters and the signing principal.
    """

    target_prefix: str = ""
    signing_name: str = ""
    json_version: str = "1.1"
    operations: dict[str, str] = {}
    schemas: SchemaSet | None = None
    throttling_code: str = "ThrottlingException"
    throttling_message: str = "Rate exceeded"

    def operation_of(self, request: Request) -> str:
        target = request.environ.get("HTTP_X_AMZ_TARGET", "")
        prefix, _, operation = target.partition(".")
        return operation if prefix == self.target_prefix else target

    def authenticate(self, request: Request, operation: str) -> sigv4.AwsPrincipal:
        return sigv4.authenticate(request, self.context, self.signing_name)

    def parse(self, request: Request, operation: str) -> Any:
        if operation not in self.operations:
            raise ServiceError("UnknownOperationException", "", 400, common=True)
        if request.method != "POST":
            raise ServiceError("UnknownOperationException", "", 400, common=True)
        body = request_body(request)
        if not body:
            return {}
        try:
            params = jsonbody.loads(body)
        except jsonbody.BadJson:
            raise ServiceError("SerializationException", "Start of structure or map found where not expected.", 400, common=True) from None
        if not isinstance(params, dict):
            raise ServiceError("SerializationException", "Start of structure or map found where not expected.", 400, common=True)
        return params

    def validate(self, operation: str, params: Any) -> None:
        if self.schemas is None:
            return
        raise_for_violations(self.schemas.violations(operation, params))

    def invoke(self, operation: str, params: Any, caller: Any, request: Request) -> Any:
        return getattr(self, self.operations[operation])(params, caller)

    def _reply(self, status: int, payload: dict, extra: list[tuple[str, str]] = ()) -> Reply:
        body = _compact(payload).encode()
        headers = [
            ("x-amzn-RequestId", request_id()),
            ("Content-Type", f"application/x-amz-json-{self.json_version}"),
            ("Content-Length", str(len(body))),
            ("Date", http_date(self.context.clock.time())),
        ]
        headers.extend(extra)
        return Reply(status, headers, body)

    def render(self, operation: str, result: Any, request: Request) -> Reply:
        return self._reply(200, result or {})

    def render_error(self, error: ServiceError, operation: str, request: Request) -> Reply:
        if error.common:
            payload = {"__type": _CORAL + error.code}
            if error.message:
                payload["message"] = error.message
        else:
            payload = {"__type": error.code, "Message": error.message}
        payload.update(error.fields)
        extra = [("x-amzn-ErrorType", f"{error.code}:http://internal.amazon.com/coral/{_CORAL_NS if error.common else self.target_prefix}/")]
        extra.extend(error.headers.items())
        return self._reply(error.status, payload, extra)

    def throttling_error(self, operation: str, retry_after: float | None) -> ServiceError:
        return ServiceError(self.throttling_code, self.throttling_message, 400)

    def internal_error(self) -> ServiceError:
        return ServiceError("InternalFailure", "The request processing has failed because of an unknown error, exception or failure.", 500, common=True)

    def malformed_request(self, request: Request, message: str) -> ServiceError:
        return ServiceError("SerializationException", message, 400, common=True)
