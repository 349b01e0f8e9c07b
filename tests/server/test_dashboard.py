"""The dashboard's page and the admin endpoints it reads, over HTTP.

The browser tests are in test_dashboard_browser.py.

Each test runs a server of its own on 127.0.0.1, or an in-process mock's dashboard server.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import re
import socket
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from mockcloud import MockCloudError, mock_cloud
from mockcloud.server import LiveServer, dashboard
from tests.helpers import DEFAULT_LICENSE_ARN, UNUSED_PLUGINS, lm_client

pytestmark = pytest.mark.server

TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long
JSON = {"Content-Type": "application/json"}
ROOT = Path(__file__).resolve().parents[2]
FILES = Path(dashboard.__file__).parent


@pytest.fixture
def server():
    with LiveServer() as live:
        yield live


def admin(server, path: str, method: str = "GET", **kwargs) -> requests.Response:
    return requests.request(method, f"{server.url}/_mockcloud/{path}", timeout=TIMEOUT, **kwargs)


# ---- the page ------------------------------------------------------------------------------
def test_the_page_and_its_files_are_served_with_a_strict_content_security_policy(server):
    for path, kind in (
        ("", "text/html"),
        ("dashboard/dashboard.js", "text/javascript"),
        ("dashboard/dashboard.css", "text/css"),
    ):
        reply = admin(server, path)
        assert reply.status_code == 200 and reply.headers["Content-Type"].startswith(kind), path
        policy = reply.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy and "unsafe-inline" not in policy
        assert reply.headers["X-Content-Type-Options"] == "nosniff" and reply.headers["X-Frame-Options"] == "DENY"
    assert (
        requests.get(f"{server.url}/_mockcloud", timeout=TIMEOUT).text == admin(server, "").text
    )  # with or without the slash
    page = admin(server, "").text
    # one script, the package's own, loaded from this server: no inline code, no CDN
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/_mockcloud/dashboard/dashboard.js" defer>']
    assert not re.search(r"\son[a-z]+=", page) and "http://" not in page and "https://" not in page
    assert admin(server, "dashboard/secrets.txt").status_code == 404
    assert admin(server, "dashboard/__init__.py").status_code == 404
    assert admin(server, "", "POST", headers=JSON).status_code == 405


def test_the_script_never_turns_data_into_markup():
    """The rule the XSS test in the browser checks, also held by the source: no HTML parsing sinks at all."""
    script = (FILES / "dashboard.js").read_text()
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "srcdoc",
        ".href =",
        "localStorage",
    ):
        assert sink not in script, sink


def test_the_page_needs_no_token_but_its_data_does():
    with LiveServer(admin_token="t0ken-for-admin") as live:
        assert admin(live, "").status_code == 200
        assert admin(live, "dashboard/dashboard.js").status_code == 200
        assert admin(live, "requests").status_code == 401
        assert admin(live, "requests", headers={"Authorization": "Bearer t0ken-for-admin"}).status_code == 200
        # the page is served only to the server's own names, like every admin path
        assert admin(live, "", headers={"Host": "evil.example:80"}).status_code == 403
        assert admin(live, "", headers={"Origin": "http://evil.example"}).status_code == 403


def test_package_data_ships_every_dashboard_file():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = config["options.package_data"]["mockcloud"].split()
    for path in FILES.iterdir():
        if path.suffix in (".py", ".pyc") or path.name == "__pycache__":
            continue
        relative = path.relative_to(ROOT / "mockcloud").as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
    assert {"index.html", "dashboard.css", "dashboard.js"} <= {p.name for p in FILES.iterdir()}


# ---- the endpoints it reads ------------------------------------------------------------------
def test_requests_since_a_number_and_the_detail_of_one(server):
    lm = lm_client(server.url)
    lm.list_licenses()
    made = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex)
    lm.get_access_token(Token=made["Token"])
    everything = admin(server, "requests").json()
    numbers = [r["seq"] for r in everything["requests"]]
    assert len(numbers) == 3 and everything["first"] == numbers[0] and everything["last"] == numbers[-1]
    assert {r["client"] for r in everything["requests"]} == {"127.0.0.1"}
    assert all(r["latency"] > 0 and r["delay"] == 0 for r in everything["requests"])
    newer = admin(server, f"requests?since={numbers[0]}").json()
    assert [r["operation"] for r in newer["requests"]] == ["CreateToken", "GetAccessToken"]
    assert admin(server, f"requests?since={numbers[-1]}").json() == {
        "requests": [],
        "first": numbers[0],
        "last": numbers[-1],
    }
    assert [r["seq"] for r in admin(server, "requests?limit=1").json()["requests"]] == numbers[-1:]
    for bad in ("since=-1", "since=x", "limit=0", "since=1e3", "limit=%D9%A1"):
        reply = admin(server, f"requests?{bad}")
        assert reply.status_code == 400 and reply.json()["error"] == "BadAdminRequest", bad

    detail = admin(server, f"requests/{numbers[-1]}").json()
    text = json.dumps(detail)
    assert made["Token"] not in text and "Signature=REDACTED" in text
    assert detail["operation"] == "GetAccessToken" and detail["response"]["status"] == 200
    assert json.loads(detail["request"]["body"]) == {"Token": "REDACTED"}
    assert ["Content-Type", "application/x-amz-json-1.1"] in detail["request"]["headers"]
    missing = admin(server, "requests/999999999")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"

    admin(server, "requests", "DELETE", headers=JSON)
    assert admin(server, f"requests?since={numbers[-1]}").json() == {"requests": [], "first": None, "last": numbers[-1]}


def test_inventory_of_every_service_with_a_limit(server):
    lm = lm_client(server.url)
    tokens = [lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex) for _ in range(3)]
    body = admin(server, "inventory").json()
    assert body["now"] == pytest.approx(server.cloud.clock.time(), abs=5)
    assert set(body["counts"]) == set(server.cloud.service_names)
    assert body["counts"]["licensemanager"] == 3 and body["counts"]["devpay"] == 2  # the fixtures' activation keys
    assert [e["id"] for e in body["entries"] if e["service"] == "licensemanager"] == [t["TokenId"] for t in tokens]
    assert not any(t["Token"] in json.dumps(body) for t in tokens)
    limited = admin(server, "inventory?limit=1").json()
    assert [e["id"] for e in limited["entries"] if e["service"] == "licensemanager"] == [tokens[-1]["TokenId"]]
    assert limited["counts"]["licensemanager"] == 3
    assert admin(server, "inventory?limit=0").status_code == 400


def test_operations_credentials_and_clock_for_the_services_panel(server):
    services = admin(server, "operations").json()["services"]
    assert list(services) == list(server.cloud.service_names)
    for name, found in services.items():
        protocol = type(server.cloud.protocol(name))
        assert found["operations"] == list(protocol.operations)
        assert found["not_emulated"] == protocol.not_emulated_operations()
        model = protocol.model_operations()
        assert found["model"] == (
            None
            if model is None
            else {"service": model.service, "title": model.title, "operations": len(model.operations)}
        )
    assert services["devpay"]["model"] is None and services["amplifyuibuilder"]["not_emulated"] == []
    assert services["sts"]["model"]["service"] == "sts"
    assert (
        services["licensemanager"]["family"] == "AwsJsonProtocol"
        and "CreateToken" in services["licensemanager"]["operations"]
    )
    assert "ls.amazonaws.com" in services["devpay"]["hosts"]

    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
    assert (
        admin(
            server,
            "credentials",
            "POST",
            headers=JSON,
            json={"aws": [{"access_key_id": "AKIADASHBOARDTEST", "secret_access_key": secret}]},
        ).status_code
        == 200
    )
    listed = admin(server, "credentials")
    assert secret not in listed.text and "SECRETKEY" not in listed.text
    key = next(k for k in listed.json()["aws"] if k["access_key_id"] == "AKIADASHBOARDTEST")
    assert key == {
        "access_key_id": "AKIADASHBOARDTEST",
        "secret_access_key": "********",
        "account_id": "123456789012",
        "session_token": None,
        "expires": None,
        "arn": "arn:aws:iam::123456789012:root",
    }
    assert all(k["secret"] == "********" for k in listed.json()["alibaba"])

    clock = admin(server, "clock").json()
    assert clock["epoch"] == pytest.approx(server.cloud.clock.time(), abs=5) and clock["frozen"] is False
    frozen = admin(server, "clock", "POST", headers=JSON, json={"freeze": None}).json()  # where it stands
    assert frozen["frozen"] is True and server.cloud.clock.time() == frozen["epoch"]


# ---- in-process ---------------------------------------------------------------------------
def raw_get(url: str) -> tuple[int, bytes]:
    """GET over a plain socket: below every interceptor (the network guard lets loopback through)."""
    host, port_path = url.split("//", 1)[1].split(":", 1)
    port, _, path = port_path.partition("/")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_an_in_process_mock_serves_its_own_dashboard_until_it_stops():
    cloud = mock_cloud()
    with pytest.raises(MockCloudError, match="start the mock first"):
        cloud.dashboard()
    with cloud:
        url = cloud.dashboard()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/_mockcloud/")
        assert cloud.dashboard() == url  # one server per mock
        status, page = raw_get(url)
        assert status == 200 and b"mockcloud dashboard" in page
        # a client answered in-process shows up on the server: the same mock, the same log
        boto3.client("license-manager", region_name="us-east-1").list_licenses()
        status, body = raw_get(url + "requests")
        assert status == 200
        [record] = json.loads(body)["requests"]
        assert record["operation"] == "ListLicenses" and record["client"] == "in-process"
        with cloud:  # entered again: the dashboard outlives the inner stop
            pass
        assert raw_get(url + "health")[0] == 200
    with pytest.raises(OSError):
        raw_get(url)
    with cloud:  # a new start, a new dashboard server
        assert cloud.dashboard() != url


# ---- the browser tests' own rules ------------------------------------------------------------
def test_ci_installs_the_browser_and_redis_before_the_tests():
    packages = (ROOT / ".ci" / "packages").read_text()
    install = packages.index("apt-get install -y -qq $packages")
    for package in ("chromium", "chromium-driver", "redis-server"):  # each listed where its command is missing
        assert packages.index(f'packages="$packages {package}"') < install
    script = (ROOT / ".ci" / "run").read_text()
    assert script.index('export CI="${CI:-true}"') < script.index("bash .ci/packages &&") < script.index("-m pytest")


@pytest.mark.parametrize("ci, outcome", [("true", {"errors": 1}), ("", {"skipped": 1})])
def test_a_browser_test_without_a_browser_fails_in_ci_and_skips_elsewhere(pytester, monkeypatch, ci, outcome):
    pytester.makepyfile(
        test_needs_browser="""
        from tests.server.test_dashboard_browser import browser, watchdog  # noqa: F401 (the fixtures)

        def test_page(browser):
            raise AssertionError("must not run without a browser")
    """
    )
    monkeypatch.setenv("PATH", str(pytester.path))  # no chromium, no chromedriver
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.delenv("MOCKCLOUD_CHROMIUM", raising=False)
    monkeypatch.delenv("MOCKCLOUD_CHROMEDRIVER", raising=False)
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-rs", *UNUSED_PLUGINS)
    result.assert_outcomes(**outcome)
    if ci:
        result.stdout.fnmatch_lines(["*in CI the browser tests must run*"])
