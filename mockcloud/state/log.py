"""The request log of a mock whose state is in a store: each record kept with the request's transaction.

A request's record is written only if its transaction is: in the same step as
its changes when the store keeps the log (:class:`SharedRequestLog`, read
back from the store, numbered there, so numbers grow across every process
that shares it), or after the commit into the process's own log when it does
not (:class:`TransactionLog`, ``--state``). A request handled again after a
conflict is logged once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.errors import StoreUnavailable
from ..core.log import BODY_LIMIT, Capture, RequestLog, RequestRecord, next_seq, redact_target

if TYPE_CHECKING:
    from .store import Store

_log = logging.getLogger("mockcloud")
_SEQ, _CAPTURE = RequestRecord._fields.index("seq"), RequestRecord._fields.index("capture")


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


class TransactionLog(RequestLog):
    """The process's own log, written when a request's transaction commits (the store keeps no log)."""

    def __init__(self, size: int, pending: Callable[[], list[RequestRecord] | None]) -> None:
        super().__init__(size)
        self._pending = pending  # the current transaction's records, or None outside one

    def record(self, record: RequestRecord) -> None:
        pending = self._pending()
        if pending is None:
            super().record(record)
        else:
            pending.append(record)

    def committed(self, records: list[RequestRecord]) -> None:
        """Keep a committed transaction's records, numbered now, in the order they are kept."""
        with self.lock:
            for record in records:
                super().record(record._replace(seq=next_seq()))


class SharedRequestLog(RequestLog):
    """``cloud.requests`` of a mock whose store keeps the log: the store's, read at each use."""

    def __init__(
        self,
        store: Store,
        size: int,
        pending: Callable[[], list[RequestRecord] | None],
        body_limit: int = BODY_LIMIT,
    ) -> None:
        # not the base's __init__: no deque and no counter of its own, the store keeps and numbers the records
        if size < 1:
            raise ValueError(f"the request log keeps at least one request, not {size}")
        self.store = store
        self.size = size
        self.body_limit = body_limit
        self.lock = threading.Lock()
        self._pending = pending

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
        """Keep a record with the current transaction's, or (outside one: a body refused for its size) now."""
        pending = self._pending()
        if pending is not None:
            pending.append(record)
            return
        try:
            self.store.append([encode_record(record)], self.size)
        except StoreUnavailable as exc:
            _log.error("mockcloud: a request could not be logged in %s: %s", self.store.url, exc)

    def clear(self) -> None:
        self.store.clear_records()

    def __repr__(self) -> str:
        return f"<RequestLog of {self.store.url}: at most {self.size} requests>"
