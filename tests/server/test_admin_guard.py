"""The admin API (``/_mockcloud/...``) cannot be driven by a web page, another host, or bad input.

Each test uses the session's loopback server (reset before each test) or a
server of its own; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings

import pytest
import requests

from mockcloud.server import LiveServer
from mockcloud.server import guard as guard_module
from mockcloud.server.guard import AdminGuard

pytestmark = pytest.mark.server

TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long
JSON = {"Content-Type": "application/json"}


def clock(server, **kwargs) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{server.port}/_mockcloud/clock", timeout=TIMEOUT, **kwargs)


def freeze(server, **kwargs) -> requests.Response:
    kwargs.setdefault("data", json.dumps({"freeze": "2030-01-01T00:00:00+00:00"}))
    return requests.post(f"http://127.0.0.1:{server.port}/_mockcloud/clock", timeout=TIMEOUT, **kwargs)


def assert_not_frozen(server) -> None:
    assert server.cloud.clock.frozen is False


# ---- content type -----------------------------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp"],
)
def test_state_changing_call_needs_json_content_type(mockcloud_server, content_type):
    """What a cross-site form or fetch can send without a preflight is refused, and changes nothing."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    reply = freeze(mockcloud_server, headers=headers)
    assert reply.status_code == 415 and reply.json()["error"] == "UnsupportedMediaType"
    assert_not_frozen(mockcloud_server)
    mockcloud_server.cloud.faults.add("licensemanager", "ListTokens", error="X")
    for method, path in (("DELETE", "faults"), ("POST", "reset"), ("DELETE", "requests")):
        reply = requests.request(method, f"{mockcloud_server.url}/_mockcloud/{path}", headers=headers, timeout=TIMEOUT)
        assert reply.status_code == 415, (method, path)
    assert len(mockcloud_server.cloud.faults.rules) == 1


def test_json_content_type_with_parameters_is_accepted(mockcloud_server):
    reply = freeze(mockcloud_server, headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert reply.status_code == 200 and reply.json()["frozen"] is True
    reply = requests.delete(f"{mockcloud_server.url}/_mockcloud/faults", headers=JSON, timeout=TIMEOUT)
    assert reply.status_code == 200


def test_reads_need_no_content_type(mockcloud_server):
    assert clock(mockcloud_server).status_code == 200


# ---- Origin and Host ------------------------------------------------------------------
@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "https://127.0.0.1:{port}",
        "http://127.0.0.1:1",
        "null",
        "http://localhost.evil.example:{port}",
        "garbage",
    ],
)
def test_foreign_origin_is_refused_for_reads_and_writes(mockcloud_server, origin):
    origin = origin.format(port=mockcloud_server.port)
    for reply in (
        clock(mockcloud_server, headers={"Origin": origin}),
        freeze(mockcloud_server, headers={**JSON, "Origin": origin}),
    ):
        assert reply.status_code == 403 and reply.json()["error"] == "ForbiddenOrigin"
    assert_not_frozen(mockcloud_server)


@pytest.mark.parametrize("origin_host", ["127.0.0.1", "localhost", "[::1]"])
def test_own_origin_is_accepted(mockcloud_server, origin_host):
    reply = freeze(mockcloud_server, headers={**JSON, "Origin": f"http://{origin_host}:{mockcloud_server.port}"})
    assert reply.status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",
        "evil.example",
        "127.0.0.1:1",
        "127.0.0.1",
        "localhost:{port}0",
        "[::1",
        "127.0.0.1:{port}:1",
        "",
    ],
)
def test_foreign_host_is_refused_against_dns_rebinding(mockcloud_server, host):
    """A rebinding page reaches 127.0.0.1 but keeps its own name in Host: no read, no write."""
    headers = {"Host": host.format(port=mockcloud_server.port)}
    assert clock(mockcloud_server, headers=headers).status_code == 403
    reply = freeze(mockcloud_server, headers={**JSON, **headers})
    assert reply.status_code == 403 and reply.json()["error"] == "ForbiddenHost"
    assert_not_frozen(mockcloud_server)
    # the emulated services themselves still answer whatever host a client addresses
    service = requests.get(f"{mockcloud_server.url}/nothing", headers=headers, timeout=TIMEOUT)
    assert service.status_code == 404 and service.json()["error"] == "NoServiceClaimsRequest"


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST.:{port}", "[::1]:{port}"])
def test_own_host_names_are_accepted(mockcloud_server, host):
    assert clock(mockcloud_server, headers={"Host": host.format(port=mockcloud_server.port)}).status_code == 200


