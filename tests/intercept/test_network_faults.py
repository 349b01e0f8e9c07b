"""Network faults, as each real client meets them.

For every client family and every fault, the client is run twice: against
a raw socket server on loopback that misbehaves for real (written here, apart
from mockcloud's own), and in-process against an emulated host with the fault
injected. The exception it raises must be the same, class for class along
its cause chain: mockcloud invents no exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import struct
import sys
import threading
import time
import urllib.request
from collections.abc import Callable

import aiohttp
import httpx
import pytest
import requests
import urllib3
from aiobotocore.session import get_session
from aliyunsdkcore.vendored import requests as aliyun_requests
from botocore.config import Config

from mockcloud import MockCloudError, mock_cloud
from mockcloud.services import SERVICE_PACKAGES
from tests.helpers import DEADLINE, DEFAULT_LICENSE_ARN, lm_client
from tests.intercept import echo_service

FAULTS = ["reset", "empty", "truncated", "malformed", "stall"]
TIMEOUT = 0.5  # the read timeout a stall meets
# The clients' read timeout: TIMEOUT under a stall, else long enough that a loaded machine never mistakes a slow
# close for a stall (set per test by ``read_timeout``)
READ = TIMEOUT
CONNECT = 5.0  # loopback connects never wait this long, even on a loaded CI machine
BODY = b'{"AccessToken": "' + b"x" * 300 + b'"}'


# ---- the reference: a raw socket server that misbehaves on loopback ----------------------


@contextlib.contextmanager
def misbehaving_server(fault: str):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)

    def handle(connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in data.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                body = data.split(b"\r\n\r\n", 1)[1]
                while len(body) < length:
                    body += connection.recv(65536)
                if fault == "reset":
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif fault == "truncated":
                    connection.sendall(head + BODY[: len(BODY) // 2])
                elif fault == "malformed":
                    connection.sendall(b"\x00\x01 this is not HTTP\r\n\r\n")
                elif fault == "stall":
                    connection.settimeout(TIMEOUT * 4)
                    while connection.recv(65536):
                        pass

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def chain(error: BaseException | None) -> list[str]:
    """The exception and what caused it, by class: what a client's caller can tell apart."""
    found = []
    while error is not None and len(found) < 8:
        found.append(f"{type(error).__module__}.{type(error).__qualname__}")
        error = error.__cause__ or error.__context__
    return found


def raised(call: Callable[[], object]) -> list[str]:
    try:
        call()
    except Exception as error:
        return chain(error)
    return ["no error"]


# ---- the clients, each pointed at a base URL -------------------------------------------------


def with_requests(base: str) -> object:
    return requests.post(f"{base}/echo", data=b"{}", timeout=(CONNECT, READ)).content


def with_aliyun_requests(base: str) -> object:
    return aliyun_requests.post(f"{base}/echo", data=b"{}", timeout=(CONNECT, READ)).content


def with_httpx(base: str) -> object:
    return httpx.post(f"{base}/echo", content=b"{}", timeout=httpx.Timeout(READ, connect=CONNECT)).content


def with_httpx_async(base: str) -> object:
    async def go():
        async with httpx.AsyncClient(timeout=httpx.Timeout(READ, connect=CONNECT)) as client:
            return (await client.post(f"{base}/echo", content=b"{}")).content

    return asyncio.run(go())


def with_aiohttp(base: str) -> object:
    async def go():
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=READ)) as session,
            session.post(f"{base}/echo", data=b"{}") as response,
        ):
            return await response.read()

    return asyncio.run(go())


def with_urllib3(base: str) -> object:
    return (
        urllib3.PoolManager(retries=False)
        .request("POST", f"{base}/echo", body=b"{}", timeout=urllib3.Timeout(connect=CONNECT, read=READ))
        .data
    )


def with_http_client(base: str) -> object:
    host, port = base.split("://")[1].rsplit(":", 1) if base.count(":") == 2 else (base.split("://")[1], 80)
    connection = http.client.HTTPConnection(host, int(port), timeout=READ)
    connection.request("POST", "/echo", body=b"{}")
    return connection.getresponse().read()


def with_urllib(base: str) -> object:
    return urllib.request.urlopen(urllib.request.Request(f"{base}/echo", data=b"{}"), timeout=READ).read()


