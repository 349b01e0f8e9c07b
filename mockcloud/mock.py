"""``mock_cloud``: one object that is a decorator, a context manager and a handle."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast, overload

from . import hooks, intercept
from .core.entropy import Entropy
from .core.errors import MockCloudError
from .core.log import DEFAULT_SIZE as DEFAULT_LOG_SIZE
from .core.passthrough import Passthrough
from .environment import FakeAwsEnvironment
from .services import SERVICE_PACKAGES, load
from .state import keeper_for
from .state.world import Blueprint

if TYPE_CHECKING:
    from unittest import TestCase

    from typing_extensions import TypedDict, Unpack  # PEP 692 keyword types (typing's own from 3.11 and 3.12)

    from .core.app import Application
    from .core.clock import Clock
    from .core.credentials import Credentials
    from .core.faults import Faults
    from .core.log import RequestLog
    from .core.oidc import TrustedIssuers
    from .core.registry import ServiceRegistry
    from .core.service import ServiceProtocol
    from .services.amplifyuibuilder.model import AmplifyUIBuilderModel
    from .services.devpay.model import DevpayModel
    from .services.licensemanager.model import LicenseManagerModel
    from .services.sts.model import StsModel
    from .services.userapi.model import UserApiModel
    from .services.wuying.model import WuyingModel
    from .state.keeper import StateKeeper
    from .state.store import Store

    class MockOptions(TypedDict, total=False):
        """The options of :class:`MockCloud` that ``mock_cloud(...)`` and every ``mock_<service>(...)`` take."""

        passthrough: Iterable[str]
        fixtures: str | Path | None
        settings: dict[str, dict[str, Any]] | None
        patch_time: bool
        fake_credentials: bool
        allow_loopback: bool
        request_log_size: int
        seed: int | None
        store: Store | str | None
        strict: bool

    class MockCloudOptions(MockOptions, total=False):
        services: str | Iterable[str] | None


P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)


M = TypeVar("M")


class ServiceHandle(Generic[M]):
    """``cloud.<service>``: the service's model, built on first use, typed for completion."""

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, cloud: None, owner: type) -> ServiceHandle[M]: ...

    @overload
    def __get__(self, cloud: MockCloud, owner: type) -> M: ...

    def __get__(self, cloud: MockCloud | None, owner: type) -> ServiceHandle[M] | M:
        if cloud is None:
            return self
        return cloud.state.model(self.name)  # type: ignore[no-any-return]


class _Keep:
    """The default of ``reset(seed=...)``: keep the seed the mock has."""


_KEEP = _Keep()


