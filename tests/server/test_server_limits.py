"""The server stack under broken and hostile clients: limits, keep-alive, framing, idle connections.

Every test talks to its own server on 127.0.0.1 with small limits, bounded
counts and bounded waits, and stops it at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from mockcloud.server import LiveServer
from mockcloud.server.serving import ServerLimits
from tests.helpers import DEADLINE, wait_for

pytestmark = pytest.mark.server

LOOPBACK = "127.0.0.1"
LIMIT = 4096  # a small body limit, so that the tests send little


# ---- helpers ----------------------------------------------------------------
def exchange(port: int, raw: bytes, timeout: float = 5.0, *, half_close: bool = True) -> bytes:
    """Send ``raw`` on a fresh connection and read until the server closes it (or ``timeout``)."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def parse(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def request(
    method: str, target: str, headers: dict[str, str], body: bytes = b"", *, length: int | None = None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    if not any(name.lower() == "host" for name in headers):
        lines.append("Host: 127.0.0.1")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def served(port: int) -> None:
    """A new client gets GET /_mockcloud/health answered.

    The deadline is generous (a loaded machine is slow, not wrong), and it is
    far shorter than the idle timeout of the servers these tests start: a
    server that held the new client back until an idle connection timed out
    would miss it.
    """
    reply = requests.get(f"http://{LOOPBACK}:{port}/_mockcloud/health", timeout=(DEADLINE, DEADLINE))
    assert reply.status_code == 200


@pytest.fixture(scope="module")
def server():
    with LiveServer(max_body_size=LIMIT, request_timeout=2, idle_timeout=2, threads=2) as live:
        yield live


@pytest.fixture(autouse=True)
def _fresh(request):
    if "server" in request.fixturenames:
        request.getfixturevalue("server").cloud.reset()


# ---- limits -------------------------------------------------------------------
def test_defaults():
    """The limits a server gets without being told: 10 MiB bodies, bounded headers, pool, connections and waits."""
    limits = ServerLimits()
    assert limits.max_body_size == 10 * 1024 * 1024
    assert 8 * 1024 <= limits.max_header_size <= 1024 * 1024
    assert 0 < limits.request_timeout <= 120 and 0 < limits.idle_timeout <= 300
    assert 1 <= limits.threads <= 64 and 1000 < limits.connection_limit <= 65536
    with LiveServer() as live:
        assert live.limits == limits and live.app.max_body_size == limits.max_body_size
    for bad in (
        {"max_body_size": 0},
        {"threads": -1},
        {"idle_timeout": 0},
        {"request_timeout": float("nan")},
        {"connection_limit": True},
    ):
        with pytest.raises(ValueError):
            ServerLimits(**bad)


TOO_LARGE_CASES = [
    pytest.param(
        "POST",
        "/",
        {"X-Amz-Target": "AWSLicenseManager.ListTokens", "Content-Type": "application/x-amz-json-1.1"},
        "licensemanager",
        id="licensemanager-aws-json",
    ),
    pytest.param(
        "POST",
        "/exchange",
        {"Host": "amplifyuibuilder.us-east-1.amazonaws.com", "Content-Type": "application/json"},
        "amplifyuibuilder",
        id="amplifyuibuilder-rest-json",
    ),
    pytest.param(
        "POST",
        "/?Version=2020-10-02&Action=GetLoginToken",
        {"Content-Type": "application/x-www-form-urlencoded"},
        "wuying",
        id="wuying-alibaba-rpc",
    ),
    pytest.param(
        "POST", "/devpay/", {"Content-Type": "application/x-www-form-urlencoded"}, "devpay", id="devpay-query-xml"
    ),
    pytest.param("POST", "/User/Login", {"Content-Type": "application/json"}, "userapi", id="userapi-problem-json"),
]


def assert_service_413(service: str, headers: dict[str, str], body: bytes) -> None:
    """The 413 is in the format of the service the request was for."""
    if service == "licensemanager":
        assert headers["content-type"] == "application/x-amz-json-1.1"
        assert json.loads(body)["__type"].endswith("RequestEntityTooLarge")
        assert headers["x-amzn-errortype"].startswith("RequestEntityTooLarge:")
    elif service == "amplifyuibuilder":
        assert headers["x-amzn-errortype"] == "RequestEntityTooLarge"
        assert str(LIMIT) in json.loads(body)["message"]
    elif service == "wuying":
        assert json.loads(body)["Code"] == "RequestEntityTooLarge" and "RequestId" in json.loads(body)
    elif service == "devpay":
        assert headers["content-type"].startswith("text/xml")
        assert b"<Code>RequestEntityTooLarge</Code>" in body and b"<ErrorResponse" in body
    elif service == "userapi":
        assert headers["content-type"].startswith("application/problem+json")
        assert json.loads(body)["status"] == 413 and json.loads(body)["error"] == "RequestEntityTooLarge"


