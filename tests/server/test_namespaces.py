"""Namespaces: one server shared by many test processes, each in a private emulator of its own.

Every client reaches a namespace by its base URL alone (boto3's endpoint_url, the Alibaba SDK's endpoint,
a User API base URL), and its admin API (reset, clock, faults) acts on it alone.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import requests
from alibabacloud_ecd20201002 import models as ecd_models
from alibabacloud_ecd20201002.client import Client as EcdClient
from alibabacloud_tea_openapi import utils_models
from botocore.exceptions import ClientError

import mockcloud
from mockcloud.remote import RemoteError
from mockcloud.server import LiveServer
from tests.helpers import DEFAULT_LICENSE_ARN, UNUSED_PLUGINS, error_of, lm_client

pytestmark = pytest.mark.server


@pytest.fixture
def server():
    with LiveServer() as live:
        yield live


def test_a_namespace_is_a_private_emulator_reached_by_its_url(server):
    main = mockcloud.connect(server.url)
    with main.new_namespace("gw0") as first, main.new_namespace("gw1") as second:
        assert first.namespace.startswith("gw0-") and first.url != second.url != server.url
        one, two = lm_client(endpoint_url=first.url), lm_client(endpoint_url=second.url)
        token = one.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="a", ExpirationInDays=1)
        assert [t["TokenId"] for t in one.list_tokens()["Tokens"]] == [token["TokenId"]]
        assert two.list_tokens()["Tokens"] == []  # not seen elsewhere
        assert lm_client(endpoint_url=server.url).list_tokens()["Tokens"] == []

        second.clock.advance(hours=30)  # its own clock: the other keeps its time
        second.reset()  # and its own reset: the other keeps its tokens
        assert one.get_access_token(Token=token["Token"])["AccessToken"]
        first.clock.advance(hours=25)
        with pytest.raises(ClientError) as exc:
            one.get_access_token(Token=token["Token"])  # boto3 signs with real time: only the token expired
        assert error_of(exc)[:2] == ("AuthorizationException", 400)

        second.faults.add("licensemanager", "ListTokens", error="ThrottlingException", count=1)
        assert one.list_tokens()["Tokens"]  # the fault is the other's
        assert [r.operation for r in first.requests][-1] == "ListTokens"
        assert {r.operation for r in second.requests} <= {"ListTokens"}
        listed = {n["name"]: n["port"] for n in main.call("GET", "namespaces")["namespaces"]}
        assert listed == {first.namespace: int(first.url.rsplit(":", 1)[1]), second.namespace: listed[second.namespace]}
    assert main.call("GET", "namespaces")["namespaces"] == []  # deleted after the block
    with pytest.raises(requests.ConnectionError):
        requests.get(first.url + "/_mockcloud/health", timeout=5)  # and its port closed


def _logon(endpoint: str, user: str):
    ecd = EcdClient(utils_models.Config(region_id="cn-hangzhou", endpoint=endpoint, protocol="http"))
    request = ecd_models.GetLoginTokenRequest(
        region_id="cn-hangzhou",
        client_id="client-1",
        end_user_id=user,
        password="Passw0rd!",
        current_stage="ADPassword",
    )
    return ecd.get_login_token(request).body


def test_the_alibaba_sdks_and_a_user_api_base_url_reach_a_namespace(server):
    with mockcloud.connect(server.url).new_namespace("ali") as own:
        own.wuying.create_user(end_user_id="ns-user", password="Passw0rd!")
        assert _logon(own.url.split("//")[1], "ns-user").end_user_id == "ns-user"
        with pytest.raises(Exception, match=r"ns-user|EndUserId|User"):  # the user is the namespace's alone
            _logon(server.url.split("//")[1], "ns-user")
        # the User API by its base URL: a user made in the namespace logs on there, and only there
        own.userapi.create_user("ns-api-user", "Passw0rd!")
        body, headers = {"username": "ns-api-user", "password": "Passw0rd!"}, {"Version": "2.0"}
        assert requests.post(f"{own.url}/User/Login", json=body, headers=headers, timeout=5).status_code == 200
        elsewhere = requests.post(f"{server.url}/User/Login", json=body, headers=headers, timeout=5)
        assert elsewhere.status_code in (400, 401)


def test_bad_and_conflicting_namespaces_are_refused_in_json(server):
    main = mockcloud.connect(server.url)
    for body, status, code in [
        ({"name": "../x"}, 400, "BadNamespaceName"),
        ({}, 400, "BadAdminRequest"),
        ({"name": "a", "extra": 1}, 400, "BadAdminRequest"),
    ]:
        with pytest.raises(RemoteError) as exc:
            main.call("POST", "namespaces", body)
        assert (exc.value.status, exc.value.code) == (status, code)
    main.call("POST", "namespaces", {"name": "twice"})
    with pytest.raises(RemoteError) as exc:
        main.call("POST", "namespaces", {"name": "twice"})
    assert (exc.value.status, exc.value.code) == (409, "NamespaceExists")
    with pytest.raises(RemoteError) as exc:
        main.call("DELETE", "namespaces/none")
    assert (exc.value.status, exc.value.code) == (404, "NoSuchNamespace")
    port = main.call("GET", "namespaces/twice")["port"]
    with pytest.raises(RemoteError) as exc:  # a namespace makes no namespaces of its own
        mockcloud.connect(f"http://127.0.0.1:{port}").call("POST", "namespaces", {"name": "inner"})
    assert exc.value.status == 404
    server.stop()
    with pytest.raises(requests.ConnectionError):  # stopping the server stops its namespaces
        requests.get(f"http://127.0.0.1:{port}/_mockcloud/health", timeout=5)


def test_the_limit_and_the_port_range(unused_ports):
    low = unused_ports
    with LiveServer(namespace_ports=f"{low}-{low + 1}", max_namespaces=3) as live:
        main = mockcloud.connect(live.url)
        ports = [main.call("POST", "namespaces", {"name": f"n{i}"})["port"] for i in range(2)]
        assert ports == [low, low + 1]
        with pytest.raises(RemoteError) as exc:
            main.call("POST", "namespaces", {"name": "n2"})
        assert (exc.value.status, exc.value.code) == (503, "NoNamespacePort")
        main.call("DELETE", "namespaces/n0")
        assert main.call("POST", "namespaces", {"name": "n3"})["port"] == low
    with LiveServer(max_namespaces=1) as live:
        main = mockcloud.connect(live.url)
        main.call("POST", "namespaces", {"name": "only"})
        with pytest.raises(RemoteError) as exc:
            main.call("POST", "namespaces", {"name": "more"})
        assert (exc.value.status, exc.value.code) == (429, "TooManyNamespaces")


@pytest.fixture
def unused_ports():
    """Two neighbouring ports free now (bound and released)."""
    import socket

    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            low = probe.getsockname()[1]
        if low >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", low))
                b.bind(("127.0.0.1", low + 1))
        except OSError:
            continue
        return low
    pytest.fail("no two neighbouring free ports")


SUITE = """
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

