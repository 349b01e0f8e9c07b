"""The container page's YAML: the compose file is valid for docker-compose and is one emulator on one Redis;
the CI example's service is the image with its health check. (No daemon needed: `docker-compose config`.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.helpers import unavailable

PAGE = Path(__file__).resolve().parents[2] / "docs" / "container.md"
COMPOSE, CI = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)


def test_the_compose_file_is_valid_and_one_emulator_on_one_redis(tmp_path):
    compose = shutil.which("docker-compose")
    if compose is None:
        unavailable("docker-compose is not installed (.ci/packages installs it)")
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    run = subprocess.run(
        [compose, "--file", str(tmp_path / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    services = yaml.safe_load(run.stdout)["services"]
    emulators = {name: s for name, s in services.items() if s["image"] == "mockcloud"}
    assert len(emulators) == 2
    stores = {s["environment"]["MOCKCLOUD_STORE"] for s in emulators.values()}
    assert stores == {"redis://redis:6379/0"} and "redis" in services
    for name, service in emulators.items():
        assert name in service["environment"]["MOCKCLOUD_ALLOW_HOST"].split(",")  # its service name as Host
    published = sorted(p["published"] if isinstance(p, dict) else p for s in emulators.values() for p in s["ports"])
    assert len(set(map(str, published))) == 2


def test_the_ci_example_runs_the_image_as_a_service_the_plugin_uses():
    job = yaml.safe_load(CI)["jobs"]["test"]
    service = job["services"]["mockcloud"]
    assert service["image"].startswith("mockcloud") and service["ports"] == ["4566:4566"]
    assert job["env"]["MOCKCLOUD_URL"] == "http://localhost:4566"
    assert job["env"]["MOCKCLOUD_ADMIN_TOKEN"] == service["env"]["MOCKCLOUD_ADMIN_TOKEN"]
    assert "localhost" in service["env"]["MOCKCLOUD_ALLOW_HOST"]
