"""The parts of a mock's state, declared once, each with the same verbs.

A snapshot is one JSON document with a section per part, in this order: the
``clock``, the ``entropy``, the ``faults``, the ``credentials``, then each
service's section. Every part says, over a :class:`~.world.World`:

- ``snapshot(world)``: its section as it stands;
- ``restore(world, section)``: its state from a section, into a world built for it;
- ``entities(world)``: its state as a store keeps it, one entity per record.

A part is kept in one of two ways. A :class:`TablesPart` (the credentials, every
service: its model is a :class:`~mockcloud.core.service.ServiceModel`) is
its tables' records, one entity each, read and written one at a time. A
:class:`DocumentPart` (the clock, the entropy, the faults) is one small JSON
document, written whole when it changes; it says
besides how to ``export`` and ``take`` that document, and its ``mark``: what
moves when it may have changed, cheap to read, so an unchanged part costs no
document.
"""

from __future__ import annotations

import json
import sys
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Any

from ..core.entities import MemoryTables
from ..core.errors import MockCloudError
from ..core.service import ServiceModel

if TYPE_CHECKING:
    from .world import World

Entity = tuple[str, str, "float | None"]  # (id, JSON text, dead_at): one entity as a store keeps it
DOCUMENT = "@doc"  # the kind of a document part's one entity
MARKER = "@part"  # the kind of the entity that says a tables part is in the store


def entity_id(part: str, kind: str, key: str = "") -> str:
    """An entity's id in a store: ``part/kind/key`` (the key may hold anything, slashes too)."""
    return f"{part}/{kind}/{key}"


def dumps(value: Any) -> str:
    """A JSON text as stores keep it: compact, ASCII, no NaN."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class Part(ABC):
    """One part of a mock's state."""

    name: str

    @abstractmethod
    def snapshot(self, world: World) -> Any:
        """Its section of a snapshot."""

    @abstractmethod
    def restore(self, world: World, section: Any) -> None:
        """Its state from ``section``, into ``world`` (built for it: fresh, in memory)."""

    @abstractmethod
    def entities(self, world: World) -> Iterator[Entity]:
        """Its state as a store keeps it."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class DocumentPart(Part):
    """A part kept as one JSON document, written whole when its mark moved and its text changed."""

    @abstractmethod
    def export(self, world: World) -> Any:
        """The document (what :meth:`take` takes back)."""

    @abstractmethod
    def take(self, world: World, data: Any) -> None:
        """Stand where ``data`` (another mock's :meth:`export`) says."""

    @abstractmethod
    def mark(self, world: World) -> Hashable:
        """What moves when the part may have changed (cheap: no document is made)."""

    @property
    def id(self) -> str:
        return entity_id(self.name, DOCUMENT)

    def entities(self, world: World) -> Iterator[Entity]:
        yield self.id, dumps(self.export(world)), None


class TablesPart(Part):
    """A part kept as the records of its tables, one entity each (and a marker that says the part is there)."""

    @property
    def marker(self) -> str:
        return entity_id(self.name, MARKER)

    def entities(self, world: World) -> Iterator[Entity]:
        yield self.marker, "1", None
        tables = world.tables.get(self.name)
        if not isinstance(tables, MemoryTables):
            raise MockCloudError(f"the {self.name} part is not in memory: it cannot be written out")
        for kind, key, record in tables.records():
            dead_at = None if kind.dead_at is None else kind.dead_at(record)
            yield entity_id(self.name, kind.name, key), dumps(kind.dump(record)), dead_at


class ClockPart(DocumentPart):
    """The mock clock. In a snapshot: where it stands (``now``) and whether it is frozen.

    In a store: frozen at a time, or running at an offset from the real time,
    so that a running clock goes on running as it ran (after a restart, on
    another host), and a frozen one stays where it is.
    """

    name = "clock"

    def snapshot(self, world: World) -> Any:
        return {"now": world.clock.time(), "frozen": world.clock.frozen}

    def restore(self, world: World, section: Any) -> None:
        clock = world.clock
        if section["frozen"]:
            clock.freeze(section["now"])
        elif abs(section["now"] - clock.time()) > 0.001:
            clock.advance(section["now"] - clock.time())

    def export(self, world: World) -> Any:
        return world.clock.shared_state()

    def take(self, world: World, data: Any) -> None:
        world.clock.take_shared_state(data)

    def mark(self, world: World) -> Hashable:
        return tuple(world.clock.shared_state().items())


class EntropyPart(DocumentPart):
    """The seed, and where the seeded sequence stands."""

    name = "entropy"

    def snapshot(self, world: World) -> Any:
        return world.entropy.export()

    def restore(self, world: World, section: Any) -> None:
        world.entropy.load(section)  # the world was built with the section's seed

    def export(self, world: World) -> Any:
        return world.entropy.export()

    def take(self, world: World, data: Any) -> None:
        if world.entropy.replace(data):
            world.faults.use_generator(world.entropy.generator)

    def mark(self, world: World) -> Hashable:
        entropy = world.entropy
        return (entropy.seed, entropy.generator.getstate() if entropy.seeded else None)


class FaultsPart(DocumentPart):
    """Fault rules (with what is left of their counts) and rate limits (with their buckets)."""

    name = "faults"

    def snapshot(self, world: World) -> Any:
        return world.faults.export()

    def restore(self, world: World, section: Any) -> None:
        world.faults.load(section)

    def export(self, world: World) -> Any:
        return world.faults.export()

    def take(self, world: World, data: Any) -> None:
        world.faults.replace(data)

    def mark(self, world: World) -> Hashable:
        return world.faults.changes


class CredentialsPart(TablesPart):
    """The key pairs the emulated services accept (one record per key)."""

    name = "credentials"

    def snapshot(self, world: World) -> Any:
        return world.credentials.export()

    def restore(self, world: World, section: Any) -> None:
        from ..environment import MOTO_AWS_KEY

        credentials = world.credentials
        credentials.load(section)
        if "moto" in sys.modules and credentials.aws(MOTO_AWS_KEY[0]) is None:
            credentials.add_aws(*MOTO_AWS_KEY)  # what a client signs with inside moto's mock_aws


class ServicePart(TablesPart):
    """A service whose model keeps its records in tables (a :class:`~mockcloud.core.service.ServiceModel`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def model(self, world: World) -> ServiceModel:
        return service_model(world, self.name)

    def snapshot(self, world: World) -> Any:
        return self.model(world).snapshot()

    def restore(self, world: World, section: Any) -> None:
        self.model(world).load(section)


CLOCK, ENTROPY, FAULTS, CREDENTIALS = ClockPart(), EntropyPart(), FaultsPart(), CredentialsPart()
CORE_PARTS: tuple[Part, ...] = (CLOCK, ENTROPY, FAULTS, CREDENTIALS)
DOCUMENT_PARTS: tuple[DocumentPart, ...] = (CLOCK, ENTROPY, FAULTS)


def service_part(world: World, name: str) -> ServicePart:
    """The part of service ``name`` (built now if it was not)."""
    service_model(world, name)
    return ServicePart(name)


def parts_of(world: World) -> list[Part]:
    """Every part of ``world``'s state, in a snapshot's order (every service built)."""
    world.build_services()
    return [*CORE_PARTS, *(service_part(world, name) for name in world.blueprint.service_names)]


def service_model(world: World, name: str) -> ServiceModel:
    """Service ``name``'s model, which keeps its records in tables (see ``docs/architecture.md``)."""
    model = world.model(name)
    if not isinstance(model, ServiceModel):
        raise MockCloudError(f"the {name} service's model is no ServiceModel: its state cannot be kept")
    return model
