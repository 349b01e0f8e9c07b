"""What a service gives the one request path: a wire protocol over a model.

A service package exports ``NAME``, ``CLAIMS`` (a :class:`~.router.Claims`)
or ``claims(fixtures) -> Claims`` when its routes depend on its fixtures,
and ``build(context) -> ServiceProtocol``. Its protocol object walks each
request through the steps below; the model behind it holds state and rules
and knows nothing of HTTP.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .clock import Clock
from .credentials import Credentials
from .errors import ServiceError
from .oidc import TrustedIssuers
from .request import Reply

if TYPE_CHECKING:
    from .request import Request
from .router import Claims


@dataclass
class ServiceContext:
    """What a service may use from its mock: never another service."""

    name: str
    clock: Clock
    credentials: Credentials
    fixtures: dict = field(default_factory=dict)  # this service's section of the fixtures
    settings: dict = field(default_factory=dict)  # per-service options given to the mock
    claim: Callable[[Claims], None] = lambda claims: None  # add routes to this service at run time
    issuers: TrustedIssuers = field(default_factory=TrustedIssuers)  # the mock's trusted web-identity token issuers

    def merged_settings(self, defaults: dict) -> dict:
        """The service's defaults, then its fixtures' ``settings``, then the mock's (later ones win).

        Names the defaults do not have are refused, with the list of those they have.
        """
        merged = {**defaults, **self.fixtures.get("settings", {}), **self.settings}
        unknown = set(merged) - set(defaults)
        if unknown:
            from .errors import MockCloudError

            raise MockCloudError(f"unknown {self.name} setting(s) {sorted(unknown)}; known: {sorted(defaults)}")
        return merged


class ServiceProtocol:
    """One service's wire protocol. Protocol families subclass it in ``core/protocols``."""

    name: str = ""

    def __init__(self, context: ServiceContext, model: Any) -> None:
        self.context = context
        self.model = model
        self.name = context.name

    # the steps, in the order the request path calls them
    def operation_of(self, request: Request) -> str:
        """The operation name as sent (may be unknown: ``parse`` refuses it)."""
        raise NotImplementedError

    def defers(self, request: Request, operation: str) -> bool:
        """Whether to leave this request to another mock that lies beyond (moto), when one does.

        For a service emulated in part: what it cannot answer faithfully is
        better answered by a mock that can. Asked only when one is there.
        """
        return False

    def authenticate(self, request: Request, operation: str) -> Any:
        return None

    def parse(self, request: Request, operation: str) -> Any:
        raise NotImplementedError

    def validate(self, operation: str, params: Any) -> None:
        pass

    def invoke(self, operation: str, params: Any, caller: Any, request: Request) -> Any:
        raise NotImplementedError

    def render(self, operation: str, result: Any, request: Request) -> Reply:
        raise NotImplementedError

    def render_error(self, error: ServiceError, operation: str, request: Request) -> Reply:
        raise NotImplementedError

    # the errors the shared layers need worded by the service
    def throttling_error(self, operation: str, retry_after: float | None) -> ServiceError:
        raise NotImplementedError

    def internal_error(self) -> ServiceError:
        return ServiceError("InternalFailure", "The request processing has failed because of an unknown error.", 500)

    def malformed_request(self, request: Request, message: str) -> ServiceError:
        """The service's own 400 for a request whose body cannot be read (a bad Content-Length, broken chunks)."""
        return ServiceError("BadRequest", message, 400)

    def too_large_error(self, limit: int) -> ServiceError:
        """What the server answers, in this service's format, to a body over its size limit."""
        return ServiceError("RequestEntityTooLarge", f"The request body is larger than the limit of {limit} bytes.", 413, common=True)

    def injected_error(self, code: str | None, status: int | None, message: str | None) -> ServiceError:
        if code is None:
            if status is not None and status < 500:
                return ServiceError("BadRequest", message or "mockcloud injected fault", status)
            error = self.internal_error()
            error.status = status or error.status
            if message:
                error.message = message
            return error
        return ServiceError(code, message or f"mockcloud injected fault: {code}", status or 400)
