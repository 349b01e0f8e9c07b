"""A mock's state keeper: where its state lives, and what a reset, a snapshot, a restore and a request do to it.

A :class:`~mockcloud.MockCloud` holds one keeper, chosen once by :func:`mockcloud.state.keeper_for`:

- :class:`MemoryKeeper` (the default): the world's tables are dicts in this
  process, each request runs straight through the application, a snapshot
  reads the models and a restore builds a new world;
- :class:`~.shared.SharedKeeper` (a store: ``--state FILE``, ``--store URL``,
  ``MockCloud(store=...)``): the tables are the store's entities, each request
  is one transaction over exactly the entities it touches.

Both build their worlds the same way (:func:`~.world.build_world`), and answer
the same calls, so the mock never asks which it has.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.entities import MemoryTables
from ..core.errors import MockCloudError
from ..core.service import ServiceModel
from . import snapshot
from .parts import CREDENTIALS, service_model
from .world import Blueprint, World, build_world

if TYPE_CHECKING:
    from ..core.service import ServiceProtocol

T = TypeVar("T")


class StateKeeper(ABC):
    """One mock's state, and the calls that act on all of it."""

    world: World
    in_memory = False  # whether a request's state is all in this process (nothing to wait for: no disk, no store)

    def __init__(self, blueprint: Blueprint, seed: int | None) -> None:
        self.blueprint = blueprint
        self.seed: int | None = seed  # what a fresh world is seeded with (a store's takes over when shared)

    @abstractmethod
    def start(self) -> None:
        """Fresh state (memory), or the store's as it stands (filling it, if empty)."""

    @abstractmethod
    def reset(self, seed: int | None) -> None:
        """Back to the fixtures' state, seeded with ``seed``."""

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """The whole state as one document, at one moment."""

    @abstractmethod
    def restore(self, document: dict[str, Any]) -> None:
        """The state of ``document`` in place of all there is; on failure nothing changes."""

    @abstractmethod
    def transaction(self, action: Callable[[], T]) -> T:
        """``action()`` on the current state, its changes kept as one step."""

    @abstractmethod
    def model(self, name: str) -> Any:
        """``cloud.<service>``: the model, as a test's helpers call it."""

    def service_model(self, name: str) -> ServiceModel:
        """Service ``name``'s model as the declared model type (for the admin API's inventory and keys)."""
        return service_model(self.world, name)

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """Where the state is kept and whether it can be reached now (``ok``)."""

    def serve_other_processes(self) -> None:
        """Every world from now on answers clients in other processes (a server's); the current one too."""
        from dataclasses import replace

        self.blueprint = replace(self.blueprint, clients_elsewhere=True)
        self.world.clock.clients_elsewhere = not self.world.clock.patch_time

    def close(self) -> None:
        """Let go of what the state holds outside this process (connections, files)."""
        self.world.close()

    # ---- building worlds --------------------------------------------------------------------
    def memory_world(self, seed: int | None, document: dict[str, Any] | None = None, **options: Any) -> World:
        """A world in memory: from the fixtures (seeded with ``seed``), or from a checked snapshot ``document``."""
        world = build_world(self.blueprint, seed=seed, sections=document, built=_load_built, **options)
        try:
            if document is None:
                CREDENTIALS.restore(world, world.section("credentials"))
            else:
                snapshot.restore(world, document)
            if world.binds_keys_to_users():
                world.services.access.resolve()  # keys bound to IAM users are judged from the first request
        except BaseException as exc:
            world.close()
            raise _as_mockcloud_error(exc, "the snapshot" if document is not None else "the fixtures") from exc
        return world


def _load_built(world: World, name: str, protocol: ServiceProtocol[Any]) -> None:
    """A service of a world in memory is filled from its section as soon as it is built."""
    model = protocol.model
    if isinstance(model, ServiceModel):
        model.load(world.section(name))


def _as_mockcloud_error(exc: BaseException, what: str) -> BaseException:
    """What a restore raises: a :class:`MockCloudError` saying why, whatever went wrong below."""
    if isinstance(exc, MockCloudError) or not isinstance(exc, Exception):
        return exc
    if isinstance(exc, RecursionError):
        return MockCloudError(f"{what} is nested too deeply")
    detail = str(exc)
    return MockCloudError(f"{what} cannot be restored: {type(exc).__name__}: {detail[:200]}")


class MemoryKeeper(StateKeeper):
    """The state in this process's memory: the models' tables are dicts, and requests run straight through."""

    in_memory = True

    def __init__(self, blueprint: Blueprint, seed: int | None) -> None:
        super().__init__(blueprint, seed)
        self._lock = threading.RLock()
        try:
            self.world = self.memory_world(seed)
        except MockCloudError:  # bad fixtures: an empty world until start() says what is wrong
            self.world = build_world(blueprint, seed=seed, built=_load_built)

    def start(self) -> None:
        self.reset(self.seed)

    def reset(self, seed: int | None) -> None:
        with self._lock:
            world = self.memory_world(seed)
            self.seed = seed
            self._swap(world)

    def _swap(self, world: World) -> None:
        old, self.world = self.world, world
        if old is not world:
            old.close()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self.prune()
            return snapshot.take(self.world)

    def restore(self, document: dict[str, Any]) -> None:
        try:
            snapshot.check(document)
        except BaseException as exc:
            raise _as_mockcloud_error(exc, "the snapshot") from exc
        with self._lock:
            seed = document["entropy"]["seed"]
            world = self.memory_world(seed, document)
            self.seed = seed
            self._swap(world)

    def transaction(self, action: Callable[[], T]) -> T:
        return action()

    def model(self, name: str) -> Any:
        return self.world.model(name)

    def prune(self) -> int:
        """Drop every record past its ``dead_at`` on the mock clock now; how many were dropped."""
        return sum(t.prune() for t in self.world.tables.values() if isinstance(t, MemoryTables))

    def health(self) -> dict[str, Any]:
        return {"store": "memory", "ok": True}
