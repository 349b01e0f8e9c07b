"""``cloud.requests``: what the mock answered, for assertions."""
from __future__ import annotations

from typing import Iterator, NamedTuple


class RequestRecord(NamedTuple):
    service: str | None
    operation: str | None
    status: int
    error_code: str | None
    method: str
    scheme: str
    host: str
    target: str  # path and query as sent
    time: float  # mock-clock epoch seconds
    fault: str | None = None  # the network fault this attempt met, if any

    @property
    def url(self) -> str:
        # Built when read, not on every request.
        return self.target if self.target.startswith(("http://", "https://")) else f"{self.scheme}://{self.host}{self.target}"

    @property
    def ok(self) -> bool:
        return self.error_code is None and self.status < 400

    def as_dict(self) -> dict:
        return {
            "service": self.service,
            "operation": self.operation,
            "status": self.status,
            "error_code": self.error_code,
            "method": self.method,
            "url": self.url,
            "time": self.time,
            "fault": self.fault,
        }

    def __repr__(self) -> str:
        return (
            f"RequestRecord(service={self.service!r}, operation={self.operation!r}, status={self.status}, "
            f"error_code={self.error_code!r}, method={self.method!r}, url={self.url!r}"
            + (f", fault={self.fault!r})" if self.fault else ")")
        )


class RequestLog:
    """Appends are atomic under the GIL, so recording takes no lock."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self.record = self._records.append

    def filter(self, service: str | None = None, operation: str | None = None, error_code: str | None = None) -> list[RequestRecord]:
        return [
            r
            for r in list(self._records)
            if (service is None or r.service == service)
            and (operation is None or r.operation == operation)
            and (error_code is None or r.error_code == error_code)
        ]

    def clear(self) -> None:
        self._records.clear()

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index):
        return self._records[index]

    def __repr__(self) -> str:
        return f"<RequestLog {len(self._records)} requests>"
