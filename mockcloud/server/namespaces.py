"""Namespaces: private emulators inside one server, so that many test processes can share it.

A namespace is a whole emulator of its own (a :class:`~mockcloud.MockCloud`: state, clock, faults, request
log, seed) served on a port of its own by the server that made it. Every client reaches it the way it
reaches any server, by a base URL (``endpoint_url``/``AWS_ENDPOINT_URL`` for the AWS SDKs, the endpoint
``host:port`` of the Alibaba SDKs, a User API base URL), so the code under test needs no change, and
signatures cover exactly what the client sent. A path prefix cannot do that: the Alibaba SDKs take a bare
``host:port`` endpoint and put it in the ``Host`` header. The namespace's admin API is its own, on its
port, so ``reset``, the clock and faults act on it alone.

A namespace is a layer above the mock: the mock does not know it is one, and keeps its state however the
mock keeps state. It lives in the memory of the server process that made it, for as long as that process
runs or until it is deleted; it is not saved with ``--state`` and not shared through ``--store``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import MockCloudError

if TYPE_CHECKING:
    from .live import LiveServer

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
DEFAULT_LIMIT = 64


class NamespaceError(MockCloudError):
    """A namespace cannot be made or found: ``status`` and ``code`` are the admin API's answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class PortRange:
    """Where namespaces listen: ``first``-``last`` (a published range of a container), or any free port (0-0)."""

    first: int = 0
    last: int = 0

    @classmethod
    def parse(cls, text: str) -> PortRange:
        first, dash, last = text.strip().partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise ValueError(f"{text!r} is not a port range such as 4600-4699") from None
        if not 0 < low <= high <= 65535:
            raise ValueError(f"{text!r} is not a port range within 1-65535 (low-high)")
        return cls(low, high)

    def candidates(self) -> range:
        return range(self.first, self.last + 1) if self.first else range(1)


class Namespaces:
    """The namespaces of one server. ``serve(port, seed)`` starts the server of a new one on ``port`` (0: free)."""

    def __init__(
        self, serve: Callable[[int, int | None], LiveServer], ports: PortRange = PortRange(), limit: int = DEFAULT_LIMIT
    ) -> None:
        self._serve = serve
        self.ports = ports
        self.limit = limit
        self._servers: dict[str, LiveServer] = {}
        self._lock = threading.Lock()

    def create(self, name: str, seed: int | None = None) -> LiveServer:
        if not isinstance(name, str) or not NAME.match(name):
            raise NamespaceError(
                400, "BadNamespaceName", f"a namespace name is 1-64 letters, digits, '.', '_' or '-', not {name!r}"
            )
        with self._lock:
            if name in self._servers:
                raise NamespaceError(409, "NamespaceExists", f"the namespace {name!r} exists; delete it first")
            if len(self._servers) >= self.limit:
                raise NamespaceError(
                    429,
                    "TooManyNamespaces",
                    f"this server holds {self.limit} namespaces, its limit; delete those no longer used",
                )
            server = self._start(seed)
            self._servers[name] = server
        return server

    def _start(self, seed: int | None) -> LiveServer:
        busy: OSError | None = None
        for port in self.ports.candidates():
            try:
                return self._serve(port, seed).start()
            except OSError as exc:  # taken: the next port of the range
                busy = exc
        raise NamespaceError(
            503,
            "NoNamespacePort",
            f"no free port for a namespace in {self.ports.first}-{self.ports.last} ({busy})",
        )

    def get(self, name: str) -> LiveServer:
        with self._lock:
            server = self._servers.get(name)
        if server is None:
            raise NamespaceError(404, "NoSuchNamespace", f"no namespace {name!r} on this server")
        return server

    def delete(self, name: str) -> None:
        with self._lock:
            server = self._servers.pop(name, None)
        if server is None:
            raise NamespaceError(404, "NoSuchNamespace", f"no namespace {name!r} on this server")
        server.stop()

    def listing(self) -> dict[str, int]:
        with self._lock:
            return {name: server.port for name, server in self._servers.items()}

    def close(self) -> None:
        """Stop every namespace (the server is stopping)."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()