@pytest.mark.parametrize("method, target, headers, service", TOO_LARGE_CASES)
def test_declared_body_over_the_limit_is_a_413_in_the_services_format_without_reading_it(
    server, method, target, headers, service
):
    """A Content-Length over the limit is answered at once: the body is never sent, let alone read.

    (A server that waited for the body would close the connection at the request timeout, unanswered.)
    """
    reply = exchange(
        server.port, request(method, target, headers, length=100 * 1024 * 1024), half_close=False, timeout=DEADLINE
    )
    status, reply_headers, body = parse(reply)
    assert status == 413
    assert reply_headers.get("connection") == "close"
    assert_service_413(service, reply_headers, body)
    record = server.cloud.requests[-1]
    assert (record.service, record.status, record.error_code) == (service, 413, "RequestEntityTooLarge")


@pytest.mark.parametrize("method, target, headers, service", TOO_LARGE_CASES[:1] + TOO_LARGE_CASES[3:4])
def test_chunked_body_over_the_limit_is_a_413_in_the_services_format(server, method, target, headers, service):
    chunk = b"x" * 1000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // 1000 + 2)) + b"0\r\n\r\n"
    status, reply_headers, reply_body = parse(
        exchange(server.port, request(method, target, {**headers, "Transfer-Encoding": "chunked"}, body))
    )
    assert status == 413
    assert_service_413(service, reply_headers, reply_body)


def test_body_at_the_limit_is_served(server):
    """The limit is inclusive: a body of exactly max_body_size bytes reaches the service."""
    body = b'{"NextToken": "' + b"a" * (LIMIT - 17) + b'"}'
    assert len(body) == LIMIT
    headers = {
        "X-Amz-Target": "AWSLicenseManager.ListTokens",
        "Content-Type": "application/x-amz-json-1.1",
        "Connection": "close",
    }
    status, _, reply = parse(exchange(server.port, request("POST", "/", headers, body, length=len(body))))
    assert status == 400 and json.loads(reply)["__type"].endswith("MissingAuthenticationTokenException")


def test_admin_body_over_the_limit_is_a_json_413(server):
    body = b'{"advance": 1, "pad": "' + b"x" * LIMIT + b'"}'
    reply = requests.post(
        server.url + "/_mockcloud/clock", data=body, headers={"Content-Type": "application/json"}, timeout=5
    )
    assert reply.status_code == 413 and reply.json()["error"] == "RequestEntityTooLarge"
    assert requests.get(server.url + "/_mockcloud/clock", timeout=5).json()["frozen"] is False


def test_headers_over_the_limit_are_a_431():
    with LiveServer(max_header_size=2048) as live:
        status, _, _ = parse(exchange(live.port, request("GET", "/_mockcloud/health", {"X-Pad": "a" * 4096})))
        assert status == 431
        assert (
            requests.get(live.url + "/_mockcloud/health", headers={"X-Pad": "a" * 1000}, timeout=5).status_code == 200
        )


# ---- keep-alive -------------------------------------------------------------------
def test_one_connection_serves_several_requests(server):
    conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=5)
    try:
        conn.connect()
        sock, local = conn.sock, conn.sock.getsockname()
        for path in (
            "/_mockcloud/health",
            "/_mockcloud/clock",
            "/nothing/here",
            "/_mockcloud/health",
            "/_mockcloud/requests",
        ):
            conn.request("GET", path)
            reply = conn.getresponse()
            reply.read()
            assert reply.status in (200, 404)
            assert reply.getheader("Connection", "").lower() != "close"
            assert conn.sock is sock and conn.sock.getsockname() == local  # http.client reconnects silently otherwise
    finally:
        conn.close()


def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(server):
    with socket.create_connection((LOOPBACK, server.port), timeout=DEADLINE) as sock:
        began = time.monotonic()  # the server's last sight of this client is later than this
        sock.sendall(request("GET", "/nothing/here", {}))
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.partition(b"\r\n\r\n")[2]) < int(parse(reply)[1]["content-length"]):
            data = sock.recv(65536)  # the whole answer, which may come in parts
            assert data, f"closed before the whole answer: {reply!r}"
            reply += data
        assert parse(reply)[0] == 404
        assert sock.recv(65536) == b""  # the server closed it (or the socket's timeout fails the test)
        assert time.monotonic() - began >= 2  # not before the idle timeout


