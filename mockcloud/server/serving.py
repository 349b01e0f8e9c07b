"""The HTTP server under ``mockcloud server`` and ``LiveServer``: waitress, with limits.

waitress was chosen by measuring it against werkzeug's development server,
cheroot and granian (``benchmarks/compare_servers.py``; the figures are in the
README): its I/O loop holds idle and slow connections without a thread each,
it buffers a request (to a temporary file past 512 KiB) before a worker sees
it, so a worker never waits on a slow client, and it bounds every part of a
request. What we add is small: a body over the limit is answered by the
application, in the format of the service it was for (waitress's own answer
is plain text), and a request must arrive whole within ``request_timeout``
(waitress closes only connections that are silent for ``idle_timeout``, so a
client trickling a byte at a time would otherwise hold its connection). One
client address holds at most ``connections_per_client`` connections, and idle
connections make room for new clients (:mod:`.admission`). A reply to HEAD
never carries a body, whoever wrote it (RFC 9110 §9.3.2).

Both timeouts run on the monotonic clock: waitress reads ``time.time()``,
which a test that moves time (time-machine, freezegun, the mock's own clock
in-process) would make jump, closing live connections mid-request.

A request the application can answer without waiting on anything (see
``answers_at_once``) is answered on the I/O thread itself, as soon as it is
whole; only the others go to the worker threads. waitress hands every
request from its I/O thread to a worker and the reply back: on one core that
costs little, but on two the threads of one interpreter pass the GIL across
cores at every hand-off (7 futex calls per request on one connection, 29 on
eight, measured with strace), and the server's rate fell from ~3,000 requests
a second on one connection to a few hundred on two. On one thread it holds
its rate at any number of connections. The emulator's in-memory work is
CPU-bound, so the worker threads never ran it in parallel anyway.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import RequestEntityTooLarge

from ..core.app import NETWORK_FAULT
from ..core.faults import fault_bytes
from ..core.request import Reply
from . import admission
from .app import DEFAULT_MAX_BODY_SIZE, TOO_LARGE
from .logs import escape_logs

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

try:
    import resource
except ImportError:  # Windows: no descriptor limit to respect
    resource = None  # type: ignore[assignment]

# the waitress listener and its wake-up pipe count against waitress's connection limit
_OWN_DESCRIPTORS = 2
# descriptors kept free below the soft RLIMIT_NOFILE for files, pipes and the temp files of large bodies
_SPARE_DESCRIPTORS = 64
# bytes of a reply written before a worker sends them itself (waitress's send_bytes; its socket's buffer is larger)
_SEND_BYTES = 18000


@dataclass(frozen=True)
class ServerLimits:
    """The server's limits. Every one bounds what a client can make the server hold.

    - ``max_body_size``: bytes of a request body; more is answered 413 in the service's format.
    - ``max_header_size``: bytes of the request line and headers; more is answered 431.
    - ``idle_timeout``: seconds a connection may stay silent (between requests, or stalled in one).
    - ``request_timeout``: seconds a client has to send one whole request once it began.
    - ``threads``: the worker pool that runs the application.
    - ``connection_limit``: open client connections; beyond it new ones wait in the listen backlog,
      unless an idle connection can be closed to make room.
    - ``connections_per_client``: open connections of one client address; beyond it a new one closes that
      client's longest-idle connection, or is refused when all of them are busy.
    """

    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    max_header_size: int = 64 * 1024
    idle_timeout: float = 60.0
    request_timeout: float = 30.0
    threads: int = 4
    connection_limit: int = 2048
    connections_per_client: int = 512

    def __post_init__(self) -> None:
        for name in ("max_body_size", "max_header_size", "threads", "connection_limit", "connections_per_client"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, not {value!r}")
        for name in ("idle_timeout", "request_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 86400 * 365:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


class _Monotonic:
    # not a module attribute: freezegun swaps the time functions it finds in modules' globals
    now = time.monotonic


class _Parser(HTTPRequestParser):  # type: ignore[misc]  # waitress ships no types: its classes are Any here
    """waitress's parser, remembering when the request began (for ``request_timeout``)."""

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.started = _Monotonic.now()


