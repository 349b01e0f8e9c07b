"""A mock whose state is in a store: each request one transaction over exactly the entities it touches.

The mock keeps a cache of the entities it has seen (each with its version)
and the objects of its in-object parts (the clock, the faults, the entropy),
taken from their documents. Each request is
one optimistic transaction:

1. under the keeper's lock, the request is handled as in memory; each record
   a model reads is the transaction's own copy (from the cache, or read from
   the store on a miss, with the lock let go while it waits), and its version
   is noted; each record it writes is noted; the in-object parts are checked
   for change by their marks;
2. the transaction ends with one :meth:`~.store.Store.commit`, made after the
   lock is let go: if every entity it read is still at that version, what it
   wrote is written, its log record appended, at once; a request that only
   read writes nothing (and against a store only this process writes, ends
   without a word to it);
3. if another mock wrote one of those entities first, nothing is written: the
   store answers what it holds of them now, the cache takes that, and the
   request is handled again.

So two requests on different entities never conflict: of racers redeeming one
refresh token one commits, and the others, handled again, meet a used token.
A transaction that changed an in-object part (a fault's count, a seeded draw,
the clock) keeps the lock until its commit is answered, so no
other request sees what may not be kept; every other one lets it go, and a
store that hangs holds each request for at most the store's timeout.

A reply is sent only after its transaction committed. A commit that failed or
timed out is not acknowledged: the request gets its service's own 5xx, and
what it wrote is read again from the store before it is used.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from contextlib import contextmanager as contextlib_contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..core.app import Application
from ..core.entities import Kind, MemoryTables
from ..core.errors import MockCloudError, StoreUnavailable
from ..core.log import RequestRecord
from ..core.registry import ServiceRegistry
from ..core.router import Router
from ..core.service import ServiceModel
from . import snapshot
from .keeper import StateKeeper, _as_mockcloud_error
from .log import SharedRequestLog, TransactionLog, encode_record
from .parts import (
    CREDENTIALS,
    DOCUMENT,
    DOCUMENT_PARTS,
    MARKER,
    dumps,
    entity_id,
    parts_of,
)
from .store import Commit, Committed, Conflict, Meta, Moved, Store, Stored
from .world import Blueprint, World, build_world

if TYPE_CHECKING:
    from ..core.request import Reply, Request
    from ..core.service import ServiceProtocol

T = TypeVar("T")
E = TypeVar("E")
RETRY_SECONDS = 10.0  # a transaction that keeps meeting newer state gives up after this long (its service's 503)
WAIT_SECONDS = 3.0  # how long a transaction waits for the lock another holds across its commit
CACHE_SIZE = 100_000  # entities kept at hand; the oldest go first (they are read again when wanted)
# set to 1 to check, after every transaction, that no record a model read was changed without being written back
VERIFY_ENV = "MOCKCLOUD_SHARED_VERIFY"
_ABSENT = Stored(0, "")  # the cache's note that an entity is not in the store

_log = logging.getLogger("mockcloud")


class _Again(Exception):
    """The transaction cannot go on (an in-object part changed under it): handle the request again."""


@dataclass
class Transaction:
    """One request's reads and writes, and the records the models hold of them."""

    world: World
    reads: dict[str, int] = field(default_factory=dict)  # entity id -> version read (0: absent)
    texts: dict[str, str] = field(default_factory=dict)  # entity id -> the text read
    scans: dict[str, int] = field(default_factory=dict)  # kind id -> membership version seen
    scanned: dict[str, int] = field(default_factory=dict)  # entity id -> version seen in a scan
    objects: dict[str, Any] = field(default_factory=dict)  # entity id -> this transaction's record (None: absent)
    kinds: dict[str, Kind[Any]] = field(default_factory=dict)
    writes: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    records: list[RequestRecord] = field(default_factory=list)
    marks: dict[str, Hashable] = field(default_factory=dict)  # in-object part -> its mark when last taken
    changed_parts: bool = False  # an in-object part changed: the lock is kept until the commit is answered
    pinned: int = 0  # inside a service's or the router's building: the lock is kept through store round trips
    holds: bool = False  # whether this transaction holds the keeper's lock now


@dataclass
class _Taken:
    """An in-object part as this mock last took it: the version and text of its document, and its mark then."""

    version: int
    text: str
    mark: Hashable


