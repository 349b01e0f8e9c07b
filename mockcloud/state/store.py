"""Where an emulator's state lives when it outlives a process or is shared by several: the store interface.

A store holds *entities*: each is one record of one part of the state (a
session of the User API, a key pair, the clock), under an id
``part/kind/key``, as JSON text with a *version*. Every write of a commit gets
the same new version, taken from a counter that never goes back within the
store's contents, so a version read is proof of exactly what was read. A
store also keeps, per kind (``part/kind``), a *membership version* that
moves when an entity of that kind is made or dropped (what a scan read), and
for each entity the mock-clock moment after which it is past use
(``dead_at``), so it can drop those.

A mock works on copies of the entities it has read, and ends each request
with :meth:`Store.commit`: if every entity it read is still at the version it
read (and every kind it scanned has the members it saw), the entities it wrote
are written, the ones it dropped dropped and its log record appended, all at
once; if not, nothing is written and the store answers the newer entities, to
handle the request again on. Two requests that touch different entities never
conflict. The contents as a whole have an *instance* id: a store emptied and
filled again (a restarted Redis, a reset) is another instance, and every mock
drops what it held of the old one.

Implementations: :class:`MemoryStore` (mocks in one process: the reference,
and for tests), :class:`~.sqlite_store.SqliteStore` (``--state FILE``: one
process, on disk) and :class:`~.redis_store.RedisStore` (processes and hosts).
A fourth is one more subclass, and a line in :func:`mockcloud.state.open_store`; see the
scale-out page for what each method must guarantee.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..core.errors import StoreUnavailable

__all__ = [
    "Commit",
    "Committed",
    "Conflict",
    "MemoryStore",
    "Meta",
    "Moved",
    "Store",
    "StoreUnavailable",
    "Stored",
]

Entity = tuple[str, str, "float | None"]  # (id, JSON text, dead_at)
PRUNE_PER_COMMIT = 16  # entities past use dropped by each commit, at most: the old go faster than the new come


@dataclass(frozen=True, slots=True)
class Stored:
    """One entity as a store holds it: its version and its JSON text."""

    version: int
    text: str


@dataclass(frozen=True)
class Meta:
    """What the store's contents are: which instance, filled from fixtures of which fingerprint."""

    instance: str
    fingerprint: str


class Moved(StoreUnavailable):
    """The store's contents are another instance than the one asked about (or none: ``meta`` is None).

    A mock that meets it drops what it held of the old contents and handles the request again on the new.
    """

    def __init__(self, meta: Meta | None) -> None:
        super().__init__("the store's contents are another instance now")
        self.meta = meta


@dataclass
class Commit:
    """One transaction's end: what it read (to check), what it wrote, and its log records."""

    instance: str
    reads: dict[str, int]  # entity id -> version read (0: it was absent)
    scans: dict[str, int]  # kind id (part/kind) -> membership version its scan saw
    writes: dict[str, tuple[str, float | None]]  # entity id -> (text, dead_at)
    deletes: list[str]
    records: list[str] = field(default_factory=list)  # the request log's records (stores that keep the log)
    log_size: int = 1000
    now: float | None = None  # the mock clock: entities dead before it may be dropped (None: none)


@dataclass(frozen=True)
class Committed:
    """A commit that was written: the version of what it wrote, and the entities dropped as past use."""

    version: int
    pruned: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conflict:
    """A commit that was not written: what the store holds of what it read, at one moment."""

    entities: dict[str, Stored | None]  # every entity read, now (None: absent)
    scans: dict[str, int]  # every kind scanned, its membership version now


