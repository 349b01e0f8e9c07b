"""Server mode: the real boto3 client against a live mockcloud server on loopback.

Most tests use the plugin's ``mockcloud_server`` fixture (one server per
session, reset before each test); the CLI tests start ``mockcloud server`` in
a subprocess. Everything binds and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
import pytest
import requests
import time_machine
from botocore.exceptions import ClientError

from tests.helpers import DEADLINE, DEFAULT_LICENSE_ARN, error_of, lm_client, wait_for

pytestmark = pytest.mark.server

HTTP_TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long
ROLE_ARN = "arn:aws:iam::123456789012:role/license-reader"


# ---- helpers ----------------------------------------------------------------
def admin(server, method: str, path: str, **kwargs) -> requests.Response:
    """An admin call as a test client makes it: state-changing calls say they send JSON (the admin API requires it)."""
    if method in ("POST", "PUT", "DELETE") and "json" not in kwargs:
        kwargs["headers"] = {"Content-Type": "application/json", **kwargs.get("headers", {})}
    return requests.request(method, f"{server.url}/_mockcloud/{path}", timeout=HTTP_TIMEOUT, **kwargs)


def server_now(server) -> datetime:
    reply = admin(server, "GET", "clock")
    assert reply.status_code == 200, reply.text
    return datetime.fromisoformat(reply.json()["now"])


def create_token(client, **params) -> dict:
    params.setdefault("LicenseArn", DEFAULT_LICENSE_ARN)
    params.setdefault("ClientToken", uuid.uuid4().hex)
    return client.create_token(**params)


@pytest.fixture
def lm(mockcloud_server):
    """A boto3 License Manager client aimed at the live server."""
    return lm_client(endpoint_url=mockcloud_server.url)


# ---- the token lifecycle over HTTP ---------------------------------------------
def test_token_lifecycle_over_http(mockcloud_server, lm):
    """The whole CreateToken → GetAccessToken → ListTokens → DeleteToken flow works through a real socket."""
    created = create_token(lm, TokenProperties=["seat=1"], RoleArns=[ROLE_ARN], ExpirationInDays=30)
    assert created["TokenType"] == "REFRESH_TOKEN"
    token_id = created["TokenId"]

    access = lm.get_access_token(Token=created["Token"])["AccessToken"]
    assert access.count(".") == 2

    listed = lm.list_tokens()["Tokens"]
    assert [t["TokenId"] for t in listed] == [token_id]
    assert listed[0]["LicenseArn"] == DEFAULT_LICENSE_ARN
    assert listed[0]["TokenProperties"] == ["seat=1"]
    assert listed[0]["RoleArns"] == [ROLE_ARN]

    lm.delete_token(TokenId=token_id)
    assert lm.list_tokens()["Tokens"] == []
    with pytest.raises(ClientError) as excinfo:
        lm.get_access_token(Token=created["Token"])
    assert error_of(excinfo)[0] == "AuthorizationException"


def test_access_token_verifies_with_published_jwks(mockcloud_server, lm):
    """Code under test verifies tokens with the JWKS the server publishes; aud is the license, amr the properties."""
    created = create_token(lm, TokenProperties=["seat=1", "tier=pro"])
    access = lm.get_access_token(Token=created["Token"])["AccessToken"]

    reply = admin(mockcloud_server, "GET", "jwks")
    assert reply.status_code == 200
    jwks = reply.json()
    assert len(jwks["keys"]) == 1
    key = jwt.PyJWK(jwks["keys"][0])

    claims = jwt.decode(access, key.key, algorithms=["ES256"], audience=DEFAULT_LICENSE_ARN)
    assert claims["aud"] == DEFAULT_LICENSE_ARN
    assert claims["amr"] == ["seat=1", "tier=pro", "aws:license-manager:token-issuer-account-id:123456789012"]
    assert claims["token_type"] == "access_token"
    assert claims["rti"] == created["TokenId"]
    assert jwt.get_unverified_header(access)["kid"] == jwks["keys"][0]["kid"]

    # and it is the signature that is checked: a tampered token is refused
    header, payload, signature = access.split(".")
    forged = ".".join((header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")))
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key.key, algorithms=["ES256"], audience=DEFAULT_LICENSE_ARN)


# ---- front-door errors ---------------------------------------------------------
def test_unknown_access_key_is_unrecognized(mockcloud_server):
    """A key pair the server does not know is refused as AWS does, before the operation runs."""
    client = lm_client(endpoint_url=mockcloud_server.url, key="AKIDUNKNOWN", secret="whatever")
    with pytest.raises(ClientError) as excinfo:
        client.list_tokens()
    assert error_of(excinfo)[:2] == ("UnrecognizedClientException", 400)


def test_wrong_secret_is_invalid_signature(mockcloud_server):
    """A known key signed with the wrong secret fails the SigV4 check."""
    client = lm_client(endpoint_url=mockcloud_server.url, key="testing", secret="not-the-secret")
    with pytest.raises(ClientError) as excinfo:
        client.list_tokens()
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert "signature we calculated does not match" in message


def test_unsigned_request_is_missing_authentication_token(mockcloud_server):
    """A request without any signature is claimed by X-Amz-Target and refused in the AWS JSON format."""
    reply = requests.post(
        mockcloud_server.url + "/",
        headers={"X-Amz-Target": "AWSLicenseManager.ListTokens", "Content-Type": "application/x-amz-json-1.1"},
        data="{}",
        timeout=HTTP_TIMEOUT,
    )
    assert reply.status_code == 400
    assert reply.json()["__type"].endswith("MissingAuthenticationTokenException")


def test_request_no_service_claims_is_a_json_404(mockcloud_server):
    """A stray request gets a 404 that says why, not an empty or HTML page."""
    reply = requests.get(mockcloud_server.url + "/nothing/here", timeout=HTTP_TIMEOUT)
    assert reply.status_code == 404
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json()
    assert body["error"] == "NoServiceClaimsRequest"
    assert "no emulated service claims" in body["message"]
    assert "/nothing/here" in body["message"]


# ---- admin: health, clock ----------------------------------------------------------
def test_health(mockcloud_server):
    """The health endpoint answers and names the services served."""
    reply = admin(mockcloud_server, "GET", "health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert "licensemanager" in body["services"]


def test_clock_reads_real_time_by_default(mockcloud_server):
    """An untouched server clock is the machine's time, not frozen."""
    reply = admin(mockcloud_server, "GET", "clock")
    assert reply.status_code == 200
    body = reply.json()
    assert body["frozen"] is False
    now = datetime.fromisoformat(body["now"])
    assert now.tzinfo is not None
    assert abs((now - datetime.now(timezone.utc)).total_seconds()) < 60


