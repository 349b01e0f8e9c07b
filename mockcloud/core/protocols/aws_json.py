"""AWS JSON 1.0/1.1: ``POST /`` with ``X-Amz-Target``, SigV4, ``__type`` errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import jsonbody
from ..auth import sigv4
from ..errors import ServiceError
from ..request import Reply, json_reply
from ..service import Exchange, ServiceProtocol
from .aws_common import AwsAuthorization, raise_for_violations

_CORAL = "com.amazon.coral.service#"
_CORAL_NS = "com.amazon.coral.service"


class AwsJsonProtocol(AwsAuthorization, ServiceProtocol[Exchange]):
    """Subclasses set the class attributes and declare one ``@operation`` method per operation.

    An operation declared ``@operation(unsigned=True)`` may also come without
    a signature (AWS's own clients call it anonymously); a signed call of it
    is checked as any other. Each method gets the exchange, whose ``params``
    are the request's JSON object and whose ``caller`` is the signing principal.
    """

    target_prefix: str = ""
    signing_name: str = ""
    json_version: str = "1.1"
    operation_options = frozenset({"unsigned"})
    unsigned_operations: frozenset[str] = frozenset()
    throttling_code: str = "ThrottlingException"
    throttling_message: str = "Rate exceeded"

    @classmethod
    def compile_operations(cls) -> None:
        cls.unsigned_operations = frozenset(name for name, op in cls.operations.items() if op.options.get("unsigned"))

    def operation_of(self, exchange: Exchange) -> str:
        target: str = exchange.request.environ.get("HTTP_X_AMZ_TARGET", "")
        prefix, _, operation = target.partition(".")
        return operation if prefix == self.target_prefix else target

    def authenticate(self, exchange: Exchange) -> sigv4.AwsPrincipal | None:
        request = exchange.request
        if exchange.operation in self.unsigned_operations and not request.environ.get("HTTP_AUTHORIZATION"):
            return None
        return sigv4.authenticate(request, self.context, self.signing_name)

    def parse(self, exchange: Exchange) -> Any:
        if exchange.operation not in self.operations or exchange.request.method != "POST":
            raise ServiceError("UnknownOperationException", "", 400, common=True)
        body = exchange.body
        if not body:
            return {}
        try:
            params = jsonbody.loads(body)
        except jsonbody.BadJson:
            raise ServiceError(
                "SerializationException", "Start of structure or map found where not expected.", 400, common=True
            ) from None
        if not isinstance(params, dict):
            raise ServiceError(
                "SerializationException", "Start of structure or map found where not expected.", 400, common=True
            )
        return params

    def validate(self, exchange: Exchange) -> None:
        if self.schemas is None:
            return
        raise_for_violations(self.schemas.violations(exchange.operation, exchange.params))

    def _reply(self, status: int, payload: dict[str, Any], extra: Iterable[tuple[str, str]] = ()) -> Reply:
        headers = [("x-amzn-RequestId", self.context.entropy.request_id())]
        headers.extend(extra)
        return json_reply(status, payload, f"application/x-amz-json-{self.json_version}", headers)

    def render(self, exchange: Exchange, result: Any) -> Reply:
        return self._reply(200, result or {})

    def render_error(self, exchange: Exchange, error: ServiceError) -> Reply:
        if error.common:
            payload = {"__type": _CORAL + error.code}
            if error.message:
                payload["message"] = error.message
        else:
            payload = {"__type": error.code, "Message": error.message}
        payload.update(error.fields)
        extra = [
            (
                "x-amzn-ErrorType",
                f"{error.code}:http://internal.amazon.com/coral/{_CORAL_NS if error.common else self.target_prefix}/",
            )
        ]
        extra.extend(error.headers.items())
        return self._reply(error.status, payload, extra)

    def throttling_error(self, exchange: Exchange, retry_after: float | None) -> ServiceError:
        return ServiceError(self.throttling_code, self.throttling_message, 400)

    def internal_error(self) -> ServiceError:
        return ServiceError(
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            500,
            common=True,
        )

    def malformed_request(self, exchange: Exchange, message: str) -> ServiceError:
        return ServiceError("SerializationException", message, 400, common=True)