ARN = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("hours", range(1, 13))
def test_own_tokens_and_clock(mockcloud_server, hours):
    lm = boto3.client(
        "license-manager",
        region_name="us-east-1",
        endpoint_url=mockcloud_server.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert lm.list_tokens()["Tokens"] == []  # reset for this test, and nobody else's
    token = lm.create_token(LicenseArn=ARN, ClientToken=uuid.uuid4().hex, ExpirationInDays=1)
    time.sleep(0.01 * hours)  # let the workers interleave
    mockcloud_server.cloud.clock.advance(hours=hours)
    assert [t["TokenId"] for t in lm.list_tokens()["Tokens"]] == [token["TokenId"]]
    lm.get_access_token(Token=token["Token"])
    mockcloud_server.cloud.clock.advance(hours=25)
    with pytest.raises(ClientError) as exc:
        lm.get_access_token(Token=token["Token"])
    assert exc.value.response["Error"]["Code"] == "AuthorizationException"
"""


def run_suite_in_parallel(url: str, directory, workers: int = 4) -> subprocess.CompletedProcess[str]:
    """The plugin's fixtures against one server from ``workers`` pytest-xdist processes."""
    (directory / "test_shared_server.py").write_text(textwrap.dedent(SUITE))
    options = ("-q", "-p", "no:cacheprovider", *UNUSED_PLUGINS, "-n", str(workers), "--mockcloud-url", url)
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_pytest_xdist_workers_share_one_server_each_in_a_namespace(tmp_path):
    with LiveServer() as live:
        run = run_suite_in_parallel(live.url, tmp_path)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "12 passed" in run.stdout
        assert mockcloud.connect(live.url).call("GET", "namespaces")["namespaces"] == []  # each worker's deleted
