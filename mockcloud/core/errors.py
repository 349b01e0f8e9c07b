"""Errors that travel through the one request path."""
from __future__ import annotations


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
        fields: dict | None = None,
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


class UnmockedRequestError(ConnectionError):
    """A request under the mock that no emulated service claims and no passthrough allows."""

    def __init__(self, method: str, url: str, host: str) -> None:
        self.method, self.url, self.host = method, url, host
        super().__init__(
            f"mockcloud blocked {method} {url}: no emulated service claims host {host!r}, "
            f"and nothing under the mock may reach the real network. To let it through, "
            f"use mock_cloud(passthrough=[{host!r}])."
        )
