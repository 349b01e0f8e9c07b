"""``cloud.requests``: what the mock answered, for assertions."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class RequestRecord:
    service: str | None
    operation: str | None
    status: int
    error_code: str | None
    method: str
    url: str
    time: float  # mock-clock epoch seconds

    @property
    def ok(self) -> bool:
        return self.error_code is None and self.status < 400

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class RequestLog:
    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def record(self, entry: RequestRecord) -> None:
        with self._lock:
            self._records.append(entry)

    def filter(self, service: str | None = None, operation: str | None = None, error_code: str | None = None) -> list[RequestRecord]:
        return [
            r
            for r in self._records
            if (service is None or r.service == service)
            and (operation is None or r.operation == operation)
            and (error_code is None or r.error_code == error_code)
        ]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index):
        return self._records[index]

    def __repr__(self) -> str:
        return f"<RequestLog {len(self._records)} requests>"
