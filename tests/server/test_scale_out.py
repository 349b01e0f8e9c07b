"""``mockcloud server --workers N --store redis://...``: several processes, one emulator, every guarantee kept.

Real Redis (a ``redis-server`` of the test's own on a free loopback port) and
real server processes: two servers of two workers each share one store. Load
is bounded in requests and seconds, and stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

import mockcloud
from mockcloud.remote import connect
from tests.helpers import aws_client, lm_client, race, wait_for
from tests.redis_support import RedisServer, ServerProcess
from tests.service_formats import verdict as oracle

TRIALS = 30
RACERS = 8
TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long
USERAPI_HEADERS = {"Version": "2.0"}
USER = {"username": "api_user", "password": "secure_password_123"}
WUYING = {
    "Version": "2020-10-02",
    "Format": "json",
    "RegionId": "cn-hangzhou",
    "ClientId": "racer",
    "EndUserId": "alice",
}
LICENSE_ARN = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef"
REDIRECT_URI = "https://mockcloud.example/figma/callback"
DESKTOP_CODE = "6883959E"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(redis_server, tmp_path_factory):
    """Two server processes of two workers each, on one store: four workers, one emulator.

    DevPay's activation keys are single-use here (its setting), so that an activation is a rule to race for.
    """
    devpay = json.loads((Path(mockcloud.__file__).parent / "_fixtures" / "devpay.json").read_text())
    devpay["settings"] = {**devpay.get("settings", {}), "activation_key_single_use": True}
    fixtures = tmp_path_factory.mktemp("fixtures") / "fixtures.json"
    fixtures.write_text(json.dumps({"devpay": devpay}))
    store = redis_server.url(prefix=f"race-{uuid.uuid4().hex[:8]}")
    servers = [
        ServerProcess(store, 2, "--fixtures", str(fixtures)),
        ServerProcess(store, 2, "--fixtures", str(fixtures)),
    ]
    yield servers
    for server in servers:
        server.stop()


def verdict(service: str, status: int, headers: Any, body: bytes) -> str | None:
    """None for a reply in the service's own format, including its 503 (which the fuzz oracle calls internal)."""
    problem = oracle(service, status, headers, body)
    return None if problem is not None and problem.startswith("internal error 503 ") else problem


# ---- each rotating service: make a thing to redeem through one server, redeem it through all -----------------
def userapi_trial(urls: list[str]) -> None:
    pair = requests.post(f"{urls[0]}/User/Login", headers=USERAPI_HEADERS, json=USER, timeout=TIMEOUT).json()

    def redeem(url: str) -> requests.Response:
        headers = {**USERAPI_HEADERS, "Authorization": f"Bearer {pair['accessToken']}"}
        return requests.post(
            f"{url}/User/RefreshToken", headers=headers, json={"refreshToken": pair["refreshToken"]}, timeout=TIMEOUT
        )

    replies = race([lambda url=urls[i % 2]: redeem(url) for i in range(RACERS)])
    winners = [r for r in replies if r.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.text[:80]) for r in replies]
    losers = [r.json()["error"] for r in replies if r.status_code != 200]
    assert set(losers) <= {"token_reused", "token_revoked", "invalid_token"}, losers
    # the reuse revoked the whole family: the winner's new refresh token is dead too, through either server
    new = winners[0].json()
    headers = {**USERAPI_HEADERS, "Authorization": f"Bearer {new['accessToken']}"}
    again = requests.post(
        f"{urls[1]}/User/RefreshToken", headers=headers, json={"refreshToken": new["refreshToken"]}, timeout=TIMEOUT
    )
    assert again.status_code == 401


def wuying_trial(urls: list[str]) -> None:
    logon = {**WUYING, "Action": "GetLoginToken", "Password": "Alice-Passw0rd", "CurrentStage": "ADPassword"}
    token = requests.post(f"{urls[0]}/", params=logon, timeout=TIMEOUT).json()["LoginToken"]

    def redeem(url: str) -> requests.Response:
        return requests.post(
            f"{url}/", params={**WUYING, "Action": "RefreshLoginToken", "LoginToken": token}, timeout=TIMEOUT
        )

    replies = race([lambda url=urls[i % 2]: redeem(url) for i in range(RACERS)])
    assert [r.status_code for r in replies].count(200) == 1, [(r.status_code, r.text[:80]) for r in replies]


