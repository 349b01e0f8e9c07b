"""A store to trust: what it holds cannot break the services' formats, a hung one holds no request long, and
servers that would fill it differently are told apart.

Real servers (``LiveServer`` on a store of the test's own, or ``mockcloud server`` processes) and real
clients; a Redis of the test's own on a free loopback port (``tests/redis_support.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests

import mockcloud
from mockcloud.core.errors import StoreUnavailable
from mockcloud.server import LiveServer, create_app
from mockcloud.state.store import MemoryStore
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client
from tests.redis_support import RedisServer, ServerProcess
from tests.service_formats import verdict

TIMEOUT = 30
USERAPI = {"Version": "2.0"}
USER = {"username": "api_user", "password": "secure_password_123"}
WUYING = {"Version": "2020-10-02", "Format": "json", "RegionId": "cn-hangzhou", "ClientId": "c", "EndUserId": "alice"}

pytestmark = pytest.mark.server


def each_service(url: str) -> dict[str, requests.Response]:
    """One request to each service, as a client would send it (signed where the service wants it)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def signed(service: str, body: str, headers: dict[str, str]) -> requests.Response:
        request = AWSRequest("POST", f"{url}/", data=body, headers=headers)
        SigV4Auth(Credentials("testing", "testing"), service, "us-east-1").add_auth(request)
        return requests.post(f"{url}/", data=body, headers=dict(request.headers), timeout=TIMEOUT)

    return {
        "userapi": requests.post(f"{url}/User/Login", headers=USERAPI, json=USER, timeout=TIMEOUT),
        "licensemanager": signed(
            "license-manager",
            "{}",
            {"X-Amz-Target": "AWSLicenseManager.ListTokens", "Content-Type": "application/x-amz-json-1.1"},
        ),
        "sts": signed(
            "sts", "Action=GetCallerIdentity&Version=2011-06-15", {"Content-Type": "application/x-www-form-urlencoded"}
        ),
        "wuying": requests.post(
            f"{url}/", params={**WUYING, "Action": "RefreshLoginToken", "LoginToken": "x"}, timeout=TIMEOUT
        ),
        "devpay": requests.get(
            f"{url}/",
            params={
                "Action": "ActivateDesktopProduct",
                "Version": "2008-04-28",
                "ActivationKey": "A",
                "ProductToken": "B",
            },
            timeout=TIMEOUT,
        ),
    }


def internal(service: str, reply: requests.Response) -> bool:
    """An internal error (5xx) in the service's own format."""
    found = verdict(service, reply.status_code, reply.headers, reply.content)
    return reply.status_code >= 500 and found is not None and found.startswith(f"internal error {reply.status_code} ")


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def redis_client(server: RedisServer):
    import redis as client

    return client.Redis(host="127.0.0.1", port=server.port, socket_timeout=10)


def corrupt(raw, prefix: str, what: str) -> None:
    """Break what the store holds, as an operator's mistake or an attacker would."""
    instance = raw.hget(f"{{{prefix}}}:meta", "instance").decode()
    base = f"{{{prefix}}}:{instance}:"
    if what == "clock-text":
        raw.hset(base + "e:clock/@doc/", "t", "{not json")
    elif what == "entity-text":
        for key in raw.scan_iter(match=base.replace("{", "\\{").replace("}", "\\}") + "e:userapi/mount/*"):
            raw.hset(key, "t", '{"base_url": 12}')
        raw.hset(base + "e:devpay/settings/", "v", "not a number")
    elif what == "version-counter":
        raw.set(base + "v", "not a number")
    else:
        raw.delete(f"{{{prefix}}}:meta")
        raw.set(f"{{{prefix}}}:meta", "what no mockcloud wrote")


@pytest.mark.parametrize("what", ["clock-text", "entity-text", "version-counter", "meta"])
def test_corrupt_contents_give_each_service_its_own_5xx_and_reset_or_restore_repair_them(redis, what):
    prefix = f"c-{uuid.uuid4().hex[:6]}"
    with LiveServer(store=redis.url(prefix=prefix)) as server:
        assert all(r.status_code < 500 for r in each_service(server.url).values())
        document = requests.get(f"{server.url}/_mockcloud/state", timeout=TIMEOUT).json()
        raw = redis_client(redis)
        for repair in ("reset", "restore"):
            corrupt(raw, prefix, what)
            server.cloud.state.forget()  # what it held of the store is read again
            replies = each_service(server.url)
            broken = {name for name, reply in replies.items() if reply.status_code >= 500}
            assert broken, {name: (r.status_code, r.text[:120]) for name, r in replies.items()}
            for name in broken:
                assert internal(name, replies[name]), (name, replies[name].status_code, replies[name].text[:200])
            if repair == "reset":
                repaired = requests.post(f"{server.url}/_mockcloud/reset", json={}, timeout=TIMEOUT)
            else:
                repaired = requests.put(f"{server.url}/_mockcloud/state", json=document, timeout=TIMEOUT)
            assert repaired.status_code == 200, repaired.text
            assert all(r.status_code < 500 for r in each_service(server.url).values())


