"""Network faults delivered on a real socket, so each client raises what it raises in production.

An interceptor that catches its client above the socket (requests, urllib3,
botocore, httpx) hands a faulted request back to the client's own lower
layers, whose next connection goes to a loopback server that fails on the
socket as the network would: a reset, a close with no reply, headers and part
of a body, garbage, or silence. The client's own code then meets the failure
and raises its own exception; mockcloud invents none. Clients caught below
their parser (http.client, aiohttp) get the same bytes and the same socket
events from their in-memory connection instead (:func:`fault_bytes`,
:class:`FaultStream`).
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..core.faults import STALL_LIMIT, fault_bytes
from ..core.request import Reply

_pending: contextvars.ContextVar[Reply | None] = contextvars.ContextVar("mockcloud_network_fault", default=None)
RESET = ConnectionResetError(104, "Connection reset by peer")


def pending() -> Reply | None:
    """The faulted reply whose connection this thread (or task) is about to open, if any."""
    return _pending.get()


@contextlib.contextmanager
def faulting(reply: Reply) -> Iterator[None]:
    """While the client sends this request, its next connection is the faulty one."""
    token = _pending.set(reply)
    try:
        yield
    finally:
        _pending.reset(token)


def take() -> Reply | None:
    """The pending fault, once: a retry opens its own connection and has its own fault or none."""
    reply = _pending.get()
    if reply is not None:
        _pending.set(None)
    return reply


class FaultStream(io.RawIOBase):
    """A connection's read side as the fault leaves it, for clients given in-memory sockets.

    Reads return what :func:`fault_bytes` sends, then end as the fault ends
    the connection: EOF, ``ConnectionResetError``, or, for a stall, the
    client's own socket timeout (``TimeoutError``) or EOF after the limit.
    """

    def __init__(self, reply: Reply, timeout: float | None) -> None:
        super().__init__()
        self._data = io.BytesIO(fault_bytes(reply))
        self._fault = reply.fault
        self.timeout = timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._data.readinto(buffer)
        if count:
            return count
        if self._fault in ("reset", "reset_after_commit"):
            raise ConnectionResetError(*RESET.args)
        if self._fault == "stall":
            if self.timeout is not None and self.timeout < STALL_LIMIT:
                time.sleep(self.timeout)
                raise TimeoutError("timed out")
            time.sleep(STALL_LIMIT)
        return 0


class _Server:
    """The loopback end of faulted connections: reads each request whole, then fails as told."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._expected: dict[int, Reply] = {}
        self._arrived = threading.Condition()
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, name="mockcloud-network-faults", daemon=True).start()

    def expect(self, client_port: int, reply: Reply) -> None:
        with self._arrived:
            self._expected[client_port] = reply
            self._arrived.notify_all()

    def _accept(self) -> None:
        while True:
            try:
                connection, peer = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection, peer[1]), daemon=True).start()

    def _serve(self, connection: socket.socket, client_port: int) -> None:
        self._open.add(connection)
        try:
            connection.settimeout(10)
            _read_request(connection)
            with self._arrived:
                self._arrived.wait_for(lambda: client_port in self._expected or self._closed, timeout=10)
                reply = self._expected.pop(client_port, None)
            if reply is None:
                return
            if reply.fault in ("reset", "reset_after_commit"):
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif reply.fault == "stall":
                connection.settimeout(STALL_LIMIT)
                with contextlib.suppress(OSError):
                    while connection.recv(65536):  # held open until the client gives up (or the limit)
                        pass
            else:
                connection.sendall(fault_bytes(reply))
        except OSError:
            pass
        finally:
            self._open.discard(connection)
            connection.close()

    def close(self) -> None:
        with self._arrived:
            self._closed = True
            self._arrived.notify_all()
        self._listener.close()
        for connection in list(self._open):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _read_request(connection: socket.socket) -> None:
    """Read the request's head and its body (by length or chunks), as a server would before failing."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
    }
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = connection.recv(65536)
            if not chunk:
                return
            rest += chunk
        return
    length = int(headers.get(b"content-length", b"0") or 0) if headers.get(b"content-length", b"0").isdigit() else 0
    while len(rest) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return
        rest += chunk


_server: _Server | None = None
_lock = threading.Lock()


def server() -> _Server:
    global _server
    if _server is None:
        with _lock:
            if _server is None:
                _server = _Server()
    return _server


def address() -> tuple[str, int] | None:
    """Where faulted connections go, once the server runs (the network guard lets them through)."""
    return None if _server is None else _server.address


def connect(reply: Reply, timeout: float | None = None) -> socket.socket:
    """A plain socket to the loopback server, which will fail this request as ``reply.fault`` says."""
    sock = socket.create_connection(server().address, timeout=timeout)
    server().expect(sock.getsockname()[1], reply)
    return sock


def connect_urllib3(nxt: Any, connection: Any) -> object:  # None, or what the next link returns
    """urllib3's ``connect`` (also its vendored copies'): a faulted request's connection goes to the loopback end."""
    reply = take()
    if reply is None:
        return nxt(connection)
    timeout = connection.timeout if isinstance(connection.timeout, (int, float)) else None
    connection.sock = connect(reply, timeout)
    connection._has_connected_to_proxy = False
    connection.is_verified = True  # no TLS on the loopback end: nothing to warn about
    return None


def stop() -> None:
    """Close the loopback server (the last mock stopped)."""
    global _server
    with _lock:
        if _server is not None:
            _server.close()
            _server = None