CLIENTS = {
    "requests": with_requests,
    "aliyun-vendored-requests": with_aliyun_requests,
    "httpx": with_httpx,
    "httpx-async": with_httpx_async,
    "aiohttp": with_aiohttp,
    "urllib3": with_urllib3,
    "http.client": with_http_client,
    "urllib.request": with_urllib,
}


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setitem(SERVICE_PACKAGES, "echo", "tests.intercept.echo_service")
    with mock_cloud(services=["echo", "licensemanager", "userapi"]) as cloud:
        yield cloud


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_each_client_raises_in_process_what_it_raises_on_a_real_socket(client, fault, echo, monkeypatch):
    read_timeout(monkeypatch, fault)
    call = CLIENTS[client]
    echo.stop()  # the reference run goes to the network (loopback), unmocked
    try:
        with misbehaving_server(fault) as base:
            expected = raised(lambda: call(base))
    finally:
        echo.start()
    echo.faults.add("echo", network=fault, count=1)
    started = time.monotonic()
    got = raised(lambda: call(f"http://{echo_service.HOST}"))
    assert got == expected, f"{client} under {fault}"  # ("no error" too: old urllib3 reads a cut-off body as whole)
    assert time.monotonic() - started < DEADLINE  # a stall ends with the client's own timeout, not never
    assert [r.fault for r in echo.requests] == [fault]


def read_timeout(monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    monkeypatch.setattr(sys.modules[__name__], "READ", TIMEOUT if fault == "stall" else DEADLINE)


@pytest.fixture(scope="module")
def server():
    from mockcloud.server import LiveServer, create_app

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setitem(SERVICE_PACKAGES, "echo", "tests.intercept.echo_service")
    try:
        with LiveServer(app=create_app(services=["echo", "licensemanager"]), idle_timeout=10) as live:
            yield live
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_the_server_fails_the_socket_as_the_network_would(client, fault, server, monkeypatch):
    """Against ``mockcloud server``, the fault happens on the real socket: the same exception again."""
    read_timeout(monkeypatch, fault)
    call = CLIENTS[client]
    with misbehaving_server(fault) as base:
        expected = raised(lambda: call(base))
    server.cloud.reset()
    server.cloud.faults.add("echo", network=fault, count=1)
    got = raised(lambda: call(server.url))
    assert got == expected, f"{client} under {fault}"
    assert [r.fault for r in server.cloud.requests] == [fault]


@pytest.mark.parametrize("fault", FAULTS)
def test_botocore_meets_the_servers_faults_as_a_real_sockets(fault, server):
    with misbehaving_server(fault) as base:
        expected = raised(lambda: lm(base).get_access_token(Token="x"))
    server.cloud.reset()
    token = lm_client(server.url).create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="nf")["Token"]
    server.cloud.faults.add("licensemanager", "GetAccessToken", network=fault, count=1)
    assert raised(lambda: lm(server.url).get_access_token(Token=token)) == expected


def test_a_committed_then_lost_reply_took_effect_on_the_server(server):
    server.cloud.reset()
    server.cloud.faults.add("licensemanager", "CreateToken", network="reset_after_commit", count=1)
    with pytest.raises(Exception) as lost:
        lm(server.url).create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="lost")
    assert type(lost.value).__name__ == "ConnectionClosedError"
    assert len(server.cloud.licensemanager.tokens) == 1  # the token exists: only the reply was lost


# ---- botocore and aiobotocore, whose retry logic must see what it sees in production --------


def lm(endpoint_url: str | None = None, retries: int = 1):
    return lm_client(endpoint_url, attempts=retries, read_timeout=TIMEOUT, connect_timeout=TIMEOUT)


@pytest.mark.parametrize("fault", FAULTS)
def test_botocore_raises_in_process_what_it_raises_on_a_real_socket(fault):
    with misbehaving_server(fault) as base:
        expected = raised(lambda: lm(base).get_access_token(Token="x"))
    with mock_cloud() as cloud:
        token = lm_client().create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="nf")["Token"]
        cloud.faults.add("licensemanager", "GetAccessToken", network=fault, count=1)
        got = raised(lambda: lm().get_access_token(Token=token))
    assert got == expected
    if fault != "truncated":  # botocore parses a cut-off 200 as best it can, on a real socket too
        assert expected[0].startswith("botocore.exceptions.")