# ---- hostile framing --------------------------------------------------------------
LM = (
    "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AWSLicenseManager.ListTokens\r\n"
    "Content-Type: application/x-amz-json-1.1\r\n"
)
LM_HEADERS = {"X-Amz-Target": "AWSLicenseManager.ListTokens", "Content-Type": "application/x-amz-json-1.1"}


@pytest.mark.parametrize(
    "raw",
    [
        LM + "Content-Length: abc\r\n\r\n{}",
        LM + "Content-Length: -1\r\n\r\n{}",
        LM + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
        LM + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        LM + "Transfer-Encoding: chunked\r\n\r\n2;\x00\r\n{}\r\n0\r\n\r\n",
        "GARBAGE\r\n\r\n",
    ],
    ids=[
        "content-length-abc",
        "content-length-negative",
        "two-content-lengths",
        "bad-chunk-size",
        "bad-chunk-extension",
        "bad-request-line",
    ],
)
def test_malformed_framing_is_a_400_from_the_server(server, raw):
    reply = exchange(server.port, raw.encode("latin-1"))
    status, headers, body = parse(reply)
    assert status == 400
    assert "html" not in headers.get("content-type", "") and b"<html" not in body.lower()
    served(server.port)


def test_lying_chunked_upload_costs_bounded_memory_and_cpu(server):
    """The issue's 120-byte request: chunk size ffffffffffffffffffff, 3 bytes, disconnect."""
    head = (LM + "Transfer-Encoding: chunked\r\n\r\n").encode()
    rss, cpu = resident_bytes(), time.process_time()
    for _ in range(5):
        with socket.create_connection((LOOPBACK, server.port), timeout=5) as sock:
            sock.sendall(head + b"ffffffffffffffffffff\r\nabc")
    time.sleep(1.0)  # not a wait for an event: the span in which a server spinning on them would burn CPU
    assert time.process_time() - cpu < 0.5, "the server kept working on aborted uploads"  # CPU, not wall-clock, time
    assert resident_bytes() - rss < 20 * 1024 * 1024
    served(server.port)