def test_clock_freeze_advance_unfreeze(mockcloud_server):
    """The server clock can be frozen at a moment, moved by seconds and let run again from there."""
    reply = admin(mockcloud_server, "POST", "clock", json={"freeze": "2030-01-01T00:00:00+00:00"})
    assert reply.status_code == 200
    assert reply.json() == {"now": "2030-01-01T00:00:00+00:00", "frozen": True, "epoch": 1893456000.0}

    assert server_now(mockcloud_server) == datetime(2030, 1, 1, tzinfo=timezone.utc)  # to the microsecond: frozen

    reply = admin(mockcloud_server, "POST", "clock", json={"advance": 3600})
    assert reply.status_code == 200
    assert reply.json() == {"now": "2030-01-01T01:00:00+00:00", "frozen": True, "epoch": 1893459600.0}

    reply = admin(mockcloud_server, "POST", "clock", json={"unfreeze": True})
    assert reply.status_code == 200
    assert reply.json()["frozen"] is False
    running = datetime.fromisoformat(reply.json()["now"])
    expected = datetime(2030, 1, 1, 1, tzinfo=timezone.utc)
    assert expected <= running < expected + timedelta(seconds=30)
    wait_for(lambda: server_now(mockcloud_server) > running, "the unfrozen clock to run")


def test_moved_server_clock_keeps_real_time_signatures_and_expires_what_it_issued(mockcloud_server, lm):
    """boto3 signs with the machine's time, which the server's clock does not move: 2 days on, its signatures
    are still fresh, while a 1-day refresh token the server issued has expired on the server's clock."""
    created = create_token(lm, ExpirationInDays=1)
    assert admin(mockcloud_server, "POST", "clock", json={"advance": 2 * 86400}).status_code == 200
    assert [t["TokenId"] for t in lm.list_tokens()["Tokens"]] == [created["TokenId"]]  # the signature is fresh
    with pytest.raises(ClientError) as excinfo:
        lm.get_access_token(Token=created["Token"])
    assert error_of(excinfo)[:2] == ("AuthorizationException", 400)