def amplify_trial(urls: list[str], clients: list[Any]) -> None:
    code = connect(urls[1]).amplifyuibuilder.create_authorization_code()

    def redeem(client: Any) -> Any:
        return client.exchange_code_for_token(provider="figma", request={"code": code, "redirectUri": REDIRECT_URI})

    replies = race([lambda client=clients[i]: redeem(client) for i in range(RACERS)])
    assert sum(isinstance(r, dict) for r in replies) == 1, replies


def licensemanager_trial(urls: list[str], clients: list[Any]) -> None:
    """ClientToken idempotency: eight CreateTokens with one ClientToken make one token, answered to all eight."""
    before = len(clients[0].list_tokens()["Tokens"])
    client_token = uuid.uuid4().hex
    replies = race(
        [
            lambda client=clients[i]: client.create_token(LicenseArn=LICENSE_ARN, ClientToken=client_token)
            for i in range(RACERS)
        ]
    )
    assert all(isinstance(r, dict) for r in replies), replies
    assert len({r["TokenId"] for r in replies}) == 1
    assert len(clients[1].list_tokens()["Tokens"]) == before + 1


def devpay_trial(urls: list[str]) -> None:
    remote = connect(urls[0]).devpay
    key = str(remote.create_activation_key(DESKTOP_CODE))
    product_token = remote.product(DESKTOP_CODE).token

    def redeem(url: str) -> requests.Response:
        params = {
            "Action": "ActivateDesktopProduct",
            "Version": "2008-04-28",
            "ActivationKey": key,
            "ProductToken": product_token,
        }
        return requests.get(f"{url}/", params=params, timeout=TIMEOUT)

    replies = race([lambda url=urls[i % 2]: redeem(url) for i in range(RACERS)])
    assert [r.status_code for r in replies].count(200) == 1, [(r.status_code, r.text[:80]) for r in replies]
    assert all(b"InvalidActivationKey" in r.content for r in replies if r.status_code != 200)


@pytest.mark.parametrize("service", ["userapi", "wuying", "amplifyuibuilder", "licensemanager", "devpay"])
def test_of_eight_racers_on_four_workers_exactly_one_wins(cluster, service):
    urls = [server.url for server in cluster]
    if service == "amplifyuibuilder":
        ui = [aws_client("amplifyuibuilder", urls[i % len(urls)]) for i in range(RACERS)]
        trials: dict[str, Callable[[], None]] = {service: lambda: amplify_trial(urls, ui)}
    elif service == "licensemanager":
        lm = [lm_client(urls[i % len(urls)]) for i in range(RACERS)]
        trials = {service: lambda: licensemanager_trial(urls, lm)}
    else:
        trials = {
            "userapi": lambda: userapi_trial(urls),
            "wuying": lambda: wuying_trial(urls),
            "devpay": lambda: devpay_trial(urls),
        }
    for _ in range(TRIALS):
        trials[service]()


def test_a_token_issued_through_one_server_redeems_through_the_other(cluster):
    first, second = (server.url for server in cluster)
    token = lm_client(first).create_token(LicenseArn=LICENSE_ARN, ClientToken=uuid.uuid4().hex)["Token"]
    assert lm_client(second).get_access_token(Token=token)["AccessToken"].count(".") == 2


def test_clock_faults_credentials_and_the_log_are_one_for_all_servers(cluster):
    first, second = (connect(server.url) for server in cluster)
    first.reset()
    moved = first.clock.advance(3600)
    assert abs((second.clock.now() - moved).total_seconds()) < 5
    frozen = second.clock.freeze()
    assert first.clock.now() == frozen
    first.reset()  # the clock back to the real time, as the clients sign with it
    first.faults.add("licensemanager", "ListTokens", error="ThrottlingException", status=400, count=3)
    failures = 0
    for i in range(6):  # the count goes down wherever the request lands
        try:
            lm_client(cluster[i % 2].url).list_tokens()
        except Exception:
            failures += 1
    assert failures == 3
    assert second.faults.rules == []
    first.credentials.add_aws("AKIASHAREDKEY0000001", "shared-secret")
    client = boto3.client(
        "license-manager",
        region_name="us-east-1",
        endpoint_url=cluster[1].url,
        config=NO_RETRY,
        aws_access_key_id="AKIASHAREDKEY0000001",
        aws_secret_access_key="shared-secret",
    )
    client.list_tokens()
    assert [r.operation for r in second.requests][-7:] == ["ListTokens"] * 7
    first.reset()
    assert len(second.requests) == 0 and second.faults.rules == []