class _HeadWithoutBody:
    """A reply to HEAD: its status and headers, never its body, whoever wrote it (the app, waitress's own errors).

    A body there would be read on a keep-alive connection as the start of the next reply.
    """

    request: Any
    chunked_response: bool

    def write(self, data: bytes) -> None:
        super().write(b"" if getattr(self.request, "command", None) == "HEAD" else data)  # type: ignore[misc]

    def finish(self) -> None:
        if getattr(self.request, "command", None) == "HEAD":  # a request line that did not parse has none
            self.chunked_response = False  # no last chunk either
        super().finish()  # type: ignore[misc]


class _ErrorTask(_HeadWithoutBody, WSGITask):  # type: ignore[misc]  # waitress ships no types: its classes are Any here
    """waitress's plain-text error answers (400, 431, ...), except for a body over the limit.

    That one goes to the application, marked, so that the service the request
    was for answers the 413 in its own format. The rest of the body is never
    read, so the connection closes after the answer.
    """

    def execute(self) -> None:
        if isinstance(self.request.error, RequestEntityTooLarge):
            self.set_close_on_finish()
            super().execute()
        else:
            self.complete = True  # what ErrorTask declares: there is no start_response
            ErrorTask.execute(self)

    def get_environment(self) -> WSGIEnvironment:
        environ: WSGIEnvironment = super().get_environment()
        environ[TOO_LARGE] = True
        return environ


class _Task(_HeadWithoutBody, WSGITask):  # type: ignore[misc]  # waitress ships no types: its classes are Any here
    """waitress's task, which can fail its connection the way a network does (``cloud.faults``'s ``network``).

    The application leaves the faulted reply in the environ; then nothing of
    its answer is written, and the socket is reset, closed after garbage or
    half a reply, or left silent until the client gives up.
    """

    def get_environment(self) -> WSGIEnvironment:
        environ: WSGIEnvironment = super().get_environment()
        environ.setdefault(NETWORK_FAULT, None)
        return environ

    def _fault(self) -> Reply | None:
        environ = self.environ
        return environ.get(NETWORK_FAULT) if environ is not None else None

    def write(self, data: bytes) -> None:
        if self._fault() is None:
            super().write(data)

    def finish(self) -> None:
        reply = self._fault()
        if reply is None:
            super().finish()
            return
        self.wrote_header = True
        if reply.fault in ("reset", "reset_after_commit"):
            self.channel.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_on_finish = True
        elif reply.fault != "stall":  # a stall writes nothing and keeps the connection: the client's timeout ends it
            data = fault_bytes(reply)
            if data:
                self.channel.write_soon(data)
            self.close_on_finish = True


class _Channel(admission.Counted, HTTPChannel):  # type: ignore[misc]  # waitress ships no types: its classes are Any here
    task_class = _Task
    error_task_class = _ErrorTask
    parser_class = _Parser
    _seen = 0.0

    def handle_read(self) -> None:
        super().handle_read()
        self.server.answer_at_once()  # what reading made whole, outside the channel's request lock

    @property
    def last_activity(self) -> float:
        return self._seen

    @last_activity.setter
    def last_activity(self, wall_clock: float) -> None:
        self._seen = _Monotonic.now()  # waitress sets time.time(); we keep the monotonic moment


