"""The public mock API: decorator forms, nesting, clock, faults, credentials, interception."""

from __future__ import annotations

import asyncio
import os
import time
import unittest
from datetime import datetime, timezone

import boto3
import pytest
import requests
import time_machine
from botocore.exceptions import ClientError

import mockcloud
from mockcloud import MockCloudError, UnmockedRequestError, current_mock, mock_cloud, mock_licensemanager
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client, wait_for


def make_token(lm, client_token="t") -> str:
    return lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=client_token)["Token"]


# ---- forms -------------------------------------------------------------------


@mock_cloud
def _bare_decorated():
    return current_mock(), lm_client().list_tokens()["Tokens"]


def test_bare_decorator():
    mock, tokens = _bare_decorated()
    assert mock is not None and tokens == []
    assert current_mock() is None


def test_called_decorator_with_options():
    @mock_cloud(services=["licensemanager"], passthrough=["localhost"])
    def inner():
        return current_mock()

    mock = inner()
    assert mock.service_names == ("licensemanager",) and mock.passthrough.entries == ("localhost",)
    assert not mock.active


def test_async_function_decorator():
    @mock_licensemanager
    async def inner():
        await asyncio.sleep(0)
        return current_mock().active, lm_client().list_tokens()["Tokens"]

    assert asyncio.run(inner()) == (True, [])
    assert current_mock() is None


@mock_cloud
class TestDecoratedPlainClass:
    """Every test method of a decorated class runs under a fresh mock."""

    def test_first(self):
        lm = lm_client()
        make_token(lm)
        assert len(lm.list_tokens()["Tokens"]) == 1

    def test_second_starts_fresh(self):
        assert lm_client().list_tokens()["Tokens"] == []


def test_unittest_testcase_decoration_covers_setup_and_teardown():
    seen: list = []

    @mock_cloud
    class Case(unittest.TestCase):
        def setUp(self):
            seen.append(("setUp", current_mock() is not None))
            self.lm = lm_client()

        def test_a(self):
            make_token(self.lm)
            seen.append(("a", len(self.lm.list_tokens()["Tokens"])))

        def test_b(self):
            make_token(self.lm)
            seen.append(("b", len(self.lm.list_tokens()["Tokens"])))

        def tearDown(self):
            seen.append(("tearDown", current_mock() is not None))

    with open(os.devnull, "w") as devnull:
        result = unittest.TextTestRunner(stream=devnull).run(unittest.defaultTestLoader.loadTestsFromTestCase(Case))
    assert result.wasSuccessful(), result.errors + result.failures
    assert seen == [("setUp", True), ("a", 1), ("tearDown", True), ("setUp", True), ("b", 1), ("tearDown", True)]
    assert current_mock() is None


def test_context_manager_and_start_stop():
    with mock_cloud() as cloud:
        assert cloud.active and current_mock() is cloud
    assert not cloud.active and current_mock() is None
    cloud = mock_cloud()
    cloud.start()
    try:
        assert lm_client().list_tokens()["Tokens"] == []
    finally:
        cloud.stop()
    cloud.stop()  # stopping a stopped mock is harmless
    assert current_mock() is None


def test_nesting_keeps_each_mock_its_own_state():
    with mock_cloud() as outer:
        make_token(lm_client(), "outer")
        with mock_cloud() as inner:
            assert current_mock() is inner
            assert lm_client().list_tokens()["Tokens"] == []
            make_token(lm_client(), "inner")
        assert current_mock() is outer
        assert len(lm_client().list_tokens()["Tokens"]) == 1
    assert len(inner.licensemanager.tokens) == 1


def test_reentry_of_the_same_mock_keeps_state_until_the_last_stop():
    cloud = mock_cloud()
    with cloud:
        make_token(lm_client())
        with cloud:
            assert len(lm_client().list_tokens()["Tokens"]) == 1
        assert cloud.active
        assert len(lm_client().list_tokens()["Tokens"]) == 1
    assert not cloud.active