def test_the_dashboards_log_pages_across_servers_by_number(cluster):
    """The dashboard's reads: ``since=`` paging over records numbered by the store, each exchange kept."""
    first, second = (server.url for server in cluster)
    connect(first).reset()
    token = lm_client(first).create_token(LicenseArn=LICENSE_ARN, ClientToken=uuid.uuid4().hex)["Token"]
    for i in range(4):
        lm_client(cluster[i % 2].url).get_access_token(Token=token)
    page = requests.get(f"{second}/_mockcloud/requests?since=0", timeout=10).json()
    numbers = [r["seq"] for r in page["requests"]]
    assert [r["operation"] for r in page["requests"]] == ["CreateToken"] + ["GetAccessToken"] * 4
    assert numbers == sorted(set(numbers)) and page["first"] == numbers[0] and page["last"] == numbers[-1]
    after = requests.get(f"{first}/_mockcloud/requests?since={numbers[2]}", timeout=10).json()
    assert [r["seq"] for r in after["requests"]] == numbers[3:]
    assert requests.get(f"{first}/_mockcloud/requests?since={page['last']}", timeout=10).json()["requests"] == []
    detail = requests.get(f"{first}/_mockcloud/requests/{numbers[0]}", timeout=10).json()
    assert ["X-Amz-Target", "AWSLicenseManager.CreateToken"] in detail["request"]["headers"]
    assert token not in json.dumps(detail) and '"Token": "REDACTED"' in detail["response"]["body"]


def test_snapshot_and_restore_act_on_the_whole_shared_emulator(cluster):
    first, second = (connect(server.url) for server in cluster)
    first.reset()
    pair = requests.post(f"{cluster[0].url}/User/Login", headers=USERAPI_HEADERS, json=USER, timeout=TIMEOUT).json()
    document = second.snapshot()
    headers = {**USERAPI_HEADERS, "Authorization": f"Bearer {pair['accessToken']}"}
    body = {"refreshToken": pair["refreshToken"]}
    assert (
        requests.post(f"{cluster[1].url}/User/RefreshToken", headers=headers, json=body, timeout=TIMEOUT).status_code
        == 200
    )
    first.restore(document)  # the token is unused again, on every worker
    assert (
        requests.post(f"{cluster[1].url}/User/RefreshToken", headers=headers, json=body, timeout=TIMEOUT).status_code
        == 200
    )


def test_a_worker_killed_under_load_loses_no_acknowledged_state(redis_server):
    """SIGKILL one of two workers while clients create tokens: every token answered 200 is there after."""
    server = ServerProcess(redis_server.url(prefix=f"kill-{uuid.uuid4().hex[:8]}"), 2)
    try:
        acknowledged: list[str] = []
        failed = [0]
        stop = threading.Event()

        def client() -> None:
            lm = lm_client(server.url)
            for _ in range(5000):  # bounded: 5000 requests or until stopped
                if stop.is_set():
                    return
                try:
                    acknowledged.append(
                        lm.create_token(LicenseArn=LICENSE_ARN, ClientToken=uuid.uuid4().hex)["TokenId"]
                    )
                except Exception:
                    failed[0] += 1

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(acknowledged) > 20, "tokens acknowledged before the kill")
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        before_kill = len(acknowledged)
        wait_for(lambda: len(acknowledged) - before_kill > 20, "tokens acknowledged after the kill")
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        pids = server.wait_for_workers(2)  # the parent started another
        assert victim not in pids
        lm = lm_client(server.url)
        listed: set[str] = set()
        kwargs: dict[str, Any] = {}
        while True:
            page = lm.list_tokens(MaxResults=100, **kwargs)
            listed |= {t["TokenId"] for t in page["Tokens"]}
            if not page.get("NextToken"):
                break
            kwargs = {"NextToken": page["NextToken"]}
        assert failed[0] <= 4  # at most the requests in flight on the killed worker's connections
        assert set(acknowledged) <= listed, len(set(acknowledged) - listed)
    finally:
        server.stop()