class Server(TcpWSGIServer):  # type: ignore[misc]  # waitress ships no types: its classes are Any here
    """A waitress TCP server on a socket we bound, closing requests that take too long to arrive."""

    channel_class = _Channel
    request_timeout = ServerLimits.request_timeout
    _next_cleanup = 0.0
    # a worker's: whether to accept now, given its open connections (workers on one socket share them out)
    may_accept: Callable[[int], bool] | None = None
    connections_per_client = ServerLimits.connections_per_client

    # the application's say on whether a request now can be answered without waiting (see answers_at_once)
    at_once: Callable[[], bool] = staticmethod(lambda: False)
    _loop_thread: int | None = None  # the I/O thread's ident, while run() runs
    _whole: list[HTTPChannel] | None = None  # channels whose request the I/O thread answers itself, next

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.clients = admission.Clients()  # before any connection: each reports to it as it opens and closes
        super().__init__(*args, **kwargs)

    def run(self) -> None:
        self._loop_thread, self._whole = threading.get_ident(), []
        try:
            super().run()
        finally:
            self._loop_thread = None

    def add_task(self, channel: HTTPChannel) -> None:
        """A request is whole: answered on this (I/O) thread when nothing in it can wait, else by a worker.

        A channel with a reply still unsent goes to a worker too: it may have to wait for the client to
        read (waitress's high watermark), which only a worker may.
        """
        if (
            threading.get_ident() == self._loop_thread
            and self._whole is not None
            and not channel.total_outbufs_len
            and self.at_once()
        ):
            self._whole.append(channel)
        else:
            self.task_dispatcher.add_task(channel)

    def answer_at_once(self) -> None:
        """Answer the requests :meth:`add_task` kept for this thread (called by a channel once it has read)."""
        whole = self._whole
        while whole:
            channel = whole.pop(0)
            try:
                channel.service()
            except Exception:  # as a worker thread does: logged, and the server goes on
                self.task_dispatcher.logger.exception("Exception when servicing %r", channel)

    def pull_trigger(self) -> None:
        # the loop looks at every channel's output before it waits again: it need not wake itself
        if threading.get_ident() != self._loop_thread:
            super().pull_trigger()

    def readable(self) -> bool:
        now = _Monotonic.now()
        if now >= self._next_cleanup:
            self._next_cleanup = now + self.adj.cleanup_interval
            self._close_stale(now)
        self.next_channel_cleanup = float("inf")  # waitress's own maintenance, on the wall clock, never runs
        if self.may_accept is not None and not self.may_accept(len(self.active_channels)):
            return False
        if self._full() and self.accepting and admission.someone_waits(self.socket) and self.clients.any_idle():
            return True  # accepted, then an idle connection makes room (handle_accept)
        readable: bool = super().readable()
        return readable

    def _full(self) -> bool:
        return bool(len(self._map) >= self.adj.connection_limit)

    def handle_accept(self) -> None:
        """waitress's, but a client at its ``connections_per_client`` makes room among its own or is refused,
        and on a full server an idle connection makes room.

        Connections close only once the newcomer is accepted: a descriptor
        closed earlier in this loop's turn could be the newcomer's by the time
        the poll's events for the old one are handled.
        """
        try:
            accepted = self.accept()
            if accepted is None:
                return
            conn, addr = accepted
            self.set_socket_options(conn)
        except OSError:  # the client left before we got to it
            return
        addr = self.fix_addr(addr)
        client = str(addr[0] if isinstance(addr, tuple) and addr else addr)
        clients = self.clients
        if not clients.admit(client, self.connections_per_client) or (self._full() and not clients.reap_one()):
            conn.close()
            return
        self.channel_class(self, conn, addr, self.adj, map=self._map)

    def maintenance(self, now: float) -> None:
        """Replaced by :meth:`_close_stale` (monotonic clock)."""

    def _close_stale(self, now: float) -> None:
        """Close connections silent for ``idle_timeout`` and requests not whole after ``request_timeout``."""
        idle_cutoff = now - self.adj.channel_timeout
        request_cutoff = now - self.request_timeout
        for channel in list(self.active_channels.values()):
            request = channel.request
            if (not channel.requests and channel.last_activity < idle_cutoff) or (
                request is not None and request.started < request_cutoff
            ):
                channel.will_close = True

    @property
    def port(self) -> int:
        port: int = self.socket.getsockname()[1]
        return port

    def close_connections(self) -> None:
        """Close the listener and every connection, but not the trigger: the loop runs on.

        Tasks still running may pull the trigger when they end; closed, its
        descriptor could by then be another file's, and they would write into
        it. Close the trigger (``close()``) once the task threads are done.
        Run it in the loop's thread (``trigger.pull_trigger(server.close_connections)``)
        while ``run()`` runs, or directly when it does not.
        """
        for dispatcher in list(self._map.values()):
            if dispatcher is not self and dispatcher is not self.trigger:
                dispatcher.handle_close()
        tasks = self.task_dispatcher
        with tasks.lock:  # their queued requests go with them (quietly: waitress's shutdown warns of each)
            while tasks.queue:
                tasks.queue.popleft().cancel()
        wasyncore.dispatcher.close(self)  # the listener only (waitress's close() takes the trigger too)

    def close_all(self) -> None:
        """Close the listener, every connection and the trigger; ``run()`` returns once its map is empty."""
        self.close_connections()
        self.close()


