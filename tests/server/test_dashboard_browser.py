"""The dashboard in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``),
driven by selenium.

Where no browser is installed these tests skip, except in CI (``CI=true``), where they fail: ``.ci/run``
installs the browser, so a browser test that cannot run there is a broken build, not a pass. Each test
runs a server of its own on 127.0.0.1 (one in-process mock's dashboard too); screenshots of every panel
go to ``artifacts/dashboard/`` (which CI keeps and git ignores). Every wait is bounded (``WAIT``), and a
watchdog kills the browser of a test that outlives ``DEADLINE``, so a hung browser cannot hang the suite.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from mockcloud.core.inventory import short_id
from mockcloud.server import LiveServer
from tests.helpers import DEADLINE as EVENT_DEADLINE
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client, wait_for

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "dashboard"
CHROMIUM = os.environ.get("MOCKCLOUD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = os.environ.get("MOCKCLOUD_CHROMEDRIVER") or shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,860",
)
WAIT = EVENT_DEADLINE  # seconds any one thing may take to show: only a broken page waits this long
DEADLINE = 600.0  # seconds one test may take before the watchdog kills the browser
TIMEOUT = 30  # seconds an HTTP call to the test's own server may take (a loaded machine's, too)
JSON = {"Content-Type": "application/json"}
ROLE = "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _cannot_run(reason: str) -> None:
    if _in_ci():
        pytest.fail(
            f"{reason}: in CI the browser tests must run (.ci/packages installs chromium and chromium-driver)",
            pytrace=False,
        )
    pytest.skip(reason)


class Browser:
    """One headless Chromium for the module, and what the tests do with it."""

    def __init__(self, driver, service) -> None:
        self.driver, self.service = driver, service

    def kill(self) -> None:
        """The watchdog's way out: the driver and the browser it started, as a process group."""
        process = getattr(self.service, "process", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)

    def wait(self, condition, message: str, timeout: float = WAIT):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(lambda driver: condition(), message)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def open(self, url: str, panel: str = "requests") -> None:
        self.driver.get(f"{url}/_mockcloud/#{panel}")
        self.wait(lambda: self.text("status") == "live", "the page never got live")

    def text(self, element_id: str) -> str:
        return self.js(
            "const node = document.getElementById(arguments[0]); return node ? node.textContent : null;", element_id
        )

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def panel(self, name: str) -> None:
        self.css(f'#tabs [data-panel="{name}"]')[0].click()
        self.wait(
            lambda: self.js("return !document.getElementById('panel-' + arguments[0]).hidden", name),
            f"panel {name} never showed",
        )

    def rows(self) -> list[list[str]]:
        """The request rows as shown, newest first: the text of each cell."""
        return self.js(
            "return [...document.querySelectorAll('#request-table tbody tr')]"
            ".map(r => [...r.cells].map(c => c.textContent));"
        )

    def token_state(self, entry_id: str) -> str | None:
        return self.js(
            "const row = document.querySelector(`#inventory tr[data-id='${arguments[0]}']`); "
            "return row && row.dataset.state;",
            entry_id,
        )

    def choose(self, element_id: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.css(f"#{element_id}")[0]).select_by_value(value)

    def type(self, element_id: str, text: str) -> None:
        field = self.css(f"#{element_id}")[0]
        field.clear()
        field.send_keys(text)

    def screenshot(self, name: str) -> Path:
        """The whole page (up to 2400 pixels tall) as ``artifacts/dashboard/<name>.png``."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        height = self.js("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
        metrics = {"width": 1280, "height": min(max(height, 720), 2400), "deviceScaleFactor": 1, "mobile": False}
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        try:
            assert self.driver.save_screenshot(str(path)), f"no screenshot of {name}"
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _cannot_run("selenium is not installed (pip install -e '.[test]')")
    if not CHROMIUM or not CHROMEDRIVER:
        _cannot_run("no chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    service = Service(CHROMEDRIVER, popen_kw={"start_new_session": True})  # its own process group, for the watchdog
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    found = Browser(driver, service)
    try:
        yield found
    finally:
        with contextlib.suppress(Exception):
            driver.quit()
        found.kill()


@pytest.fixture(autouse=True)
def watchdog(browser):
    timer = threading.Timer(DEADLINE, browser.kill)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


@pytest.fixture
def server():
    with LiveServer() as live:
        yield live


def populate(server) -> dict[str, str]:
    """Real client calls that leave tokens in four services; the inventory ids of some of them."""
    url = server.url
    lm = lm_client(url)
    lm.list_licenses()
    refresh = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, RoleArns=[ROLE], ClientToken=uuid.uuid4().hex)
    access = lm.get_access_token(Token=refresh["Token"])["AccessToken"]
    sts = boto3.client(
        "sts", region_name="us-east-1", endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    session = sts.assume_role_with_web_identity(RoleArn=ROLE, RoleSessionName="app", WebIdentityToken=access)
    logon = requests.post(
        f"{url}/",
        timeout=TIMEOUT,
        params={
            "Action": "GetLoginToken",
            "Version": "2020-10-02",
            "Format": "json",
            "RegionId": "cn-hangzhou",
            "ClientId": "client-1",
            "EndUserId": "alice",
            "Password": "Alice-Passw0rd",
            "CurrentStage": "ADPassword",
        },
    ).json()
    user = {"username": "api_user", "password": "secure_password_123"}
    pair = requests.post(f"{url}/User/Login", json=user, headers={"Version": "2.0"}, timeout=TIMEOUT).json()
    requests.post(
        f"{url}/User/RefreshToken",
        json={"refreshToken": pair["refreshToken"]},
        timeout=TIMEOUT,
        headers={"Version": "2.0", "Authorization": f"Bearer {pair['accessToken']}"},
    ).raise_for_status()
    return {
        "refresh_token": refresh["TokenId"],
        "role_session": session["Credentials"]["AccessKeyId"],
        "login_token": short_id(logon["LoginToken"]),
        "secrets": [
            refresh["Token"],
            access,
            session["Credentials"]["SecretAccessKey"],
            logon["LoginToken"],
            pair["refreshToken"],
        ],
    }


# ---- the panels -----------------------------------------------------------------------------
def test_client_calls_show_up_live_newest_first_and_open_redacted(browser, server):
    browser.open(server.url)
    assert browser.driver.title == "mockcloud dashboard" and browser.rows() == []
    lm = lm_client(server.url)
    lm.list_licenses()
    made = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex)
    access = lm.get_access_token(Token=made["Token"])["AccessToken"]
    with pytest.raises(ClientError):
        lm.get_license(LicenseArn=DEFAULT_LICENSE_ARN.replace("0123", "9999"))
    browser.wait(lambda: len(browser.rows()) == 4, "the four calls never showed")
    rows = browser.rows()
    assert [row[3] for row in rows] == ["GetLicense", "GetAccessToken", "CreateToken", "ListLicenses"]  # newest first
    time_of_day, client, service, _, status, error, latency, request = rows[0]
    assert (
        client == "127.0.0.1"
        and service == "licensemanager"
        and status == "400"
        and error == "InvalidParameterValueException"
    )
    assert latency.endswith(" ms") and request == "POST /"
    mock_time = datetime.fromtimestamp(server.cloud.requests[-1].time, timezone.utc)
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", time_of_day) and time_of_day[:8] == mock_time.strftime("%H:%M:%S")

    # the filters: status class, text, service
    browser.choose("filter-status", "4")
    browser.wait(lambda: [r[3] for r in browser.rows()] == ["GetLicense"], "the 4xx filter")
    browser.choose("filter-status", "")
    browser.type("filter-text", "token")
    browser.wait(lambda: [r[3] for r in browser.rows()] == ["GetAccessToken", "CreateToken"], "the text filter")
    browser.type("filter-text", "")
    browser.choose("filter-service", "devpay")
    browser.wait(lambda: browser.rows() == [], "the service filter")
    browser.choose("filter-service", "")
    browser.wait(lambda: len(browser.rows()) == 4, "all rows back")

    # a row opens the request and the reply, their secrets redacted
    browser.css("#request-table tbody tr")[1].click()
    browser.wait(lambda: browser.text("detail-response-title") == "Response 200", "the detail never opened")
    headers = dict(
        browser.js(
            "return [...document.querySelectorAll('#detail-request-headers tr')]"
            ".map(r => [...r.cells].map(c => c.textContent));"
        )
    )
    assert headers["X-Amz-Target"] == "AWSLicenseManager.GetAccessToken" and headers["Authorization"].endswith(
        "Signature=REDACTED"
    )
    assert json.loads(browser.text("detail-request-body")) == {"Token": "REDACTED"}
    assert json.loads(browser.text("detail-response-body")) == {"AccessToken": "REDACTED"}
    source = browser.driver.page_source
    assert made["Token"] not in source and access not in source
    browser.screenshot("requests")

    # live: a new call appears on top without a reload
    requests.post(
        f"{server.url}/User/Login",
        json={"username": "api_user", "password": "wrong"},
        headers={"Version": "2.0"},
        timeout=TIMEOUT,
    )
    browser.wait(lambda: browser.rows()[0][2:4] == ["userapi", "Login"], "a later call never showed")


def test_a_call_mockcloud_does_not_emulate_stands_out_and_has_a_filter(browser, server):
    browser.open(server.url)
    lm = lm_client(server.url)
    lm.list_licenses()
    with pytest.raises(ClientError) as excinfo:
        lm.list_license_configurations()  # declared by License Manager's model, not emulated
    assert excinfo.value.response["Error"]["Code"] == "NotImplemented"
    browser.wait(lambda: len(browser.rows()) == 2, "the two calls never showed")
    top = browser.rows()[0]
    assert top[2:6] == ["licensemanager", "ListLicenseConfigurations", "501", "NotImplemented"]
    marked = browser.js(
        "return [...document.querySelectorAll('#request-table tbody tr')]"
        ".map(r => r.classList.contains('not-emulated'))"
    )
    assert marked == [True, False]
    browser.choose("filter-status", "not-emulated")
    browser.wait(lambda: [r[3] for r in browser.rows()] == ["ListLicenseConfigurations"], "the not-emulated filter")
    browser.choose("filter-status", "")
    browser.open(server.url, "services")
    browser.wait(lambda: browser.css(".card[data-service='licensemanager'] .ops-missing span"), "no missing list")
    missing = browser.js(
        "return [...document.querySelectorAll(`.card[data-service='licensemanager'] .ops-missing span`)]"
        ".map(s => s.textContent)"
    )
    assert missing == type(server.cloud.protocol("licensemanager")).not_emulated_operations()
    assert "ListLicenseConfigurations" in missing and "CreateToken" not in missing
    browser.screenshot("not-emulated")


def test_advancing_the_clock_from_the_page_expires_a_token(browser, server):
    ids = populate(server)
    browser.open(server.url, "tokens")
    browser.wait(lambda: browser.token_state(ids["login_token"]) == "active", "the LoginToken never showed")
    assert (
        browser.token_state(ids["refresh_token"]) == "active" and browser.token_state(ids["role_session"]) == "active"
    )
    expires = browser.js(
        "return document.querySelector(`#inventory tr[data-id='${arguments[0]}'] td.expires`).textContent",
        ids["login_token"],
    )
    assert expires.startswith("in 14m") or expires == "in 15m 0s"  # 15 minutes, counted down on the mock clock
    chain = browser.js(
        "return [...document.querySelectorAll(`#inventory [data-service='userapi'] .chain .badge`)]"
        ".map(b => b.className)"
    )
    assert chain == [
        "badge state-used",
        "badge state-active",
    ]  # a refresh-token family: the rotated one, then its successor
    assert not any(secret in browser.driver.page_source for secret in ids["secrets"])
    browser.screenshot("tokens")

    browser.panel("clock")
    before = server.cloud.clock.time()
    browser.css('[data-advance="3600"]')[0].click()
    browser.wait(lambda: server.cloud.clock.time() >= before + 3600, "+1 h never reached the server")
    browser.screenshot("clock")

    browser.panel("tokens")
    browser.wait(lambda: browser.token_state(ids["login_token"]) == "expired", "the LoginToken never turned expired")
    assert browser.token_state(ids["role_session"]) == "expired"  # STS credentials live an hour
    assert browser.token_state(ids["refresh_token"]) == "active"  # a License Manager refresh token lives a year

    # freeze where it stands, a custom advance, then unfreeze
    browser.panel("clock")
    browser.css("#freeze")[0].click()
    browser.wait(
        lambda: server.cloud.clock.frozen and browser.js("return !document.getElementById('clock-frozen').hidden"),
        "freeze",
    )
    frozen_at = server.cloud.clock.time()
    browser.type("advance-amount", "2")
    browser.choose("advance-unit", "86400")
    browser.css("#advance-form button[type=submit]")[0].click()
    browser.wait(lambda: server.cloud.clock.time() == frozen_at + 2 * 86400, "a custom advance of 2 days")
    browser.css("#unfreeze")[0].click()
    browser.wait(lambda: not server.cloud.clock.frozen, "unfreeze")


def test_a_throttle_fault_added_from_the_page_throttles_the_next_call(browser, server):
    browser.open(server.url, "faults")
    browser.wait(lambda: len(browser.css("#fault-service option")) > 1, "the services never loaded")
    # a fault the service cannot take is refused with the server's reason, and nothing is added
    browser.choose("fault-kind", "error")
    browser.css("#add-fault")[0].click()
    browser.wait(lambda: "needs error" in browser.text("fault-result"), "the refusal never showed")
    assert server.cloud.faults.rules == []

    browser.choose("fault-service", "licensemanager")
    browser.type("fault-operation", "ListLicenses")
    browser.choose("fault-kind", "throttle")
    browser.type("fault-count", "1")
    browser.css("#add-fault")[0].click()
    browser.wait(lambda: browser.text("fault-result") == "Added.", "the fault was never added")
    [rule] = server.cloud.faults.rules
    assert (rule.service, rule.operation, rule.throttle, rule.count) == ("licensemanager", "ListLicenses", True, 1)
    cells = browser.js("return [...document.querySelectorAll('#fault-table tbody td')].map(c => c.textContent)")
    assert cells[:5] == ["licensemanager", "ListLicenses", "throttle", "", "1"]
    browser.screenshot("faults")

    lm = lm_client(server.url)  # no retries: the client sees the fault itself
    with pytest.raises(ClientError) as caught:
        lm.list_licenses()
    assert (
        caught.value.response["Error"]["Code"] == "RateLimitExceededException"
    )  # License Manager's own throttling error
    assert lm.list_licenses()["Licenses"]  # one call: the fault is spent
    browser.wait(
        lambda: browser.js("return document.querySelectorAll('#fault-table tbody tr').length") == 0,
        "the spent fault stayed",
    )
    browser.panel("requests")
    browser.wait(
        lambda: [r[5] for r in browser.rows()] == ["", "RateLimitExceededException"], "the throttled call never showed"
    )

    server.cloud.faults.add("sts", throttle=True)
    server.cloud.faults.rate_limit("devpay", rate=1)
    browser.panel("faults")
    browser.wait(
        lambda: (
            browser.js("return document.querySelectorAll('#fault-table tbody tr, #limit-table tbody tr').length") == 2
        ),
        "rules",
    )
    browser.css("#clear-faults")[0].click()
    browser.wait(
        lambda: server.cloud.faults.rules == [] and server.cloud.faults.limits == [], "clear never reached the server"
    )


def test_services_and_credentials_with_secrets_masked(browser, server):
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    server.cloud.credentials.add_aws("AKIADASHBOARDEXAMPLE", secret)
    lm_client(server.url).list_licenses()  # License Manager's key exists once it has signed
    browser.open(server.url, "services")
    browser.wait(
        lambda: len(browser.css("#service-list .card")) == len(server.cloud.service_names), "the services never showed"
    )
    operations = browser.js(
        "return [...document.querySelectorAll(`.card[data-service='licensemanager'] .ops span`)]"
        ".map(s => s.textContent)"
    )
    assert operations == list(type(server.cloud.protocol("licensemanager")).operations)
    keys = browser.js(
        "return [...document.querySelectorAll('#aws-keys tbody tr')].map(r => [...r.cells].map(c => c.textContent))"
    )
    assert ["AKIADASHBOARDEXAMPLE", "********", "123456789012", "", "never", "arn:aws:iam::123456789012:root"] in keys
    jwks = json.loads(browser.text("jwks"))
    assert jwks == requests.get(f"{server.url}/_mockcloud/jwks", timeout=TIMEOUT).json() and jwks["keys"]
    assert secret not in browser.driver.page_source and "EXAMPLEKEY" not in browser.driver.page_source
    browser.screenshot("services")


# ---- safety -----------------------------------------------------------------------------------
def test_markup_in_a_request_shows_as_text_and_never_runs(browser, server):
    browser.open(server.url)
    browser.js(
        "window.__violations = []; "
        "document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective));"
    )
    path = "/<img/src=x/onerror=window.__pwned=1>?Action=<svg/onload=window.__pwned=2>&Version=2008-04-28"
    header = "<script>window.__pwned=3</script>"
    body = "<script>window.__pwned=4</script><img src=x onerror=window.__pwned=5>"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    connection.request("POST", path, body=body.encode(), headers={"X-Note": header, "Content-Type": "text/html"})
    assert connection.getresponse().status == 400
    connection.close()
    requests.post(
        f"{server.url}/_mockcloud/faults",
        headers=JSON,
        timeout=TIMEOUT,
        json={"service": "sts", "error": "<img/src=x/onerror=window.__pwned=6>", "message": "<b>bold</b>"},
    )
    name = "<img src=x onerror=window.__pwned=7>"
    server.cloud.userapi.create_user(name, "pass-word-1")
    requests.post(
        f"{server.url}/User/Login",
        json={"username": name, "password": "pass-word-1"},
        headers={"Version": "2.0"},
        timeout=TIMEOUT,
    ).raise_for_status()

    browser.wait(
        lambda: any(row[3] == "<svg/onload=window.__pwned=2>" for row in browser.rows()),
        "the markup request never showed",
    )
    row = next(row for row in browser.rows() if row[2] == "devpay")
    assert row[7] == f"POST {path}"  # the path as text, exactly as sent
    index = next(i for i, row in enumerate(browser.rows()) if row[2] == "devpay")
    browser.css("#request-table tbody tr")[index].click()
    browser.wait(lambda: browser.text("detail-request-body") == body, "the body never showed as text")
    assert ["X-Note", header] in browser.js(
        "return [...document.querySelectorAll('#detail-request-headers tr')]"
        ".map(r => [...r.cells].map(c => c.textContent));"
    )
    browser.panel("tokens")
    browser.wait(lambda: name in (browser.text("inventory") or ""), "the user's name never showed in Tokens")
    browser.panel("faults")
    browser.wait(
        lambda: "error <img/src=x/onerror=window.__pwned=6>" in (browser.text("fault-table") or ""), "the fault"
    )
    assert "<b>bold</b>" in browser.text("fault-table")

    # nothing ran, nothing was parsed into elements, nothing even tried to run
    assert browser.js("return window.__pwned") is None
    assert browser.js("return document.querySelectorAll('img, svg, b, main script').length") == 0
    assert browser.js("return document.scripts.length") == 1
    assert browser.js("return window.__violations") == []


def test_the_admin_token_is_asked_for_and_kept_in_session_storage(browser):
    token = "dashboard-admin-" + uuid.uuid4().hex
    with LiveServer(admin_token=token) as live:
        lm_client(live.url).list_licenses()
        browser.driver.get(f"{live.url}/_mockcloud/")
        browser.wait(
            lambda: browser.js("return document.getElementById('token-dialog').open"),
            "the page never asked for the token",
        )
        browser.type("token-input", "wrong-token")
        browser.css("#token-form button")[0].click()
        browser.wait(
            lambda: browser.text("token-error") == "The server refused that token.", "a wrong token was not refused"
        )
        browser.type("token-input", token)
        browser.css("#token-form button")[0].click()
        browser.wait(lambda: [r[3] for r in browser.rows()] == ["ListLicenses"], "the data never loaded with the token")
        # the rows may show before the round that loads them ends and says so
        browser.wait(lambda: browser.text("status") == "live", "the status never went live with the token")
        assert browser.js("return sessionStorage.getItem('mockcloud.adminToken')") == token
        assert browser.js("return localStorage.length") == 0 and browser.js("return document.cookie") == ""
        assert token not in browser.driver.current_url


# ---- live updates -----------------------------------------------------------------------------
def polls(browser, since: float = 0.0) -> list[float]:
    """When the page began each call of the admin API after ``since`` (ms on the page's clock), from the
    browser's own record of what it fetched (Resource Timing)."""
    return browser.js(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/_mockcloud/clock') && e.startTime > arguments[0])"
        ".map(e => e.startTime);",
        since,
    )


def test_polling_is_at_most_once_a_second_and_stops_while_the_tab_is_hidden(browser, server):
    browser.open(server.url)
    browser.js("performance.setResourceTimingBufferSize(100000);")  # room for every fetch of the test
    clock_calls = browser.wait(lambda: len(found := polls(browser)) >= 4 and found, "the page never polled four times")
    gaps = [(b - a) / 1000 for a, b in itertools.pairwise(clock_calls)]
    assert min(gaps) >= 0.95, gaps  # a busy machine only makes the gaps longer
    fetched = browser.js("return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname);")
    assert set(fetched) <= {
        "/_mockcloud/",
        "/_mockcloud/dashboard/dashboard.css",
        "/_mockcloud/dashboard/dashboard.js",
        "/_mockcloud/clock",
        "/_mockcloud/requests",
        "/_mockcloud/health",
        "/_mockcloud/operations",
        "/_mockcloud/credentials",
        "/_mockcloud/jwks",
    }

    hidden_at = browser.js("""
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
        document.dispatchEvent(new Event('visibilitychange'));
        return performance.now();""")
    browser.wait(lambda: browser.text("status") == "paused while the tab is hidden", "the page never paused")
    time.sleep(3)  # not a wait for an event: the span in which a page still polling would have polled three times
    assert polls(browser, hidden_at) == [] and browser.text("status") == "paused while the tab is hidden"
    browser.js(
        "delete document.hidden; delete document.visibilityState; "
        "document.dispatchEvent(new Event('visibilitychange'));"
    )
    browser.wait(lambda: polls(browser, hidden_at) and browser.text("status") == "live", "polling never resumed")


def test_the_page_keeps_up_with_a_server_under_load(browser, server):
    browser.open(server.url)
    stop = threading.Event()
    sent = [0]

    def hammer() -> None:
        with requests.Session() as session:
            for _ in range(20000):  # bounded; stopped long before on any machine
                if stop.is_set():
                    return
                session.get(f"{server.url}/?Action=ActivateHostedProduct&Version=2008-04-28", timeout=TIMEOUT)
                sent[0] += 1

    newest: list[int] = []

    def shown_newer_four_times() -> bool:
        newest.append(
            browser.js(
                "const row = document.querySelector('#request-table tbody tr'); "
                "return row ? Number(row.dataset.seq) : 0"
            )
        )
        assert not browser.text("status").startswith("the server"), browser.text("status")
        return len(set(newest)) >= 4 and sent[0] > 600  # more requests than the table keeps rows

    workers = [threading.Thread(target=hammer, daemon=True) for _ in range(6)]
    for worker in workers:
        worker.start()
    try:
        # it keeps showing newer requests while they pour in, however slowly this machine serves them
        wait_for(shown_newer_four_times, f"newer requests on the page (newest seen: {newest[-5:]})", interval=0.5)
        assert newest == sorted(newest), newest
        assert browser.js("return document.querySelectorAll('#request-table tbody tr').length") <= 500
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=TIMEOUT * 4)
    last = server.cloud.requests[-1].seq
    browser.wait(
        lambda: browser.js("return Number(document.querySelector('#request-table tbody tr').dataset.seq)") == last,
        "the page never caught up once the load stopped",
    )
    assert browser.text("status") == "live"


# ---- in-process ---------------------------------------------------------------------------------
def test_an_in_process_mock_can_be_watched_and_driven_from_its_dashboard(browser):
    # selenium talks to chromedriver on localhost: let that through the mock; the dashboard is on 127.0.0.1
    with mock_cloud(passthrough=["localhost"]) as cloud:
        url = cloud.dashboard()
        browser.driver.get(url)
        browser.wait(lambda: browser.text("status") == "live", "the in-process dashboard never got live")
        boto3.client("license-manager", region_name="us-east-1").list_licenses()  # answered in-process
        browser.wait(
            lambda: [r[1:4] for r in browser.rows()] == [["in-process", "licensemanager", "ListLicenses"]], "the call"
        )
        browser.panel("clock")
        before = cloud.clock.time()
        browser.css('[data-advance="86400"]')[0].click()  # the page moves this very mock's clock (and time.time() here)
        browser.wait(lambda: cloud.clock.time() >= before + 86400, "the clock never moved")
        assert time.time() >= before + 86400
    with pytest.raises(OSError):  # stopped with the mock
        socket.create_connection(("127.0.0.1", int(url.split(":")[2].split("/")[0])), timeout=TIMEOUT).close()