def test_extra_allowed_hosts():
    with LiveServer(allowed_hosts=["mockcloud", "proxy.local:8080"]) as live:
        assert clock(live, headers={"Host": f"mockcloud:{live.port}"}).status_code == 200
        assert clock(live, headers={"Host": "mockcloud"}).status_code == 200
        assert clock(live, headers={"Host": "proxy.local:8080"}).status_code == 200
        assert clock(live, headers={"Host": "proxy.local:8081"}).status_code == 403
        assert clock(live, headers={"Origin": "http://mockcloud:9999"}).status_code == 200
    with pytest.raises(ValueError):
        LiveServer(allowed_hosts=["bad host:port:x"])


# ---- the admin token ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def exposed():
    """A server bound to every address (0.0.0.0): it warns and makes a token. Talked to on 127.0.0.1 only."""
    with pytest.warns(RuntimeWarning, match="off loopback"):
        live = LiveServer("0.0.0.0", 0)
    with live:
        yield live


def test_off_loopback_the_server_makes_a_random_token(exposed):
    assert exposed.admin_token and len(exposed.admin_token) >= 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        other = LiveServer("0.0.0.0", 0)
    other.stop()
    assert other.admin_token != exposed.admin_token


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic {token}"},
        {"X-Mockcloud-Admin-Token": "{token}x"},
        {"Authorization": "Bearer"},
        {"X-Mockcloud-Admin-Token": "\u00e9t\u00e9"},
    ],
    ids=["none", "wrong", "not-bearer", "longer", "empty-bearer", "non-ascii"],
)
def test_off_loopback_admin_calls_without_the_token_are_401(exposed, headers):
    headers = {name: value.format(token=exposed.admin_token) for name, value in headers.items()}
    reply = clock(exposed, headers={name: value.encode("utf-8") for name, value in headers.items()})
    assert reply.status_code == 401 and reply.json()["error"] == "Unauthorized"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert freeze(exposed, headers={**JSON, **headers}).status_code == 401
    assert exposed.cloud.clock.frozen is False


def test_off_loopback_the_token_opens_the_admin_api(exposed):
    bearer = {"Authorization": f"Bearer {exposed.admin_token}"}
    assert clock(exposed, headers=bearer).status_code == 200
    assert freeze(exposed, headers={**JSON, "X-Mockcloud-Admin-Token": exposed.admin_token}).status_code == 200
    assert exposed.cloud.clock.frozen is True
    exposed.cloud.reset()
    # the services do not need it
    assert requests.get(f"http://127.0.0.1:{exposed.port}/nothing", timeout=TIMEOUT).status_code == 404


