"""``mock_cloud``: one object that is a decorator, a context manager and a handle."""
from __future__ import annotations

import functools
import inspect
import os
import random
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar
from urllib.parse import urlsplit

from . import intercept
from .core.app import Application
from .core.clock import Clock
from .core.credentials import Credentials
from .core.errors import MockCloudError
from .core.faults import Faults
from .core.log import DEFAULT_SIZE as DEFAULT_LOG_SIZE, RequestLog
from .core.oidc import TrustedIssuers
from .core.router import Router
from .core.service import ServiceContext
from .services import SERVICE_PACKAGES, load

F = TypeVar("F", bound=Callable[..., Any])

MOTO_AWS_KEY = ("FOOBARKEY", "FOOBARSECRET")  # moto's mock_aws puts these in the environment


class FakeAwsEnvironment:
    """Fake AWS keys in ``os.environ`` while a mock runs, as moto sets them, so real keys are never used.

    Real keys (and any session token) are replaced by the mock's first key
    pair (``testing``/``testing`` by default); moto's fake pair, when found,
    is kept, and accepted. On stop, each variable goes back to what it was
    only if it still holds what we set: another mock that changed it since
    owns it now.
    """

    def __init__(self) -> None:
        self._set: dict[str, tuple[str | None, str | None]] = {}  # name -> (value before, value we set)
        self._session: Any = None  # boto3's default session before we started

    def start(self, key: str, secret: str) -> None:
        env = os.environ
        found = (env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY"))
        wanted: dict[str, str | None] = {}
        if found not in ((key, secret), MOTO_AWS_KEY):
            wanted = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": None, "AWS_SECURITY_TOKEN": None}
        if not env.get("AWS_DEFAULT_REGION") and not env.get("AWS_REGION"):
            wanted["AWS_DEFAULT_REGION"] = "us-east-1"
        self._set = {}
        boto3 = sys.modules.get("boto3")
        self._session = getattr(boto3, "DEFAULT_SESSION", None)
        if boto3 is not None:  # its cached credentials would outlive the environment's (moto does the same)
            boto3.DEFAULT_SESSION = None
        for name, value in wanted.items():
            before = env.get(name)
            if before == value:
                continue
            self._set[name] = (before, value)
            if value is None:
                del env[name]
            else:
                env[name] = value

    def stop(self) -> None:
        env = os.environ
        for name, (before, ours) in self._set.items():
            if env.get(name) != ours:
                continue  # changed since: whoever changed it restores it
            if before is None:
                env.pop(name, None)
            else:
                env[name] = before
        self._set = {}
        boto3 = sys.modules.get("boto3")
        if boto3 is not None:
            boto3.DEFAULT_SESSION = self._session
        self._session = None


class MockCloud:
    """An in-memory cloud: every emulated service, its clock, faults, keys and request log.

    Use it as ``@mock_cloud``, ``with mock_cloud() as cloud:``, or
    ``cloud.start()`` / ``cloud.stop()``. Starting gives fresh state.

    Options: ``services`` (a name or names; default all), ``passthrough``
    (hosts, ``*.suffix`` or URLs that may reach the real network — or the
    outer mock that handled them before), ``fixtures`` (a JSON file whose
    sections replace the embedded defaults), ``settings`` (per service,
    checked against its schema), ``patch_time`` (the clock moves
    ``time.time()`` too), ``fake_credentials`` (fake AWS keys in the
    environment while running), ``allow_loopback`` (sockets to loopback stay
    open for the test's own servers).
    """

    def __init__(
        self,
        services: Iterable[str] | None = None,
        *,
        passthrough: Iterable[str] = (),
        fixtures: str | Path | None = None,
        settings: dict[str, dict] | None = None,
        patch_time: bool = True,
        intercept: bool = True,
        fake_credentials: bool = True,
        allow_loopback: bool = True,
        request_log_size: int = DEFAULT_LOG_SIZE,
    ) -> None:
        if isinstance(services, str):  # mock_cloud("licensemanager"): one service, not its letters
            services = (services,)
        names = tuple(services) if services is not None else tuple(SERVICE_PACKAGES)
        unknown = [n for n in names if n not in SERVICE_PACKAGES]
        if unknown:
            raise MockCloudError(f"unknown service(s) {unknown}; known: {sorted(SERVICE_PACKAGES)}")
        self.service_names = names
        self.passthrough = tuple(passthrough)
        self._pass_hosts, self._pass_suffixes = _passthrough_matchers(self.passthrough)
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
        self._depth = 0
        self._lock = threading.RLock()
        self._environment = FakeAwsEnvironment()
        self._fresh()

    # ---- state ------------------------------------------------------------
    def _fresh(self) -> None:
        self.clock = Clock(patch_time=self.patch_time)
        self.random = random.Random()  # every random choice of the fault layer (seedable)
        self.faults = Faults(self.clock.time, self.service_names, self.random)
        self.requests = RequestLog(self.request_log_size)
        self._credentials: Credentials | None = None
        self.issuers = TrustedIssuers()  # web-identity token issuers its services register and trust
        self._fixtures: dict | None = None
        self._built: dict[str, Any] = {}
        self._router: Router | None = None
        self.app = Application(self._get_router, self.service, self.faults, self.requests, self.clock.time)

    def reset(self) -> None:
        """Back to the fixtures' state: services, keys, faults, request log and clock."""
        with self._lock:
            self.clock.close()
            self._fresh()

    @property
    def fixtures(self) -> dict:
        if self._fixtures is None:
            from .core import fixtures

            self._fixtures = fixtures.load(self.fixtures_path)
        return self._fixtures

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            with self._lock:
                if self._credentials is None:
                    credentials = Credentials()
                    credentials.load(self.fixtures.get("credentials", {}))
                    if "moto" in sys.modules and credentials.aws(MOTO_AWS_KEY[0]) is None:
                        credentials.add_aws(*MOTO_AWS_KEY)  # what a client signs with inside moto's mock_aws
                    self._credentials = credentials
        return self._credentials

    def _get_router(self) -> Router:
        router = self._router
        if router is None:
            with self._lock:
                router = self._router
                if router is None:
                    router = Router.build((self._static_claims(name), name) for name in self.service_names)
                    self._router = router
        return router

    def _static_claims(self, name: str):
        package = load(name)
        if hasattr(package, "claims"):
            return package.claims(self.fixtures.get(name, {}))
        return package.CLAIMS

    def _claim(self, name: str, claims) -> None:
        """Routes a service adds at run time (a new mount, say)."""
        self._get_router().add(claims, name)

    def service(self, name: str):
        """The wire protocol object of one service (its model is ``.model``)."""
        built = self._built.get(name)
        if built is None:
            if name not in self.service_names:
                raise MockCloudError(f"service {name!r} is not part of this mock (services={list(self.service_names)})")
            with self._lock:
                built = self._built.get(name)
                if built is None:
                    context = ServiceContext(
                        name=name,
                        clock=self.clock,
                        credentials=self.credentials,
                        fixtures=self.fixtures.get(name, {}),
                        settings=dict(self.settings.get(name, {})),
                        claim=functools.partial(self._claim, name),
                        issuers=self.issuers,
                    )
                    built = load(name).build(context)
                    self._built[name] = built
        return built

    def __getattr__(self, name: str):
        # cloud.licensemanager, cloud.devpay, ...: the service's model and test helpers
        if name in SERVICE_PACKAGES:
            return self.service(name).model
        raise AttributeError(name)

    def passes(self, host: str) -> bool:
        """Whether requests to ``host`` may reach the real network."""
        if not self._pass_hosts and not self._pass_suffixes:
            return False
        host = host.lower()
        return host in self._pass_hosts or any(host.endswith(s) for s in self._pass_suffixes)

    # ---- lifecycle --------------------------------------------------------
    @property
    def active(self) -> bool:
        return self._depth > 0

    def start(self) -> "MockCloud":
        with self._lock:
            from .core import fixtures as fixtures_module

            # a bad fixtures file fails here, at start, not at the first request
            fixtures = fixtures_module.shared(self.fixtures_path)
            self._depth += 1
            if self._depth > 1:
                return self
            self.reset()
            if self.fake_credentials:
                keys = fixtures.get("credentials", {}).get("aws") or [{"access_key_id": "testing", "secret_access_key": "testing"}]
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
            self._environment.stop()
            self.clock.close()

    def __enter__(self) -> "MockCloud":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- decorator --------------------------------------------------------
    def __call__(self, target: F) -> F:
        if isinstance(target, type):
            return self._decorate_class(target)
        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def async_wrapper(*args, **kwargs):
                with self:
                    return await target(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(target)
        def wrapper(*args, **kwargs):
            with self:
                return target(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _decorate_class(self, cls: type) -> type:
        unittest = sys.modules.get("unittest")  # a TestCase means unittest is imported already
        if unittest is not None and issubclass(cls, unittest.TestCase):
            original_setup = cls.setUp
            mock = self

            @functools.wraps(original_setup)
            def setUp(test_self, *args, **kwargs):
                mock.start()
                test_self.addCleanup(mock.stop)
                return original_setup(test_self, *args, **kwargs)

            cls.setUp = setUp
            return cls
        for attr, value in list(vars(cls).items()):
            if attr.startswith("test") and callable(value):
                setattr(cls, attr, self(value))
        return cls

    def __repr__(self) -> str:
        state = "active" if self.active else "stopped"
        return f"<MockCloud {state} services={list(self.service_names)}>"


def _passthrough_matchers(entries: Iterable[str]) -> tuple[frozenset, tuple]:
    hosts, suffixes = set(), []
    for entry in entries:
        entry = entry.strip().lower()
        if "://" in entry:
            entry = urlsplit(entry).hostname or ""
        if entry.startswith("*."):
            suffixes.append(entry[1:])
        elif entry.startswith("."):
            suffixes.append(entry)
        elif entry:
            hosts.add(entry)
    return frozenset(hosts), tuple(suffixes)


def mock_cloud(target: Any = None, /, **options: Any):
    """``@mock_cloud``, ``@mock_cloud(...)``, ``with mock_cloud(...) as cloud``."""
    if target is None:
        return MockCloud(**options)
    if callable(target) and not isinstance(target, (list, tuple)):
        return MockCloud(**options)(target)
    return MockCloud(target, **options)


def _service_shortcut(name: str):
    def shortcut(target: Any = None, /, **options: Any):
        options["services"] = [name]
        return mock_cloud(target, **options)

    shortcut.__name__ = f"mock_{name}"
    shortcut.__doc__ = f"``mock_cloud`` limited to the {name} service."
    return shortcut


def current_mock() -> MockCloud | None:
    """The innermost active in-process mock, if any."""
    return intercept.current()  # type: ignore[return-value]
