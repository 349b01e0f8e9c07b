"""The pytest plugin, exercised the way users meet it: inner test files run by ``pytester``.

Inner runs are subprocesses so that the inner mocks, interceptors and servers
cannot leak into (or be masked by) this outer session. The plugin is loaded
through the installed package's ``pytest11`` entry point, not by ``-p``.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from tests.helpers import DEADLINE, UNUSED_PLUGINS

# Shared by the inner test files: an explicit key pair, so that AWS_* variables of
# the outer environment (a developer's real keys) cannot change what the mock sees.
CLIENT = """
import boto3
from botocore.config import Config

LICENSE_ARN = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef"


def lm_client(endpoint_url=None):
    return boto3.client(
        "license-manager",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
"""


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(lmclient=CLIENT)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *UNUSED_PLUGINS, *args, timeout=DEADLINE * 5)


def test_fixture_gives_active_mock_that_ends_with_the_test(pytester):
    """``mockcloud`` is an active in-process mock during the test and gone after it."""
    pytester.makepyfile(
        test_inner="""
        import mockcloud
        from lmclient import LICENSE_ARN, lm_client


        def test_in_mock(mockcloud):
            assert mockcloud.active
            from mockcloud import current_mock
            assert current_mock() is mockcloud
            client = lm_client()
            created = client.create_token(LicenseArn=LICENSE_ARN, ClientToken="ct-1")
            assert [t.token_id for t in mockcloud.licensemanager.tokens] == [created["TokenId"]]


        def test_after():
            assert mockcloud.current_mock() is None
        """
    )
    result = run_inner(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=2)


def test_marker_activates_mock_without_the_fixture(pytester):
    """A test marked ``mockcloud`` runs under the mock though it never names the fixture."""
    pytester.makepyfile(
        test_inner="""
        import pytest
        import mockcloud
        from lmclient import lm_client


        @pytest.mark.mockcloud(services=["licensemanager"])
        def test_marked():
            mock = mockcloud.current_mock()
            assert mock is not None and mock.active
            assert lm_client().list_tokens()["Tokens"] == []
            assert [r.operation for r in mock.requests] == ["ListTokens"]


        def test_unmarked_is_not_mocked():
            assert mockcloud.current_mock() is None
        """
    )
    result = run_inner(pytester)
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "how", ["entry point", "-p mockcloud.pytest_plugin", "pytest_plugins in conftest", "-p with autoload disabled"]
)
def test_every_way_of_loading_the_plugin_works(pytester, monkeypatch, how):
    """Loading it a second way finds it loaded, instead of registering it twice."""
    args: list[str] = []
    if how.startswith("-p"):
        args = ["-p", "mockcloud.pytest_plugin"]
    if how == "pytest_plugins in conftest":
        pytester.makeconftest('pytest_plugins = ["mockcloud.pytest_plugin"]')
    if how == "-p with autoload disabled":
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        test_inner="""
        import pytest


        @pytest.mark.mockcloud("licensemanager")
        def test_one_service_by_name(mockcloud):
            assert mockcloud.service_names == ("licensemanager",)
        """
    )
    result = run_inner(pytester, *args)
    result.assert_outcomes(passed=1)


def test_marker_options_reach_the_fixture(pytester):
    """The marker's keyword arguments configure the mock the fixture yields."""
    pytester.makepyfile(
        test_inner="""
        import time

        import jwt
        import pytest
        from lmclient import LICENSE_ARN, lm_client


        @pytest.mark.mockcloud(
            services=["licensemanager"],
            passthrough=["example.org"],
            settings={"licensemanager": {"access_token_seconds": 60}},
        )
        def test_options(mockcloud):
            assert mockcloud.service_names == ("licensemanager",)
            assert mockcloud.passthrough.entries == ("example.org",)
            client = lm_client()
            refresh = client.create_token(LicenseArn=LICENSE_ARN, ClientToken="ct-1")["Token"]
            access = client.get_access_token(Token=refresh)["AccessToken"]
            claims = jwt.decode(access, options={"verify_signature": False})
            assert claims["exp"] - claims["iat"] == 60  # the setting, not the 3600 s default
        """
    )
    result = run_inner(pytester)
    result.assert_outcomes(passed=1)


def test_marker_is_registered_for_strict_markers(pytester):
    """``--strict-markers`` accepts ``@pytest.mark.mockcloud``: the plugin registers it."""
    pytester.makepyfile(
        test_inner="""
        import pytest


        @pytest.mark.mockcloud(services=["licensemanager"])
        def test_marked(mockcloud):
            assert mockcloud.active
        """
    )
    result = run_inner(pytester, "--strict-markers")
    result.assert_outcomes(passed=1)
    result = run_inner(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.mockcloud(*"])


def test_server_fixture_serves_boto3_and_resets_between_tests(pytester):
    """``mockcloud_server.url`` works as a boto3 endpoint; each test starts from fresh state on the same server."""
    pytester.makepyfile(
        test_inner="""
        import requests
        from lmclient import LICENSE_ARN, lm_client

        URLS = []


        def _check(server):
            URLS.append(server.url)
            assert server.url.startswith("http://127.0.0.1:")
            client = lm_client(endpoint_url=server.url)
            assert client.list_tokens()["Tokens"] == []
            created = client.create_token(LicenseArn=LICENSE_ARN, ClientToken="ct-1")
            assert [t["TokenId"] for t in client.list_tokens()["Tokens"]] == [created["TokenId"]]
            assert len(server.cloud.licensemanager.tokens) == 1
            assert requests.get(server.url + "/_mockcloud/health", timeout=5).json()["status"] == "ok"


        def test_one(mockcloud_server):
            _check(mockcloud_server)


        def test_two(mockcloud_server):
            _check(mockcloud_server)


        def test_same_server_for_the_session():
            assert len(URLS) == 2 and URLS[0] == URLS[1]
        """
    )
    result = run_inner(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=3)


def test_each_xdist_worker_gets_its_own_server(pytester):
    """Under xdist every worker has its own server, so parallel tests never share state."""
    out = pytester.path / "seen"
    out.mkdir()
    pytester.makepyfile(
        test_inner=f"""
        import json
        import os
        import uuid
        import pytest
        from lmclient import LICENSE_ARN, lm_client

        OUT = {str(out)!r}


        @pytest.mark.parametrize("n", range(4))
        def test_server(mockcloud_server, n):
            client = lm_client(endpoint_url=mockcloud_server.url)
            assert client.list_tokens()["Tokens"] == []
            client.create_token(LicenseArn=LICENSE_ARN, ClientToken=uuid.uuid4().hex)
            record = {{"n": n, "pid": os.getpid(), "url": mockcloud_server.url,
                       "worker": os.environ.get("PYTEST_XDIST_WORKER")}}
            with open(os.path.join(OUT, f"{{n}}.json"), "w") as f:
                json.dump(record, f)
        """
    )
    result = run_inner(pytester, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=4)

    records = [json.loads(p.read_text()) for p in sorted(out.iterdir())]
    assert sorted(r["n"] for r in records) == [0, 1, 2, 3]
    assert all(r["worker"] for r in records), records  # really ran in xdist workers
    urls_by_pid = defaultdict(set)
    for record in records:
        urls_by_pid[record["pid"]].add(record["url"])
    assert len(urls_by_pid) == 2, records  # both workers took part
    assert all(len(urls) == 1 for urls in urls_by_pid.values()), records  # one server per worker session
    first, second = (next(iter(urls)) for urls in urls_by_pid.values())
    assert first != second, records
