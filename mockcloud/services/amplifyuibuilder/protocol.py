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
from ...core.pagination import BadPageToken, paginate
from ...core.protocols.aws_rest_json import AwsRestJsonProtocol, RestJsonExchange
from ...core.request import Reply
from ...core.service import Operation, operation
from ...core.validation import SchemaSet
from . import figma
from .errors import ERRORS
from .model import AmplifyUIBuilderModel
from .studio import Scope, Studio

_ENV = "/app/{appId}/environment/{environmentName}"
_TOKEN = ("clientToken",)
_PAGE = ("nextToken", "maxResults")
LIST_PAGE_SIZE = 100  # List*'s page when maxResults is not given (its most)
EXPORT_PAGE_SIZE = 50  # Export* takes no maxResults: its pages are this long (ours)


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

    # ---- components, themes, forms: one set of rules, three kinds ---------------------------
    @operation(method="POST", path=_ENV + "/components", payload="componentToCreate", query=_TOKEN)
    def create_component(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._create(x, "component", "componentToCreate")

    @operation(method="POST", path=_ENV + "/themes", payload="themeToCreate", query=_TOKEN)
    def create_theme(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._create(x, "theme", "themeToCreate")

    @operation(method="POST", path=_ENV + "/forms", payload="formToCreate", query=_TOKEN)
    def create_form(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._create(x, "form", "formToCreate")

    @operation(method="GET", path=_ENV + "/components/{id}")
    def get_component(self, x: AmplifyExchange) -> dict[str, Any]:
        return self.studio.get("component", self._scope(x), x.params["id"])

    @operation(method="GET", path=_ENV + "/themes/{id}")
    def get_theme(self, x: AmplifyExchange) -> dict[str, Any]:
        return self.studio.get("theme", self._scope(x), x.params["id"])

    @operation(method="GET", path=_ENV + "/forms/{id}")
    def get_form(self, x: AmplifyExchange) -> dict[str, Any]:
        return self.studio.get("form", self._scope(x), x.params["id"])

    @operation(method="PATCH", path=_ENV + "/components/{id}", payload="updatedComponent", query=_TOKEN)
    def update_component(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._update(x, "component", "updatedComponent")

    @operation(method="PATCH", path=_ENV + "/themes/{id}", payload="updatedTheme", query=_TOKEN)
    def update_theme(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._update(x, "theme", "updatedTheme")

    @operation(method="PATCH", path=_ENV + "/forms/{id}", payload="updatedForm", query=_TOKEN)
    def update_form(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._update(x, "form", "updatedForm")

    @operation(method="DELETE", path=_ENV + "/components/{id}")
    def delete_component(self, x: AmplifyExchange) -> dict[str, Any]:
        self.studio.delete("component", self._scope(x), x.params["id"])
        return {}

    @operation(method="DELETE", path=_ENV + "/themes/{id}")
    def delete_theme(self, x: AmplifyExchange) -> dict[str, Any]:
        self.studio.delete("theme", self._scope(x), x.params["id"])
        return {}

    @operation(method="DELETE", path=_ENV + "/forms/{id}")
    def delete_form(self, x: AmplifyExchange) -> dict[str, Any]:
        self.studio.delete("form", self._scope(x), x.params["id"])
        return {}

    @operation(method="GET", path=_ENV + "/components", query=_PAGE)
    def list_components(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._page(x, self.studio.summaries("component", self._scope(x)))

    @operation(method="GET", path=_ENV + "/themes", query=_PAGE)
    def list_themes(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._page(x, self.studio.summaries("theme", self._scope(x)))

    @operation(method="GET", path=_ENV + "/forms", query=_PAGE)
    def list_forms(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._page(x, self.studio.summaries("form", self._scope(x)))

    @operation(method="GET", path="/export" + _ENV + "/components", query=("nextToken",))
    def export_components(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._page(x, self.studio.export("component", self._scope(x)), size=EXPORT_PAGE_SIZE)

    @operation(method="GET", path="/export" + _ENV + "/themes", query=("nextToken",))
    def export_themes(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._page(x, self.studio.export("theme", self._scope(x)), size=EXPORT_PAGE_SIZE)

    @operation(method="GET", path="/export" + _ENV + "/forms", query=("nextToken",))
    def export_forms(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._page(x, self.studio.export("form", self._scope(x)), size=EXPORT_PAGE_SIZE)

    # ---- codegen jobs ----------------------------------------------------------------------
    @operation(
        method="POST",
        path=_ENV + "/codegen-jobs",
        payload="codegenJobToCreate",
        query=_TOKEN,
        notes="generates no code: the job succeeds after codegen_job_seconds on the mock clock (or fails when a test "
        "says so), and its asset URL points at no emulated S3",
    )
    def start_codegen_job(self, x: AmplifyExchange) -> dict[str, Any]:
        p = x.params
        return self.studio.start_codegen_job(self._scope(x), p["codegenJobToCreate"], p.get("clientToken"))

    @operation(method="GET", path=_ENV + "/codegen-jobs/{id}")
    def get_codegen_job(self, x: AmplifyExchange) -> dict[str, Any]:
        return self.studio.get_codegen_job(self._scope(x), x.params["id"])

    @operation(method="GET", path=_ENV + "/codegen-jobs", query=_PAGE)
    def list_codegen_jobs(self, x: AmplifyExchange) -> dict[str, Any]:
        return self._page(x, self.studio.list_codegen_jobs(self._scope(x)))

    # ---- metadata and tags -------------------------------------------------------------------
    @operation(method="GET", path=_ENV + "/metadata", notes="features are those PutMetadataFlag set (none at first)")
    def get_metadata(self, x: AmplifyExchange) -> dict[str, Any]:
        return {"features": self.studio.get_metadata(self._scope(x))}

    @operation(method="PUT", path=_ENV + "/metadata/features/{featureName}", payload="body")
    def put_metadata_flag(self, x: AmplifyExchange) -> dict[str, Any]:
        p = x.params
        self.studio.put_metadata_flag(self._scope(x), p["featureName"], p["body"]["newValue"])
        return {}

    @operation(method="POST", path="/tags/{resourceArn}")
    def tag_resource(self, x: AmplifyExchange) -> dict[str, Any]:
        self.studio.tag(x.caller.account_id, x.params["resourceArn"], x.params["tags"])
        return {}

    @operation(method="DELETE", path="/tags/{resourceArn}", query=("tagKeys",))
    def untag_resource(self, x: AmplifyExchange) -> dict[str, Any]:
        self.studio.untag(x.caller.account_id, x.params["resourceArn"], x.params["tagKeys"])
        return {}

    @operation(method="GET", path="/tags/{resourceArn}")
    def list_tags_for_resource(self, x: AmplifyExchange) -> dict[str, Any]:
        return {"tags": self.studio.tags(x.caller.account_id, x.params["resourceArn"])}

    # ---- shared by the operations above ----------------------------------------------------
    @property
    def studio(self) -> Studio:
        return self.model.studio

    @staticmethod
    def _scope(x: AmplifyExchange) -> Scope:
        p, caller = x.params, x.caller
        return Scope(caller.account_id, caller.region, p["appId"], p["environmentName"])

    def _create(self, x: AmplifyExchange, kind: str, member: str) -> dict[str, Any]:
        operation = x.operation
        return self.studio.create(kind, self._scope(x), x.params[member], x.params.get("clientToken"), operation)

    def _update(self, x: AmplifyExchange, kind: str, member: str) -> dict[str, Any]:
        p = x.params
        return self.studio.update(kind, self._scope(x), p["id"], p[member], p.get("clientToken"), x.operation)

    @staticmethod
    def _page(x: AmplifyExchange, items: list[dict[str, Any]], size: int = LIST_PAGE_SIZE) -> dict[str, Any]:
        p = x.params
        scope = f"{x.operation}/{p['appId']}/{p['environmentName']}"
        try:
            page, token = paginate(items, p.get("maxResults"), p.get("nextToken"), default=size, scope=scope)
        except BadPageToken:
            raise ERRORS.error("InvalidParameterException", "The nextToken is not valid.") from None
        return {"entities": page, **({"nextToken": token} if token else {})}

    @operation(
        figma.GET_ME,
        method="GET",
        path="/v1/me",
        notes="Figma's own GET https://api.figma.com/v1/me, which honours the tokens ExchangeCodeForToken issues",
    )
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
