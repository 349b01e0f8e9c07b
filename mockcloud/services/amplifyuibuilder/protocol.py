"""Amplify UI Builder on the wire (AWS REST-JSON, SigV4), and Figma's ``GET /v1/me`` beside it.

Both share one model, so the tokens ExchangeCodeForToken issues are the ones
Figma honours. Requests for Figma (its host, or unsigned requests on the
server's loopback address) take Figma's wire format and errors; everything
else is Amplify UI Builder's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ...core.errors import ServiceError
from ...core.protocols.aws_rest_json import AwsRestJsonProtocol
from ...core.request import Reply, Request
from ...core.validation import SchemaSet
from . import figma

_SCHEMAS = SchemaSet(Path(__file__).with_name("schemas"))


class AmplifyUIBuilderProtocol(AwsRestJsonProtocol):
    signing_name = "amplifyuibuilder"
    schemas = _SCHEMAS
    routes = {
        "ExchangeCodeForToken": ("POST", "/tokens/{provider}"),
        "RefreshToken": ("POST", "/tokens/{provider}/refresh"),
    }
    payloads = {"ExchangeCodeForToken": "request", "RefreshToken": "refreshTokenBody"}
    operations = {"ExchangeCodeForToken": "exchange_code_for_token", "RefreshToken": "refresh_token"}
    # "An invalid or out-of-range value was supplied for the input parameter": every bad input.
    validation_code = "InvalidParameterException"
    serialization_code = "InvalidParameterException"
    throttling_code = "ThrottlingException"
    internal_code = "InternalServerException"
    internal_message = "Internal server error"

    # ---- the operations ----------------------------------------------------------
    def exchange_code_for_token(self, p: dict, caller) -> dict:
        body = p["request"]
        grant = self.model.exchange_code(code=body["code"], redirect_uri=body["redirectUri"], client_id=body.get("clientId"))
        return {"accessToken": grant.access_token, "expiresIn": grant.expires_in, "refreshToken": grant.refresh_token}

    def refresh_token(self, p: dict, caller) -> dict:
        body = p["refreshTokenBody"]
        access, expires_in = self.model.refresh(token=body["token"], client_id=body.get("clientId"))
        return {"accessToken": access, "expiresIn": expires_in}

    # ---- Figma beside it: each step hands Figma's requests to the Figma wire ----------
    def operation_of(self, request: Request) -> str:
        if figma.is_figma(request):
            return figma.operation_of(request)
        return super().operation_of(request)

    def authenticate(self, request: Request, operation: str) -> Any:
        if operation.startswith(figma.OPERATION_PREFIX):
            return figma.presented_token(request)
        return super().authenticate(request, operation)

    def parse(self, request: Request, operation: str) -> Any:
        if operation.startswith(figma.OPERATION_PREFIX):
            if operation == figma.UNKNOWN:
                raise figma.not_found()
            return {}
        return super().parse(request, operation)

    def validate(self, operation: str, params: Any) -> None:
        if not operation.startswith(figma.OPERATION_PREFIX):
            super().validate(operation, params)

    def invoke(self, operation: str, params: Any, caller: Any, request: Request) -> Any:
        if operation == figma.GET_ME:
            return self.model.me(caller)
        return super().invoke(operation, params, caller, request)

    def render(self, operation: str, result: Any, request: Request) -> Reply:
        if operation.startswith(figma.OPERATION_PREFIX):
            return figma.reply(200, result)
        return super().render(operation, result, request)

    def render_error(self, error: ServiceError, operation: str, request: Request) -> Reply:
        if figma.is_figma(request):
            return figma.error_reply(error)
        return super().render_error(error, operation, request)

    def throttling_error(self, operation: str, retry_after: float | None) -> ServiceError:
        if operation.startswith(figma.OPERATION_PREFIX):
            return figma.throttling_error(retry_after)
        return super().throttling_error(operation, retry_after)
