"""Entities: the records a model's state is made of, and the tables a model reads and writes them through.

A model declares each kind of record it keeps as a :class:`Kind` (its name,
how one record is written as JSON and read back, and when it is past every
use) and asks its context for a table of each: ``context.table(SESSION)``. A
table is a mapping from a record's key (text) to the record:

- ``table.get(key)`` (or ``table[key]``, ``key in table``) reads one record;
- ``table[key] = record`` writes one, new or changed: a model writes back
  every record it changes, right after changing it;
- ``del table[key]`` drops one; ``values()``, ``items()``, ``keys()``,
  ``len()`` read them all (a scan: for listings, snapshots, the dashboard).

A record refers to another by its key, never by holding it, and a model keeps
no record between two calls: what it knows lives in its tables, and what it
derives (an index) it can derive again from them.

In memory, the default, a table is a ``dict`` of the records themselves, so a
model costs what plain dictionaries cost. With a store (``--state``,
``--store``), the same calls read and write the store's entities inside the
request's transaction (see :mod:`mockcloud.state`): each request works on its
own copies of the records it reads, and commits the ones it wrote.

A kind with ``dead_at`` is pruned on the mock clock: once the clock is past a
record's ``dead_at`` it is dropped, a few at a time as new records are
written, in memory and in every store alike.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

E = TypeVar("E")

# how long an expired token is still known (and answers "expired", "reused") before it is dropped
KEPT_SECONDS = 86400.0
BUCKET_SECONDS = 60.0  # records past use are found by the minute of their dead_at
PRUNE_STEP = 8  # records checked for pruning per write: enough to drop the old faster than the new come
PRUNE_EVERY = 16  # writes between two looks at the clock for records past use

Table = MutableMapping[str, E]  # what a model holds: ``Table[Session]``


def compound(*parts: str) -> str:
    """One key made of several texts, none of which can run into another: ``["owner","customer"]``."""
    return json.dumps(parts, separators=(",", ":"))


@dataclass(frozen=True, eq=False)
class Kind(Generic[E]):
    """One kind of record of a model: its name, its JSON form and, if it expires, when it is past every use.

    ``dump`` gives a JSON value (what a store keeps, one entity per record)
    and ``load`` takes it back; ``dead_at`` gives the mock-clock moment after
    which nothing can use the record (None: never), so it is dropped. A
    ``whole`` kind is small and read by most requests (a service's mounts):
    a store reads it as a whole and keeps it at hand.
    """

    name: str
    dump: Callable[[E], Any]
    load: Callable[[Any], E]
    dead_at: Callable[[E], float | None] | None = None
    whole: bool = False

    def __repr__(self) -> str:
        return f"<Kind {self.name}>"


class Tables(Protocol):
    """What a model asks for its tables: one per kind, for the model's part of the state."""

    def table(self, kind: Kind[E]) -> Table[E]: ...


class MemoryTable(dict[str, E]):
    """A kind's records in this process, as a ``dict``: the default, at the cost of a dict."""

    kind: Kind[E]


class ExpiringTable(MemoryTable[E]):
    """A :class:`MemoryTable` of a kind that expires: each write notes the minute of the record's ``dead_at``.

    Writes then drop a few records of the oldest minute that the clock has
    passed (each checked again: it may have been written later with a later
    ``dead_at``, or dropped), so expired records go as new ones come, at a
    cost that does not grow with the table.
    """

    def __init__(self, kind: Kind[E], now: Callable[[], float]) -> None:
        super().__init__()
        self.kind = kind
        assert kind.dead_at is not None
        self._dead_at = kind.dead_at
        self._now = now
        self._minutes: list[int] = []  # heap of the minutes in _noted
        self._noted: dict[int, list[str]] = {}  # minute of dead_at -> keys written with it (may repeat)
        self._writes = 0

    def __setitem__(self, key: str, record: E) -> None:
        dict.__setitem__(self, key, record)
        self.note(key, record)
        self._writes += 1
        if not self._writes % PRUNE_EVERY and self._minutes and self._minutes[0] < self._now() // BUCKET_SECONDS:
            self.prune(self._now(), PRUNE_STEP * PRUNE_EVERY)

    def note(self, key: str, record: E) -> None:
        """Note when ``record`` (written under ``key``) is past use."""
        when = self._dead_at(record)
        if when is None:
            return
        minute = int(when // BUCKET_SECONDS)
        keys = self._noted.get(minute)
        if keys is None:
            keys = self._noted[minute] = []
            heapq.heappush(self._minutes, minute)
        keys.append(key)

    def prune(self, now: float, limit: int | None = None) -> int:
        """Drop records past ``dead_at`` (at most ``limit`` checked; None: all); how many were dropped."""
        dropped = checked = 0
        dead_at = self._dead_at
        while self._minutes and self._minutes[0] < now // BUCKET_SECONDS:
            minute = self._minutes[0]
            keys = self._noted[minute]
            while keys:
                if limit is not None and checked >= limit:
                    return dropped
                checked += 1
                key = keys.pop()
                record = dict.get(self, key)
                if record is None:
                    continue
                when = dead_at(record)
                if when is not None and when < now and int(when // BUCKET_SECONDS) == minute:
                    dict.__delitem__(self, key)
                    dropped += 1
            del self._noted[minute]
            heapq.heappop(self._minutes)
        return dropped

    def clear(self) -> None:
        dict.clear(self)
        self._minutes, self._noted = [], {}

    # refused: they would write without noting when the record is past use
    def setdefault(self, key: str, default: Any = None) -> Any:
        raise TypeError("write a record with table[key] = record")

    def update(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("write a record with table[key] = record")


class MemoryTables:
    """One part's tables in this process (a service's, the credentials'): made on first ask, one per kind.

    ``stored`` are records as a store keeps them (kind name -> key -> JSON
    value), read into a table when its kind is first asked for: how a
    store's contents become a mock in memory again (a snapshot of a store).
    """

    def __init__(self, now: Callable[[], float], stored: dict[str, dict[str, Any]] | None = None) -> None:
        self._now = now
        self._stored = stored or {}
        self.tables: dict[str, MemoryTable[Any]] = {}

    def table(self, kind: Kind[E]) -> Table[E]:
        table = self.tables.get(kind.name)
        if table is None:
            if kind.dead_at is None:
                table = MemoryTable()
                table.kind = kind
            else:
                table = ExpiringTable(kind, self._now)
            for key, value in self._stored.pop(kind.name, {}).items():
                record = kind.load(value)
                dict.__setitem__(table, key, record)
                if isinstance(table, ExpiringTable):  # noted, not pruned while filling
                    table.note(key, record)
            self.tables[kind.name] = table
        elif table.kind is not kind:
            raise TypeError(f"two kinds named {kind.name!r} in one part")
        return table

    def records(self) -> Iterator[tuple[Kind[Any], str, Any]]:
        """Every record of every table made so far: ``(kind, key, record)``."""
        for table in self.tables.values():
            for key, record in table.items():
                yield table.kind, key, record

    def prune(self) -> int:
        """Drop every record past its ``dead_at`` now; how many were dropped."""
        now = self._now()
        return sum(table.prune(now) for table in self.tables.values() if isinstance(table, ExpiringTable))
