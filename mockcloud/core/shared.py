"""One emulator shared by several mocks through a :class:`~.store.Store`: each request one optimistic transaction.

A mock that shares (``MockCloud(store=...)``, ``mockcloud server --store``)
keeps a local copy of the parts it has used: its models, clock, faults, key
pairs and entropy, each built from the part's text at the version it last saw.
Every request runs as one transaction over the parts it may touch (the
``clock``, ``faults``, ``credentials``, ``entropy``, its service, and the
services whose routes or token issuers it depends on):

1. under this process's lock, handle the request on the local copies as the
   in-memory mock would, noting the version of each part it used;
2. end it with one round trip to the store (:meth:`~.store.Store.commit`):
   if every part used is still at that version there, the parts the request
   changed are written and its log record appended, all at once; a request
   that changed nothing writes nothing but its record;
3. if another mock wrote any of those parts first, nothing is written: the
   store answers the newer parts, the changed local copies are dropped, the
   newer ones taken, and the whole request is handled again on them. A request
   that only reads is then done: it was answered from the state the store held
   at a moment within the request, so many writers never starve a reader.

So each state transition is atomic across processes and hosts: of two mocks
redeeming one refresh token, one commits and the other, handling it again on
the committed state, sees the token used. A reply is sent only after its
transaction committed, so an acknowledged change is in the store; and a reply
rests on state that was current when it was checked, within the request, so
a mock never answers from a state another mock had already moved on from.

Whether a part may have changed is known cheaply: the clock compares its
state, faults and key pairs count their changes, a seeded entropy compares
its generator's state, and each service's lock (:class:`CountingLock`, the
lock that guards every state transition of its model) counts how often it
was taken. Only then is the part's text made and compared with the text at
its version; a request that takes no model lock (a GetAccessToken) costs no
snapshot at all.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import MockCloudError
from .log import BODY_LIMIT, Capture, RequestLog, RequestRecord, redact_target
from .store import Seen, Store, StoreUnavailable

if TYPE_CHECKING:
    from ..mock import MockCloud
    from .app import Application
    from .request import Reply, Request

T = TypeVar("T")
CORE_PARTS = ("clock", "faults", "credentials", "entropy")
# a transaction that keeps meeting newer state gives up after this long (a 503 in the service's format)
RETRY_SECONDS = 10.0
# set to 1 to make every part's text after every transaction, and fail a request whose change no mark saw
VERIFY_ENV = "MOCKCLOUD_SHARED_VERIFY"

_log = logging.getLogger("mockcloud")


class CountingLock:
    """A re-entrant lock that counts how often it was taken: a shared mock's sign that a model may have changed."""

    __slots__ = ("_lock", "taken")

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.taken = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking, timeout):
            self.taken += 1
            return True
        return False

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> CountingLock:
        self._lock.acquire()
        self.taken += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class _Again(Exception):
    """The transaction met state newer than it read: handle the request again."""


