"""``mock_cloud``: one object that is a decorator, a context manager and a handle."""
from __future__ import annotations

import functools
import inspect
import os
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
from .core.router import Router
from .core.service import ServiceContext
from .services import SERVICE_PACKAGES, load

F = TypeVar("F", bound=Callable[..., Any])

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


class MockCloud:
    """An in-memory cloud: every emulated service, its clock, faults, keys and request log.

    Use it as ``@mock_cloud``, ``with mock_cloud() as cloud:``, or
    ``cloud.start()`` / ``cloud.stop()``. Starting gives fresh state.
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
        request_log_size: int = DEFAULT_LOG_SIZE,
    ) -> None:
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
        self.patch_time = patch_time
        self.intercepting = intercept
        self.request_log_size = request_log_size
        self._depth = 0
        self._lock = threading.RLock()
        self._saved_env: dict[str, str | None] = {}
        self._fresh()

    # ---- state ------------------------------------------------------------
    def _fresh(self) -> None:
        self.clock = Clock(patch_time=self.patch_time)
        self.faults = Faults(self.clock.time, self.service_names)
        self.requests = RequestLog(self.request_log_size)
        self._credentials: Credentials | None = None
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
            if self._depth == 0 and self.fixtures_path is not None:
                from .core import fixtures

                fixtures.check(self.fixtures_path)  # a bad file fails here, not in the first request
            self._depth += 1
            if self._depth > 1:
                return self
            self.reset()
            self._set_fake_aws_env()
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
            self._restore_env()
            self.clock.close()

    def __enter__(self) -> "MockCloud":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _set_fake_aws_env(self) -> None:
        self._saved_env = {}
        if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_SECRET_ACCESS_KEY"):
            return
        for key, value in _FAKE_AWS_ENV.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        if not os.environ.get("AWS_DEFAULT_REGION") and not os.environ.get("AWS_REGION"):
            self._saved_env["AWS_DEFAULT_REGION"] = None
            os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}

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