@pytest.mark.parametrize(("minutes", "start"), [(-10, "Signature expired: "), (10, "Signature not yet current: ")])
def test_a_client_clock_off_both_times_is_refused(mockcloud_server, monkeypatch, minutes, start):
    """Skew on purpose: a client whose own clock is 10 minutes off the host's time and the server's."""
    import botocore.auth

    lm = lm_client(endpoint_url=mockcloud_server.url)
    lm.list_tokens()
    skewed = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    with pytest.raises(ClientError) as excinfo:
        lm.list_tokens()
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidSignatureException", 400) and message.startswith(start)


def test_refresh_token_expires_on_the_server_clock(mockcloud_server, lm):
    """A 1-day refresh token is refused once the server clock is 2 days on (client signs at the same moment)."""
    created = create_token(lm, ExpirationInDays=1)
    lm.get_access_token(Token=created["Token"])  # valid now

    # Frozen, so the server's clock ignores the time travel of this (same) process below.
    assert (
        admin(mockcloud_server, "POST", "clock", json={"freeze": server_now(mockcloud_server).isoformat()}).status_code
        == 200
    )
    assert admin(mockcloud_server, "POST", "clock", json={"advance": 2 * 86400}).status_code == 200
    later = server_now(mockcloud_server)

    with time_machine.travel(later, tick=True), pytest.raises(ClientError) as excinfo:
        lm.get_access_token(Token=created["Token"])
    code, status, message = error_of(excinfo)
    assert (code, status) == ("AuthorizationException", 400)
    assert "expired" in message


# ---- admin: faults -------------------------------------------------------------
def test_injected_error_hits_once(mockcloud_server, lm):
    """A counted fault fails exactly the next matching call with the given code and status."""
    token = create_token(lm)["Token"]
    reply = admin(
        mockcloud_server,
        "POST",
        "faults",
        json={
            "service": "licensemanager",
            "operation": "GetAccessToken",
            "error": "ServerInternalException",
            "status": 500,
            "count": 1,
        },
    )
    assert reply.status_code == 200
    assert len(reply.json()["rules"]) == 1

    lm.list_tokens()  # another operation is not affected
    with pytest.raises(ClientError) as excinfo:
        lm.get_access_token(Token=token)
    assert error_of(excinfo)[:2] == ("ServerInternalException", 500)
    assert lm.get_access_token(Token=token)["AccessToken"]
    assert admin(mockcloud_server, "GET", "faults").json()["rules"] == []


def test_injected_throttle(mockcloud_server, lm):
    """A throttle rule answers with the service's own throttling error."""
    assert (
        admin(
            mockcloud_server, "POST", "faults", json={"service": "licensemanager", "throttle": True, "count": 1}
        ).status_code
        == 200
    )
    with pytest.raises(ClientError) as excinfo:
        lm.list_tokens()
    assert error_of(excinfo)[0] == "RateLimitExceededException"
    assert lm.list_tokens()["Tokens"] == []


def test_rate_limit_throttles_beyond_burst(mockcloud_server, lm):
    """With rate 1/s and burst 2 the third call in a row is throttled (clock frozen: no refill)."""
    admin(mockcloud_server, "POST", "clock", json={"freeze": server_now(mockcloud_server).isoformat()})
    reply = admin(
        mockcloud_server, "POST", "faults", json={"rate_limit": {"service": "licensemanager", "rate": 1, "burst": 2}}
    )
    assert reply.status_code == 200
    assert reply.json()["rate_limits"] == [{"service": "licensemanager", "operation": None, "rate": 1.0, "burst": 2.0}]

    lm.list_tokens()
    lm.list_tokens()
    with pytest.raises(ClientError) as excinfo:
        lm.list_tokens()
    assert error_of(excinfo)[0] == "RateLimitExceededException"

    # a second of mock time refills one request
    admin(mockcloud_server, "POST", "clock", json={"advance": 1})
    lm.list_tokens()