def test_lying_chunked_upload_that_keeps_sending_stops_at_the_body_limit(server):
    """The client never lies about having more: it gets the 413 once the limit is passed, not an endless read."""
    head = (LM + "Transfer-Encoding: chunked\r\n\r\n").encode()
    with socket.create_connection((LOOPBACK, server.port), timeout=5) as sock:
        sock.sendall(head + b"ffffffffffffffffffff\r\n")
        reply = b""
        try:
            for _ in range(LIMIT // 1024 + 50):
                sock.sendall(b"x" * 1024)
        except OSError:
            pass  # the server answered and closed
        sock.settimeout(5)
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                reply += data
        except OSError:
            pass
    assert parse(reply)[0] == 413


def test_stalled_request_is_closed_after_the_request_timeout(server):
    """A client that starts a request and never finishes it loses its connection (request_timeout 2s)."""
    with socket.create_connection((LOOPBACK, server.port), timeout=10) as sock:
        began = time.monotonic()
        sock.sendall((LM + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc").encode())
        stop = time.monotonic() + DEADLINE
        closed = False
        while time.monotonic() < stop:  # trickle a byte every half second: never idle, never done
            try:
                sock.sendall(b"x")
                sock.settimeout(0.5)
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed, "the trickling request was never cut off"
        assert time.monotonic() - began >= 2  # not before the request timeout


# ---- many connections --------------------------------------------------------------
def _room_for(descriptors: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < descriptors:
        if hard != resource.RLIM_INFINITY and hard < descriptors:
            pytest.fail(f"this test needs {descriptors} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (descriptors, hard))


def test_a_thousand_idle_connections_do_not_keep_a_new_client_waiting():
    """Each end of 1000 loopback connections is a descriptor in this process: room for both, and some."""
    _room_for(2 * 1000 + 2200)
    # all from one address: not capped here; held back, a client would wait for the idle timeout
    with LiveServer(threads=2, connections_per_client=2048, idle_timeout=10 * DEADLINE) as live:
        idle = []
        try:
            for _ in range(1000):
                idle.append(socket.create_connection((LOOPBACK, live.port), timeout=DEADLINE))
            served(live.port)
            threads_before = threading.active_count()
            served(live.port)
            assert threading.active_count() == threads_before  # no thread per connection
        finally:
            for sock in idle:
                sock.close()


def test_worker_pool_is_bounded():
    """30 clients at once are served by the 3 configured worker threads; no thread per connection."""

    def server_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name.startswith("waitress-"))

    others = server_threads()  # of servers this process runs already
    with LiveServer(threads=3) as live:
        before = server_threads()
        assert before - others == 3
        errors, seen = [], []

        def client():
            try:
                with requests.Session() as session:
                    for _ in range(5):
                        assert session.get(live.url + "/_mockcloud/health", timeout=10).status_code == 200
            except Exception as exc:  # reported below
                errors.append(exc)

        clients = [threading.Thread(target=client) for _ in range(30)]
        for thread in clients:
            thread.start()
        for thread in clients:
            while thread.is_alive():
                seen.append(server_threads())
                thread.join(timeout=0.01)  # a sample every 10 ms until the clients are done
        assert not errors
        assert max(seen) == before


def test_a_reply_held_back_by_injected_latency_holds_no_other_client_back():
    """What may wait (here an injected latency) is answered by a worker, never by the thread that reads requests."""
    with LiveServer(threads=2) as live:
        live.cloud.faults.add("licensemanager", "ListTokens", latency=300, count=1)
        with socket.create_connection((LOOPBACK, live.port), timeout=DEADLINE) as held:
            held.sendall(request("POST", "/", {**LM_HEADERS, "Content-Length": "2"}, b"{}"))
            wait_for(lambda: any(r.operation == "ListTokens" for r in live.cloud.requests), "the held request")
            served(live.port)  # long before the held reply's five minutes are up
            held.setblocking(False)
            with pytest.raises(BlockingIOError):
                held.recv(1)  # still held back


# ---- the LiveServer API ----------------------------------------------------------------
def test_live_server_api_and_loopback_default():
    live = LiveServer()
    try:
        assert live.host == "127.0.0.1" and live.url == f"http://127.0.0.1:{live.port}" and live.port > 0
        assert live.cloud is live.app.cloud and live.admin_token is None
        assert live.start() is live
        assert requests.get(live.url + "/_mockcloud/health", timeout=5).json()["status"] == "ok"
    finally:
        live.stop()
    live.stop()  # twice is fine
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(live.url + "/_mockcloud/health", timeout=2)


def test_serve_forever_in_a_thread_stops_when_asked():
    live = LiveServer()
    thread = threading.Thread(target=live.serve_forever, daemon=True)
    thread.start()
    try:
        served(live.port)
    finally:
        live.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_busy_port_raises_oserror_not_systemexit():
    with LiveServer() as live, pytest.raises(OSError):
        LiveServer(port=live.port)


def test_stop_closes_open_connections():
    live = LiveServer().start()
    sock = socket.create_connection((LOOPBACK, live.port), timeout=DEADLINE)
    try:
        sock.sendall(request("GET", "/_mockcloud/health", {}))  # answered: the server holds this connection open
        reply = b""
        while b"}" not in reply:
            data = sock.recv(65536)
            assert data, reply
            reply += data
        live.stop()
        assert sock.recv(10) == b""
    finally:
        sock.close()


# ---- the CLI -------------------------------------------------------------------------------
def run_cli(*args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockcloud", "server", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("port", ["65536", "-1", "99999999", "http"])
def test_cli_refuses_ports_outside_the_range(port):
    done = run_cli("--port", port)
    assert done.returncode == 2
    assert "--port" in done.stderr and ("0-65535" in done.stderr or "not a port number" in done.stderr)
    assert "listening" not in done.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not found"),
        ("{oops", "not valid JSON"),
        ('{"licensemanager": {"licenses": [{"bogus": 1}]}}', "do not match the fixtures schema"),
    ],
    ids=["missing", "malformed", "schema-invalid"],
)
def test_cli_bad_fixtures_exit_2_with_one_line_before_listening(tmp_path, content, message):
    path = tmp_path / "fixtures.json"
    if content is not None:
        path.write_text(content)
    done = run_cli("--port", "0", "--fixtures", str(path))
    assert done.returncode == 2
    assert done.stdout == ""  # never said "listening"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mockcloud: ") and message in lines[0] and str(path) in lines[0]
    assert "Traceback" not in done.stderr


def test_cli_busy_port_is_one_line_and_exit_2():
    with LiveServer() as live:
        done = run_cli("--port", str(live.port))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "cannot listen" in done.stderr and str(live.port) in done.stderr


def test_cli_verbose_logs_each_request_without_its_secrets():
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockcloud", "server", "--port", "0", "--verbose"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        port = int(line.split("http://127.0.0.1:", 1)[1].split()[0])
        query = "Action=GetLoginToken&Version=2020-10-02&Password=hunter2"
        assert requests.get(f"http://127.0.0.1:{port}/?{query}", timeout=5).status_code == 400
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=DEADLINE)
    assert '"GET /?Action=GetLoginToken&Version=2020-10-02&Password=REDACTED" 400' in err
    assert "hunter2" not in err