class SharedState:
    """A mock's local copy of the shared parts, and the transactions that keep it in step with the store."""

    def __init__(self, cloud: MockCloud, store: Store) -> None:
        self.cloud = cloud
        self.store = store
        self.lock = threading.RLock()  # one transaction at a time in this process: they share the local copy
        self.instance: str | None = None
        self.versions: dict[str, int] = {}  # the version each local part is at (absent: not known)
        self.texts: dict[str, str | None] = {}  # the text of each part at that version
        self.verify = os.environ.get(VERIFY_ENV) == "1"
        self.commits = self.conflicts = 0  # for the curious and the tests

    # ---- the parts ------------------------------------------------------------------------------
    @property
    def parts(self) -> tuple[str, ...]:
        return CORE_PARTS + tuple(self.cloud.service_names)

    def wanted(self, service: str | None) -> tuple[str, ...]:
        """The parts a request to ``service`` reads: the core ones, its own, and those it depends on."""
        registry = self.cloud.services
        extra = [name for name in registry.depended_on() if name != service]
        return CORE_PARTS + ((service,) if service is not None else ()) + tuple(extra)

    def _export(self, part: str) -> str:
        cloud = self.cloud
        data: Any
        if part == "clock":
            data = cloud.clock.shared_state()
        elif part == "faults":
            data = cloud.faults.export()
        elif part == "credentials":
            data = cloud.credentials.export()
        elif part == "entropy":
            data = cloud.entropy.export()
        else:
            data = cloud.protocol(part).model.snapshot()
        return json.dumps(data, separators=(",", ":"), allow_nan=False)

    def _load(self, part: str, text: str) -> None:
        cloud = self.cloud
        data = json.loads(text)
        if part == "clock":
            cloud.clock.take_shared_state(data)
        elif part == "faults":
            cloud.faults.replace(data)
        elif part == "credentials":
            cloud.credentials.clear()
            cloud.credentials.load(data)
        elif part == "entropy":
            if cloud.entropy.replace(data):
                cloud.faults.use_generator(cloud.entropy.generator)
            cloud.seed = cloud.entropy.seed
        else:
            cloud.fixtures[part] = data
            if cloud.services.rebuild(part):  # its routes come from its state (User API mounts)
                cloud.app.forget_routes()

    def _marks(self, parts: Iterable[str]) -> dict[str, Any]:
        """For each part, what changes when it may have changed (cheap: no part's text is made)."""
        cloud = self.cloud
        built = cloud.services.built()
        marks: dict[str, Any] = {}
        for part in parts:
            if part == "clock":
                marks[part] = cloud.clock.shared_state()
            elif part == "faults":
                marks[part] = cloud.faults.changes
            elif part == "credentials":
                marks[part] = cloud.credentials.changes
            elif part == "entropy":
                entropy = cloud.entropy
                marks[part] = (entropy.seed, entropy.generator.getstate() if entropy.seeded else None)
            else:
                protocol = built.get(part)
                marks[part] = None if protocol is None else (id(protocol), protocol.context.lock.taken)
        return marks

    def _changes(self, parts: Iterable[str], before: dict[str, Any]) -> dict[str, str]:
        """The parts whose local copy differs from the text at their version, with their new text."""
        parts = tuple(parts)
        after = self._marks(parts)
        changed = {}
        for part in parts:
            marked = after[part] != before[part]
            if not marked and not self.verify:
                continue
            if not marked and part not in self.cloud.services.built() and part not in CORE_PARTS:
                continue
            text = self._export(part)
            if text != self.texts.get(part):
                if not marked:
                    raise MockCloudError(f"the {part} part changed without its lock or change count showing it")
                changed[part] = text
        return changed

    def _export_all(self) -> dict[str, str]:
        for name in self.cloud.service_names:  # built first: building one may draw from the entropy
            self.cloud.protocol(name)
        return {part: self._export(part) for part in self.parts}

    # ---- reading --------------------------------------------------------------------------------
    def _read(self, wanted: tuple[str, ...]) -> Seen:
        known = self.versions
        seen = self.store.read(known, wanted)
        if seen is None:
            return self._fill()
        if seen.instance != self.instance:  # emptied and filled again, or first contact: nothing local counts
            seen = self.store.read({}, wanted)
            if seen is None:
                return self._fill()
        return seen

    def _fill(self) -> Seen:
        """An empty store gets this mock's state as its fixtures make it, unless another mock is quicker."""
        with self.lock:
            cloud = self.cloud
            with cloud._lock:
                cloud._fresh()
            mine = self._export_all()
            seen = self.store.initialize(mine)
            self._adopt(seen, mine)
            return seen

    def publish(self) -> None:
        """Put this mock's whole state in the store in place of all it holds (a reset or a restore here)."""
        with self.lock:
            mine = self._export_all()
            self._adopt(self.store.replace(mine), mine)

    def _adopt(self, seen: Seen, mine: dict[str, str]) -> None:
        """Take ``seen`` (every part's text) as the local copy; the parts that are ``mine`` already are."""
        self.instance = seen.instance
        self.versions, self.texts = {}, {}
        for part, text in seen.texts.items():
            if mine.get(part) == text:
                self.versions[part], self.texts[part] = seen.versions[part], text
        self._take(seen, tuple(seen.texts))

    def _take(self, seen: Seen, wanted: Iterable[str]) -> None:
        """Bring the local copies of ``wanted`` up to ``seen`` where they are older (under ``self.lock``)."""
        if seen.instance != self.instance:
            self.instance = seen.instance
            self.versions, self.texts = {}, {}
        for part in wanted:
            version = seen.versions.get(part, 0)
            if version <= self.versions.get(part, -1):
                continue
            text = seen.texts.get(part)
            if text is None:
                if version:  # it changed after the read left out its text: read again
                    raise _Again
                self._load_default(part)
                text = self._export(part)  # what a request that changes nothing leaves it as
            else:
                self._load(part, text)
            self.versions[part] = version
            self.texts[part] = text

    def _load_default(self, part: str) -> None:
        """A part the store has never held (a service the mock that filled it did not emulate): from the fixtures."""
        if part in CORE_PARTS:
            raise MockCloudError(f"the store holds no {part}: it was not filled by a mockcloud")
        from . import fixtures

        self.cloud.fixtures[part] = fixtures.load(self.cloud.fixtures_path).get(part, {})
        if self.cloud.services.rebuild(part):
            self.cloud.app.forget_routes()

    def forget(self) -> None:
        """Hold no part any more: each is read again before it is used (the local copy may be wrong)."""
        with self.lock:
            self.versions, self.texts = {}, {}

    def _drop(self, parts: Iterable[str]) -> None:
        for part in parts:
            self.versions.pop(part, None)
            self.texts.pop(part, None)

    # ---- transactions ---------------------------------------------------------------------------
    def connect(self) -> None:
        """Reach the store (filling it, if it is empty) and take its whole state: a bad URL fails here."""
        seen = self._read(self.parts)
        with self.lock:
            self._take(seen, self.parts)
            for name in self.cloud.service_names:
                self.cloud.protocol(name)

    def transaction(self, action: Callable[[], T], parts: tuple[str, ...] | None = None) -> T:
        """``action()`` on a local copy of ``parts`` (default: all) that is current, its changes committed.

        Run again from the start when another mock wrote first. What ``action``
        changes before it raises is committed too, as the in-memory mock keeps it.
        """
        if self.instance is None:
            self.connect()
        wanted = self.parts if parts is None else parts
        return self._run(wanted, lambda: (action(), None))

    def _run(self, wanted: tuple[str, ...], action: Callable[[], tuple[T, RequestRecord | None]]) -> T:
        deadline = time.monotonic() + RETRY_SECONDS
        seen: Seen | None = None  # what the store answered when the last attempt was on older state
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                self.conflicts += 1
                if time.monotonic() > deadline:
                    raise StoreUnavailable("the shared state kept changing under this request; try again")
                if attempt > 3:  # many writers on one part: step aside a little, at random
                    time.sleep(random.uniform(0, min(0.02, 0.001 * attempt)))
            record: RequestRecord | None = None
            failure: BaseException | None = None
            with self.lock:
                as_seen = False  # whether the local copy is exactly the store's state at one moment of this request
                if seen is not None:
                    try:
                        self._take(seen, wanted)
                    except _Again:
                        seen = self._read(wanted)
                        continue
                    as_seen = all(self.versions.get(p) == seen.versions.get(p, 0) for p in wanted)
                instance = self.instance or ""
                expected = {p: self.versions.get(p, -1) for p in wanted}
                before = self._marks(wanted)
                try:
                    result, record = action()
                except _Moved:
                    raise
                except BaseException as exc:  # what it changed before it raised is kept, as in memory
                    failure = exc
                changes = self._changes(wanted, before)
                lines = [] if record is None else [encode_record(record)]
                if changes:  # written only if every part it used is still at the version it used
                    try:
                        outcome = self.store.commit(instance, expected, changes, lines, self.cloud.request_log_size)
                    except BaseException:
                        self._drop(changes)  # whether it was written is unknown: read it again
                        raise
                    if not isinstance(outcome, dict):
                        self._drop(changes)
                        seen = outcome if outcome is not None else self._fill()
                        continue
                    self.commits += 1
                    self.versions.update(outcome)
                    self.texts.update(changes)
                    if failure is not None:
                        raise failure
                    return result
            if as_seen:  # it only read, from the state the store held when it answered: true then, so logged as is
                if lines:
                    self.store.append(lines, self.cloud.request_log_size)
                if failure is not None:
                    raise failure
                return result
            # it only read: valid if what it read is still current (and then logged, in the same step)
            outcome = self.store.commit(instance, expected, {}, lines, self.cloud.request_log_size)
            if isinstance(outcome, dict):
                if failure is not None:
                    raise failure
                return result
            seen = outcome if outcome is not None else self._fill()

    def handle(self, app: Application, request: Request) -> Reply:
        """One request through ``app`` as one transaction (the request path of a sharing mock)."""
        from .request import Reply

        name = app.route(request)
        try:
            if self.instance is None:  # not reached yet (the store was down when this mock started)
                self.connect()
                app, name = self.cloud.app, self.cloud.app.route(request)
            while True:
                wanted = self.wanted(name)
                try:
                    return self._run(wanted, functools.partial(self._answer, app, request, name))
                except _Moved as moved:
                    app, name = moved.app, moved.name
        except StoreUnavailable as exc:
            _log.error("mockcloud: the store %s failed: %s", self.store.url, exc)
            if name is None:
                return Reply(404, [], b"", unclaimed=True)
            return app.unavailable(request, name)

    def _answer(self, app: Application, request: Request, name: str | None) -> tuple[Reply, RequestRecord | None]:
        from .request import Reply

        current = self.cloud.app
        routed = current.route(request)
        if current is not app or routed != name:  # a reset here, or routes that came with newer state
            raise _Moved(current, routed)
        if name is None:
            return Reply(404, [], b"", unclaimed=True), None
        return app.answer(request, name)


