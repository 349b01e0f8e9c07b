"""What a service gives the one request path: a wire protocol over a model.

A service package exports ``NAME``, ``CLAIMS`` (a :class:`~.router.Claims`)
or ``claims(fixtures) -> Claims`` when its routes depend on its fixtures,
and ``build(context) -> ServiceProtocol``. Its protocol object walks each
request through the steps below; the model behind it holds state and rules
and knows nothing of HTTP.

The contract, in short::

    class LicenseManagerProtocol(AwsJsonProtocol):
        schemas = SchemaSet(...)               # every operation must have one (checked at class definition)

        @operation                             # "CreateLicense", from the method's name
        def create_license(self, x: Exchange) -> dict:
            return self.model.create_license(account_id=x.caller.account_id, ...)

The application makes one :class:`Exchange` per request (of the protocol's
``exchange_type``) and hands it to every step, so what one step learns (the
operation, the caller, the parameters, a family's parsed query or route) is
a typed field the next step reads, never a key in the WSGI environ.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from .claims import Claims
from .clock import Clock
from .credentials import Credentials
from .entities import Kind, MemoryTables, Table, Tables
from .entropy import Entropy
from .errors import ServiceError
from .iam.access import AccessControl
from .oidc import TrustedIssuers
from .request import Reply, request_body

if TYPE_CHECKING:
    from .coverage import ModelOperations
    from .request import Request
    from .validation import SchemaSet

E = TypeVar("E")  # a record of a model's (see core.entities)


@dataclass
class ServiceContext:
    """What a service may use from its mock: never another service."""

    name: str
    clock: Clock
    credentials: Credentials
    fixtures: dict[str, Any] = field(default_factory=dict)  # this service's section of the fixtures
    settings: dict[str, Any] = field(default_factory=dict)  # per-service options given to the mock
    claim: Callable[[Claims], None] = lambda claims: None  # add routes to this service at run time
    issuers: TrustedIssuers = field(default_factory=TrustedIssuers)  # the mock's trusted web-identity token issuers
    entropy: Entropy = field(default_factory=Entropy)  # every random choice: seeded for repeatable runs
    # the lock that guards every state transition of the model (when shared, it also tells that state may have changed)
    lock: Any = field(default_factory=threading.RLock)
    # where the model's records live: dicts in memory, or a store's entities (see core.entities)
    tables: Tables = None  # type: ignore[assignment]  # set in __post_init__ when not given
    access: AccessControl = field(default_factory=AccessControl)  # the mock's IAM check, and its identity authority

    def __post_init__(self) -> None:
        if self.tables is None:
            self.tables = MemoryTables(self.clock.time)

    def table(self, kind: Kind[E]) -> Table[E]:
        """The model's table of ``kind`` (see :mod:`mockcloud.core.entities`)."""
        return self.tables.table(kind)

    def merged_settings(self, defaults: dict[str, Any], section: dict[str, Any] | None = None) -> dict[str, Any]:
        """The service's defaults, then its section's ``settings`` (the fixtures'), then the mock's (later ones win).

        Names the defaults do not have are refused, with the list of those they have.
        """
        given = (self.fixtures if section is None else section).get("settings", {})
        merged = {**defaults, **given, **self.settings}
        unknown = set(merged) - set(defaults)
        if unknown:
            from .errors import MockCloudError

            raise MockCloudError(f"unknown {self.name} setting(s) {sorted(unknown)}; known: {sorted(defaults)}")
        return merged


@dataclass(slots=True, eq=False)
class Exchange:
    """One request on its way through a service: what each step learns, for the steps after it.

    Protocol families subclass it with typed fields for what they keep per
    request (a parsed query, a matched route). Transport facts that cross the
    WSGI boundary (``mockcloud.in_process``, the body) are read into it once.
    """

    request: Request
    service: str
    in_process: bool  # answered inside the test process (an interceptor), not by a server
    operation: str = ""  # as sent: may be unknown until ``parse`` refuses it
    caller: Any = None  # what ``authenticate`` returned
    params: Any = None  # what ``parse`` returned

    @property
    def body(self) -> bytes:
        """The request body, read once per request."""
        return request_body(self.request)


