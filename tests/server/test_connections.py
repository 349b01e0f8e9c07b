"""Connections under a greedy client, and a stop that leaves nothing behind.

- One client address holds at most ``connections_per_client`` connections,
  and idle connections make room for a new client when the server is full:
  a newcomer is served long before the idle timeout, however many
  connections another client opened.
- ``LiveServer.stop()`` while requests are in flight ends with no traceback:
  a task finishing after the stop used to write into the closed trigger
  (``OSError: [Errno 9] Bad file descriptor``, or into whatever file had
  reused its descriptor).

The per-client tests connect from other loopback addresses (127.0.0.2, ...),
as clients on other machines would: Linux routes all of 127.0.0.0/8 to lo.
"""

from __future__ import annotations

import logging
import select
import socket
import sys
import threading
import time

import pytest
import requests

from mockcloud.server import LiveServer
from mockcloud.server.serving import ServerLimits
from tests.helpers import cli_server

pytestmark = pytest.mark.server

LOOPBACK = "127.0.0.1"
DEADLINE = 60.0  # generous: a busy machine is slow, but far below the idle timeout these servers keep
IDLE_TIMEOUT = 600.0


def connect_from(source: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(DEADLINE)
    sock.bind((source, 0))
    sock.connect((LOOPBACK, port))
    return sock


@pytest.fixture(scope="module")
def other_addresses():
    """Loopback addresses beyond 127.0.0.1 to connect from (each a client of its own for the server)."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.9", 0))
    except OSError:
        if sys.platform.startswith("linux"):
            raise
        pytest.skip("this system routes only 127.0.0.1 on loopback (Linux routes 127.0.0.0/8)")
    return [f"127.0.0.{n}" for n in range(2, 10)]


def health_request(port: int) -> bytes:
    """The request line and headers of GET /_mockcloud/health, without the blank line that ends them."""
    return f"GET /_mockcloud/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()


def health_from(source: str, port: int) -> bytes:
    """GET /_mockcloud/health from ``source`` on a new connection; the whole reply (read until the server closes)."""
    with connect_from(source, port) as sock:
        sock.sendall(health_request(port) + b"Connection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def closed_by_server(socks: list[socket.socket], count: int) -> list[socket.socket]:
    """Wait (up to DEADLINE) until ``count`` of ``socks`` are closed by the server; those closed."""
    closed: list[socket.socket] = []
    deadline = time.monotonic() + DEADLINE
    while len(closed) < count and time.monotonic() < deadline:
        open_ones = [s for s in socks if s not in closed]
        readable, _, _ = select.select(open_ones, [], [], 0.5)
        for sock in readable:
            try:
                if sock.recv(1) == b"":
                    closed.append(sock)
            except ConnectionResetError:
                closed.append(sock)
    return closed


def idle_connections(source: str, port: int, count: int, server: LiveServer) -> list[socket.socket]:
    """``count`` connections from ``source`` that send nothing, once the server has taken each of them."""
    socks = [connect_from(source, port) for _ in range(count)]
    wait_for(lambda: sum(c.addr[0] == source for c in list(server._server.active_channels.values())) == count)
    return socks


def wait_for(condition, what: str = "") -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"waited {DEADLINE}s for {what or condition}"
        time.sleep(0.01)


def test_the_default_cap_and_its_option():
    limits = ServerLimits()
    assert limits.connections_per_client == 512 < limits.connection_limit
    with pytest.raises(ValueError):
        ServerLimits(connections_per_client=0)
    with LiveServer(connections_per_client=3) as live:
        assert live.limits.connections_per_client == 3 and live._server.connections_per_client == 3


def test_one_address_beyond_its_cap_keeps_no_other_client_waiting(other_addresses):
    """A greedy client opens three times its cap of idle connections, more than the whole server holds;
    a newcomer from another address is answered at once, and the greedy client keeps at most its cap."""
    cap, limit = 4, 8
    with LiveServer(
        connection_limit=limit, connections_per_client=cap, idle_timeout=IDLE_TIMEOUT, request_timeout=IDLE_TIMEOUT
    ) as live:
        greedy = [connect_from(LOOPBACK, live.port) for _ in range(3 * cap)]
        try:
            closed = closed_by_server(greedy, 2 * cap)  # each one beyond the cap closed one of its own idle ones
            assert len(closed) == 2 * cap
            began = time.monotonic()
            reply = health_from(other_addresses[0], live.port)
            assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
            assert time.monotonic() - began < IDLE_TIMEOUT
            assert sum(1 for c in live._server.active_channels.values() if c.addr[0] == LOOPBACK) <= cap
            # the greedy client's own newest connections are the ones it kept, and they serve
            kept = greedy[-1]
            kept.sendall(health_request(live.port) + b"\r\n")
            assert kept.recv(12) == b"HTTP/1.1 200"
        finally:
            for sock in greedy:
                sock.close()


def test_busy_connections_of_a_client_at_its_cap_are_kept_and_its_next_one_refused(other_addresses):
    """Requests under way are never cut: past its cap with all of them busy, a client's new connection is closed."""
    cap = 2
    with LiveServer(connections_per_client=cap, idle_timeout=IDLE_TIMEOUT, request_timeout=IDLE_TIMEOUT) as live:
        busy = [connect_from(other_addresses[1], live.port) for _ in range(cap)]
        try:
            for sock in busy:  # each in the middle of a request: headers begun, not ended
                sock.sendall(health_request(live.port))
            wait_for(lambda: sum(c.request is not None for c in live._server.active_channels.values()) == cap)
            extra = connect_from(other_addresses[1], live.port)
            with extra:
                assert closed_by_server([extra], 1) == [extra]
            for sock in busy:  # still there: they finish their requests
                sock.sendall(b"\r\n")
                assert sock.recv(12) == b"HTTP/1.1 200"
            assert health_from(other_addresses[2], live.port).startswith(b"HTTP/1.1 200 ")
        finally:
            for sock in busy:
                sock.close()


def test_a_full_server_closes_an_idle_connection_for_a_newcomer(other_addresses):
    """Many clients, each within its cap, fill the server with idle connections: the longest idle of the client
    holding the most makes room, instead of the newcomer waiting in the backlog for the idle timeout."""
    limit = 6
    with LiveServer(connection_limit=limit, idle_timeout=IDLE_TIMEOUT, request_timeout=IDLE_TIMEOUT) as live:
        held = {}
        try:
            held["many"] = idle_connections(other_addresses[3], live.port, 3, live)
            held["few"] = idle_connections(other_addresses[4], live.port, 2, live)
            held["one"] = idle_connections(other_addresses[5], live.port, 1, live)
            assert len(live._server.active_channels) == limit
            reply = health_from(other_addresses[6], live.port)
            assert reply.startswith(b"HTTP/1.1 200 ")
            assert closed_by_server(held["many"], 1) == held["many"][:1]  # the oldest of the one holding most
        finally:
            for socks in held.values():
                for sock in socks:
                    sock.close()


def test_a_full_server_of_busy_connections_still_holds_newcomers_in_the_backlog():
    """Only idle connections make room: with every connection mid-request, a newcomer waits until one ends."""
    with LiveServer(connection_limit=4, threads=2) as live:
        held = [socket.create_connection((LOOPBACK, live.port), timeout=5) for _ in range(4)]
        try:
            for sock in held:
                sock.sendall(health_request(live.port))  # never ended
            wait_for(lambda: sum(c.request is not None for c in live._server.active_channels.values()) == 4)
            with pytest.raises(requests.exceptions.ReadTimeout):
                requests.get(live.url + "/_mockcloud/health", timeout=(2, 0.7))  # connected (backlog), never served
            held.pop().close()
            assert requests.get(live.url + "/_mockcloud/health", timeout=DEADLINE).status_code == 200
        finally:
            for sock in held:
                sock.close()


def test_thirty_stops_with_requests_in_flight_leave_no_traceback(capfd, caplog):
    """Each stop comes while clients are sending; nothing is logged above INFO, and nothing reaches stderr."""
    caplog.set_level(logging.INFO)
    for _ in range(30):
        live = LiveServer(threads=2).start()
        stop = threading.Event()

        def client(live: LiveServer = live, stop: threading.Event = stop) -> None:
            with requests.Session() as session:
                while not stop.is_set():
                    try:
                        session.get(live.url + "/_mockcloud/health", timeout=5)
                    except requests.RequestException:
                        return  # the server stopped under it

        clients = [threading.Thread(target=client) for _ in range(3)]
        for thread in clients:
            thread.start()
        with requests.Session() as session:  # a keep-alive connection open at the stop, its answer just sent
            assert session.get(live.url + "/_mockcloud/health", timeout=5).status_code == 200
            live.stop()
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
    problems = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno > logging.INFO]
    assert problems == []
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Errno 9" not in err, err[-3000:]


def test_the_cli_option_caps_a_client():
    """``mockcloud server --connections-per-client 2``: a third idle connection closes the first."""
    import subprocess

    with cli_server("--connections-per-client", "2") as (_, url):
        port = int(url.rsplit(":", 1)[1])
        socks = [socket.create_connection((LOOPBACK, port), timeout=DEADLINE) for _ in range(3)]
        try:
            assert closed_by_server(socks, 1) == socks[:1]
            for sock in socks[1:]:
                sock.sendall(health_request(port) + b"\r\n")
                assert sock.recv(12) == b"HTTP/1.1 200"
        finally:
            for sock in socks:
                sock.close()
    assert (
        "--connections-per-client"
        in subprocess.run(
            [sys.executable, "-m", "mockcloud", "server", "--help"], check=True, capture_output=True, text=True
        ).stdout
    )
