"""Who keeps a connection when connections are scarce: a cap per client address, and idle ones reaped first.

Without it, one client holding idle connections (a runaway pool, a load
generator, an attacker) can fill the server's ``connection_limit``, and every
other client waits in the listen backlog until those connections time out.

- **Per client**: one address holds at most ``connections_per_client``
  connections. A new one beyond that closes the longest-idle connection of
  that same address; when all of them are busy, the new one is closed at once.
- **Idle first**: when the server holds ``connection_limit`` connections and
  another client waits to be accepted, the longest-idle connection of the
  address holding the most is closed to make room (nginx reuses keep-alive
  connections the same way when it runs out of ``worker_connections``).

A connection is idle when no request is arriving on it, queued or being
answered, and nothing waits to be sent: closing it loses nothing, and a
client's pool opens another when it needs one. A busy connection is never
closed here (``request_timeout`` bounds one that is stuck mid-request).

Everything here runs in the server's I/O loop, the only thread that opens or
closes connections.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterable
from typing import Any

# waitress's channels are untyped; what is read here: .addr, .requests, .request, .total_outbufs_len,
# .will_close, .close_when_flushed, .last_activity, .handle_close()
Channel = Any


def client_of(channel: Channel) -> str:
    """The client's address (without its port): what the cap counts by."""
    address = channel.addr
    return str(address[0] if isinstance(address, tuple) and address else address)


def is_idle(channel: Channel) -> bool:
    return not (
        channel.requests
        or channel.request is not None
        or channel.total_outbufs_len
        or channel.will_close
        or channel.close_when_flushed
    )


class Clients:
    """The open connections of each client address, kept as channels open and close (a channel's
    ``add_channel``/``del_channel`` report here): a cap costs one look-up per accepted connection."""

    def __init__(self) -> None:
        self._by_client: dict[str, dict[int, Channel]] = {}

    def opened(self, channel: Channel, client: str) -> None:
        self._by_client.setdefault(client, {})[id(channel)] = channel

    def closed(self, channel: Channel, client: str) -> None:
        own = self._by_client.get(client)
        if own is not None and own.pop(id(channel), None) is not None and not own:
            del self._by_client[client]

    def count(self, client: str) -> int:
        return len(self._by_client.get(client, ()))

    def admit(self, client: str, per_client: int) -> bool:
        """Whether to keep a connection just accepted from ``client``, making room among its own if need be."""
        own = self._by_client.get(client)
        if own is None or len(own) < per_client:
            return True
        return _close_longest_idle(own.values())

    def reap_one(self) -> bool:
        """Close the longest-idle connection of the address holding the most connections; whether there was one."""
        by_most = sorted(self._by_client.values(), key=len, reverse=True)
        return any(_close_longest_idle(own.values()) for own in by_most)

    def any_idle(self) -> bool:
        return any(is_idle(channel) for own in self._by_client.values() for channel in own.values())


def _close_longest_idle(channels: Iterable[Channel]) -> bool:
    victim, since = None, float("inf")
    for channel in channels:
        if channel.last_activity < since and is_idle(channel):
            victim, since = channel, channel.last_activity
    if victim is None:
        return False
    victim.handle_close()
    return True


class Counted:
    """A channel mixin: tells its server's :class:`Clients` when it opens and closes."""

    server: Any
    socket: socket.socket
    _client: str | None = None  # (``addr`` is set only after the channel is added)

    def add_channel(self, map: Any = None) -> None:
        super().add_channel(map)  # type: ignore[misc]
        try:
            peer = self.socket.getpeername()
        except OSError:  # gone already
            peer = None
        self._client = str(peer[0] if isinstance(peer, tuple) and peer else peer)
        self.server.clients.opened(self, self._client)

    def del_channel(self, map: Any = None) -> None:
        super().del_channel(map)  # type: ignore[misc]
        if self._client is not None:
            self.server.clients.closed(self, self._client)
            self._client = None


def someone_waits(listener: socket.socket) -> bool:
    """Whether a connection waits in ``listener``'s backlog (a look, without accepting it)."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(listener, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([listener], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):  # closed meanwhile
        return False
