"""The image, built on a local Debian base and run with a real Docker daemon, on the host's network.

Driven with boto3 (the License Manager journey), the AWS SDK for JavaScript v3, and MockCloudContainer;
restarted on the same --state volume; stopped with SIGTERM; two of them on one Redis container; and one of
them shared by four pytest-xdist workers, each in its own namespace.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid

import pytest
from botocore.exceptions import ClientError

import mockcloud
from mockcloud import mock_cloud
from mockcloud.remote import RemoteError
from tests.container import images
from tests.helpers import DEFAULT_LICENSE_ARN, error_of, lm_client
from tests.server.test_namespaces import run_suite_in_parallel
from tests.services.licensemanager import test_journey, test_journey_js

pytestmark = pytest.mark.container

TOKEN_LINE = re.compile(r"admin token \(send as 'Authorization: Bearer TOKEN'\): (\S+)")
STOP_BOUND = 2.0  # seconds from SIGTERM to exit that the image promises


def loopback(port: int, **extra: str) -> dict[str, str]:
    """The environment of a container that binds 127.0.0.1 on ``port`` of the host's network."""
    return {"MOCKCLOUD_HOST": "127.0.0.1", "MOCKCLOUD_PORT": str(port), **extra}


def test_the_image_is_small_unprivileged_and_holds_no_build_tools(image, base):
    size = int(images.docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    base_size = int(images.docker("image", "inspect", "--format", "{{.Size}}", base).stdout)
    assert (size - base_size) / 1e6 <= 60, f"{(size - base_size) / 1e6:.1f} MB over the base"
    probe = (
        "import os, shutil, importlib.util as u; "
        "print(os.getuid(), shutil.which('pip'), u.find_spec('pip'), u.find_spec('setuptools'), os.getcwd())"
    )
    run = images.docker("run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", probe)
    assert run.stdout.split() == ["10001", "None", "None", "None", "/data"]
    config = json.loads(images.docker("image", "inspect", "--format", "{{json .Config}}", image).stdout)
    assert config["Entrypoint"] == ["mockcloud", "server"] and "/data" in config["Volumes"]
    assert "/_mockcloud/health" in " ".join(config["Healthcheck"]["Test"])


def test_the_license_manager_journey_with_boto3_and_the_image_defaults(image, run_container):
    """As documented: 0.0.0.0 and a generated admin token printed at start; the server's clock moves by
    hours while boto3 keeps signing with the real time."""
    port = images.free_port()
    container = run_container(image, env={"MOCKCLOUD_PORT": str(port)})
    container.wait_until_answering(port)
    logs = container.logs()
    assert "off loopback" in logs
    token = TOKEN_LINE.search(logs).group(1)
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(RemoteError) as exc:
        mockcloud.connect(url, admin_token="wrong").clock.now()
    assert (exc.value.status, exc.value.code) == (401, "Unauthorized")
    cloud = mockcloud.connect(url, admin_token=token)
    test_journey.test_the_whole_journey(test_journey.World(cloud, url))
    assert {r.operation for r in cloud.requests} >= {"CreateToken", "AssumeRoleWithWebIdentity", "CheckInLicense"}


def test_the_journey_with_the_aws_sdk_for_javascript(image, run_container):
    node, npm = test_journey_js._tools()
    test_journey_js._install(npm)
    port = images.free_port()
    container = run_container(image, env=loopback(port))
    container.wait_until_answering(port)
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MOCKCLOUD_URL": url, "NODE_NO_WARNINGS": "1"}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    run = subprocess.run(
        [node, "journey.mjs"], cwd=test_journey_js.JS, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    steps = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    assert [(s["step"], None if s["ok"] else (s["code"], s["status"])) for s in steps] == test_journey_js.EXPECTED


def test_mockcloudcontainer_passes_seed_fixtures_and_state_through(image, volume, tmp_path, monkeypatch):
    from mockcloud.testcontainers import MockCloudContainer

    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")  # Ryuk's image comes from a registry
    with mock_cloud(patch_time=False) as local:
        local.wuying.create_user(end_user_id="from-fixtures", password="Passw0rd!1")
        fixtures = tmp_path / "fixtures.json"
        fixtures.write_text(json.dumps(local.snapshot()))
    fixtures.chmod(0o644)
    port = images.free_port()
    options = {"port": port, "network_mode": "host", "seed": 7, "fixtures": fixtures, "state": volume}
    with MockCloudContainer(image, **options) as container:
        url = container.get_url()
        assert url == f"http://127.0.0.1:{port}"
        cloud = container.cloud
        assert cloud.call("POST", "reset", {})["seed"] == 7  # back to the fixtures, with the seed given
        assert "from-fixtures" in json.dumps(cloud.snapshot()["wuying"])
        lm = lm_client(endpoint_url=url)
        refresh = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="tc", ExpirationInDays=1)["Token"]
        cloud.clock.advance(hours=2)
        assert lm.get_access_token(Token=refresh)["AccessToken"]
    with MockCloudContainer(image, **options) as again:  # the same volume: the state came back
        lm = lm_client(endpoint_url=again.get_url())
        assert lm.get_access_token(Token=refresh)["AccessToken"]
        again.cloud.clock.advance(hours=23)
        with pytest.raises(ClientError) as exc:
            lm.get_access_token(Token=refresh)  # expired on the restored clock (2 h + 23 h > 1 day)
        assert error_of(exc)[:2] == ("AuthorizationException", 400)


