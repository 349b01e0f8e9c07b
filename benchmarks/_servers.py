"""HTTP servers for the benchmarks, each in its own subprocess on 127.0.0.1.

``python benchmarks/_servers.py KIND`` serves and prints its port on the
first line of stdout. In a subprocess the server has a GIL of its own, as
``mockcloud server`` has, and the benchmark process does not slow it.

Kinds: ``mockcloud`` (``mockcloud server --port 0`` itself: waitress with mockcloud's limits),
``werkzeug-dev`` (today's stack before waitress: the same application on
werkzeug's threaded development server), ``bare`` (a WSGI app that answers
a canned GetAccessToken body, on mockcloud's stack), ``waitress``, ``cheroot``
and ``granian`` (the same application on each, for the comparison of
candidates), ``moto`` (moto_server).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
HERE = Path(__file__).resolve()
BARE_REPLY_ENV = "MOCKCLOUD_BENCH_BARE_REPLY"


def bare_app(body: bytes):
    """The floor: reads the body, answers ``body`` as AWS JSON 1.1, nothing else."""
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))]

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        start_response("200 OK", headers)
        return [body]

    app.answers_at_once = lambda: True  # it never waits: served as mockcloud's own app is (serving.make_server)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def serve(kind: str) -> None:
    """Serve ``kind`` in this process; print the port; block."""
    if kind == "moto":
        from moto.server import main as moto_main

        port = free_port()
        print(port, flush=True)
        moto_main(["-H", LOOPBACK, "-p", str(port)])
        return
    if kind == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        port = free_port()
        print(port, flush=True)
        Granian(
            "mockcloud.server.app:create_app",
            address=LOOPBACK,
            port=port,
            interface=Interfaces.WSGI,
            factory=True,
            workers=1,
            log_enabled=False,
        ).serve()
        return
    from mockcloud.server.app import create_app

    app = bare_app(os.environ[BARE_REPLY_ENV].encode()) if kind == "bare" else create_app()
    if kind in ("mockcloud", "bare"):
        from mockcloud.server.serving import make_server

        server = make_server(app, LOOPBACK, 0)
        print(server.port, flush=True)
        server.run()
    elif kind == "werkzeug-dev":
        from werkzeug.serving import WSGIRequestHandler
        from werkzeug.serving import make_server as werkzeug_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        server = werkzeug_server(LOOPBACK, 0, app, threaded=True, request_handler=Quiet)
        print(server.server_port, flush=True)
        server.serve_forever()
    elif kind == "waitress":  # waitress as it comes, but for what the probes need (poll, room for 1000 connections)
        import logging

        import waitress

        logging.getLogger("waitress").setLevel(logging.ERROR)
        server = waitress.create_server(app, host=LOOPBACK, port=0, connection_limit=4000, asyncore_use_poll=True)
        print(server.effective_port, flush=True)
        server.run()
    elif kind == "cheroot":
        from cheroot import wsgi

        server = wsgi.Server((LOOPBACK, 0), app, numthreads=8)
        server.keep_alive_conn_limit = 4000
        server.prepare()
        print(server.bind_addr[1], flush=True)
        server.serve()
    else:
        raise SystemExit(f"unknown server kind {kind!r}")


class Child:
    """One server of ``kind`` in a subprocess; ``stop()`` ends it and any worker process it started."""

    def __init__(
        self, kind: str, env: dict[str, str] | None = None, start_timeout: float = 60.0, args: tuple[str, ...] = ()
    ) -> None:
        self.kind = kind
        if kind == "mockcloud":  # ``args``: more options of ``mockcloud server`` (--workers, --store)
            argv = [sys.executable, "-m", "mockcloud", "server", "--port", "0", *args]
        else:
            argv = [sys.executable, str(HERE), kind]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})}
        )
        line = self.proc.stdout.readline()
        match = (
            re.search(r"listening on http://[^\s:]+:(\d+)", line)
            if kind == "mockcloud"
            else re.fullmatch(r"(\d+)\s*", line)
        )
        if not match:
            self.stop()
            raise RuntimeError(f"the {kind} server did not start: {line!r}")
        self.port = int(match.group(1))
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the {kind} server does not accept connections") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def pids(self) -> list[int]:
        """The server process and its descendants (granian runs a worker process)."""
        found = [self.proc.pid]
        for pid in found:
            try:
                found += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:
                pass
        return found

    def pin(self, cpus: set[int]) -> None:
        """Run every thread of the server (and of its worker processes) on ``cpus`` only (Linux)."""
        for pid in self.pids():
            try:
                tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
            except OSError:
                continue
            for tid in tids:
                try:
                    os.sched_setaffinity(tid, cpus)
                except OSError:
                    pass

    def usage(self) -> tuple[float, int]:
        """CPU seconds and resident KiB, summed over the server's processes (Linux /proc)."""
        cpu, rss = 0.0, 0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / tick
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            except OSError:
                pass
        return cpu, rss

    def stop(self) -> None:
        """SIGTERM to the server (which ends its workers), then to any worker still there."""
        workers = self.pids()[1:]
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in reversed(workers):
            try:
                os.kill(pid, 15)
            except OSError:
                pass
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    serve(sys.argv[1])
