"""A mockcloud server on waitress, in a background thread or in the foreground."""

from __future__ import annotations

import secrets
import socket
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.log import DEFAULT_SIZE as DEFAULT_LOG_SIZE
from ..core.log import redact_target
from ..core.text import printable
from .app import AdminApp, create_app
from .guard import AdminGuard, is_loopback, off_loopback
from .namespaces import DEFAULT_LIMIT, Namespaces, PortRange
from .serving import ServerLimits, make_server

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ..mock import MockCloud


class LiveServer:
    """``with LiveServer() as server: server.url`` — a real HTTP endpoint, on loopback unless told otherwise.

    The keyword arguments after ``quiet`` are the server's limits (see
    :class:`ServerLimits`). ``admin_token`` protects the admin API; bound off
    loopback the server makes one if none is given (``server.admin_token``)
    and warns, since anything on the network can then reach the emulator.
    ``allowed_hosts`` are extra ``Host`` names (``name`` or ``name:port``)
    that the admin API accepts besides the server's own. ``request_log_size``
    bounds the request log (when the app is made here, from ``fixtures``).
    ``store`` shares the emulator through a store (a URL such as
    ``redis://127.0.0.1:6379/0``) with every server given the same one;
    ``listener`` is a socket already listening to serve on (a worker's), and
    ``may_accept(open_connections)`` says whether to accept a connection now.
    ``namespace_ports`` (``"4600-4699"``; default any free port) and ``max_namespaces`` bound the
    server's namespaces (:mod:`.namespaces`); ``namespaces=False`` makes none (a namespace's own server).
    A busy port raises ``OSError``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fixtures: str | Path | None = None,
        app: AdminApp | None = None,
        quiet: bool = True,
        max_body_size: int = ServerLimits.max_body_size,
        max_header_size: int = ServerLimits.max_header_size,
        idle_timeout: float = ServerLimits.idle_timeout,
        request_timeout: float = ServerLimits.request_timeout,
        threads: int = ServerLimits.threads,
        connection_limit: int = ServerLimits.connection_limit,
        connections_per_client: int = ServerLimits.connections_per_client,
        admin_token: str | None = None,
        allowed_hosts: Iterable[str] = (),
        request_log_size: int = DEFAULT_LOG_SIZE,
        seed: int | None = None,
        state: str | Path | None = None,
        store: str | None = None,
        listener: socket.socket | None = None,
        may_accept: Callable[[int], bool] | None = None,
        namespace_ports: PortRange | str | None = None,
        max_namespaces: int = DEFAULT_LIMIT,
        namespaces: bool = True,
    ) -> None:
        self.limits = ServerLimits(
            max_body_size,
            max_header_size,
            idle_timeout,
            request_timeout,
            threads,
            connection_limit,
            connections_per_client,
        )
        self._own_app = app is None  # its state (a state file's, a store's connections) let go of at stop
        if app is None:
            app = create_app(fixtures, request_log_size=request_log_size, seed=seed, state=state, store=store)
        self.app = app
        self.host = host
        self.loopback = is_loopback(host)
        if admin_token is not None and not admin_token:
            raise ValueError("admin_token must not be empty")
        if admin_token is None and not self.loopback:
            admin_token = secrets.token_urlsafe(32)
        self.admin_token = admin_token
        self.quiet = quiet
        allowed_hosts = self.allowed_hosts = tuple(allowed_hosts)
        AdminGuard.for_bind(host, port, allowed_hosts=allowed_hosts)  # a bad entry raises ValueError before we bind
        self._server = make_server(_AccessLog(app) if not quiet else app, host, port, self.limits, listener)
        self._server.may_accept = may_accept
        self.port = self._server.port
        app.guard = AdminGuard.for_bind(host, self.port, allowed_hosts=allowed_hosts, token=admin_token)
        app.max_body_size = self.limits.max_body_size
        if namespaces:
            ports = PortRange.parse(namespace_ports) if isinstance(namespace_ports, str) else namespace_ports
            app.namespaces = Namespaces(self._namespace_server, ports or PortRange(), max_namespaces)
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()
        self._stopped = threading.Event()
        if not self.loopback:
            warnings.warn(off_loopback(host), RuntimeWarning, stacklevel=2)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def cloud(self) -> MockCloud:
        return self.app.cloud

    def _namespace_server(self, port: int, seed: int | None) -> LiveServer:
        """The server of a new namespace: a fresh mock like this one's, on ``port``, with this server's limits,
        host, admin token and allowed names."""
        options = dict(self.app.namespace_options)
        if seed is not None:
            options["seed"] = seed
        fixtures = options.pop("fixtures", None)
        app = create_app(fixtures, **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # off loopback: this server has said so once
            return LiveServer(
                self.host,
                port,
                app=app,
                quiet=self.quiet,
                **asdict(self.limits),
                admin_token=self.admin_token,
                allowed_hosts=self.allowed_hosts,
                namespaces=False,
            )

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` (from another thread) or Ctrl-C."""
        self._serving.set()
        try:
            self._server.run()  # returns on KeyboardInterrupt too, after stopping the task threads
        finally:
            self._server.task_dispatcher.shutdown(timeout=5)  # before the trigger closes: a task ending pulls it
            if self._server._map:
                self._server.close_all()
            self._stopped.set()

    def start(self) -> LiveServer:
        self.app.stopping.clear()
        self._thread = threading.Thread(target=self.serve_forever, name=f"mockcloud-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection (the state file or store's, if it made them, last); safe twice."""
        server = self._server
        self.app.stopping.set()  # a reply held back by an injected latency goes now (to a closing connection)
        if not self._stopped.is_set():
            if self._serving.is_set():
                # In the loop's own thread: first the listener and the connections; the loop runs on while the
                # task threads end (one ending pulls the trigger), and only then the trigger, which ends the loop.
                closed = threading.Event()

                def close_connections() -> None:
                    server.close_connections()
                    closed.set()

                if self._pull(close_connections):
                    closed.wait(timeout=10)
                    server.task_dispatcher.shutdown(timeout=5)
                    self._pull(server.close_all)
                self._stopped.wait(timeout=10)
            else:  # never served (or not yet): no loop runs, so close here; a loop starting now ends at once
                server.close_connections()
                server.task_dispatcher.shutdown(timeout=5)
                server.close_all()
                self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.app.namespaces is not None:
            self.app.namespaces.close()
        if self._own_app:
            self.app.cloud.state.close()

    def _pull(self, thunk: Callable[[], object]) -> bool:
        """Run ``thunk`` in the loop's thread; False when the loop has already closed its trigger (it is ending)."""
        trigger = self._server.trigger
        if trigger._closed:
            return False
        try:
            trigger.pull_trigger(thunk)
        except OSError:
            return False
        return True

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _AccessLog:
    """``--verbose``: one line per request on stderr (method, path, status)."""

    def __init__(self, app: AdminApp) -> None:
        self.app = app
        self.answers_at_once = app.answers_at_once  # printing a line never waits long

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        target = redact_target(environ.get("REQUEST_URI") or environ.get("PATH_INFO", ""))

        def logged(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            line = f'{environ.get("REMOTE_ADDR", "-")} "{environ["REQUEST_METHOD"]} {target}" {status.split(" ", 1)[0]}'
            print(printable(line), file=sys.stderr, flush=True)
            return start_response(status, headers, exc_info)

        return self.app(environ, logged)