class SharedTable(MutableMapping[str, E]):
    """A model's table of one kind, on the store: each call reads or writes within the current transaction."""

    def __init__(self, keeper: SharedKeeper, part: str, kind: Kind[E]) -> None:
        self._keeper = keeper
        self.kind = kind
        self.kind_id = f"{part}/{kind.name}"
        self._prefix = self.kind_id + "/"

    def _transaction(self) -> Transaction | None:
        return self._keeper.current()

    def get(self, key: str, default: Any = None) -> Any:
        txn = self._keeper.current()
        if txn is None:
            return self._keeper.transaction(lambda: self.get(key, default))
        found = self._keeper.entity(txn, self, key)
        return default if found is None else found

    def __getitem__(self, key: str) -> E:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __setitem__(self, key: str, record: E) -> None:
        txn = self._keeper.current()
        if txn is None:
            self._keeper.transaction(lambda: self.__setitem__(key, record))
            return
        entity = self._prefix + key
        txn.objects[entity] = record
        txn.kinds[entity] = self.kind
        txn.writes.add(entity)
        txn.deletes.discard(entity)
        if entity not in txn.reads and entity in txn.scanned:
            txn.reads[entity] = txn.scanned[entity]

    def __delitem__(self, key: str) -> None:
        txn = self._keeper.current()
        if txn is None:
            self._keeper.transaction(lambda: self.__delitem__(key))
            return
        if self.get(key) is None:
            raise KeyError(key)
        entity = self._prefix + key
        txn.objects[entity] = None
        txn.deletes.add(entity)
        txn.writes.discard(entity)

    def _items(self) -> list[tuple[str, E]]:
        txn = self._keeper.current()
        if txn is None:
            return self._keeper.transaction(self._items)
        return self._keeper.scan(txn, self)

    def __iter__(self) -> Iterator[str]:
        return iter([key for key, _ in self._items()])

    def __len__(self) -> int:
        return len(self._items())

    def values(self) -> list[E]:  # type: ignore[override]
        return [record for _, record in self._items()]

    def items(self) -> list[tuple[str, E]]:  # type: ignore[override]
        return self._items()

    def keys(self) -> list[str]:  # type: ignore[override]
        return [key for key, _ in self._items()]

    def clear(self) -> None:
        for key in self.keys():
            del self[key]

    def __repr__(self) -> str:
        return f"<SharedTable {self.kind_id}>"


class SharedTables:
    """One part's tables on the store."""

    def __init__(self, keeper: SharedKeeper, part: str) -> None:
        self._keeper, self._part = keeper, part
        self.tables: dict[str, SharedTable[Any]] = {}

    def table(self, kind: Kind[E]) -> MutableMapping[str, E]:
        table = self.tables.get(kind.name)
        if table is None:
            table = self.tables[kind.name] = SharedTable(self._keeper, self._part, kind)
        elif table.kind is not kind:
            raise TypeError(f"two kinds named {kind.name!r} in one part")
        return table