class _Moved(BaseException):
    """The request belongs elsewhere now (another service, or the application after a reset): start it again."""

    def __init__(self, app: Application, name: str | None) -> None:
        self.app, self.name = app, name


# ---- the request log in the store --------------------------------------------------------------
def encode_record(record: RequestRecord) -> str:
    """A log record as the store keeps it: its fields as a JSON list, secrets in the target redacted.

    Its number is the store's (given when read back), so numbers grow across every process that shares it.
    """
    if "?" in record.target:
        record = record._replace(target=redact_target(record.target, record.service))
    fields: list[Any] = list(record)
    fields[_SEQ] = 0
    if record.capture is not None:
        fields[_CAPTURE] = record.capture.to_json()
    return json.dumps(fields, separators=(",", ":"))


def decode_record(number: int, text: str) -> RequestRecord:
    fields = json.loads(text)
    fields[_SEQ] = number
    if len(fields) > _CAPTURE and fields[_CAPTURE] is not None:
        fields[_CAPTURE] = Capture.from_json(fields[_CAPTURE])
    return RequestRecord(*fields)


_SEQ, _CAPTURE = RequestRecord._fields.index("seq"), RequestRecord._fields.index("capture")


class SharedRequestLog(RequestLog):
    """``cloud.requests`` of a sharing mock: the store's request log, read at each use."""

    def __init__(self, store: Store, size: int, body_limit: int = BODY_LIMIT) -> None:
        # not the base's __init__: no deque and no counter of its own, the store keeps and numbers the records
        if size < 1:
            raise ValueError(f"the request log keeps at least one request, not {size}")
        self.store = store
        self.size = size
        self.body_limit = body_limit
        self.lock = threading.Lock()

    @property
    def _records(self) -> list[RequestRecord]:  # type: ignore[override]
        return [decode_record(number, text) for number, text in self.store.records()]

    @property
    def last(self) -> int:  # type: ignore[override]
        """The number of the newest record the store keeps (0 when it keeps none)."""
        found = self.store.records(last=1)
        return found[-1][0] if found else 0

    def since(self, seq: int = 0, limit: int | None = None) -> list[RequestRecord]:
        found = [decode_record(number, text) for number, text in self.store.records(after=seq)]
        return found[-limit:] if limit is not None and limit < len(found) else found

    def record(self, record: RequestRecord) -> None:
        """Log one request outside a transaction (a body refused for its size); a store that is down loses it."""
        try:
            self.store.append([encode_record(record)], self.size)
        except StoreUnavailable as exc:
            _log.error("mockcloud: a request could not be logged in %s: %s", self.store.url, exc)

    def clear(self) -> None:
        self.store.clear_records()

    def __repr__(self) -> str:
        return f"<RequestLog of {self.store.url}: at most {self.size} requests>"