def usable_connection_limit(wanted: int) -> int:
    """``wanted``, or less if the soft limit on open files would make accept() fail first.

    waitress would otherwise spin on a listener it cannot accept from.
    """
    if resource is None:
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - _SPARE_DESCRIPTORS))


def raise_open_files_limit(connections: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE (up to the hard limit) to fit ``connections``.

    For the ``mockcloud server`` process only: a library must not change its host's limits.
    """
    if resource is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + _SPARE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            pass


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (IPv4 first when a name has both). A busy port raises OSError."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = sorted(infos, key=lambda info: info[0] != socket.AF_INET)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once; a live listener still refuses
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(1024)
    except BaseException:
        sock.close()
        raise
    return sock


def make_server(
    app: WSGIApplication,
    host: str,
    port: int,
    limits: ServerLimits = ServerLimits(),
    listener: socket.socket | None = None,
) -> Server:
    """``app`` served by waitress with ``limits`` on ``host``:``port`` (0: a free port); not yet running.

    ``listener``: a socket already listening (a worker's, inherited from the process that bound it) instead.
    When ``app`` has ``answers_at_once()``, true while any request would be answered without waiting on
    anything (no disk, no store, no injected latency), the server answers on its I/O thread while it is true.
    """
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N" on every busy moment
    escape_logs()
    sock = bind(host, port) if listener is None else listener
    try:
        adj = Adjustments(
            threads=limits.threads,
            connection_limit=usable_connection_limit(limits.connection_limit) + _OWN_DESCRIPTORS,
            max_request_header_size=limits.max_header_size,
            max_request_body_size=limits.max_body_size + 1,  # waitress refuses at >= its limit
            asyncore_use_poll=True,  # select() cannot watch descriptors above 1023
            clear_untrusted_proxy_headers=False,  # the emulator sees the headers the client sent (and signed)
            ident="mockcloud",
            backlog=1024,
        )
        # a reply's head and body leave in one send() (waitress's default of 1 byte sends each write at once:
        # two system calls, and two packets, per reply); whatever is left is sent when the loop next looks
        adj.send_bytes = _SEND_BYTES
        # waitress takes whole seconds here; both are only compared with time.time()
        adj.channel_timeout = limits.idle_timeout
        adj.cleanup_interval = max(0.25, min(10.0, limits.idle_timeout / 4, limits.request_timeout / 4))
        sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
        server = Server(app, _sock=sock, adj=adj, bind_socket=False, sockinfo=sockinfo)
    except BaseException:
        sock.close()
        raise
    server.request_timeout = limits.request_timeout
    server.connections_per_client = limits.connections_per_client
    at_once = getattr(app, "answers_at_once", None)
    if at_once is not None:
        server.at_once = at_once
    return server