def test_delete_faults_clears_rules_and_limits(mockcloud_server, lm):
    """DELETE /_mockcloud/faults removes every rule and rate limit at once."""
    admin(
        mockcloud_server,
        "POST",
        "faults",
        json={"service": "licensemanager", "error": "ServerInternalException", "status": 500},
    )
    admin(mockcloud_server, "POST", "faults", json={"rate_limit": {"service": "licensemanager", "rate": 0, "burst": 1}})
    with pytest.raises(ClientError):
        lm.list_tokens()

    reply = admin(mockcloud_server, "DELETE", "faults")
    assert reply.status_code == 200
    assert reply.json() == {"rules": [], "rate_limits": []}
    for _ in range(3):
        assert lm.list_tokens()["Tokens"] == []


# ---- admin: request log, reset, credentials --------------------------------------
def test_request_log_lists_handled_requests(mockcloud_server, lm):
    """Every emulated call is logged with service, operation, status and error code."""
    lm.list_tokens()
    with pytest.raises(ClientError):
        lm_client(endpoint_url=mockcloud_server.url, key="AKIDUNKNOWN", secret="x").list_tokens()

    records = admin(mockcloud_server, "GET", "requests").json()["requests"]
    summary = [(r["service"], r["operation"], r["status"], r["error_code"]) for r in records]
    assert summary == [
        ("licensemanager", "ListTokens", 200, None),
        ("licensemanager", "ListTokens", 400, "UnrecognizedClientException"),
    ]
    assert all(r["method"] == "POST" and r["url"].startswith(mockcloud_server.url) for r in records)

    last = records[-1]["seq"]
    assert admin(mockcloud_server, "DELETE", "requests").json() == {"requests": [], "first": None, "last": last}


def test_reset_forgets_tokens(mockcloud_server, lm):
    """POST /_mockcloud/reset brings the server back to its fixtures: tokens issued before are gone."""
    created = create_token(lm)
    assert len(lm.list_tokens()["Tokens"]) == 1

    reply = admin(mockcloud_server, "POST", "reset")
    assert reply.status_code == 200
    assert lm.list_tokens()["Tokens"] == []
    with pytest.raises(ClientError) as excinfo:
        lm.get_access_token(Token=created["Token"])
    assert error_of(excinfo)[0] == "AuthorizationException"


def test_registered_credentials_are_accepted(mockcloud_server):
    """A key pair posted to /_mockcloud/credentials signs valid requests from then on."""
    client = lm_client(endpoint_url=mockcloud_server.url, key="AKIDSERVER", secret="s3cret")
    with pytest.raises(ClientError) as excinfo:
        client.list_tokens()
    assert error_of(excinfo)[0] == "UnrecognizedClientException"

    reply = admin(
        mockcloud_server,
        "POST",
        "credentials",
        json={"aws": [{"access_key_id": "AKIDSERVER", "secret_access_key": "s3cret"}]},
    )
    assert reply.status_code == 200
    assert client.list_tokens()["Tokens"] == []
    assert create_token(client)["TokenId"]


# ---- admin: bad input is a 400, and changes nothing ------------------------------
BAD_ADMIN_INPUT = [
    pytest.param("clock", '{"bogus": 1}', id="clock-unknown-field"),
    pytest.param("clock", '{"freeze": "not a date"}', id="clock-freeze-not-a-date"),
    pytest.param("clock", '{"advance": "soon"}', id="clock-advance-not-a-number"),
    pytest.param("clock", "not json", id="clock-not-json"),
    pytest.param("clock", "[1, 2]", id="clock-not-an-object"),
    pytest.param("clock", '{"freeze": [2030, 1, 1]}', id="clock-freeze-list"),
    pytest.param("clock", '{"advance": 1e300}', id="clock-advance-out-of-range"),
    pytest.param("clock", '{"advance": NaN}', id="clock-advance-nan"),
    pytest.param("faults", '{"service": "nosuchservice", "error": "X"}', id="faults-unknown-service"),
    pytest.param("faults", '{"service": "licensemanager"}', id="faults-no-effect"),
    pytest.param("faults", '{"service": "licensemanager", "error": "X", "bogus": 1}', id="faults-unknown-field"),
    pytest.param("faults", '{"rate_limit": {"rate": 1}}', id="faults-rate-limit-no-service"),
    pytest.param("faults", '{"service": "licensemanager", "status": "teapot"}', id="faults-status-not-a-number"),
    pytest.param("credentials", '{"aws": [{"access_key_id": "AKIDHALF"}]}', id="credentials-no-secret"),
]