def test_start_gives_fresh_state_and_reset_clears():
    cloud = mock_cloud()
    with cloud:
        make_token(lm_client())
        cloud.reset()
        assert lm_client().list_tokens()["Tokens"] == []
        make_token(lm_client())
    with cloud:
        assert lm_client().list_tokens()["Tokens"] == []


def test_service_shortcut_and_unknown_names():
    with mockcloud.mock_licensemanager() as cloud:
        assert cloud.service_names == ("licensemanager",)
    with pytest.raises(MockCloudError):
        mock_cloud(services=["nope"])
    with pytest.raises(AttributeError):
        _ = mock_cloud().not_a_service


def test_every_service_has_its_shortcut_exported_and_typed():
    import ast
    from pathlib import Path

    from mockcloud.services import SERVICE_PACKAGES

    expected = {f"mock_{name}" for name in SERVICE_PACKAGES}
    assert {name for name in mockcloud.__all__ if name.startswith("mock_")} - {"mock_cloud"} == expected
    for name in mockcloud.__all__:
        assert getattr(mockcloud, name) is not None
    # each shortcut is declared for type checkers too (the lazy module __getattr__ gives them no type)
    tree = ast.parse(Path(mockcloud.__file__).read_text())
    declared = {
        node.target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    assert expected <= declared


def test_custom_fixtures_file(tmp_path):
    fixtures = tmp_path / "fx.json"
    fixtures.write_text(
        '{"credentials": {"aws": [{"access_key_id": "AKIDMINE", "secret_access_key": "mine"}]},'
        ' "licensemanager": {"licenses": []}}'
    )
    with mock_cloud(fixtures=fixtures):
        mine = lm_client(key="AKIDMINE", secret="mine")
        assert mine.list_licenses()["Licenses"] == []
        with pytest.raises(ClientError) as exc:
            lm_client().list_tokens()  # testing/testing is not in this fixtures file
        assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"
    bad = tmp_path / "bad.json"
    bad.write_text('{"licensemanager": {"licenses": [{"license_arn": "nope"}]}}')
    with pytest.raises(MockCloudError, match="do not match the fixtures schema"), mock_cloud(fixtures=bad) as cloud:
        _ = cloud.licensemanager


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "fixtures file not found"),
        ("{not json", "is not valid JSON"),
        (b"\xff\xfe{}", "is not valid JSON"),
        ("[1, 2]", "do not match the fixtures schema"),
        ('{"licensemanager": {"licenses": [{"license_arn": "nope"}]}}', "do not match the fixtures schema"),
    ],
    ids=["missing", "malformed", "not-utf8", "not-an-object", "schema-invalid"],
)
def test_bad_fixtures_fail_at_start(tmp_path, content, message):
    """start() raises at once, before anything is patched, instead of failing the first request."""
    path = tmp_path / "fixtures.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    cloud = mock_cloud(fixtures=path)
    env_before = dict(os.environ)
    with pytest.raises(MockCloudError, match=message):
        cloud.start()
    assert not cloud.active and current_mock() is None
    assert dict(os.environ) == env_before  # nothing was set up, so nothing is left behind
    path.write_text('{"licensemanager": {"licenses": []}}')  # fixed: the same mock starts now
    with cloud:
        assert lm_client().list_licenses()["Licenses"] == []


def test_fixtures_are_read_once_per_file_version(tmp_path, monkeypatch):
    """Eager checking keeps start+stop cheap: a file is parsed and validated once, again only when it changes."""
    from mockcloud.core import fixtures

    path = tmp_path / "fixtures.json"
    path.write_text('{"licensemanager": {"licenses": []}}')
    reads = []
    real_read = fixtures._read
    monkeypatch.setattr(fixtures, "_read", lambda p: reads.append(p) or real_read(p))
    for _ in range(5):
        with mock_cloud(fixtures=path):
            pass
    assert reads.count(path) == 1
    path.write_text('{"licensemanager": {"licenses": "broken"}}')
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new version, even within the mtime's granularity
    with pytest.raises(MockCloudError, match="do not match"):
        mock_cloud(fixtures=path).start()