class MockCloud:
    """An in-memory cloud: every emulated service, its clock, faults, keys and request log.

    Use it as ``@mock_cloud``, ``with mock_cloud() as cloud:``, or
    ``cloud.start()`` / ``cloud.stop()``. Starting gives fresh state.

    :param services: a name or names of the services to emulate (default: all).
    :param passthrough: hosts (``"api.example.com"``, ``"*.example.com"`` or URLs) that may
        go past the mock: to the mock that handled the client library before it, else the network.
    :param fixtures: a JSON file whose sections replace the embedded default state.
    :param settings: per service, checked against its schema (``{"licensemanager": {...}}``).
    :param patch_time: whether the clock moves ``time.time()`` and ``datetime.now()`` too.
    :param intercept: whether to catch this process's HTTP clients (off in server mode).
    :param fake_credentials: whether to put fake AWS keys in the environment while running.
    :param allow_loopback: whether the network guard lets sockets reach loopback.
    :param request_log_size: how many requests ``cloud.requests`` keeps.
    :param seed: make every identifier, token, code, key pair and request id repeat run after run.
    :param strict: raise :class:`~mockcloud.core.errors.NotEmulatedError` at the call when a client calls an
        operation the real service has and mockcloud does not emulate, instead of answering it the 501
        ``NotImplemented`` error in the service's format (in-process clients only: a server always answers the 501).
    :param store: share this emulator with every mock given the same store (a :class:`~mockcloud.state.store.Store`,
        or a URL such as ``redis://127.0.0.1:6379/0``): other processes, other hosts. Needs ``patch_time=False``.
        Its state is the store's: starting this mock joins it (filling an empty store from the fixtures), and
        ``reset``, ``snapshot`` and ``restore`` act on the whole shared emulator.
    """

    def __init__(
        self,
        services: str | Iterable[str] | None = None,
        *,
        passthrough: Iterable[str] = (),
        fixtures: str | Path | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
        patch_time: bool = True,
        intercept: bool = True,
        fake_credentials: bool = True,
        allow_loopback: bool = True,
        request_log_size: int = DEFAULT_LOG_SIZE,
        seed: int | None = None,
        store: Store | str | None = None,
        strict: bool = False,
    ) -> None:
        if isinstance(services, str):  # mock_cloud("licensemanager"): one service, not its letters
            services = (services,)
        names = tuple(services) if services is not None else tuple(SERVICE_PACKAGES)
        unknown = [n for n in names if n not in SERVICE_PACKAGES]
        if unknown:
            raise MockCloudError(f"unknown service(s) {unknown}; known: {sorted(SERVICE_PACKAGES)}")
        self.service_names = names
        self.passthrough = Passthrough(passthrough)
        self.fixtures_path = fixtures
        self.settings = settings or {}
        unknown = [n for n in self.settings if n not in names]
        if unknown:
            raise MockCloudError(f"settings for service(s) not in this mock: {unknown}")
        if self.settings:
            from .core.fixtures import check_settings

            for name, values in self.settings.items():
                check_settings(name, values)
        self.patch_time = patch_time
        self.intercepting = intercept
        self.fake_credentials = fake_credentials
        self.allow_loopback = allow_loopback
        self.request_log_size = request_log_size
        self.strict = strict
        Entropy(seed)  # a bad seed fails here
        self._depth = 0
        self._lock = threading.RLock()
        self._environment = FakeAwsEnvironment()
        blueprint = Blueprint(names, load, fixtures, self.settings, patch_time, request_log_size)
        self.state: StateKeeper = keeper_for(blueprint, seed, store)

    # ---- state: the keeper's world ----------------------------------------------------------------
    @property
    def seed(self) -> int | None:
        """The seed every identifier, token and key derives from (None: random)."""
        return self.state.seed

    @property
    def clock(self) -> Clock:
        return self.state.world.clock

    @property
    def entropy(self) -> Entropy:
        return self.state.world.entropy

    @property
    def faults(self) -> Faults:
        return self.state.world.faults

    @property
    def issuers(self) -> TrustedIssuers:
        return self.state.world.issuers

    @property
    def requests(self) -> RequestLog:
        return self.state.world.requests

    @requests.setter
    def requests(self, log: RequestLog) -> None:  # a test's own log in place of the mock's
        self.state.world.requests = log

    @property
    def services(self) -> ServiceRegistry:
        return self.state.world.services

    @property
    def app(self) -> Application:
        return self.state.world.app

    def serve_other_processes(self) -> None:
        """This mock answers clients in other processes (a server's): their signatures are also judged fresh
        at the host's time, which ``clock.advance`` does not move (:func:`mockcloud.core.auth.fresh`)."""
        self.state.serve_other_processes()

    def reset(self, *, seed: int | _Keep | None = _KEEP) -> None:
        """Back to the fixtures' state: services, keys, faults, request log and clock.

        ``seed`` replaces the mock's seed (None: random again); the same seed
        gives the same identifiers, tokens and keys from here on, every time.
        """
        if not isinstance(seed, _Keep):
            Entropy(seed)  # a bad seed fails before anything is reset
        with self._lock:
            self.state.reset(self.seed if isinstance(seed, _Keep) else seed)

    @property
    def fixtures(self) -> dict[str, Any]:
        """This mock's own copy of its fixtures (the embedded defaults, or its file's sections over them)."""
        return self.state.world.fixtures

    # ---- snapshots -------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The whole emulator's state as a JSON document: every service's state, the keys, faults, clock and seed.

        It is a fixtures document too (``mock_cloud(fixtures=...)`` starts from it), and
        :meth:`restore` brings it back exactly.
        """
        return self.state.snapshot()

    def restore(self, document: dict[str, Any]) -> None:
        """Bring back a :meth:`snapshot`: a refresh token issued before it redeems after, once.

        The document is checked first; a restore that fails leaves the mock as it was, and raises
        :class:`~mockcloud.core.errors.MockCloudError` saying why.
        """
        with self._lock:
            self.state.restore(document)

    @property
    def credentials(self) -> Credentials:
        """The key pairs the emulated services accept."""
        return self.state.world.credentials

    def protocol(self, name: str) -> ServiceProtocol[Any]:
        """The wire protocol object of one service; its model is ``.model`` (and ``cloud.<name>``)."""
        return self.services.protocol(name)

    # the service handles: each service's model and its test-side helpers, typed for completion
    licensemanager: ServiceHandle[LicenseManagerModel] = ServiceHandle()
    sts: ServiceHandle[StsModel] = ServiceHandle()
    amplifyuibuilder: ServiceHandle[AmplifyUIBuilderModel] = ServiceHandle()
    devpay: ServiceHandle[DevpayModel] = ServiceHandle()
    wuying: ServiceHandle[WuyingModel] = ServiceHandle()
    userapi: ServiceHandle[UserApiModel] = ServiceHandle()

    def __getattr__(self, name: str) -> Any:
        # a service registered at run time (a test's own) has no property: its model by name
        if name in SERVICE_PACKAGES:
            return self.state.model(name)
        raise AttributeError(name)

    def allows_passthrough(self, host: str) -> bool:
        """Whether requests to ``host`` may go past the mock (to another mock, or the network)."""
        return self.passthrough.allows(host)

    # ---- lifecycle --------------------------------------------------------
    @property
    def active(self) -> bool:
        return self._depth > 0

    def start(self) -> MockCloud:
        """Start (fresh state), or enter again (state kept until the outermost stop)."""
        with self._lock:
            from .core import fixtures as fixtures_module

            # a bad fixtures file fails here, at start, not at the first request
            fixtures = fixtures_module.shared(self.fixtures_path)
            self._depth += 1
            if self._depth > 1:
                return self
            self.state.start()  # fresh state; or, sharing, the shared emulator as it stands
            if self.fake_credentials:
                keys = fixtures.get("credentials", {}).get("aws") or [
                    {"access_key_id": "testing", "secret_access_key": "testing"}
                ]
                self._environment.start(keys[0]["access_key_id"], keys[0]["secret_access_key"])
            if self.intercepting:
                intercept.push(self)
        return self

    def stop(self) -> None:
        with self._lock:
            if self._depth == 0:
                return
            self._depth -= 1
            if self._depth:
                return
            if self.intercepting:
                intercept.pop(self)
            self._dashboard_server = self._dashboard_server and self._dashboard_server.stop()  # None once stopped
            self._environment.stop()
            self.clock.close()

    def __enter__(self) -> MockCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    _dashboard_server: Any = None  # the LiveServer dashboard() started; the outermost stop() stops it

    def dashboard(self) -> str:
        """Serve this mock's dashboard and admin API on 127.0.0.1 until the mock stops; return its URL.

        So a test being debugged can be watched in a browser: the server answers from this very mock
        (its services, clock, faults and request log), in a thread of its own.
        """
        with self._lock:
            if not self.active:
                raise MockCloudError("start the mock first: with mock_cloud() as cloud: print(cloud.dashboard())")
            if self._dashboard_server is None:
                serve = hooks.serve_dashboard  # the server's machinery, from above (the mock sits below it)
                if serve is None:
                    raise MockCloudError("the dashboard needs mockcloud.server, which is not loaded")
                self._dashboard_server = serve(self)
            return f"{self._dashboard_server.url}/_mockcloud/"

    # ---- decorator --------------------------------------------------------
    @overload
    def __call__(self, target: C) -> C: ...

    @overload
    def __call__(self, target: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...

    @overload
    def __call__(self, target: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, target: Any) -> Any:
        import inspect  # here: the module costs milliseconds at import, a decorator is applied once

        if isinstance(target, type):
            return self._decorate_class(target)
        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await target(*args, **kwargs)

            return async_wrapper

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return target(*args, **kwargs)

        return wrapper

    def _decorate_class(self, cls: C) -> C:
        unittest = sys.modules.get("unittest")  # a TestCase means unittest is imported already
        if unittest is not None and issubclass(cls, unittest.TestCase):
            case = cast("type[TestCase]", cls)
            original_setup = case.setUp
            mock = self

            @functools.wraps(original_setup)
            def setUp(self: TestCase, *args: Any, **kwargs: Any) -> Any:  # named as TestCase.setUp names it
                mock.start()
                self.addCleanup(mock.stop)
                return original_setup(self, *args, **kwargs)

            case.setUp = setUp  # type: ignore[method-assign]  # the class's own setUp, wrapped on purpose
            return cls
        for attr, value in list(vars(cls).items()):
            if attr.startswith("test") and callable(value):
                setattr(cls, attr, self(value))
        return cls

    def __repr__(self) -> str:
        state = "active" if self.active else "stopped"
        return f"<MockCloud {state} services={list(self.service_names)}>"


@overload
def mock_cloud(target: None = None, /, **options: Unpack[MockCloudOptions]) -> MockCloud: ...


@overload
def mock_cloud(target: str | Iterable[str], /, **options: Unpack[MockOptions]) -> MockCloud: ...


@overload
def mock_cloud(target: C, /) -> C: ...


@overload
def mock_cloud(target: Callable[P, Awaitable[R]], /) -> Callable[P, Awaitable[R]]: ...


@overload
def mock_cloud(target: Callable[P, R], /) -> Callable[P, R]: ...


def mock_cloud(target: Any = None, /, **options: Any) -> Any:
    """``@mock_cloud``, ``@mock_cloud(...)``, ``with mock_cloud(...) as cloud``, ``mock_cloud("licensemanager")``.

    Bare on a function, an ``async def`` or a class, it runs each call (each
    ``test*`` method; a ``unittest.TestCase``'s ``setUp`` to its cleanup)
    inside a fresh mock; called, it returns a :class:`MockCloud` with the
    options given, which is itself a decorator and a context manager.
    """
    if target is None:
        return MockCloud(**options)
    if callable(target) and not isinstance(target, (str, list, tuple)):
        return MockCloud(**options)(target)
    return MockCloud(target, **options)


def _service_shortcut(name: str) -> Callable[..., Any]:
    def shortcut(target: Any = None, /, **options: Any) -> Any:
        options["services"] = [name]
        return mock_cloud(target, **options)

    shortcut.__name__ = f"mock_{name}"
    shortcut.__doc__ = f"``mock_cloud`` limited to the {name} service."
    return shortcut


def current_mock() -> MockCloud | None:
    """The mock this thread started last, else the innermost active in-process mock, if any."""
    return intercept.current()  # type: ignore[return-value]
