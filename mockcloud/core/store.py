"""Where an emulator's state lives when several mocks (processes, hosts) share it: the store interface.

A mock keeps its state in its own objects (the models, the clock, the faults,
the key pairs); alone, that is all there is, and nothing here is used. When
mocks share one emulator (``mockcloud server --workers N --store URL``), the
state also lives in a :class:`Store`, as *parts*: each is one section of a
snapshot (:mod:`.snapshot`) as JSON text, with a version that grows by one
each time the part is written. Every part of a snapshot is a part here: the
``clock``, ``faults``, ``credentials`` and ``entropy``, and each service's
section under the service's name. So the store's contents are a snapshot, and
a snapshot taken from one store restores into any other.

A mock works on its own copy of the parts, at the versions it holds, and ends
each request with :meth:`Store.commit`: if every part it used is still at the
version it used, the parts it changed are written and the request's log record
appended, at once; if not, nothing is written and the store answers the newer
parts, to handle the request again on. A compare-and-set over several parts at
once, so two mocks never both act on one state (a refresh token redeemed
twice), in one round trip per request. The request log is the store's too: a
capped list of records.

Two implementations: :class:`MemoryStore` (mocks in one process) and
``redis_store.RedisStore`` (processes and hosts); another store is a module
with one more subclass of :class:`Store`, registered in :func:`open_store`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .errors import MockCloudError

Versions = Mapping[str, int]  # part -> version
Texts = Mapping[str, str]  # part -> its JSON text


class StoreUnavailable(MockCloudError):
    """The store could not be reached or did not answer: the request fails, and is not acknowledged."""


@dataclass(frozen=True)
class Seen:
    """What one :meth:`Store.read` saw, all at one moment."""

    instance: str  # which contents: a store that was emptied and filled again is another instance
    versions: dict[str, int]  # every part's version (0: never written)
    texts: dict[str, str] = field(default_factory=dict)  # the parts asked for whose version the reader did not hold


# what a commit answers: the versions it wrote, or (nothing written) what the store holds, or None: it holds nothing
Outcome = dict[str, int] | Seen | None


class Store(ABC):
    """The shared state of one emulator: versioned parts and a capped request log.

    Every method is atomic on its own: what it reads is one moment's state,
    what it writes appears all at once. Failures to reach the store raise
    :class:`StoreUnavailable`.
    """

    url: str = ""

    @abstractmethod
    def read(self, known: Mapping[str, int], wanted: Iterable[str]) -> Seen | None:
        """Every part's version, and the text of each ``wanted`` part whose version is not ``known[part]``.

        None when the store holds no state yet (never filled, or emptied).
        """

    @abstractmethod
    def initialize(self, texts: Mapping[str, str]) -> Seen:
        """Fill an empty store with ``texts`` (every part) and answer what it holds then.

        When the store holds state already (another mock filled it first), that state is kept.
        """

    @abstractmethod
    def commit(self, instance: str, expected: Versions, texts: Texts, records: Sequence[str], log_size: int) -> Outcome:
        """Write ``texts`` and append ``records`` if the store is ``instance`` with every part at ``expected``.

        Returns the new versions of the parts written (``{}`` when ``texts`` is
        empty: the request only read). Otherwise nothing is written, and it
        returns what the store holds (a :class:`Seen` with the text of every
        ``expected`` part at another version), or None when it holds nothing.
        """

    @abstractmethod
    def replace(self, texts: Mapping[str, str]) -> Seen:
        """Put ``texts`` (every part) in place of all state at once, whatever it was, and empty the request log."""

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

    def close(self) -> None:  # noqa: B027  (a store without connections has nothing to let go of)
        """Let go of connections (the state stays in the store)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


class MemoryStore(Store):
    """A store in this process: for several mocks in one process that are one emulator, and to test sharing.

    The mocks of one process share it by being given the same object.
    """

    _numbers = itertools.count(1)

    def __init__(self) -> None:
        self.url = f"memory:{next(self._numbers)}"
        self._lock = threading.Lock()
        self._instance: str | None = None
        self._versions: dict[str, int] = {}
        self._texts: dict[str, str] = {}
        self._log: deque[tuple[int, str]] = deque()
        self._next_number = itertools.count(1).__next__

    def read(self, known: Mapping[str, int], wanted: Iterable[str]) -> Seen | None:
        with self._lock:
            if self._instance is None:
                return None
            return self._seen(known, wanted)

    def _seen(self, known: Mapping[str, int], wanted: Iterable[str]) -> Seen:
        assert self._instance is not None
        versions = dict(self._versions)
        texts = {p: self._texts[p] for p in wanted if p in self._texts and known.get(p) != versions.get(p)}
        return Seen(self._instance, versions, texts)

    def initialize(self, texts: Mapping[str, str]) -> Seen:
        with self._lock:
            if self._instance is None:
                self._instance = secrets.token_hex(8)
                self._texts = dict(texts)
                self._versions = dict.fromkeys(texts, 1)
                self._log.clear()
            return self._seen({}, self._texts)

    def commit(self, instance: str, expected: Versions, texts: Texts, records: Sequence[str], log_size: int) -> Outcome:
        with self._lock:
            if self._instance is None:
                return None
            if instance != self._instance or any(self._versions.get(p, 0) != v for p, v in expected.items()):
                return self._seen({} if instance != self._instance else expected, expected)
            written = {}
            for part, text in texts.items():
                self._texts[part] = text
                written[part] = self._versions[part] = self._versions.get(part, 0) + 1
            self._add(records, log_size)
            return written

    def replace(self, texts: Mapping[str, str]) -> Seen:
        with self._lock:
            if self._instance is None:
                self._instance = secrets.token_hex(8)
            for part in set(self._texts) - set(texts):
                del self._texts[part]
                self._versions[part] += 1
            for part, text in texts.items():
                self._texts[part] = text
                self._versions[part] = self._versions.get(part, 0) + 1
            self._log.clear()
            return self._seen({}, self._texts)

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
            self._instance = None
            self._versions, self._texts = {}, {}
            self._log.clear()


def open_store(url: str) -> Store:
    """The store a URL names: ``redis://HOST:PORT/DB`` (or ``rediss://``, ``unix://``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss", "unix"):
        from .redis_store import RedisStore  # imports the redis client only now

        return RedisStore(url)
    raise MockCloudError(f"unknown store {url!r}: give redis://HOST:PORT/DB")