def test_token_is_compared_in_constant_time(monkeypatch):
    compared = []
    real = guard_module.hmac.compare_digest
    monkeypatch.setattr(guard_module.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    guard = AdminGuard(frozenset({("127.0.0.1", 80)}), token="s3cret")
    environ = {"HTTP_HOST": "127.0.0.1", "REQUEST_METHOD": "GET", "HTTP_AUTHORIZATION": "Bearer s3cre"}
    assert guard.refusal(environ)[0] == 401
    assert guard.refusal({**environ, "HTTP_AUTHORIZATION": "Bearer s3cret"}) is None
    assert compared == [(b"s3cre", b"s3cret"), (b"s3cret", b"s3cret")]


def test_a_given_token_is_required_on_loopback_too():
    with LiveServer(admin_token="given-token") as live:
        assert clock(live).status_code == 401
        assert clock(live, headers={"Authorization": "Bearer given-token"}).status_code == 200
    with pytest.raises(ValueError):
        LiveServer(admin_token="")


def listening_port(line: str) -> int:
    match = re.search(r"listening on http://\S+:(\d+) ", line)
    assert match, line
    return int(match.group(1))


def test_cli_off_loopback_warns_and_prints_the_token():
    """``mockcloud server --host 0.0.0.0`` says so on stderr and prints the token it made; it is checked."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockcloud", "server", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        token_line = proc.stdout.readline()
        listening = proc.stdout.readline()
        assert "admin token" in token_line, token_line
        token = token_line.rsplit(" ", 1)[1].strip()
        port = listening_port(listening)
        assert requests.get(f"http://127.0.0.1:{port}/_mockcloud/clock", timeout=TIMEOUT).status_code == 401
        ok = requests.get(
            f"http://127.0.0.1:{port}/_mockcloud/clock", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        assert ok.status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "WARNING" in err and "0.0.0.0" in err and "admin token" in err


def test_cli_admin_token_from_the_environment():
    env = {**os.environ, "MOCKCLOUD_ADMIN_TOKEN": "from-env"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockcloud", "server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        port = listening_port(proc.stdout.readline())
        assert requests.get(f"http://127.0.0.1:{port}/_mockcloud/clock", timeout=TIMEOUT).status_code == 401
        assert (
            requests.get(
                f"http://127.0.0.1:{port}/_mockcloud/clock",
                headers={"X-Mockcloud-Admin-Token": "from-env"},
                timeout=TIMEOUT,
            ).status_code
            == 200
        )
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


# ---- bad input is a JSON 400 ---------------------------------------------------------------
DEEP = "[" * 100_000 + "]" * 100_000
NESTED_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
BAD_BODIES = [
    pytest.param(DEEP, id="deep-list"),
    pytest.param(NESTED_OBJECT, id="deep-object"),
    pytest.param('{"freeze": "\\ud800"}', id="lone-surrogate-value"),
    pytest.param('{"\\udfff": 1}', id="lone-surrogate-key"),
    pytest.param(b'{"freeze": "\xff\xfe"}', id="not-utf8"),
    pytest.param('{"advance": 1e999}', id="infinite-number"),
    pytest.param('{"advance": ' + "9" * 5000 + "}", id="huge-integer"),
]


@pytest.mark.parametrize("endpoint", ["clock", "faults", "credentials"])
@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_admin_bodies_are_json_400s(mockcloud_server, endpoint, body):
    reply = requests.post(f"{mockcloud_server.url}/_mockcloud/{endpoint}", data=body, headers=JSON, timeout=TIMEOUT)
    assert reply.status_code == 400, reply.text[:300]
    assert reply.headers["Content-Type"] == "application/json" and reply.json()["error"] == "BadAdminRequest"
    assert_not_frozen(mockcloud_server)
    assert mockcloud_server.cloud.faults.rules == [] and clock(mockcloud_server).status_code == 200


def test_lone_surrogate_credentials_are_refused_and_not_stored(mockcloud_server):
    body = '{"aws": [{"access_key_id": "AKID\\ud800", "secret_access_key": "x"}]}'
    reply = requests.post(f"{mockcloud_server.url}/_mockcloud/credentials", data=body, headers=JSON, timeout=TIMEOUT)
    assert reply.status_code == 400
    assert requests.get(f"{mockcloud_server.url}/_mockcloud/requests", timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize("path", ["jwks/\u00ff", "nothing", "jwks/%ff%fe", "clock/extra/deep"])
def test_unknown_admin_paths_are_json(mockcloud_server, path):
    reply = requests.get(f"{mockcloud_server.url}/_mockcloud/{path}", timeout=TIMEOUT)
    assert reply.status_code in (404, 405) and reply.headers["Content-Type"] == "application/json"


def test_the_health_check_needs_no_token_but_still_its_own_host():
    """A container's HEALTHCHECK and a CI service's health command ask /health without the admin token."""
    with LiveServer(admin_token="secret") as server:
        assert requests.get(f"{server.url}/_mockcloud/health", timeout=TIMEOUT).json()["status"] == "ok"
        assert requests.get(f"{server.url}/_mockcloud/clock", timeout=TIMEOUT).status_code == 401
        rebound = requests.get(f"{server.url}/_mockcloud/health", headers={"Host": "evil.example"}, timeout=TIMEOUT)
        assert rebound.status_code == 403
        assert requests.post(f"{server.url}/_mockcloud/health", timeout=TIMEOUT).status_code != 200