@pytest.mark.parametrize("fault", ["reset", "empty", "malformed", "stall"])
def test_aiobotocore_raises_in_process_what_it_raises_on_a_real_socket(fault):
    async def call(endpoint_url, token):
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=TIMEOUT)
        async with get_session().create_client(
            "license-manager",
            region_name="us-east-1",
            endpoint_url=endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        ) as client:
            return await client.get_access_token(Token=token)

    with misbehaving_server(fault) as base:
        expected = raised(lambda: asyncio.run(call(base, "x")))
    with mock_cloud() as cloud:
        token = lm_client().create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="nf")["Token"]
        cloud.faults.add("licensemanager", "GetAccessToken", network=fault, count=1)
        got = raised(lambda: asyncio.run(call(None, token)))
    assert got == expected


def test_botocore_retries_are_observable():
    with mock_cloud() as cloud:
        token = lm_client().create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="retry")["Token"]
        cloud.faults.add("licensemanager", "GetAccessToken", network="reset", count=2)
        access = lm(retries=3).get_access_token(Token=token)["AccessToken"]
    attempts = cloud.requests.filter(operation="GetAccessToken")
    assert [(r.fault, r.status) for r in attempts] == [("reset", 0), ("reset", 0), (None, 200)]
    assert access.count(".") == 2


# ---- the token scenario that matters: the refresh rotated, the reply was lost -------------------


USERAPI = "https://userapi.example.com"
VERSION = {"Version": "2.0"}


def login(session: requests.Session) -> dict:
    reply = session.post(
        f"{USERAPI}/User/Login", json={"username": "api_user", "password": "secure_password_123"}, headers=VERSION
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def refresh(session: requests.Session, pair: dict) -> requests.Response:
    headers = {**VERSION, "Authorization": f"Bearer {pair['accessToken']}"}
    return session.post(f"{USERAPI}/User/RefreshToken", json={"refreshToken": pair["refreshToken"]}, headers=headers)


@pytest.mark.parametrize("grace", [0, 30])
def test_a_refresh_whose_reply_is_lost_after_rotation(grace):
    """The refresh reached the server and rotated the token, but the reply was lost: the client retries."""
    with (
        mock_cloud(services=["userapi"], settings={"userapi": {"reuse_grace_seconds": grace}}) as cloud,
        requests.Session() as session,
    ):
        pair = login(session)
        cloud.faults.add("userapi", "RefreshToken", network="reset_after_commit", count=1)
        with pytest.raises(requests.exceptions.ConnectionError):
            refresh(session, pair)
        retried = refresh(session, pair)  # the retry, with the pair the client still holds
        rotations = cloud.requests.filter(operation="RefreshToken")
        assert [(r.status, r.fault) for r in rotations] == [(200, "reset_after_commit"), (retried.status_code, None)]
        if grace:  # within the grace period the retry is exchanged again, and the client carries on
            assert retried.status_code == 200, retried.text
            assert refresh(session, retried.json()).status_code == 200
        else:  # strict RFC 9700: the token was used once already, so the whole family is revoked
            assert retried.status_code == 401 and retried.json()["reason"] == "reused"


# ---- latency distributions and validation ------------------------------------------------------


def test_latency_distributions_draw_from_the_mocks_generator(echo):
    echo.reset(seed=7)  # the same draws every run
    echo.faults.add("echo", latency={"uniform": [0.01, 0.03]}, count=3)
    echo.faults.add("echo", latency={"lognormal": {"median": 0.01, "sigma": 0.2}}, count=3)
    started = time.monotonic()
    for _ in range(3):
        assert requests.get(f"http://{echo_service.HOST}/echo").status_code == 200
    took = time.monotonic() - started
    delays = [record.delay for record in echo.requests]
    assert all(0.01 <= delay <= 0.03 for delay in delays[:3]) and len(delays) == 3, delays
    assert took >= sum(delays)  # each reply was held for its draw
    assert [round(d, 6) for d in _draws(7)] == [round(d, 6) for d in _draws(7)] != _draws(8)
    with pytest.raises(MockCloudError, match="uniform"):
        echo.faults.add("echo", latency={"uniform": [0.5, 0.1]})
    with pytest.raises(MockCloudError, match="network must be one of"):
        echo.faults.add("echo", network="explode")
    with pytest.raises(MockCloudError, match="does not go with"):
        echo.faults.add("echo", network="reset", status=500)


def _draws(seed: int) -> list[float]:
    from mockcloud.core.entropy import Entropy
    from mockcloud.core.faults import Delay

    generator = Entropy(seed).generator
    return [Delay.parse({"lognormal": {"median": 0.01, "sigma": 0.5}}).draw(generator) for _ in range(5)]
