"""mockcloud inside real test suites: beside moto, responses, respx, freezegun and time-machine.

Each test starts the other mock for real (no fakes of them), in both
nesting orders and with stops out of order, and checks what every client
sees while both run and after each stops.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import os
import socket
import threading
import time
from datetime import datetime, timezone

import boto3
import freezegun
import httpx
import pytest
import requests
import responses
import respx
import time_machine
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from mockcloud import MockCloudError, UnmockedRequestError, mock_cloud
from mockcloud.intercept import INTERCEPTORS
from mockcloud.intercept.chain import Interceptor, resolve
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def lm_from_environment():
    """A License Manager client with no explicit keys: it signs with whatever the environment holds."""
    return boto3.client("license-manager", region_name="us-east-1", config=NO_RETRY)


def s3_from_environment():
    return boto3.client("s3", region_name="us-east-1", config=NO_RETRY)


def patch_points() -> dict:
    for module in INTERCEPTORS:
        importlib.import_module(module)
    points = [resolve(path) for interceptor in Interceptor.registry.values() for path in interceptor.patches]
    import requests.adapters

    points.append((requests.adapters.HTTPAdapter, "send"))  # where responses and moto patch
    return {(owner, name): vars(owner).get(name) for owner, name in points}


def assert_license_manager_is_mockcloud():
    client = lm_from_environment()
    token = client.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="c1")
    assert client.get_access_token(Token=token["Token"])["AccessToken"].count(".") == 2


def assert_s3_is_moto():
    s3 = s3_from_environment()
    s3.create_bucket(Bucket="coexist")
    s3.put_object(Bucket="coexist", Key="k", Body=b"from moto")
    assert s3.get_object(Bucket="coexist", Key="k")["Body"].read() == b"from moto"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "coexist", "Key": "k"})
    fetched = requests.get(url, timeout=5)
    assert (fetched.status_code, fetched.content) == (200, b"from moto")


# ---- moto ------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["moto-outside", "mockcloud-outside"])
def test_moto_and_mockcloud_each_answer_their_own(order):
    before = patch_points()
    first, second = (mock_aws(), mock_cloud()) if order == "moto-outside" else (mock_cloud(), mock_aws())
    with first, second:
        assert_license_manager_is_mockcloud()
        assert_s3_is_moto()
    assert patch_points() == before


def test_moto_stopped_first_leaves_mockcloud_alone_then_nothing():
    before = patch_points()
    moto = mock_aws()
    moto.start()
    cloud = mock_cloud().start()
    assert_s3_is_moto()
    moto.stop()  # moto puts back the environment it found: clients from here on name their keys
    assert lm_client().list_tokens()["Tokens"] == []  # mockcloud as if it had run alone: S3 is refused, loudly
    s3 = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing", config=NO_RETRY
    )
    with pytest.raises(UnmockedRequestError, match="s3"):
        s3.list_buckets()
    cloud.stop()
    assert patch_points() == before


def test_mockcloud_stopped_first_leaves_moto_alone_then_nothing():
    before = patch_points()
    cloud = mock_cloud().start()
    moto = mock_aws()
    moto.start()
    assert_license_manager_is_mockcloud()
    cloud.stop()
    assert_s3_is_moto()
    with pytest.raises(ClientError) as error:  # moto alone: License Manager is not moto's
        lm_from_environment().list_tokens()
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    moto.stop()
    assert patch_points() == before


def test_a_client_with_no_keys_inside_both_works_against_both():
    for outer, inner in ((mock_aws, mock_cloud), (mock_cloud, mock_aws)):
        with outer(), inner():
            assert_license_manager_is_mockcloud()
            assert s3_from_environment().list_buckets()["Buckets"] == []


# ---- responses and respx -------------------------------------------------------------------


def test_unclaimed_and_passthrough_requests_go_to_an_outer_responses_mock():
    with responses.RequestsMock() as outer:
        outer.get("https://api.partner.example/status", body="from responses")
        outer.get("http://127.0.0.1:9/passed", body="passthrough, answered by responses")
        with mock_cloud(passthrough=["127.0.0.1"]):
            assert requests.get("https://api.partner.example/status", timeout=5).text == "from responses"
            assert requests.get("http://127.0.0.1:9/passed", timeout=5).text == "passthrough, answered by responses"
            assert lm_client().list_tokens()["Tokens"] == []  # botocore is mockcloud's either way
            assert requests.get("https://license-manager.us-east-1.amazonaws.com/", timeout=5).status_code != 200


def test_mockcloud_hosts_keep_working_when_responses_starts_inside():
    with mock_cloud(), responses.RequestsMock() as inner:
        inner.get("https://api.partner.example/status", body="inner responses")
        assert requests.get("https://api.partner.example/status", timeout=5).text == "inner responses"
        signed = requests.post(
            "https://userapi.example.com/User/Login", json={"Username": "nobody", "Password": "x"}, timeout=5
        )
        assert signed.headers["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("stop_first", ["responses", "mockcloud"])
def test_responses_and_mockcloud_stop_in_any_order(stop_first, loopback_server):
    before = patch_points()
    outer = responses.RequestsMock()
    outer.start()
    outer.get("https://api.partner.example/x", body="responses")
    cloud = mock_cloud().start()
    if stop_first == "responses":
        outer.stop(allow_assert=False)
        outer.reset()
        with pytest.raises(requests.exceptions.ConnectionError) as refused:  # as if mockcloud ran alone
            requests.get("https://api.partner.example/x", timeout=5)
        assert isinstance(refused.value, UnmockedRequestError)
        cloud.stop()
    else:
        cloud.stop()
        assert requests.get("https://api.partner.example/x", timeout=5).text == "responses"
        outer.stop(allow_assert=False)
        outer.reset()
    assert patch_points() == before
    assert requests.get(loopback_server, timeout=5).text == "real loopback"  # nobody's patch left behind


def test_unclaimed_httpx_requests_go_to_an_outer_respx_mock():
    with respx.mock(assert_all_called=False) as outer:
        outer.get("https://api.partner.example/status").respond(200, text="from respx")
        with mock_cloud():
            assert httpx.get("https://api.partner.example/status").text == "from respx"
            body = httpx.post("https://userapi.example.com/User/Login", json={"Username": "n", "Password": "x"})
            assert body.headers["content-type"].startswith("application/problem+json")


def test_mockcloud_hosts_keep_working_when_respx_starts_inside_and_stops_out_of_order(loopback_server):
    before = patch_points()
    cloud = mock_cloud().start()
    inner = respx.mock(assert_all_called=False)
    inner.start()
    inner.get("https://api.partner.example/status").respond(200, text="from respx")
    assert httpx.get("https://api.partner.example/status").text == "from respx"
    assert httpx.post("https://userapi.example.com/User/Login", json={}).status_code == 400
    cloud.stop()
    assert httpx.get("https://api.partner.example/status").text == "from respx"
    inner.stop()
    assert patch_points() == before
    assert httpx.get(loopback_server).text == "real loopback"


# ---- time libraries -----------------------------------------------------------------------


def _agree(cloud, expected: float, tolerance: float = 30.0) -> None:
    # a ticking clock runs on while the test does: a tolerance a loaded machine never uses up, far below the moves
    assert abs(time.time() - expected) < tolerance
    assert abs(datetime.now(timezone.utc).timestamp() - expected) < tolerance
    assert abs(cloud.clock.time() - expected) < tolerance


def test_clock_moves_under_an_outer_freezegun_and_gives_its_time_back():
    with freezegun.freeze_time("2024-01-01T00:00:00Z"):
        start = time.time()
        with mock_cloud() as cloud:
            token = lm_client().create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="fz")["Token"]
            access = lm_client().get_access_token(Token=token)["AccessToken"]
            cloud.clock.advance(3601)
            _agree(cloud, start + 3601)
            cloud.clock.freeze("2024-03-01T00:00:00Z")
            _agree(cloud, datetime(2024, 3, 1, tzinfo=timezone.utc).timestamp())
            assert access  # the hour-long access token is expired on every clock now
            with pytest.raises(MockCloudError, match="freezegun's freeze_time\\(\\) holds time still"):
                cloud.clock.unfreeze()
        assert time.time() == start  # the mock's moves are taken back from freezegun's timeline


def test_clock_moves_under_a_ticking_freezegun_started_inside():
    with mock_cloud() as cloud, freezegun.freeze_time("2024-01-01T00:00:00Z", tick=True):
        start = time.time()
        cloud.clock.advance(600)
        _agree(cloud, start + 600)
        with pytest.raises(MockCloudError, match=r"tick=True.*cannot stop it"):
            cloud.clock.freeze()


def test_a_travel_inside_the_mock_never_undoes_its_moves():
    real = time.time()
    with mock_cloud() as cloud:
        with time_machine.travel(datetime(2030, 1, 1, tzinfo=timezone.utc), tick=False):
            cloud.clock.advance(3600)
            _agree(cloud, datetime(2030, 1, 1, 1, tzinfo=timezone.utc).timestamp())
        _agree(cloud, real + 3600)  # the travel ended: the mock's own move stands
        with time_machine.travel(datetime(2031, 1, 1, tzinfo=timezone.utc), tick=False):
            cloud.clock.freeze()
            cloud.clock.advance(60)
            _agree(cloud, datetime(2031, 1, 1, 0, 1, tzinfo=timezone.utc).timestamp())
        assert cloud.clock.frozen
        _agree(cloud, real + 3660)
    _agree(cloud, real)


def test_clock_inside_an_outer_travel_is_taken_back_at_stop():
    with time_machine.travel(datetime(2029, 6, 1, tzinfo=timezone.utc), tick=False):
        outer = time.time()
        with mock_cloud() as cloud:
            cloud.clock.advance(86400)
            _agree(cloud, outer + 86400)
        assert time.time() == outer


# ---- credentials ------------------------------------------------------------------------------


def test_real_keys_in_the_shell_are_never_used(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7REALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-real-looking-secret")
    with mock_cloud():
        assert lm_from_environment().list_tokens()["Tokens"] == []
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAIOSFODNN7REALKEY"


def test_a_real_looking_key_unknown_to_the_mock_is_named(monkeypatch):
    with mock_cloud(fake_credentials=False), pytest.raises(ClientError) as error:
        lm_client(key="AKIAIOSFODNN7REALKEY", secret="x").list_tokens()
    message = error.value.response["Error"]["Message"]
    assert message.startswith("The security token included in the request is invalid.")
    assert "looks like a real AWS access key" in message and "cloud.credentials.add_aws" in message
    with mock_cloud(), pytest.raises(ClientError) as error:
        lm_client(key="not-a-real-key", secret="x").list_tokens()
    assert error.value.response["Error"]["Message"] == "The security token included in the request is invalid."


# ---- nothing escapes ------------------------------------------------------------------------


BLOCKED = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never routed, and never tried: the guard refuses first


def test_a_raw_socket_cannot_leave():
    with mock_cloud():
        sock = socket.socket()
        try:
            with pytest.raises(UnmockedRequestError, match=f"{BLOCKED}.*passthrough"):
                sock.connect((BLOCKED, 80))
            with pytest.raises(UnmockedRequestError, match=BLOCKED):
                sock.connect_ex((BLOCKED, 80))
            with pytest.raises(UnmockedRequestError, match=r"example\.org"):
                socket.getaddrinfo("example.org", 443)
            with pytest.raises(UnmockedRequestError, match=r"example\.org"):
                socket.create_connection(("example.org", 443), timeout=1)
        finally:
            sock.close()


def test_httpcore_and_urllib3_connections_used_directly_cannot_leave():
    import httpcore
    import urllib3

    with mock_cloud():
        with (
            pytest.raises(httpcore.ConnectError, match=r"example\.org.*passthrough"),
            httpcore.ConnectionPool() as pool,
        ):
            pool.request("GET", "https://example.org/")
        connection = urllib3.connection.HTTPConnection("example.org", 80, timeout=1)
        with pytest.raises(urllib3.exceptions.NewConnectionError, match=r"example\.org.*passthrough"):
            connection.request("GET", "/")


def test_websocket_client_cannot_leave():
    import websocket

    with mock_cloud(), pytest.raises(UnmockedRequestError, match=r"stream\.example\.org"):
        websocket.create_connection("ws://stream.example.org/feed", timeout=1)


def test_loopback_stays_open_unless_closed(loopback_server):
    port = int(loopback_server.rsplit(":", 1)[1].strip("/"))
    with mock_cloud():
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        socket.create_connection(("localhost", port), timeout=2).close()
    with mock_cloud(allow_loopback=False), pytest.raises(UnmockedRequestError, match=r"127\.0\.0\.1"):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    with mock_cloud(allow_loopback=False, passthrough=["127.0.0.1"]):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    socket.create_connection(("127.0.0.1", port), timeout=2).close()  # no guard after the mock


# ---- threads -------------------------------------------------------------------------------


def test_mocks_in_parallel_threads_never_see_each_other():
    barrier = threading.Barrier(2)
    seen: dict[str, list] = {}

    def test_body(name: str) -> None:
        with mock_cloud(services=["licensemanager"]) as cloud:
            barrier.wait()
            client = lm_client()
            for i in range(20):
                client.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=f"{name}-{i}")
            barrier.wait()
            count = len(client.list_tokens()["Tokens"])
            seen[name] = [r.operation for r in cloud.requests] + [count]
            barrier.wait()

    threads = [threading.Thread(target=test_body, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert seen["a"] == seen["b"] == ["CreateToken"] * 20 + ["ListTokens", 20]


def test_pool_workers_go_to_the_innermost_mock():
    with mock_cloud(services=["licensemanager"]) as outer:
        with (
            mock_cloud(services=["licensemanager"]) as inner,
            concurrent.futures.ThreadPoolExecutor(2) as pool,
        ):
            tokens = list(
                pool.map(
                    lambda i: lm_client().create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=f"p{i}"), range(4)
                )
            )
        assert len(tokens) == 4
        assert len(inner.requests) == 4 and len(outer.requests) == 0


# ---- STS beside moto -------------------------------------------------------------------------


def test_sts_with_moto_mockcloud_answers_its_own_tokens_and_credentials_moto_the_rest():
    """A License Manager token and the credentials it buys are mockcloud's; every other STS call is moto's."""
    with mock_aws(), mock_cloud():
        sts = boto3.client("sts", region_name="us-east-1", config=NO_RETRY)
        moto_caller = sts.get_caller_identity()  # signed with the environment's fake keys: moto's to answer
        assert moto_caller["Account"] == "123456789012" and moto_caller["Arn"].startswith("arn:aws:")
        assumed = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/anything", RoleSessionName="s1")  # moto's
        assert assumed["Credentials"]["AccessKeyId"]
        other_token = sts.assume_role_with_web_identity(  # a token of no issuer mockcloud trusts: moto takes anything
            RoleArn="arn:aws:iam::123456789012:role/web", RoleSessionName="w1", WebIdentityToken="x" * 40
        )
        assert other_token["Credentials"]["AccessKeyId"]

        lm = lm_from_environment()
        refresh = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="sts")["Token"]
        access = lm.get_access_token(Token=refresh)["AccessToken"]
        ours = sts.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole",
            RoleSessionName="isv",
            WebIdentityToken=access,
        )["Credentials"]
        assert ours["AccessKeyId"].startswith("ASIA")
        temporary = boto3.client(
            "sts",
            region_name="us-east-1",
            aws_access_key_id=ours["AccessKeyId"],
            aws_secret_access_key=ours["SecretAccessKey"],
            aws_session_token=ours["SessionToken"],
            config=NO_RETRY,
        )
        assert temporary.get_caller_identity()["Arn"] == (
            "arn:aws:sts::123456789012:assumed-role/AWSLicenseManagerConsumptionRole/isv"
        )
        with pytest.raises(ClientError) as forged:  # mockcloud's issuer, bad signature: mockcloud's verdict, not moto's
            sts.assume_role_with_web_identity(
                RoleArn="arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole",
                RoleSessionName="x1",
                WebIdentityToken=access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB"),
            )
        assert forged.value.response["Error"]["Code"] == "InvalidIdentityToken"


def test_sts_without_moto_answers_what_it_emulates_and_refuses_the_rest_loudly():
    with mock_cloud():
        sts = boto3.client("sts", region_name="us-east-1", config=NO_RETRY)
        with pytest.raises(ClientError) as refused:
            sts.assume_role_with_web_identity(
                RoleArn="arn:aws:iam::123456789012:role/web", RoleSessionName="w1", WebIdentityToken="x" * 40
            )
        assert refused.value.response["Error"]["Code"] == "InvalidIdentityToken"
        assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:root"