class NoLock:
    """A model's lock in a mock on a store: it excludes no one.

    The keeper's lock already runs one model at a time (but while a
    transaction waits for the store), and the store's versions judge the rest.
    """

    __slots__ = ()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        pass

    def __enter__(self) -> NoLock:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class SharedRegistry(ServiceRegistry):
    """The services of a mock on a store: each built on its part as the store holds it, and kept in step."""

    def __init__(self, keeper: SharedKeeper, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keeper = keeper

    def protocol(self, name: str) -> ServiceProtocol[Any]:
        built = self._built.get(name)
        keeper = self.keeper
        if built is None:
            with keeper.pinned():  # its lock held while it builds: no other transaction comes in meanwhile
                return keeper.build_service(name, super().protocol)
        return built

    def router(self) -> Router[str]:
        router = self._router
        if router is None:
            with self.keeper.pinned():
                router = super().router()
        return router


class TransactionalApplication(Application):
    """The one application, each request of it one transaction of the keeper's."""

    keeper: SharedKeeper

    def handle(self, request: Request) -> Reply:
        return self.keeper.handle(request)

    def attempt(self, request: Request) -> Reply:
        """One try at ``request``, inside its transaction: routed, answered, logged, as in memory."""
        return Application.handle(self, request)


class SharedKeeper(StateKeeper):
    """The state of a mock in a :class:`~.store.Store`, shared with every mock given the same store."""

    def __init__(self, blueprint: Blueprint, seed: int | None, store: Store) -> None:
        super().__init__(blueprint, seed)
        from ..core import fixtures

        if store.exclusive:  # one mock's alone: another's writes would go past this one's cache
            if store.owner is not None:
                raise MockCloudError(f"the store {store.url} belongs to one mock; give each mock its own")
            store.owner = self
        self.store = store
        self.fingerprint = fixtures.fingerprint(blueprint.fixtures_path)
        self.lock = threading.Lock()  # one model at a time (but while waiting for the store)
        self._cache_lock = threading.Lock()  # the cache and what is taken, changed in short steps
        self._local = threading.local()
        self.instance: str | None = None
        self._cache: dict[str, Stored] = {}
        self._whole: dict[str, tuple[int, dict[str, Stored]]] = {}  # kind id -> (membership version, its entities)
        self._taken: dict[str, _Taken] = {}  # in-object part -> as taken
        self.verify = os.environ.get(VERIFY_ENV) == "1"
        self.commits = self.conflicts = 0  # for the curious and the tests
        self._fallback: Application | None = None  # a world of the fixtures: what answers while the store is away
        self.world = self._shared_world()

    # ---- the world on the store -------------------------------------------------------------
    def _shared_world(self) -> World:
        def log() -> Any:
            if self.store.keeps_log:
                return SharedRequestLog(self.store, self.blueprint.request_log_size, self._pending_records)
            return TransactionLog(self.blueprint.request_log_size, self._pending_records)

        def application(*args: Any) -> Application:
            app = TransactionalApplication(*args)
            app.keeper = self
            return app

        def registry(*args: Any, **kwargs: Any) -> ServiceRegistry:
            return SharedRegistry(self, *args, **kwargs)

        return build_world(
            self.blueprint,
            seed=self.seed,
            tables=lambda part, now: SharedTables(self, part),
            lock=NoLock,
            log=log,
            application=application,
            registry=registry,
            patch_time=False,
        )

    def _pending_records(self) -> list[RequestRecord] | None:
        txn = self.current()
        return None if txn is None else txn.records

    @contextlib_contextmanager
    def pinned(self) -> Iterator[None]:
        """The current transaction (if any) keeps the lock through store round trips meanwhile."""
        txn = self.current()
        if txn is None:
            yield
            return
        txn.pinned += 1
        try:
            yield
        finally:
            txn.pinned -= 1

    def current(self) -> Transaction | None:
        """The transaction this thread is in, if any."""
        txn: Transaction | None = getattr(self._local, "txn", None)
        return txn

    def build_service(self, name: str, build: Callable[[str], ServiceProtocol[Any]]) -> ServiceProtocol[Any]:
        """Service ``name`` built on its records as the store holds them, or (not there) filled from the fixtures."""
        txn = self.current()
        if txn is None:
            return self.transaction(lambda: self.build_service(name, build))
        world = txn.world
        protocol = build(name)
        model = protocol.model
        if not isinstance(model, ServiceModel):
            raise MockCloudError(f"the {name} service's model is no ServiceModel: a store cannot keep its state")
        marker = entity_id(name, MARKER)
        if self._lookup(txn, marker) is None:  # the store never held it: from this mock's fixtures
            model.load(world.section(name))
            txn.objects[marker] = 1
            txn.kinds[marker] = _MARKER_KIND
            txn.writes.add(marker)
        return protocol

    # ---- reading, within a transaction --------------------------------------------------------
    @staticmethod
    def _json(stored: Stored, entity: str) -> Any:
        try:
            return json.loads(stored.text)
        except ValueError as exc:
            raise StoreUnavailable(f"the store holds {entity} as what is not JSON: {exc}") from None

    def _lookup(self, txn: Transaction, entity: str, table: SharedTable[Any] | None = None) -> Stored | None:
        """The entity as this transaction sees it (the first read decides, and is checked at the commit)."""
        if entity in txn.reads:
            version = txn.reads[entity]
            return Stored(version, txn.texts[entity]) if version else None
        if table is not None and table.kind.whole:
            key = entity[len(table.kind_id) + 1 :]
            stored: Stored | None = self._whole_of(txn, table.kind_id)[1].get(key)
        else:
            found = self._cache.get(entity)
            if found is None:
                found = self._read(txn, [entity])[entity] or _ABSENT
                self._remember(entity, found)
            stored = found if found.version else None
        txn.reads[entity] = 0 if stored is None else stored.version
        txn.texts[entity] = "" if stored is None else stored.text
        return stored

    def entity(self, txn: Transaction, table: SharedTable[E], key: str) -> E | None:
        """The transaction's own copy of one record (read once per transaction)."""
        entity = table.kind_id + "/" + key
        if entity in txn.objects:
            return txn.objects[entity]  # type: ignore[no-any-return]
        stored = self._lookup(txn, entity, table)
        record = None if stored is None else self._load(table.kind, stored, entity)
        txn.objects[entity] = record
        txn.kinds[entity] = table.kind
        return record

    def _load(self, kind: Kind[E], stored: Stored, entity: str) -> E:
        try:
            return kind.load(json.loads(stored.text))
        except Exception as exc:
            raise StoreUnavailable(f"the store holds {entity} as what cannot be read: {exc!r:.200}") from None

    def scan(self, txn: Transaction, table: SharedTable[E]) -> list[tuple[str, E]]:
        """Every record of a table, as this transaction sees them."""
        kind_id, kind = table.kind_id, table.kind
        prefix = kind_id + "/"
        if kind.whole:
            membership, entries = self._whole_of(txn, kind_id)
            listed = list(entries.items())
        else:
            membership, listed = self._scan(txn, kind_id)
        txn.scans.setdefault(kind_id, membership)
        found: list[tuple[str, E]] = []
        seen = set()
        for key, stored in listed:
            entity = prefix + key
            seen.add(entity)
            if entity not in txn.objects:
                txn.objects[entity] = self._load(kind, stored, entity)
                txn.kinds[entity] = kind
                txn.texts.setdefault(entity, stored.text)
                if kind.whole:
                    txn.reads.setdefault(entity, stored.version)
                else:
                    txn.scanned[entity] = stored.version
            record = txn.objects[entity]
            if record is not None:
                found.append((key, record))
        for entity in txn.writes:  # made in this transaction
            if entity.startswith(prefix) and entity not in seen and txn.objects[entity] is not None:
                found.append((entity[len(prefix) :], txn.objects[entity]))
        return found

    def _whole_of(self, txn: Transaction, kind_id: str) -> tuple[int, dict[str, Stored]]:
        """A whole kind as this mock holds it (read from the store the first time): checked at every commit."""
        whole = self._whole.get(kind_id)
        if whole is None:
            membership, listed = self._scan(txn, kind_id)
            whole = (membership, dict(listed))
            with self._cache_lock:
                self._whole[kind_id] = whole
        txn.scans.setdefault(kind_id, whole[0])
        return whole

    def _read(self, txn: Transaction, ids: list[str]) -> dict[str, Stored | None]:
        instance = self._instance()
        return self._waiting(txn, lambda: self.store.read(instance, ids))

    def _scan(self, txn: Transaction, kind_id: str) -> tuple[int, list[tuple[str, Stored]]]:
        instance = self._instance()
        return self._waiting(txn, lambda: self.store.scan(instance, kind_id))

    def _waiting(self, txn: Transaction, call: Callable[[], T]) -> T:
        """``call()`` (a store round trip), with the lock let go meanwhile.

        Not let go when the transaction changed an in-object part (no other
        may see it), or is building a service or the router (which hold
        locks of their own that another transaction would wait for).
        """
        if txn.pinned:
            return call()
        if txn.changed_parts or self._parts_changed(txn):
            txn.changed_parts = True
            return call()
        self._let_go(txn)
        try:
            return call()
        finally:
            self._acquire()
            txn.holds = True

    def _instance(self) -> str:
        instance = self.instance
        if instance is None:
            raise Moved(None)
        return instance

    def _parts_changed(self, txn: Transaction) -> bool:
        """Whether an in-object part moved since it was last taken (this transaction changed it, so far)."""
        world = txn.world
        for part in DOCUMENT_PARTS:
            taken = self._taken.get(part.name)
            if taken is not None and part.mark(world) != taken.mark:
                return True
        return False

    def _remember(self, entity: str, stored: Stored) -> None:
        cache = self._cache
        with self._cache_lock:
            cache[entity] = stored
            if len(cache) > CACHE_SIZE:
                del cache[next(iter(cache))]

    # ---- the transaction ----------------------------------------------------------------------
    def _acquire(self) -> None:
        if not self.lock.acquire(timeout=WAIT_SECONDS):
            raise StoreUnavailable(f"the state stayed busy for {WAIT_SECONDS:g} s (the store may be slow to answer)")

    def _begin(self, txn: Transaction) -> None:
        """Take the in-object parts where the store has them, and note every whole kind this mock holds."""
        world = txn.world
        for part in DOCUMENT_PARTS:
            stored = self._lookup(txn, part.id)
            if stored is None:
                raise StoreUnavailable(f"the store holds no {part.name}: it was not filled by a mockcloud")
            taken = self._taken.get(part.name)
            if taken is None or taken.version != stored.version:
                part.take(world, self._json(stored, part.id))
                with self._cache_lock:
                    self._taken[part.name] = _Taken(stored.version, stored.text, part.mark(world))
        for kind_id, (membership, entries) in list(self._whole.items()):
            txn.scans.setdefault(kind_id, membership)
            for key, stored in entries.items():
                entity = f"{kind_id}/{key}"
                if entity not in txn.reads:
                    txn.reads[entity] = stored.version
                    txn.texts[entity] = stored.text

    def _end(self, txn: Transaction) -> Commit:
        """What the transaction wrote, as a commit (its records made into text; unchanged ones left out)."""
        world = txn.world
        writes: dict[str, tuple[str, float | None]] = {}
        for entity in txn.writes:
            record, kind = txn.objects[entity], txn.kinds[entity]
            text = dumps(kind.dump(record))
            if txn.texts.get(entity) == text:
                continue  # written back as it was
            writes[entity] = (text, None if kind.dead_at is None else kind.dead_at(record))
        if self.verify:
            self._verify(txn)
        for part in DOCUMENT_PARTS:
            taken = self._taken[part.name]
            mark = part.mark(world)
            if mark == taken.mark:
                continue
            text = dumps(part.export(world))
            if text == taken.text:
                with self._cache_lock:
                    self._taken[part.name] = _Taken(taken.version, taken.text, mark)
                continue
            txn.changed_parts = True
            txn.reads.setdefault(part.id, taken.version)
            writes[part.id] = (text, None)
        records = [encode_record(record) for record in txn.records] if self.store.keeps_log else []
        return Commit(
            self._instance(),
            txn.reads,
            txn.scans,
            writes,
            sorted(txn.deletes),
            records,
            self.blueprint.request_log_size,
            world.clock.time(),
        )

    def _verify(self, txn: Transaction) -> None:
        for entity, record in txn.objects.items():
            if entity in txn.writes or record is None or entity not in txn.texts:
                continue
            if dumps(txn.kinds[entity].dump(record)) != txn.texts[entity]:
                raise MockCloudError(f"{entity} was changed without being written back (table[key] = record)")

    def _run(self, action: Callable[[Transaction], T]) -> T:
        """``action`` as one transaction, handled again until it commits on current state (or gives up)."""
        deadline = time.monotonic() + RETRY_SECONDS
        seen: Conflict | None = None  # the store's answer to the last try: the state at one moment
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                self.conflicts += 1
                if time.monotonic() > deadline:
                    raise StoreUnavailable("the shared state kept changing under this request; try again")
                if attempt > 3:  # many writers on one entity: step aside a little, at random
                    time.sleep(random.uniform(0, min(0.02, 0.001 * attempt)))
            try:
                done, result = self._attempt(action, seen)
            except Moved as moved:
                self._moved(moved.meta)
                seen = None
                continue
            if done:
                return cast(T, result)
            seen = result

    def _attempt(self, action: Callable[[Transaction], T], seen: Conflict | None) -> tuple[bool, Any]:
        """One try: ``(True, result)``, or ``(False, conflict)`` to try again."""
        if self.instance is None:
            self._join()
        txn = Transaction(self.world)
        self._acquire()
        txn.holds = True
        commit: Commit | None = None
        try:
            self._begin(txn)
            failure: BaseException | None = None
            self._local.txn = txn
            try:
                result = action(txn)
            except StoreUnavailable:
                raise
            except BaseException as exc:  # what it changed before it raised is kept, as in memory
                failure = exc
            finally:
                self._local.txn = None
            commit = self._end(txn)
            read_only = not commit.writes and not commit.deletes
            if read_only and (self.store.exclusive or _as_seen(commit, seen)):
                # nothing to check (a store only this process writes, or state the store held at one
                # moment of this request) and nothing to write: only the log record
                self._let_go(txn)
                if commit.records:
                    self.store.append(commit.records, self.blueprint.request_log_size)
                self._committed(txn, commit, None)
                return True, _result(result if failure is None else None, failure)
            if not txn.changed_parts:  # nothing another request could see: let go before waiting
                self._let_go(txn)
            outcome = self.store.commit(commit)
            if isinstance(outcome, Committed):
                self._committed(txn, commit, outcome)
                return True, _result(result if failure is None else None, failure)
            self._conflicted(txn, outcome)
            return False, outcome
        except Moved:
            raise
        except StoreUnavailable as exc:
            self._unknown(txn, commit)
            _log.error("mockcloud: the store %s failed: %s", self.store.url, exc)
            raise
        finally:
            self._let_go(txn)

    def _let_go(self, txn: Transaction) -> None:
        if txn.holds:
            txn.holds = False
            self.lock.release()

    def _committed(self, txn: Transaction, commit: Commit, outcome: Committed | None) -> None:
        """The transaction is kept: the cache and the in-object parts take what it wrote."""
        if outcome is not None and (commit.writes or commit.deletes):
            self.commits += 1
            version = outcome.version
            world = txn.world
            with self._cache_lock:
                for entity, (text, _) in commit.writes.items():
                    self._cache_take(entity, Stored(version, text))
                for entity in commit.deletes:
                    self._cache_take(entity, _ABSENT)
                for entity in outcome.pruned:
                    self._cache.pop(entity, None)
                    self._drop_whole(entity)
                for part in DOCUMENT_PARTS:
                    if part.id in commit.writes:
                        self._taken[part.name] = _Taken(version, commit.writes[part.id][0], part.mark(world))
        if not self.store.keeps_log and txn.records:
            requests = txn.world.requests
            if isinstance(requests, TransactionLog):
                requests.committed(txn.records)

    def _cache_take(self, entity: str, stored: Stored) -> None:
        """(under the cache lock) An entity as written: in the cache, and in its whole kind if it is one."""
        if entity.split("/", 2)[1] == DOCUMENT:
            self._cache[entity] = stored
            return
        self._cache[entity] = stored
        if len(self._cache) > CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        kind_id, key = _split(entity)
        whole = self._whole.get(kind_id)
        if whole is not None:
            if key in whole[1] and stored.version:
                whole[1][key] = stored
            else:  # a member came or went: read the kind again when it is next wanted
                del self._whole[kind_id]
            self.world.services.forget_router()

    def _drop_whole(self, entity: str) -> None:
        kind_id, _ = _split(entity)
        if self._whole.pop(kind_id, None) is not None:
            self.world.services.forget_router()

    def _conflicted(self, txn: Transaction, conflict: Conflict) -> None:
        """Another mock wrote first: the cache takes what the store holds now; changed parts are taken again."""
        with self._cache_lock:
            for entity, stored in conflict.entities.items():
                found = stored or _ABSENT
                self._cache[entity] = found
                kind_id, key = _split(entity)
                whole = self._whole.get(kind_id)
                if whole is not None and whole[1].get(key) != stored:
                    del self._whole[kind_id]
                    self.world.services.forget_router()
            for kind_id, membership in conflict.scans.items():
                whole = self._whole.get(kind_id)
                if whole is not None and whole[0] != membership:
                    del self._whole[kind_id]
                    self.world.services.forget_router()
            self._retake(txn)

    def _retake(self, txn: Transaction) -> None:
        """(under the cache lock) The in-object parts this transaction changed: taken again before next use."""
        world = txn.world
        for part in DOCUMENT_PARTS:
            taken = self._taken.get(part.name)
            if taken is not None and part.mark(world) != taken.mark:
                self._taken[part.name] = _Taken(-1, "", None)

    def _unknown(self, txn: Transaction, commit: Commit | None) -> None:
        """The store failed: whatever this transaction wrote is read again from the store before it is used."""
        with self._cache_lock:
            if commit is not None:
                for entity in (*commit.writes, *commit.deletes):
                    self._cache.pop(entity, None)
                    self._drop_whole(entity)
            self._retake(txn)

    # ---- the store's contents -----------------------------------------------------------------
    def _join(self) -> None:
        """Reach the store, filling it if it is empty, and take its state as this mock's."""
        with self._exclusive():
            if self.instance is not None:
                return
            meta = self.store.meta()
            if meta is None:
                meta = self._put(self.seed, None, replace=False)
            self._adopt(meta, joining=True)

    @contextlib_contextmanager
    def _exclusive(self) -> Iterator[None]:
        """No transaction of this mock runs meanwhile."""
        self._acquire()
        try:
            yield
        finally:
            self.lock.release()

    def _put(self, seed: int | None, document: dict[str, Any] | None, *, replace: bool) -> Meta:
        """A world in memory (from the fixtures, or ``document``) written as the store's whole state."""
        world = self.memory_world(seed, document, patch_time=False)
        try:
            entities = [entity for part in parts_of(world) for entity in part.entities(world)]
        finally:
            world.close()
        return self.store.put(entities, self.fingerprint, replace=replace)

    def _adopt(self, meta: Meta, *, joining: bool = False) -> None:
        """(exclusive) Take ``meta``'s contents as this mock's state: nothing of the old is kept."""
        if meta.fingerprint != self.fingerprint:
            message = (
                f"the store {self.store.url} was filled from other fixtures (fingerprint {meta.fingerprint[:12]}, "
                f"this mock's {self.fingerprint[:12]}): give every server the same --fixtures"
            )
            if joining:
                raise MockCloudError(message)
            _log.warning("mockcloud: %s", message)
        with self._cache_lock:
            self._cache, self._whole, self._taken = {}, {}, {}
        old = self.world
        self.instance = meta.instance
        self.world = self._shared_world()
        old.close()
        found = self.store.read(meta.instance, [part.id for part in DOCUMENT_PARTS])
        world = self.world
        for part in DOCUMENT_PARTS:  # taken now: a change made to them from here on is this mock's to write
            stored = found[part.id]
            if stored is None:
                raise MockCloudError(
                    f"the store {self.store.url} holds no {part.name}: it was not filled by a mockcloud"
                )
            self._remember(part.id, stored)
            part.take(world, self._json(stored, part.id))
            self._taken[part.name] = _Taken(stored.version, stored.text, part.mark(world))
        self.seed = world.entropy.seed

    def _moved(self, meta: Meta | None) -> None:
        """The store's contents are another instance (or none): start again from what it holds."""
        with self._exclusive():
            if self.instance is not None and meta is not None and meta.instance == self.instance:
                return
            self.instance = None
            if meta is not None:
                self._adopt(meta)

    # ---- the keeper's calls -------------------------------------------------------------------
    def start(self) -> None:
        self.connect()

    def connect(self) -> None:
        """Reach the store (filling it, if it is empty) and take its state: a bad URL fails here."""
        self._join()

    def reset(self, seed: int | None) -> None:
        with self._exclusive():
            meta = self._put(seed, None, replace=True)
            self._adopt(meta)

    def restore(self, document: dict[str, Any]) -> None:
        try:
            snapshot.check(document)
        except BaseException as exc:
            raise _as_mockcloud_error(exc, "the snapshot") from exc
        with self._exclusive():
            try:
                meta = self._put(document["entropy"]["seed"], document, replace=True)
            except BaseException:
                self.instance = None  # the store may or may not hold it: read it again
                raise
            self._adopt(meta)

    def snapshot(self) -> dict[str, Any]:
        if self.instance is None:
            self._join()
        dumped = self.store.dump()
        if dumped is None:
            self.instance = None
            self._join()
            dumped = self.store.dump()
            if dumped is None:
                raise StoreUnavailable(f"the store {self.store.url} was emptied while it was read")
        world = self._world_of(dumped[1])
        try:
            return snapshot.take(world)
        finally:
            world.close()

    def _world_of(self, entities: list[tuple[str, str]]) -> World:
        """A world in memory holding ``entities`` (a store's contents), as a mock on the store would see them."""
        documents: dict[str, Any] = {}
        stored: dict[str, dict[str, dict[str, Any]]] = {}
        present: set[str] = set()
        for entity, text in entities:
            owner, kind, key = entity.split("/", 2)
            value = self._json(Stored(1, text), entity)
            if kind == DOCUMENT:
                documents[owner] = value
            elif kind == MARKER:
                present.add(owner)
            else:
                stored.setdefault(owner, {}).setdefault(kind, {})[key] = value

        def built(world: World, name: str, protocol: ServiceProtocol[Any]) -> None:
            model = protocol.model
            if isinstance(model, ServiceModel) and name not in present:  # a part the store never held
                model.load(world.section(name))

        world = build_world(
            self.blueprint,
            seed=None,
            tables=lambda part, now: MemoryTables(now, stored.pop(part, {})),
            built=built,
            patch_time=False,
        )
        try:
            for part in DOCUMENT_PARTS:
                if part.name not in documents:
                    raise StoreUnavailable(f"the store holds no {part.name}")
                part.take(world, documents[part.name])
            if "credentials" not in present:
                CREDENTIALS.restore(world, world.section("credentials"))
        except BaseException:
            world.close()
            raise
        return world

    def transaction(self, action: Callable[[], T]) -> T:
        if self.current() is not None:
            return action()
        return self._run(lambda txn: action())

    def handle(self, request: Request) -> Reply:
        """One request as one transaction; its service's own 5xx when the store cannot be had."""
        try:
            return self._run(lambda txn: _attempt_of(txn.world.app, request))
        except StoreUnavailable:
            return self._unavailable(request)
        except MockCloudError as exc:  # the store holds what this mock cannot join (other fixtures)
            _log.error("mockcloud: %s", exc)
            return self._unavailable(request)

    def _unavailable(self, request: Request) -> Reply:
        """The 5xx of the service ``request`` is for, routed and worded as far as this mock can without the store."""
        app = self.world.app
        router = app.services._router
        name = None if router is None else router.route(request)
        if name is None or name not in app.services.built():
            # it knows nothing yet: the routes and services of its own fixtures, in memory
            app = self._fallback_app()
            name = app.route(request)
        return app.unavailable(request, name)

    def _fallback_app(self) -> Application:
        if self._fallback is None:
            world = self.memory_world(self.seed, patch_time=False)
            world.build_services()
            self._fallback = world.app
        return self._fallback

    def forget(self) -> None:
        """Hold nothing of the store any more: every entity and part is read again before it is used."""
        with self._exclusive():
            self.instance = None

    def model(self, name: str) -> Any:
        return _Handle(self, name)

    def health(self) -> dict[str, Any]:
        try:
            self.store.ping()
        except StoreUnavailable as exc:
            return {"store": self.store.url, "ok": False, "error": str(exc)}
        return {"store": self.store.url, "ok": True, "instance": self.instance}

    def close(self) -> None:
        self.store.close()
        self.world.close()


_MARKER_KIND: Kind[Any] = Kind(MARKER, lambda value: 1, lambda data: 1)


def _split(entity: str) -> tuple[str, str]:
    first = entity.index("/")
    second = entity.index("/", first + 1)
    return entity[:second], entity[second + 1 :]


def _as_seen(commit: Commit, seen: Conflict | None) -> bool:
    """Whether every read of ``commit`` is what the store answered ``seen`` with: the state at that moment."""
    if seen is None:
        return False
    entities, scans = seen.entities, seen.scans
    for entity, version in commit.reads.items():
        if entity not in entities:
            return False
        stored = entities[entity]
        if (0 if stored is None else stored.version) != version:
            return False
    return all(scans.get(kind) == version for kind, version in commit.scans.items())


def _result(result: Any, failure: BaseException | None) -> Any:
    if failure is not None:
        raise failure
    return result


def _attempt_of(app: Application, request: Request) -> Reply:
    assert isinstance(app, TransactionalApplication)
    return app.attempt(request)


class _Handle:
    """``cloud.<service>`` of a mock on a store: each helper called, each property read, in one transaction."""

    def __init__(self, keeper: SharedKeeper, name: str) -> None:
        self._keeper, self._name = keeper, name

    def __getattr__(self, attribute: str) -> Any:
        keeper, name = self._keeper, self._name
        value = keeper.transaction(lambda: getattr(keeper.world.model(name), attribute))
        if not callable(value):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            return keeper.transaction(lambda: getattr(keeper.world.model(name), attribute)(*args, **kwargs))

        return call

    def __repr__(self) -> str:
        return f"<{self._name} of a mock on {self._keeper.store.url}>"
