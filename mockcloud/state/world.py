"""A world: every object one mock's state is at one time (clock, entropy, faults, keys, services), built together.

A mock holds one world at a time; a reset or a restore builds another and
puts it in place at once, so a failed restore leaves the old one as it was.
What differs between an in-memory mock and one that shares its state through
a store is only where the records live (the ``tables`` each part is given),
how each request runs (``application``) and where the log is kept: the keeper
(:mod:`.keeper`) decides those, and the world is built the same way for both.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..core.clock import Clock
from ..core.credentials import Credentials
from ..core.entities import MemoryTables, Tables
from ..core.entropy import Entropy
from ..core.faults import Faults
from ..core.log import RequestLog
from ..core.oidc import TrustedIssuers
from ..core.registry import ServiceRegistry

if TYPE_CHECKING:
    from ..core.app import Application
    from ..core.service import ServiceProtocol


@dataclass(frozen=True)
class Blueprint:
    """What every world of one mock is built from: the mock's options."""

    service_names: tuple[str, ...]
    load: Callable[[str], ModuleType]  # a service's package, by name
    fixtures_path: str | Path | None
    settings: dict[str, dict[str, Any]]
    patch_time: bool
    request_log_size: int
    clients_elsewhere: bool = False  # a server's mock: its clients' signatures also judged at the host's time


@dataclass
class World:
    """One mock's state objects. ``sections`` stand in for the fixtures' (a snapshot being restored)."""

    blueprint: Blueprint
    clock: Clock
    entropy: Entropy
    faults: Faults
    issuers: TrustedIssuers
    credentials: Credentials
    services: ServiceRegistry
    requests: RequestLog
    app: Application
    sections: dict[str, Any] | None = None
    tables: dict[str, Tables] = field(default_factory=dict)  # each part's, by its name
    _fixtures: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def fixtures(self) -> dict[str, Any]:
        """The mock's own fixtures (embedded defaults, or its file's sections over them), a snapshot's over those."""
        if self._fixtures is None:
            with self._lock:
                if self._fixtures is None:
                    from ..core import fixtures

                    loaded = fixtures.load(self.blueprint.fixtures_path)
                    if self.sections is not None:
                        loaded.update(self.sections)
                    self._fixtures = loaded
        return self._fixtures

    def section(self, name: str) -> Any:
        """One part's section of the fixtures (or of the snapshot being restored)."""
        return self.fixtures.get(name, {})

    def own_section(self, name: str) -> Any:
        """One part's section of the mock's own fixtures (whatever the world holds now)."""
        from ..core import fixtures

        return copy.deepcopy(fixtures.shared(self.blueprint.fixtures_path).get(name, {}))

    def model(self, name: str) -> Any:
        return self.services.protocol(name).model

    def build_services(self) -> None:
        """Every service built now (building one may draw from the entropy: every draw before the next)."""
        for name in self.blueprint.service_names:
            self.services.protocol(name)

    def binds_keys_to_users(self) -> bool:
        """Whether the fixtures give IAM users keys of their own: the identity service then binds them when it is
        built, so it must be built before the first request is judged."""
        if "sts" not in self.blueprint.service_names:
            return False
        from ..core.errors import MockCloudError

        try:
            section = self.section("sts") or {}
        except MockCloudError:  # a bad fixtures file: start() says so
            return False
        return any(isinstance(user, dict) and user.get("access_keys") for user in section.get("users", ()))

    def close(self) -> None:
        self.clock.close()


def build_world(
    blueprint: Blueprint,
    *,
    seed: int | None,
    sections: dict[str, Any] | None = None,
    tables: Callable[[str, Callable[[], float]], Tables] | None = None,
    lock: Callable[[], Any] = threading.RLock,
    log: Callable[[], RequestLog] | None = None,
    application: Callable[[ServiceRegistry, Faults, RequestLog, Callable[[], float]], Application] | None = None,
    built: Callable[[World, str, ServiceProtocol[Any]], None] | None = None,
    registry: Callable[..., ServiceRegistry] = ServiceRegistry,
    patch_time: bool | None = None,
) -> World:
    """A world of ``blueprint``'s services, seeded with ``seed``; its parts' records in ``tables(part, now)``.

    ``sections`` (a snapshot's) stand in for the fixtures'. ``built(world,
    name, protocol)`` is told of each service as it is built, to fill it.
    """
    from ..core.app import Application

    clock = Clock(
        patch_time=blueprint.patch_time if patch_time is None else patch_time,
        clients_elsewhere=blueprint.clients_elsewhere,
    )
    entropy = Entropy(seed)
    faults = Faults(clock.time, blueprint.service_names, entropy.generator)
    issuers = TrustedIssuers()
    made_tables = tables or (lambda part, now: MemoryTables(now))
    part_tables: dict[str, Tables] = {"credentials": made_tables("credentials", clock.time)}
    credentials = Credentials(entropy, part_tables["credentials"])
    requests = log() if log is not None else RequestLog(blueprint.request_log_size)
    holder: list[World] = []

    def service_tables(name: str) -> Tables:
        part_tables[name] = made_tables(name, clock.time)
        return part_tables[name]

    def on_built(name: str, protocol: ServiceProtocol[Any]) -> None:
        if built is not None:
            built(holder[0], name, protocol)

    def fixtures() -> dict[str, Any]:
        return holder[0].fixtures

    services = registry(
        blueprint.service_names,
        blueprint.load,
        clock=clock,
        credentials=lambda: credentials,
        fixtures=fixtures,
        settings=blueprint.settings,
        issuers=issuers,
        entropy=entropy,
        lock=lock,
        tables=service_tables,
        built=on_built,
    )
    make_app = application or Application
    app = make_app(services, faults, requests, clock.time)
    world = World(blueprint, clock, entropy, faults, issuers, credentials, services, requests, app, sections)
    world.tables = part_tables
    holder.append(world)
    return world