def test_redis_restarted_under_load_gives_the_services_5xx_then_recovers(tmp_path):
    """While Redis is down, clients get each service's own 5xx in its format; after, the same servers serve again."""
    redis = RedisServer(tmp_path, persist=True)  # every write on disk: a restart loses nothing acknowledged
    server = ServerProcess(redis.url(), 2)
    try:
        made = lm_client(server.url).create_token(LicenseArn=LICENSE_ARN, ClientToken=uuid.uuid4().hex)["Token"]
        seen: list[tuple[int, str | None]] = []
        stop = threading.Event()

        def load() -> None:
            session = requests.Session()
            for _ in range(50000):  # bounded: 50000 requests or until stopped
                if stop.is_set():
                    return
                reply = session.post(f"{server.url}/User/Login", headers=USERAPI_HEADERS, json=USER, timeout=TIMEOUT)
                seen.append((reply.status_code, verdict("userapi", reply.status_code, reply.headers, reply.content)))

        loaders = [threading.Thread(target=load) for _ in range(2)]
        for thread in loaders:
            thread.start()
        wait_for(lambda: any(status == 200 for status, _ in seen), "the load to be served")
        redis.stop()
        wait_for(lambda: any(status == 503 for status, _ in seen), "the load to meet the outage")
        down = [
            (
                "licensemanager",
                requests.post(
                    f"{server.url}/",
                    data=b"{}",
                    timeout=TIMEOUT,
                    headers={
                        "X-Amz-Target": "AWSLicenseManager.GetAccessToken",
                        "Content-Type": "application/x-amz-json-1.1",
                    },
                ),
            ),
            (
                "wuying",
                requests.post(
                    f"{server.url}/",
                    params={**WUYING, "Action": "RefreshLoginToken", "LoginToken": "x"},
                    timeout=TIMEOUT,
                ),
            ),
            (
                "devpay",
                requests.get(
                    f"{server.url}/",
                    params={
                        "Action": "ActivateDesktopProduct",
                        "Version": "2008-04-28",
                        "ActivationKey": "A",
                        "ProductToken": "B",
                    },
                    timeout=TIMEOUT,
                ),
            ),
        ]
        for service, reply in down:
            assert reply.status_code == 503, (service, reply.status_code, reply.text[:200])
            assert verdict(service, reply.status_code, reply.headers, reply.content) is None, (
                service,
                reply.text[:200],
            )
        assert b"ServerInternalException" in down[0][1].content
        redis.start()
        wait_for(lambda: seen[-1][0] == 200, f"the servers to come back by themselves (last: {seen[-5:]})")
        stop.set()
        for thread in loaders:
            thread.join(timeout=30)
        statuses = {status for status, _ in seen}
        assert statuses == {200, 503}, statuses
        assert all(problem is None for _, problem in seen), {problem for _, problem in seen}
        access = lm_client(server.url).get_access_token(Token=made)["AccessToken"]  # kept across the restart
        assert access.count(".") == 2
    finally:
        server.stop()
        redis.stop()


def test_workers_share_out_connections_fewest_first():
    """The worker with fewest open connections accepts the next; one starting, gone or silent holds no one back."""
    from mockcloud.server.workers import AcceptBalance

    now = [1000.0]
    balance = AcceptBalance(2, clock=lambda: now[0])
    first, second = balance.gate(0), balance.gate(1)
    assert first(0)  # the other is still starting
    assert second(0) and first(0)
    assert not first(1) and second(0)  # one has a connection: the other takes the next
    assert second(1) and first(1)
    balance.absent(1)  # gone: its replacement is starting
    assert first(7)
    second(0)
    assert not first(7)
    now[0] += 10  # the second is not heard from for ten seconds: stopped or stuck
    assert first(7)