class Store(ABC):
    """The shared state of one emulator: versioned entities, and a capped request log.

    Every method is atomic on its own: what it reads is one moment's state,
    what it writes appears all at once. Failures to reach the store, or to
    write to it, raise :class:`StoreUnavailable`, and then nothing was
    written unless the store cannot know (a timeout after the command left).
    """

    url: str = ""
    exclusive = False  # only one mock writes it (this process's): what that mock caches of it is never stale
    keeps_log = True  # it keeps the request log (else the log stays in the process)
    owner: object | None = None  # the one mock of an exclusive store

    @abstractmethod
    def meta(self) -> Meta | None:
        """What the contents are; None when the store holds no state (never filled, or emptied)."""

    @abstractmethod
    def read(self, instance: str, ids: Sequence[str]) -> dict[str, Stored | None]:
        """The entities ``ids`` (None: absent). :class:`Moved` if the contents are not ``instance``."""

    @abstractmethod
    def scan(self, instance: str, kind: str) -> tuple[int, list[tuple[str, Stored]]]:
        """Every entity of ``kind`` (``part/kind``), oldest first, by key, and the kind's membership version."""

    @abstractmethod
    def commit(self, commit: Commit) -> Committed | Conflict:
        """Write ``commit`` if everything it read is as it read it; else answer what is there now.

        :class:`Moved` if the contents are not ``commit.instance``.
        """

    @abstractmethod
    def put(self, entities: Iterable[Entity], fingerprint: str, *, replace: bool) -> Meta:
        """Make ``entities`` the whole state, as a new instance, at once; empty the request log.

        Without ``replace``, only if the store is empty: when another mock
        filled it first, that state is kept and its :class:`Meta` answered.
        Whatever the store held, readable or not, is gone after a replace.
        """

    @abstractmethod
    def dump(self) -> tuple[Meta, list[tuple[str, str]]] | None:
        """Every entity (id, text), oldest first per kind, at one moment; None when the store is empty."""

    @abstractmethod
    def append(self, records: Sequence[str], log_size: int) -> None:
        """Add records to the request log, keeping the last ``log_size``."""

    @abstractmethod
    def records(self, after: int = 0, last: int | None = None) -> list[tuple[int, str]]:
        """The request log, oldest first, each record with its number (growing; never reused, even after a clear).

        ``after``: only those numbered above it; ``last``: only the newest ``last`` of them.
        """

    @abstractmethod
    def clear_records(self) -> None:
        """Empty the request log."""

    def ping(self) -> None:  # noqa: B027  (a store in this process is always there)
        """Raise :class:`StoreUnavailable` when the store cannot be reached now."""

    def close(self) -> None:  # noqa: B027  (a store without connections has nothing to let go of)
        """Let go of connections and files (the state stays in the store)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


def require(meta: Meta | None, instance: str) -> None:
    """:class:`Moved` unless the contents described by ``meta`` are ``instance``."""
    if meta is None or meta.instance != instance:
        raise Moved(meta)


def kind_of(entity_id: str) -> tuple[str, str]:
    """``(part/kind, key)`` of an entity id ``part/kind/key``."""
    first = entity_id.index("/")
    second = entity_id.index("/", first + 1)
    return entity_id[:second], entity_id[second + 1 :]


class MemoryStore(Store):
    """A store in this process: for several mocks in one process that are one emulator, and to test sharing.

    The mocks of one process share it by being given the same object. It is
    the reference for the other stores: the same rules, in a few dictionaries.
    """

    _numbers = itertools.count(1)

    def __init__(self) -> None:
        self.url = f"memory:{next(self._numbers)}"
        self._lock = threading.Lock()
        self._meta: Meta | None = None
        self._entities: dict[str, tuple[int, str, float | None]] = {}
        self._members: dict[str, dict[str, None]] = {}  # kind -> its keys, oldest first
        self._membership: dict[str, int] = {}  # kind -> membership version
        self._expiry: list[tuple[float, str]] = []  # heap of (dead_at, id), checked again when popped
        self._version = 0
        self._log: deque[tuple[int, str]] = deque()
        self._next_number = itertools.count(1).__next__

    def meta(self) -> Meta | None:
        return self._meta

    def read(self, instance: str, ids: Sequence[str]) -> dict[str, Stored | None]:
        with self._lock:
            require(self._meta, instance)
            return {i: self._stored(i) for i in ids}

    def _stored(self, entity_id: str) -> Stored | None:
        found = self._entities.get(entity_id)
        return None if found is None else Stored(found[0], found[1])

    def scan(self, instance: str, kind: str) -> tuple[int, list[tuple[str, Stored]]]:
        with self._lock:
            require(self._meta, instance)
            found = []
            for key in self._members.get(kind, {}):
                version, text, _ = self._entities[f"{kind}/{key}"]
                found.append((key, Stored(version, text)))
            return self._membership.get(kind, 0), found

    def commit(self, commit: Commit) -> Committed | Conflict:
        with self._lock:
            require(self._meta, commit.instance)
            entities = self._entities
            stale = any((entities[i][0] if i in entities else 0) != v for i, v in commit.reads.items())
            if stale or any(self._membership.get(k, 0) != v for k, v in commit.scans.items()):
                return Conflict(
                    {i: self._stored(i) for i in commit.reads},
                    {k: self._membership.get(k, 0) for k in commit.scans},
                )
            if not commit.writes and not commit.deletes:
                self._add(commit.records, commit.log_size)
                return Committed(self._version)
            self._version += 1
            for entity_id, (text, dead_at) in commit.writes.items():
                self._write(entity_id, text, dead_at)
            for entity_id in commit.deletes:
                self._drop(entity_id)
            pruned = self._prune(commit.now) if commit.now is not None else ()
            self._add(commit.records, commit.log_size)
            return Committed(self._version, pruned)

    def _write(self, entity_id: str, text: str, dead_at: float | None) -> None:
        if entity_id not in self._entities:
            kind, key = kind_of(entity_id)
            self._members.setdefault(kind, {})[key] = None
            self._membership[kind] = self._membership.get(kind, 0) + 1
        self._entities[entity_id] = (self._version, text, dead_at)
        if dead_at is not None:
            heapq.heappush(self._expiry, (dead_at, entity_id))

    def _drop(self, entity_id: str) -> None:
        if self._entities.pop(entity_id, None) is not None:
            kind, key = kind_of(entity_id)
            del self._members[kind][key]
            self._membership[kind] += 1

    def _prune(self, now: float) -> tuple[str, ...]:
        pruned: list[str] = []
        while self._expiry and self._expiry[0][0] < now and len(pruned) < PRUNE_PER_COMMIT:
            dead_at, entity_id = heapq.heappop(self._expiry)
            found = self._entities.get(entity_id)
            if found is not None and found[2] == dead_at:  # else written again since, or dropped
                self._drop(entity_id)
                pruned.append(entity_id)
        return tuple(pruned)

    def put(self, entities: Iterable[Entity], fingerprint: str, *, replace: bool) -> Meta:
        with self._lock:
            if self._meta is not None and not replace:
                return self._meta
            self._entities, self._members, self._membership, self._expiry = {}, {}, {}, []
            self._version += 1
            for entity_id, text, dead_at in entities:
                self._write(entity_id, text, dead_at)
            self._meta = Meta(secrets.token_hex(8), fingerprint)
            self._log.clear()
            return self._meta

    def dump(self) -> tuple[Meta, list[tuple[str, str]]] | None:
        with self._lock:
            if self._meta is None:
                return None
            found = [
                (f"{kind}/{key}", self._entities[f"{kind}/{key}"][1])
                for kind, keys in self._members.items()
                for key in keys
            ]
            return self._meta, found

    def append(self, records: Sequence[str], log_size: int) -> None:
        with self._lock:
            self._add(records, log_size)

    def _add(self, records: Sequence[str], log_size: int) -> None:
        self._log.extend((self._next_number(), record) for record in records)
        while len(self._log) > log_size:
            self._log.popleft()

    def records(self, after: int = 0, last: int | None = None) -> list[tuple[int, str]]:
        with self._lock:
            found = [entry for entry in self._log if entry[0] > after]
        return found[-last:] if last is not None and last < len(found) else found

    def clear_records(self) -> None:
        with self._lock:
            self._log.clear()

    def wipe(self) -> None:
        """Forget everything, as a store that lost its data (a restarted Redis without persistence)."""
        with self._lock:
            self._meta = None
            self._entities, self._members, self._membership, self._expiry = {}, {}, {}, []
            self._log.clear()