class ServiceModel(ABC):
    """What a service's model is to the rest of the mock: its state as a snapshot section and back again.

    ``snapshot()`` gives the service's fixtures section as it stands (what a
    mock built from it goes on with); ``load(section)`` fills the model's
    empty tables from such a section (fixtures or a snapshot), refusing with
    :class:`~.errors.MockCloudError` what it cannot hold. A model builds
    nothing in its constructor: it takes its tables there, and the mock calls
    ``load`` when the state is new (a store that holds the state already is
    not loaded again). ``inventory()`` lists the tokens, codes and sessions
    it holds for the dashboard (no secrets); ``jwks()`` the public keys it
    signs with; ``claims()`` the routes its state adds (a User API mount).
    """

    @abstractmethod
    def snapshot(self) -> dict[str, Any]: ...

    @abstractmethod
    def load(self, section: dict[str, Any]) -> None: ...

    def inventory(self) -> list[dict[str, object]]:
        return []

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": []}

    def claims(self) -> Claims | None:
        return None


X = TypeVar("X", bound=Exchange)
F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__mockcloud_operation__"


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation a protocol carries out, as its decorator declared it."""

    name: str  # the wire name: CreateLicense
    attribute: str  # the protocol method: create_license
    function: Callable[[Any, Any], Any]
    options: Mapping[str, Any]  # the family's per-operation options (a route, "unsigned", ...)
    notes: str = ""  # where emulation is partial, what it leaves out: shown on the coverage page


def camel_case(attribute: str) -> str:
    """``check_in_license`` → ``CheckInLicense``: the operation a method carries out unless it names another."""
    return "".join(part[:1].upper() + part[1:] for part in attribute.split("_"))


@overload
def operation(name: F, /) -> F: ...
@overload
def operation(name: str | None = None, /, *, notes: str = "", **options: Any) -> Callable[[F], F]: ...
def operation(name: Any = None, /, *, notes: str = "", **options: Any) -> Any:
    """Declare a protocol method as the operation ``name`` (default: the method's name in CamelCase).

    ``options`` are the protocol family's (see its ``operation_options``), e.g.
    a REST-JSON route: ``@operation(method="POST", path="/tokens/{provider}")``.
    ``notes`` says, in a sentence, what an operation emulated in part leaves
    out; the coverage page (``docs/coverage.md``) shows it beside the operation.
    The class checks every declaration when it is defined, so a typo, a
    missing schema or two methods for one operation fail at import, not when
    a request arrives.
    """

    def mark(function: F) -> F:
        setattr(function, _MARK, (name, options, notes))
        return function

    if callable(name):  # bare @operation
        function, name = name, None
        return mark(function)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"@operation takes an operation name, not {name!r}")
    return mark


class ServiceProtocol(Generic[X]):
    """One service's wire protocol. Protocol families subclass it in ``core/protocols``.

    Subclasses declare their operations with :func:`operation`; the class
    collects them into ``operations`` once, when it is defined, and the family
    compiles its per-operation options into lookup tables then too
    (:meth:`compile_operations`), so a request costs a dictionary look-up.
    """

    name: str = ""
    exchange_type: type[X] = Exchange  # type: ignore[assignment]  # families narrow it
    schemas: SchemaSet | None = None  # when set, every operation must have a schema
    operation_options: ClassVar[frozenset[str]] = frozenset()  # the options @operation takes in this family
    operations: ClassVar[Mapping[str, Operation]] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Operation] = {}
        attributes = dict.fromkeys(  # in the order of definition, base classes first
            name for klass in reversed(cls.__mro__) for name, value in vars(klass).items() if hasattr(value, _MARK)
        )
        for attribute in attributes:
            function = getattr(cls, attribute)
            mark = getattr(function, _MARK, None)
            if mark is None:  # overridden by a method that is no operation
                continue
            name, options, notes = mark
            declared = Operation(name or camel_case(attribute), attribute, function, MappingProxyType(options), notes)
            where = f"{cls.__qualname__}.{attribute}"
            unknown = set(options) - cls.operation_options
            if unknown:
                raise TypeError(
                    f"{where}: @operation option(s) {sorted(unknown)} are not {cls.__name__}'s; "
                    f"it takes {sorted(cls.operation_options) or 'none'}"
                )
            other = found.get(declared.name)
            if other is not None:
                raise TypeError(
                    f"{where} and {cls.__qualname__}.{other.attribute} both declare operation {declared.name}"
                )
            schemas = cls.schemas
            if schemas is not None and cls.needs_schema(declared) and not schemas.has(declared.name):
                raise TypeError(
                    f"{where}: operation {declared.name} has no schema {declared.name}.json in {schemas.directory}"
                )
            found[declared.name] = declared
        cls.operations = MappingProxyType(found)
        cls.compile_operations()

    @classmethod
    def model_operations(cls) -> ModelOperations | None:
        """What the service's external model declares (``operations.json`` beside the protocol's module), if any."""
        from .coverage import beside

        return beside(cls.__module__)

    @classmethod
    def not_emulated_operations(cls) -> list[str]:
        """The operations the model declares that no ``@operation`` of this class carries out."""
        model = cls.model_operations()
        return [name for name in model.operations if name not in cls.operations] if model is not None else []

    @classmethod
    def needs_schema(cls, declared: Operation) -> bool:
        """Whether this operation's input is checked against a schema (when the class has ``schemas``)."""
        return True

    @classmethod
    def compile_operations(cls) -> None:
        """Turn the operations' options into the family's lookup tables; raise ``TypeError`` for bad ones."""

    def __init__(self, context: ServiceContext, model: Any) -> None:
        self.context = context
        self.model = model
        self.name = context.name

    # the steps, in the order the request path calls them
    def operation_of(self, exchange: X) -> str:
        """The operation name as sent (may be unknown: ``parse`` refuses it)."""
        raise NotImplementedError

    def not_emulated(self, exchange: X) -> ServiceError | None:
        """The 501 for an operation the service's model declares but this protocol does not carry out, else None.

        The application asks it before authentication, for an operation not in ``operations`` only.
        """
        model = self.model_operations()
        if model is None or exchange.operation not in model.operations:
            return None  # not the model's either: the service's own "unknown operation" answer, from ``parse``
        return self.not_emulated_error(model.service, exchange.operation)

    def not_emulated_error(self, service: str, operation: str) -> ServiceError:
        """The family's wording of the 501 (the code and message are the same in every family)."""
        from .coverage import NotEmulated

        return NotEmulated(service, operation)

    def defers(self, exchange: X) -> bool:
        """Whether to leave this request to another mock that lies beyond (moto), when one does.

        For a service emulated in part: what it cannot answer faithfully is
        better answered by a mock that can. Asked only when one is there.
        """
        return False

    def authenticate(self, exchange: X) -> Any:
        """Who sent the request (``exchange.caller`` from then on), or the service's refusal."""
        return None

    def parse(self, exchange: X) -> Any:
        """The operation's parameters (``exchange.params``), or the service's refusal of the request."""
        raise NotImplementedError

    def validate(self, exchange: X) -> None:
        """Refuse parameters the operation's schema does not allow, in the service's words."""

    def authorize(self, exchange: X) -> None:
        """Refuse a call the caller's policies do not allow (AWS's families: IAM, see ``protocols.aws_common``)."""

    def invoke(self, exchange: X) -> Any:
        """Carry the operation out: the method its ``@operation`` declared, with the exchange."""
        return self.operations[exchange.operation].function(self, exchange)

    def render(self, exchange: X, result: Any) -> Reply:
        raise NotImplementedError

    def render_error(self, exchange: X, error: ServiceError) -> Reply:
        raise NotImplementedError

    # the errors the shared layers need worded by the service
    def throttling_error(self, exchange: X, retry_after: float | None) -> ServiceError:
        raise NotImplementedError

    def internal_error(self) -> ServiceError:
        return ServiceError("InternalFailure", "The request processing has failed because of an unknown error.", 500)

    def unavailable_error(self) -> ServiceError:
        """What a request gets when the emulator's shared state cannot be reached (its store is down).

        The service's own internal error, as 503: clients retry it, as they would a real outage.
        """
        error = self.internal_error()
        error.status = 503
        return error

    def malformed_request(self, exchange: X, message: str) -> ServiceError:
        """The service's own 400 for a request whose body cannot be read (a bad Content-Length, broken chunks)."""
        return ServiceError("BadRequest", message, 400)

    def too_large_error(self, limit: int) -> ServiceError:
        """What the server answers, in this service's format, to a body over its size limit."""
        return ServiceError(
            "RequestEntityTooLarge", f"The request body is larger than the limit of {limit} bytes.", 413, common=True
        )

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
