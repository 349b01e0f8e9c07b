"""Errors that travel through the one request path, and the table each service words its own in."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple


class ServiceError(Exception):
    """An answer the emulated service gives as an error, rendered in its own format.

    ``common`` marks errors raised by shared front-door machinery (signature
    checks, throttling) rather than by an operation, since some protocols
    render those differently (AWS coral's lowercase ``message``).
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        status: int = 400,
        *,
        headers: dict[str, str] | None = None,
        fields: dict[str, Any] | None = None,
        common: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers or {}
        self.fields = fields or {}
        self.common = common


class MockCloudError(Exception):
    """Misuse of mockcloud itself (bad options, bad fixtures)."""


class StoreUnavailable(MockCloudError):
    """The store that keeps the state could not be reached, did not answer in time, or holds what cannot be read.

    The request fails with its service's own 5xx and is not acknowledged; nothing it did is kept.
    """


class NotEmulatedError(MockCloudError):
    """Raised at the call by a strict mock (``mock_cloud(strict=True)``) where the service would answer 501.

    The operation is one the real service has (its model declares it) and
    mockcloud does not emulate; without ``strict`` the client gets the 501
    ``NotImplemented`` error in the service's own format instead.
    """

    def __init__(self, service: str, operation: str, message: str) -> None:
        super().__init__(message)
        self.service, self.operation = service, operation


class UnmockedRequestError(ConnectionError):
    """A request under the mock that no emulated service claims and no passthrough allows."""

    def __init__(self, method: str, url: str, host: str) -> None:
        self.method, self.url, self.host = method, url, host
        super().__init__(
            f"mockcloud blocked {method} {url}: no emulated service claims host {host!r}, "
            f"and nothing under the mock may reach the real network. To let it through, "
            f"use mock_cloud(passthrough=[{host!r}])."
        )


class ErrorCase(NamedTuple):
    """One failure a service answers: its error code, HTTP status and message (a ``str.format`` template)."""

    code: str
    status: int
    message: str = ""


class ErrorTable(Mapping[str, ErrorCase]):
    """A service's errors, by case: one place for each failure's code, status and wording.

    A case is the name the code raises by (``"wrong_password"``), or the code
    itself where the code is the only name the service has for it
    (:meth:`of_codes`). Settings rename codes with :meth:`renamed`, so a
    service whose sources leave its codes open can match what a user sees.
    Tables are immutable; ``|`` combines them (the right one wins).
    """

    __slots__ = ("_cases",)

    def __init__(self, cases: Mapping[str, ErrorCase | tuple[str, int, str]] = {}) -> None:
        self._cases: dict[str, ErrorCase] = {case: ErrorCase(*spec) for case, spec in cases.items()}

    @classmethod
    def of_codes(cls, codes: Mapping[str, tuple[int, str]]) -> ErrorTable:
        """A table whose cases are the codes themselves: ``{code: (status, message)}``."""
        return cls({code: ErrorCase(code, status, message) for code, (status, message) in codes.items()})

    def __getitem__(self, case: str) -> ErrorCase:
        return self._cases[case]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cases)

    def __len__(self) -> int:
        return len(self._cases)

    def __or__(self, other: Mapping[str, ErrorCase]) -> ErrorTable:
        return ErrorTable({**self._cases, **other})

    def __repr__(self) -> str:
        return f"ErrorTable({self._cases!r})"

    def renamed(self, codes: Mapping[str, str]) -> ErrorTable:
        """The table with the codes of some cases replaced (``{case: code}``); an unknown case is refused."""
        unknown = set(codes) - set(self._cases)
        if unknown:
            raise MockCloudError(f"no error case(s) {sorted(unknown)} to rename; known: {sorted(self._cases)}")
        return ErrorTable(
            {case: spec._replace(code=codes[case]) if case in codes else spec for case, spec in self._cases.items()}
        )

    def error(
        self,
        case: str,
        message: str | None = None,
        /,
        *,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **values: Any,
    ) -> ServiceError:
        """The case as a :class:`ServiceError`: ``message`` as given, else the template filled with ``values``.

        An unknown case is a ``KeyError``: a typo fails the first time it is raised, in any test that reaches it.
        """
        code, status, template = self._cases[case]
        if message is None:
            message = template.format(**values).strip() if values else template
        return ServiceError(code, message, status, fields=fields, headers=headers)