# ---- clock -------------------------------------------------------------------


def test_clock_freeze_advance_unfreeze_moves_the_code_under_test_too():
    with mock_cloud() as cloud:
        now = cloud.clock.now()
        assert now.tzinfo is not None
        frozen = cloud.clock.freeze(datetime(2030, 1, 1, tzinfo=timezone.utc))
        assert frozen == datetime(2030, 1, 1, tzinfo=timezone.utc) and cloud.clock.frozen
        assert time.time() == frozen.timestamp()
        assert datetime.now(timezone.utc) == frozen
        cloud.clock.advance(minutes=16)
        assert time.time() == frozen.timestamp() + 960
        cloud.clock.advance(30)
        assert cloud.clock.now().timestamp() == frozen.timestamp() + 990
        cloud.clock.unfreeze()
        assert not cloud.clock.frozen
        wait_for(lambda: cloud.clock.now().timestamp() > frozen.timestamp() + 990, "the unfrozen clock to run")
        # botocore signs with the moved time, so the skew check still passes
        assert lm_client().list_tokens()["Tokens"] == []
    assert abs(time.time() - now.timestamp()) < 60


def test_clock_that_keeps_to_the_emulator():
    with mock_cloud(patch_time=False) as cloud:
        cloud.clock.advance(hours=2)
        assert cloud.clock.now().timestamp() - time.time() == pytest.approx(7200, abs=5)
        cloud.clock.freeze("2031-05-05T00:00:00Z")
        assert cloud.clock.now().year == 2031 and datetime.now().year != 2031


def test_client_refreshes_after_advancing_sixteen_minutes():
    """A client's own expiry logic follows the mock clock."""

    class AccessTokenCache:
        def __init__(self, client, refresh_token):
            self.client, self.refresh_token, self.token, self.expires = client, refresh_token, None, 0.0

        def get(self):
            if self.token is None or time.time() >= self.expires - 60:
                self.token = self.client.get_access_token(Token=self.refresh_token)["AccessToken"]
                self.expires = time.time() + 15 * 60  # this client trusts its tokens for 15 minutes
            return self.token

    with mock_cloud() as cloud:
        lm = lm_client()
        cache = AccessTokenCache(lm, make_token(lm))
        first = cache.get()
        assert cache.get() == first
        assert len(cloud.requests.filter(operation="GetAccessToken")) == 1
        cloud.clock.advance(minutes=16)
        second = cache.get()
        assert second != first
        assert len(cloud.requests.filter(operation="GetAccessToken")) == 2


def test_the_tests_own_time_machine_is_followed():
    with (
        mock_cloud() as cloud,
        time_machine.travel(datetime(2029, 3, 3, tzinfo=timezone.utc), tick=False),
    ):
        assert cloud.clock.now() == datetime(2029, 3, 3, tzinfo=timezone.utc)
        token = make_token(lm_client())
        assert cloud.licensemanager.decode(token, verify_exp=False)["iat"] == int(
            datetime(2029, 3, 3, tzinfo=timezone.utc).timestamp()
        )


# ---- faults ------------------------------------------------------------------


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_fault_error_for_the_next_count_calls():
    with mock_cloud() as cloud:
        lm = lm_client()
        token = make_token(lm)
        cloud.faults.add("licensemanager", "GetAccessToken", error="ServerInternalException", status=500, count=2)
        for _ in range(2):
            with pytest.raises(ClientError) as exc:
                lm.get_access_token(Token=token)
            assert code_of(exc) == ("ServerInternalException", 500)
        assert lm.get_access_token(Token=token)["AccessToken"]
        assert lm.list_tokens()["Tokens"]  # other operations were never affected
        assert [r.error_code for r in cloud.requests.filter(operation="GetAccessToken")] == [
            "ServerInternalException",
            "ServerInternalException",
            None,
        ]