@pytest.mark.parametrize("endpoint, body", BAD_ADMIN_INPUT)
def test_bad_admin_input_is_a_400(mockcloud_server, lm, endpoint, body):
    """Bad admin input is refused with a JSON 400 (never a 500) and leaves the server working as before."""
    reply = admin(mockcloud_server, "POST", endpoint, data=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, (
        f"POST /_mockcloud/{endpoint} {body} answered {reply.status_code}: {reply.text[:200]}"
    )
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["error"] == "BadAdminRequest"

    # nothing of the refused input took effect
    clock = admin(mockcloud_server, "GET", "clock")
    assert clock.status_code == 200, f"after the refused {body}, GET /_mockcloud/clock answered {clock.status_code}"
    assert abs((datetime.fromisoformat(clock.json()["now"]) - datetime.now(timezone.utc)).total_seconds()) < 60
    assert admin(mockcloud_server, "GET", "faults").json() == {"rules": [], "rate_limits": []}
    assert lm.list_tokens()["Tokens"] == []


# ---- the fixture resets state between tests -------------------------------------
def _leave_state_behind(server, client) -> None:
    """Assert a clean server, then dirty it (token, fault, key, clock) for whichever test runs next."""
    assert client.list_tokens()["Tokens"] == []
    assert admin(server, "GET", "faults").json() == {"rules": [], "rate_limits": []}
    assert admin(server, "GET", "clock").json()["frozen"] is False
    assert [r["operation"] for r in admin(server, "GET", "requests").json()["requests"]] == ["ListTokens"]

    create_token(client)
    admin(
        server,
        "POST",
        "faults",
        json={"service": "licensemanager", "operation": "DeleteToken", "error": "ServerInternalException"},
    )
    admin(server, "POST", "clock", json={"freeze": "2030-01-01T00:00:00+00:00"})
    assert len(server.cloud.licensemanager.tokens) == 1


def test_state_is_reset_between_tests_first(mockcloud_server, lm):
    """Runs before or after its twin; either way it starts clean although the other left state behind."""
    _leave_state_behind(mockcloud_server, lm)


def test_state_is_reset_between_tests_second(mockcloud_server, lm):
    """The twin of the test above."""
    _leave_state_behind(mockcloud_server, lm)


# ---- the CLI -------------------------------------------------------------------
URL_LINE = re.compile(r"listening on (http://\S+)")


class CliServer:
    """``mockcloud server`` in a subprocess, with its stdout read line by line in a thread."""

    def __init__(self, argv: list[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_url(self, timeout: float = DEADLINE) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.01, remaining))
            except queue.Empty:
                pytest.fail(f"no URL line within {timeout}s; output so far: {self.output}")
            if line is None:
                pytest.fail(f"server exited ({self.proc.poll()}) before printing its URL: {self.output}")
            self.output.append(line)
            match = URL_LINE.search(line)
            if match:
                return match.group(1)

    def stop(self, signum: int, timeout: float = DEADLINE) -> tuple[int, str]:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        rest = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                rest.append(line)
        self.output.extend(rest)
        return code, "".join(self.output)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


def _serve_and_stop(argv: list[str], signum: int) -> None:
    server = CliServer(argv)
    try:
        url = server.wait_for_url()  # how fast it starts is for benchmarks/run.py (import time), not a test
        match = re.fullmatch(r"http://([^:/]+):(\d+)", url)
        assert match, url
        assert match.group(1) == "127.0.0.1"  # loopback unless told otherwise
        assert int(match.group(2)) > 0  # --port 0 printed the port it really got

        reply = requests.get(url + "/_mockcloud/health", timeout=HTTP_TIMEOUT)
        assert reply.status_code == 200
        assert reply.json()["status"] == "ok"
        # and it serves the emulator, not only the admin endpoints
        assert lm_client(endpoint_url=url).list_tokens()["Tokens"] == []

        code, output = server.stop(signum)
        assert code == 0, output
        assert "mockcloud server stopped" in output
        assert "Traceback" not in output
    finally:
        server.kill()


def test_cli_stops_cleanly_on_sigterm():
    """``python -m mockcloud server --port 0`` starts fast on loopback, serves, and exits 0 on SIGTERM."""
    _serve_and_stop([sys.executable, "-m", "mockcloud", "server", "--port", "0"], signal.SIGTERM)


def test_cli_stops_cleanly_on_sigint():
    """Ctrl-C (SIGINT) stops it just as cleanly."""
    _serve_and_stop([sys.executable, "-m", "mockcloud", "server", "--port", "0"], signal.SIGINT)


def test_console_script():
    """The installed ``mockcloud`` console script runs the same server."""
    script = Path(sys.executable).parent / "mockcloud"
    if not script.exists():
        message = f"the console script {script} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    _serve_and_stop([str(script), "server", "--port", "0"], signal.SIGTERM)


def test_admin_routes_answer_404_and_405_with_allow_as_json(mockcloud_server):
    unknown = admin(mockcloud_server, "GET", "nope")
    assert unknown.status_code == 404 and unknown.json()["error"] == "NotFound"
    assert "/_mockcloud/clock" in unknown.json()["message"]
    wrong = admin(mockcloud_server, "PUT", "clock", json={})
    assert wrong.status_code == 405 and wrong.json()["error"] == "MethodNotAllowed"
    assert set(wrong.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert admin(mockcloud_server, "GET", "jwks/licensemanager").json()["keys"]
    assert admin(mockcloud_server, "GET", "jwks/nosuch").status_code == 404
    assert admin(mockcloud_server, "GET", "health/").json()["status"] == "ok"  # a trailing slash is fine


# ---- server-mode edges: a state path that cannot be written, a stop right after "listening" -----------------
@pytest.mark.parametrize("where", ["missing folder", "a folder", "read-only folder"])
def test_a_state_path_that_cannot_be_written_stops_the_server_before_it_listens(tmp_path, where):
    if where == "missing folder":
        path = tmp_path / "missing" / "state.json"
    elif where == "a folder":
        path = tmp_path
    elif os.geteuid() == 0:  # root writes in a folder without write permission; in /proc nobody makes files
        path = Path("/proc/mockcloud-state.db")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        path = locked / "state.db"
    run = subprocess.run(
        [sys.executable, "-m", "mockcloud", "server", "--port", "0", "--state", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run
    assert run.stdout == ""  # it never said it listens
    assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith("mockcloud: --state "), run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_any_stop_after_listening_exits_0_with_the_state_saved(tmp_path, signum):
    """The signal handlers are in place before "listening" is printed: a stop the moment it appears is clean."""
    path = tmp_path / "state.db"
    for _ in range(3):
        server = CliServer([sys.executable, "-m", "mockcloud", "server", "--port", "0", "--state", str(path)])
        try:
            server.wait_for_url()
            code, output = server.stop(signum, timeout=60)
        finally:
            server.kill()
        assert code == 0, output
        assert "Traceback" not in output
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as database:  # closed whole, nothing half-written
            assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert database.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def test_options_from_the_environment_as_a_container_sets_them(monkeypatch, tmp_path):
    monkeypatch.setenv("MOCKCLOUD_PORT", "0")
    monkeypatch.setenv("MOCKCLOUD_SEED", "5")
    monkeypatch.setenv("MOCKCLOUD_ALLOW_HOST", "mockcloud-a, mockcloud-b")
    monkeypatch.setenv("MOCKCLOUD_STATE", str(tmp_path / "state.json"))
    server = CliServer([sys.executable, "-m", "mockcloud", "server"])
    try:
        url = server.wait_for_url()
        port = url.rsplit(":", 1)[1]
        reset = requests.post(f"{url}/_mockcloud/reset", json={}, timeout=HTTP_TIMEOUT)
        assert reset.json()["seed"] == 5
        named = requests.get(f"{url}/_mockcloud/clock", headers={"Host": f"mockcloud-b:{port}"}, timeout=HTTP_TIMEOUT)
        assert named.status_code == 200
        code, output = server.stop(signal.SIGTERM, timeout=60)
    finally:
        server.kill()
    assert code == 0, output
    assert (tmp_path / "state.json").exists()
    monkeypatch.setenv("MOCKCLOUD_PORT", "http")
    refused = subprocess.run(
        [sys.executable, "-m", "mockcloud", "server"], capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 2 and "'http' is not a port number" in refused.stderr
