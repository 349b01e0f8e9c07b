"""The services of one mock: built on first use, with the router over their claims.

The registry is what the application asks for a request's service; it knows
services only by name and by a loader it is given, so core still imports none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import MockCloudError
from .router import Claims, Router

if TYPE_CHECKING:
    from .clock import Clock
    from .credentials import Credentials
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
        if access is None:
            from .iam.access import AccessControl

            access = AccessControl()
        self.access = access
        access.resolve_with(self._build_authority)
        self._depended: set[str] = set()  # services whose state others depend on: their routes, their token issuers
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
                    router = self._router = Router.build((self._claims(name), name) for name in self.names)
        return router

    def _claims(self, name: str) -> Claims:
        package = self._load(name)
        if hasattr(package, "claims"):  # routes that depend on the service's fixtures (User API mounts)
            claims: Claims = package.claims(self._fixtures().get(name, {}))
            return claims
        declared: Claims = package.CLAIMS
        return declared

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
                    access=self.access,
                )
                package = self._load(name)
                issuers = len(list(self._issuers))
                authority = self.access.authority
                built = self._built[name] = package.build(context)
                if (
                    hasattr(package, "claims")
                    or len(list(self._issuers)) > issuers
                    or self.access.authority is not authority  # every AWS call reads the identities it keeps
                ):
                    self._depended.add(name)
        return built

    def _build_authority(self) -> None:
        """Build the service that keeps the mock's identities (its package says ``IDENTITY_AUTHORITY = True``)."""
        for name in self.names:
            if getattr(self._load(name), "IDENTITY_AUTHORITY", False):
                self.protocol(name)
                return

    def rebuild(self, name: str) -> bool:
        """Build a service again from its fixtures section (which now holds newer state).

        Returns whether its routes come from its state; if so, the router is built again too.
        """
        with self._lock:
            self._built.pop(name, None)
            routes_change = hasattr(self._load(name), "claims")
            if routes_change:
                self._router = None
            self.protocol(name)
        return routes_change

    def depended_on(self) -> set[str]:
        """The services (built so far) whose state requests to others read: routes from state, token issuers."""
        return self._depended

    def built(self) -> dict[str, ServiceProtocol[Any]]:
        """The services built so far (what a reset or a snapshot has to consider)."""
        return dict(self._built)
