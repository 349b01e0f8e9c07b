"""``mockcloud server --workers N``: when the parent dies by any signal, its workers go too, and free the port.

An OOM kill or a crashed supervisor SIGKILLs the parent; its workers used to
serve on as orphans for as long as anyone let them. Real Redis and real
server processes, on 127.0.0.1; every wait is for an event, with a generous
deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest

from tests.redis_support import RedisServer, ServerProcess

pytestmark = pytest.mark.server

DEADLINE = 60.0  # the workers give themselves a few seconds; a busy machine may take longer to schedule them


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie no one has reaped yet counts as ended: it runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the process table
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def port_free(port: int) -> bool:
    """Whether nothing listens on ``port`` any more (a fresh listener can take it)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no listener
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(condition, what: str) -> float:
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < DEADLINE, f"after {DEADLINE}s: {what}"
        time.sleep(0.05)
    return time.monotonic() - began


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSEGV], ids=["SIGKILL", "SIGSEGV"])
def test_workers_end_and_free_the_port_when_the_parent_is_killed(redis_server, how):
    server = ServerProcess(redis_server.url(prefix=f"orphans-{uuid.uuid4().hex[:8]}"), 2)
    workers = server.worker_pids()
    try:
        assert len(workers) == 2 and server.healthy()
        os.kill(server.process.pid, how)
        server.process.wait(timeout=DEADLINE)
        wait_until(lambda: all(gone(pid) for pid in workers), f"workers {workers} still run")
        wait_until(lambda: port_free(server.port), f"port {server.port} still taken")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    finally:
        for pid in workers:  # whatever this test left, it ends
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        server.stop()


def test_a_worker_of_a_living_parent_is_not_stopped_by_the_watch(redis_server):
    """The watch fires on the parent's death only: workers of a parent alive keep serving."""
    server = ServerProcess(redis_server.url(prefix=f"orphans-{uuid.uuid4().hex[:8]}"), 2)
    try:
        workers = server.worker_pids()
        for _ in range(20):
            assert server.healthy()
        assert server.worker_pids() == workers and not any(gone(pid) for pid in workers)
    finally:
        assert "Traceback" not in server.stop()