def test_fault_status_only_throttle_and_probability():
    with mock_cloud() as cloud:
        lm = lm_client()
        cloud.faults.add(status=503, count=1)
        with pytest.raises(ClientError) as exc:
            lm.list_tokens()
        assert code_of(exc)[1] == 503
        cloud.faults.add("licensemanager", throttle=True, count=1)
        with pytest.raises(ClientError) as exc:
            lm.list_tokens()
        assert code_of(exc) == ("RateLimitExceededException", 400)
        cloud.faults.add("licensemanager", error="AccessDeniedException", probability=0.0)
        assert lm.list_tokens()["Tokens"] == []
        cloud.faults.clear()
        cloud.faults.add("licensemanager", error="AccessDeniedException")
        for _ in range(3):
            with pytest.raises(ClientError):
                lm.list_tokens()
        cloud.faults.clear()
        assert lm.list_tokens()["Tokens"] == []


def test_fault_latency():
    with mock_cloud() as cloud:
        lm = lm_client()
        lm.list_tokens()
        cloud.faults.add("licensemanager", "ListTokens", latency=0.2, count=1)
        started = time.perf_counter()
        lm.list_tokens()
        assert time.perf_counter() - started >= 0.2
        lm.list_tokens()
        assert [record.delay for record in cloud.requests] == [0.0, 0.2, 0.0]  # once, as counted


def test_rate_limit_on_the_mock_clock():
    with mock_cloud() as cloud:
        cloud.clock.freeze()
        lm = lm_client()
        cloud.faults.rate_limit("licensemanager", "ListTokens", rate=1, burst=2)
        lm.list_tokens()
        lm.list_tokens()
        with pytest.raises(ClientError) as exc:
            lm.list_tokens()
        assert code_of(exc) == ("RateLimitExceededException", 400)
        lm.list_licenses()  # another operation is not limited
        cloud.clock.advance(1)
        lm.list_tokens()
        with pytest.raises(ClientError):
            lm.list_tokens()


def test_fault_arguments_are_checked():
    with mock_cloud() as cloud:
        with pytest.raises(MockCloudError):
            cloud.faults.add("nosuchservice", error="X")
        with pytest.raises(MockCloudError):
            cloud.faults.add("licensemanager")
        with pytest.raises(MockCloudError):
            cloud.faults.add("licensemanager", error="X", count=0)


# ---- credentials in the environment -------------------------------------------