class _Hung(MemoryStore):
    """A store whose commits wait until let go, as a store that stopped answering; counts those waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.hung = False
        self.waiting = 0
        self.changed = threading.Condition()
        self.go = threading.Event()

    def commit(self, commit):
        if self.hung and (commit.writes or commit.deletes):
            with self.changed:
                self.waiting += 1
                self.changed.notify_all()
            if not self.go.wait(timeout=60):
                raise StoreUnavailable("hung")
        return super().commit(commit)


def test_a_request_waiting_on_the_store_holds_no_other_request_back():
    """Two logins while the store hangs: both reach the store, so neither waited for the other's answer."""
    store = _Hung()
    with LiveServer(app=create_app(services=["userapi"], store=store)) as server:
        pairs = [requests.post(f"{server.url}/User/Login", headers=USERAPI, json=USER, timeout=TIMEOUT).json()]
        store.hung = True
        replies: list[int] = []

        def login() -> None:
            replies.append(
                requests.post(f"{server.url}/User/Login", headers=USERAPI, json=USER, timeout=TIMEOUT).status_code
            )

        threads = [threading.Thread(target=login) for _ in range(2)]
        for thread in threads:
            thread.start()
        with store.changed:
            assert store.changed.wait_for(lambda: store.waiting == 2, timeout=TIMEOUT), store.waiting
        store.go.set()
        for thread in threads:
            thread.join(timeout=TIMEOUT)
        assert replies == [200, 200] and pairs


def test_a_hung_redis_costs_a_request_its_services_503_and_health_says_so(tmp_path):
    from mockcloud.state import redis_store

    assert redis_store.TIMEOUT <= 2  # a second or two, as documented
    redis = RedisServer(tmp_path)
    server = ServerProcess(redis.url(), 2)
    try:
        assert requests.get(f"{server.url}/_mockcloud/health", timeout=TIMEOUT).json()["state"]["ok"]
        os.kill(redis.process.pid, signal.SIGSTOP)  # up, and silent
        try:
            health = requests.get(f"{server.url}/_mockcloud/health", timeout=TIMEOUT)
            assert health.status_code == 503 and not health.json()["state"]["ok"]
            replies = []
            threads = [
                threading.Thread(
                    target=lambda: replies.append(
                        requests.post(f"{server.url}/User/Login", headers=USERAPI, json=USER, timeout=TIMEOUT)
                    )
                )
                for _ in range(4)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=TIMEOUT * 2)
            assert len(replies) == 4
            for reply in replies:
                assert reply.status_code == 503 and internal("userapi", reply), reply.text[:200]
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        health = requests.get(f"{server.url}/_mockcloud/health", timeout=TIMEOUT)
        assert health.status_code == 200 and health.json()["state"]["ok"]
    finally:
        server.stop()
        redis.stop()


def test_a_server_with_other_fixtures_is_refused_by_the_store_others_filled(tmp_path):
    redis = RedisServer(tmp_path)
    try:
        url = redis.url()
        first = ServerProcess(url, 2)
        try:
            devpay = json.loads((Path(mockcloud.__file__).parent / "_fixtures" / "devpay.json").read_text())
            other = tmp_path / "other.json"
            other.write_text(json.dumps({"devpay": {**devpay, "settings": {"activation_key_seconds": 60}}}))
            argv = [
                sys.executable,
                "-m",
                "mockcloud",
                "server",
                "--port",
                "0",
                "--store",
                url,
                "--fixtures",
                str(other),
            ]
            refused = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            assert refused.returncode == 2 and refused.stderr.count("\n") == 1
            assert "other fixtures" in refused.stderr and "--fixtures" in refused.stderr
            same = subprocess.Popen(
                [*argv[:-2]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )  # the same fixtures as the first: it joins
            try:
                assert "listening on" in same.stdout.readline()
            finally:
                same.terminate()
                same.wait(timeout=20)
                same.stdout.close()
                same.stderr.close()
            token = lm_client(first.url).create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="x")["TokenId"]
            assert token
        finally:
            first.stop()
    finally:
        redis.stop()