def test_restart_on_the_same_state_volume_and_sigterm_within_two_seconds(image, run_container, volume):
    port = images.free_port()
    env = loopback(port, MOCKCLOUD_STATE="/data/state.db")
    first = run_container(image, env=env, volumes=(f"{volume}:/data",))
    first.wait_until_answering(port)
    url = f"http://127.0.0.1:{port}"
    lm = lm_client(endpoint_url=url)
    refresh = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex)["Token"]
    status, seconds = first.stop_with("TERM", timeout=60)
    print(f"\nSIGTERM to exit: {seconds:.2f} s (bound {STOP_BOUND} s)")
    assert status == 0, first.logs()
    assert first.inspect("{{.State.ExitCode}}") == "0"
    assert "mockcloud server stopped" in first.logs() and "Traceback" not in first.logs()

    second = run_container(image, env=env, volumes=(f"{volume}:/data",))
    second.wait_until_answering(port)
    assert lm.get_access_token(Token=refresh)["AccessToken"].count(".") == 2  # the refresh token still redeems
    status, seconds = second.stop_with("TERM", timeout=60)
    assert status == 0
    print(f"SIGTERM to exit (second): {seconds:.2f} s")


def test_a_state_folder_the_user_cannot_write_stops_it_with_one_line(image, run_container, tmp_path):
    port = images.free_port()
    container = run_container(image, env=loopback(port, MOCKCLOUD_STATE="/data/missing/state.db"))
    status = int(images.docker("wait", container.id, timeout=120).stdout)
    assert status == 2
    assert container.logs().strip().splitlines() == [
        "mockcloud: --state /data/missing/state.db: the folder /data/missing does not exist"
    ]


def test_the_health_check_reports_healthy(image, run_container):
    port = images.free_port()
    container = run_container(image, env=loopback(port))
    container.wait_until_answering(port)
    deadline = time.monotonic() + 120
    while (health := container.inspect("{{.State.Health.Status}}")) != "healthy":
        assert health in ("starting", "healthy"), container.inspect("{{json .State.Health}}")
        assert time.monotonic() < deadline, container.inspect("{{json .State.Health}}")
        time.sleep(0.5)
    log = json.loads(container.inspect("{{json .State.Health.Log}}"))
    assert log[-1]["ExitCode"] == 0


def test_two_containers_on_one_redis_container_are_one_emulator(image, redis_image, run_container):
    redis_port, one, two = images.free_port(), images.free_port(), images.free_port()
    redis = run_container(
        redis_image, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"
    )
    store = {"MOCKCLOUD_STORE": f"redis://127.0.0.1:{redis_port}/0"}
    first = run_container(image, env=loopback(one, **store))
    second = run_container(image, env=loopback(two, **store, MOCKCLOUD_WORKERS="2"))
    first.wait_until_answering(one)
    second.wait_until_answering(two)
    assert "Ready to accept connections" in redis.logs()
    a, b = lm_client(endpoint_url=f"http://127.0.0.1:{one}"), lm_client(endpoint_url=f"http://127.0.0.1:{two}")
    refresh = a.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="one", ExpirationInDays=1)
    assert [t["TokenId"] for t in b.list_tokens()["Tokens"]] == [refresh["TokenId"]]
    assert b.get_access_token(Token=refresh["Token"])["AccessToken"]
    mockcloud.connect(f"http://127.0.0.1:{one}").clock.advance(hours=25)  # one clock for both
    with pytest.raises(ClientError) as exc:
        b.get_access_token(Token=refresh["Token"])
    assert error_of(exc)[:2] == ("AuthorizationException", 400)
    assert "2 workers" in second.logs()


def test_pytest_xdist_workers_share_one_container_five_times_in_a_row(image, run_container, tmp_path):
    """Four workers, each in its own namespace, moving its own clock by hours and calling with boto3."""
    port = images.free_port()
    container = run_container(image, env=loopback(port))
    container.wait_until_answering(port)
    url = f"http://127.0.0.1:{port}"
    for attempt in range(5):
        run = run_suite_in_parallel(url, tmp_path)
        assert run.returncode == 0, f"run {attempt + 1}:\n{run.stdout[-3000:]}{run.stderr[-2000:]}"
        assert "12 passed" in run.stdout
    assert mockcloud.connect(url).call("GET", "namespaces")["namespaces"] == []