def test_fake_aws_credentials_are_set_and_restored(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    with mock_cloud():
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing" and os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
        client = boto3.session.Session().client("license-manager")
        assert client.list_tokens()["Tokens"] == []
    assert "AWS_ACCESS_KEY_ID" not in os.environ and "AWS_DEFAULT_REGION" not in os.environ


def test_real_aws_credentials_are_replaced_while_the_mock_runs(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-session-token")
    with mock_cloud():
        assert (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
        assert "AWS_SESSION_TOKEN" not in os.environ
        client = boto3.client("license-manager", region_name="us-east-1")  # no explicit keys: the environment's
        assert client.list_tokens()["Tokens"] == []
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREALLOOKINGKEY01"
    assert os.environ["AWS_SESSION_TOKEN"] == "real-session-token"


def test_fake_credentials_false_keeps_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fromenv")
    with mock_cloud(fake_credentials=False):
        assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIDFROMENV"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIDFROMENV"


def test_a_changed_environment_is_not_put_back(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    cloud = mock_cloud().start()
    os.environ["AWS_ACCESS_KEY_ID"] = "set-by-someone-else"
    cloud.stop()
    assert os.environ["AWS_ACCESS_KEY_ID"] == "set-by-someone-else"


def test_custom_fixtures_put_their_first_key_in_the_environment(tmp_path):
    fixtures = tmp_path / "fx.json"
    fixtures.write_text('{"credentials": {"aws": [{"access_key_id": "AKIDMINE", "secret_access_key": "mine"}]}}')
    with mock_cloud(fixtures=fixtures):
        assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIDMINE"
        assert boto3.client("license-manager", region_name="us-east-1").list_tokens()["Tokens"] == []


# ---- interception ----------------------------------------------------------------


def test_unclaimed_host_fails_loudly_for_requests(loopback_server):
    with mock_cloud():
        with pytest.raises(requests.exceptions.ConnectionError) as exc:
            requests.get("https://example.com/anything")
        assert isinstance(exc.value, UnmockedRequestError)
        assert "example.com" in str(exc.value) and "passthrough" in str(exc.value)
        with pytest.raises(UnmockedRequestError):
            requests.get(loopback_server)  # loopback too, unless allowed


def test_unclaimed_host_fails_loudly_for_boto3():
    with mock_cloud():
        sns = boto3.client("sns", region_name="us-east-1")  # an AWS service mockcloud does not emulate
        with pytest.raises(UnmockedRequestError) as exc:
            sns.list_topics()
        assert "sns.us-east-1.amazonaws.com" in str(exc.value)


def test_passthrough_and_no_patch_left_behind(loopback_server):
    from botocore.endpoint import Endpoint

    original_send = Endpoint._send
    with mock_cloud(passthrough=["127.0.0.1"]):
        assert Endpoint._send is not original_send
        assert requests.get(loopback_server).text == "real loopback"
    assert Endpoint._send is original_send
    assert requests.get(loopback_server).text == "real loopback"


def test_client_created_before_the_mock_started_is_intercepted():
    lm = lm_client()
    with mock_cloud() as cloud:
        assert lm.list_tokens()["Tokens"] == []
        assert cloud.requests[-1].operation == "ListTokens"


def test_boto3_default_session_is_not_reset():
    boto3.setup_default_session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    session = boto3.DEFAULT_SESSION
    with mock_cloud():
        boto3.client("license-manager").list_tokens()
    assert boto3.DEFAULT_SESSION is session


def test_request_log_records_service_operation_status_and_error():
    with mock_cloud() as cloud:
        lm = lm_client()
        lm.list_tokens()
        with pytest.raises(ClientError):
            lm.delete_token(TokenId="missing")
        records = list(cloud.requests)
        assert [(r.service, r.operation, r.status, r.error_code) for r in records] == [
            ("licensemanager", "ListTokens", 200, None),
            ("licensemanager", "DeleteToken", 400, "ResourceNotFoundException"),
        ]
        assert records[0].ok and not records[1].ok


def test_routing_by_signing_scope_on_any_host():
    """An endpoint_url on another host is routed by the SigV4 scope, as a real front door would be."""
    with mock_cloud() as cloud:
        lm = lm_client(endpoint_url="http://localhost:4566")
        assert lm.list_tokens()["Tokens"] == []
        assert cloud.requests[-1].url.startswith("http://localhost:4566/")


# ---- options ------------------------------------------------------------------------


def test_a_string_names_one_service():
    assert mock_cloud("licensemanager").service_names == ("licensemanager",)
    assert mock_cloud(services="devpay").service_names == ("devpay",)
    with pytest.raises(MockCloudError, match=r"unknown service\(s\) \['licensemanagerx'\]"):
        mock_cloud("licensemanagerx")


@pytest.mark.parametrize("service", sorted(mockcloud.services.SERVICE_PACKAGES))
def test_every_service_refuses_unknown_settings_by_name(service):
    with pytest.raises(MockCloudError, match=rf"unknown {service} setting\(s\) \['no_such_setting'\]; known: \['\w+"):
        mock_cloud(services=[service], settings={service: {"no_such_setting": 1}})
