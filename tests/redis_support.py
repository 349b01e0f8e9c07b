"""A Redis server of the tests' own, and ``mockcloud server`` processes that share it (no tests or fixtures here).

Each Redis listens on a free loopback port, keeps its files in a temporary
folder, and is stopped by the test that started it. Without ``redis-server``
the tests that need one are skipped, except in CI (``CI=true``), where they fail:
``.ci/packages`` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import DEADLINE, unavailable

LOOPBACK = "127.0.0.1"


def need_redis_server() -> str:
    """The path of ``redis-server``; skip the test without it (fail it in CI)."""
    found = shutil.which("redis-server")
    if found is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``redis-server`` on 127.0.0.1 and a free port; ``persist`` keeps every write on disk (appendfsync always)."""

    def __init__(self, directory: Path, *, persist: bool = False) -> None:
        self.binary = need_redis_server()
        self.directory = directory
        self.persist = persist
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            LOOPBACK,
            "--save",
            "",
            "--dir",
            str(self.directory),
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            *persistence,
        ]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + DEADLINE
        while not self.ping():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def ping(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def url(self, db: int = 0, prefix: str | None = None) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}" + (f"?prefix={prefix}" if prefix else "")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


class ServerProcess:
    """``mockcloud server --port 0 --workers N --store URL`` in a subprocess; ``stop()`` ends it (SIGTERM)."""

    def __init__(self, store: str, workers: int = 2, *extra: str, env: dict[str, str] | None = None) -> None:
        argv = [
            sys.executable,
            "-m",
            "mockcloud",
            "server",
            "--port",
            "0",
            "--workers",
            str(workers),
            "--store",
            store,
            *extra,
        ]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"listening on http://[^\s:]+:(\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.port = int(match.group(1))
        self.url = f"http://{LOOPBACK}:{self.port}"
        try:
            self.wait_for_workers(workers)
        except BaseException:  # a server that never became ready is not left running
            self.stop()
            raise

    def worker_pids(self) -> list[int]:
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def wait_for_workers(self, count: int, timeout: float = DEADLINE) -> list[int]:
        """The workers' pids, once ``count`` of them run and the server answers."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.worker_pids()
            if len(pids) == count and self.healthy():
                return pids
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the server has workers {pids}, not {count}")
            time.sleep(0.05)

    def healthy(self) -> bool:
        import http.client

        try:
            connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=2)
            connection.request("GET", "/_mockcloud/health")
            ok = connection.getresponse().status == 200
            connection.close()
            return ok
        except OSError:
            return False

    def stop(self) -> str:
        """End the server and its workers; what it wrote on stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                for pid in self.worker_pids():
                    os.kill(pid, signal.SIGKILL)
                self.process.kill()
                self.process.wait(timeout=10)
        stderr = self.process.stderr.read() if self.process.stderr else ""
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
        return stderr
