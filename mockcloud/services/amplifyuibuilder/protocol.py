"""Amplify UI Builder on the wire (AWS REST-JSON, SigV4), and Figma's ``GET /v1/me`` beside it.

Both share one model, so the tokens ExchangeCodeForToken issues are the ones
Figma honours. Requests for Figma (its host, or unsigned requests on the
server's loopback address) take Figma's wire format and errors; everything
else is Amplify UI Builder's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...core.errors import ServiceError
from ...core.protocols.aws_rest_json import AwsRestJsonProtocol, RestJsonExchange
from ...core.request import Reply
from ...core.service import Operation, operation
from ...core.validation import SchemaSet
from . import figma
from .model import AmplifyUIBuilderModel


@dataclass(slots=True, eq=False)
class AmplifyExchange(RestJsonExchange):
    figma: bool | None = None  # for Figma rather than Amplify UI Builder; decided once, when first asked


class AmplifyUIBuilderProtocol(AwsRestJsonProtocol[AmplifyExchange]):
    model: AmplifyUIBuilderModel
    exchange_type = AmplifyExchange
    signing_name = "amplifyuibuilder"
    iam_prefix = "amplifyuibuilder"
    schemas = SchemaSet(Path(__file__).with_name("schemas"))
    # "An invalid or out-of-range value was supplied for the input parameter": every bad input.
    validation_code = "InvalidParameterException"
    serialization_code = "InvalidParameterException"
    throttling_code = "ThrottlingException"
    internal_code = "InternalServerException"
    internal_message = "Internal server error"
    figma_routes: ClassVar[dict[tuple[str, str], str]] = {}  # (method, path) -> Figma's operation

    # ---- the operations ----------------------------------------------------------
    @operation(method="POST", path="/tokens/{provider}", payload="request")
    def exchange_code_for_token(self, x: AmplifyExchange) -> dict[str, Any]:
        body = x.params["request"]
        grant = self.model.exchange_code(
            code=body["code"], redirect_uri=body["redirectUri"], client_id=body.get("clientId")
        )
        return {"accessToken": grant.access_token, "expiresIn": grant.expires_in, "refreshToken": grant.refresh_token}

    @operation(method="POST", path="/tokens/{provider}/refresh", payload="refreshTokenBody")
    def refresh_token(self, x: AmplifyExchange) -> dict[str, Any]:
        body = x.params["refreshTokenBody"]
        access, expires_in = self.model.refresh(token=body["token"], client_id=body.get("clientId"))
        return {"accessToken": access, "expiresIn": expires_in}

    @operation(figma.GET_ME, method="GET", path="/v1/me")
    def figma_get_me(self, x: AmplifyExchange) -> dict[str, Any]:
        return self.model.me(x.caller)

    # ---- Figma's operations take Figma's routes, not REST-JSON's, and have no schema ----
    @staticmethod
    def _is_figma_operation(declared: Operation) -> bool:
        return declared.name.startswith(figma.OPERATION_PREFIX)

    @classmethod
    def routed_operations(cls) -> Iterable[Operation]:
        return [op for op in cls.operations.values() if not cls._is_figma_operation(op)]

    @classmethod
    def needs_schema(cls, declared: Operation) -> bool:
        return not cls._is_figma_operation(declared)

    @classmethod
    def compile_operations(cls) -> None:
        super().compile_operations()
        routes: dict[tuple[str, str], str] = {}
        for op in cls.operations.values():
            if cls._is_figma_operation(op):
                if "method" not in op.options or "path" not in op.options:
                    raise TypeError(f"{cls.__qualname__}.{op.attribute}: a Figma operation needs method= and path=")
                routes[(op.options["method"], op.options["path"])] = op.name
        cls.figma_routes = routes

    # ---- Figma beside it: each step hands Figma's requests to the Figma wire ----------
    def _for_figma(self, x: AmplifyExchange) -> bool:
        if x.figma is None:
            x.figma = figma.is_figma(x.request)
        return x.figma

    def operation_of(self, exchange: AmplifyExchange) -> str:
        if self._for_figma(exchange):
            return figma.operation_of(exchange.request, self.figma_routes)
        return super().operation_of(exchange)

    def authenticate(self, exchange: AmplifyExchange) -> Any:
        if exchange.operation.startswith(figma.OPERATION_PREFIX):
            return figma.presented_token(exchange.request)
        return super().authenticate(exchange)

    def parse(self, exchange: AmplifyExchange) -> Any:
        operation = exchange.operation
        if operation.startswith(figma.OPERATION_PREFIX):
            if operation == figma.UNKNOWN:
                raise figma.not_found()
            return {}
        return super().parse(exchange)

    def validate(self, exchange: AmplifyExchange) -> None:
        if not exchange.operation.startswith(figma.OPERATION_PREFIX):
            super().validate(exchange)

    def render(self, exchange: AmplifyExchange, result: Any) -> Reply:
        if exchange.operation.startswith(figma.OPERATION_PREFIX):
            return figma.reply(200, result)
        return super().render(exchange, result)

    def render_error(self, exchange: AmplifyExchange, error: ServiceError) -> Reply:
        if self._for_figma(exchange):
            return figma.error_reply(error)
        return super().render_error(exchange, error)

    def throttling_error(self, exchange: AmplifyExchange, retry_after: float | None) -> ServiceError:
        if exchange.operation.startswith(figma.OPERATION_PREFIX):
            return figma.throttling_error(retry_after)
        return super().throttling_error(exchange, retry_after)
