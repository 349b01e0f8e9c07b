"""The services of one mock: built on first use, with the router over their claims.

The registry is what the application asks for a request's service; it knows
services only by name and by a loader it is given, so core still imports none.
What a service's state starts from is not its business either: whoever made
the registry is told when a service is built (``built(name, protocol)``), and
fills its model then (see :mod:`mockcloud.state`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .claims import Claims
from .errors import MockCloudError
from .router import Router

if TYPE_CHECKING:
    from .clock import Clock
    from .credentials import Credentials
    from .entities import Tables
    from .entropy import Entropy
    from .iam.access import AccessControl
    from .oidc import TrustedIssuers
    from .service import ServiceProtocol


class ServiceRegistry:
    """Builds each service's protocol (and model) from its package, and the router, lazily and once."""

    def __init__(
        self,
        names: Iterable[str],
        load: Callable[[str], ModuleType],
        *,
        clock: Clock,
        credentials: Callable[[], Credentials],
        fixtures: Callable[[], dict[str, Any]],
        settings: dict[str, dict[str, Any]],
        issuers: TrustedIssuers,
        entropy: Entropy,
        lock: Callable[[], Any] = threading.RLock,
        tables: Callable[[str], Tables] | None = None,
        built: Callable[[str, ServiceProtocol[Any]], None] | None = None,
        access: AccessControl | None = None,
    ) -> None:
        self.names = tuple(names)
        self._load = load
        self._clock = clock
        self._credentials = credentials
        self._fixtures = fixtures
        self._settings = settings
        self._issuers = issuers
        self._entropy = entropy
        self._new_lock = lock  # each model's lock, from here: a sharing mock counts how often it is taken
        self._tables = tables  # each model's tables (None: in memory)
        self._on_built = built
        if access is None:
            from .iam.access import AccessControl

            access = AccessControl()
        self.access = access
        access.resolve_with(self._build_authority)
        self._built: dict[str, ServiceProtocol[Any]] = {}
        self._router: Router[str] | None = None
        self._lock = threading.RLock()

    def router(self) -> Router[str]:
        """Every service's claims, compiled: a request costs a few lookups."""
        router = self._router
        if router is None:
            with self._lock:
                router = self._router
                if router is None:
                    router = self._router = Router.build((self.claims(name), name) for name in self.names)
        return router

    def forget_router(self) -> None:
        """Build the router again before the next request (routes that come from a service's state changed)."""
        self._router = None

    def claims(self, name: str) -> Claims:
        """What a service answers to: its package's ``CLAIMS``, or (None there) its model's, from its state."""
        declared: Claims | None = self._load(name).CLAIMS
        if declared is None:  # routes from the state (User API mounts): the model says
            from .service import ServiceModel

            model = self.protocol(name).model
            declared = model.claims() if isinstance(model, ServiceModel) else None
        return declared or Claims()

    def protocol(self, name: str) -> ServiceProtocol[Any]:
        """The wire protocol object of one service; its model is ``.model``."""
        built = self._built.get(name)
        if built is not None:
            return built
        if name not in self.names:
            raise MockCloudError(f"service {name!r} is not part of this mock (services={list(self.names)})")
        with self._lock:
            built = self._built.get(name)
            if built is None:
                from .service import ServiceContext

                context = ServiceContext(
                    name=name,
                    clock=self._clock,
                    credentials=self._credentials(),
                    fixtures=self._fixtures().get(name, {}),
                    settings=dict(self._settings.get(name, {})),
                    claim=lambda claims: self.router().add(claims, name),
                    issuers=self._issuers,
                    entropy=self._entropy,
                    lock=self._new_lock(),
                    tables=None if self._tables is None else self._tables(name),  # type: ignore[arg-type]
                    access=self.access,
                )
                built = self._load(name).build(context)
                if self._on_built is not None:
                    self._on_built(name, built)  # its state filled before anyone else sees it
                self._built[name] = built
        return built

    def _build_authority(self) -> None:
        """Build the service that keeps the mock's identities (its package says ``IDENTITY_AUTHORITY = True``)."""
        for name in self.names:
            if getattr(self._load(name), "IDENTITY_AUTHORITY", False):
                self.protocol(name)
                return

    def built(self) -> dict[str, ServiceProtocol[Any]]:
        """The services built so far (what a reset or a snapshot has to consider)."""
        return dict(self._built)
