"""The container tests' Docker: a daemon (started here when none runs, stopped by whoever started it), the
Debian base, the image, and containers on the host's network that are removed after each test.

Without Docker (no root to start dockerd, no docker.io) these tests skip with the reason; in CI
(``CI=true``) they fail, since .ci/packages installs docker.io and debootstrap there.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.container import images
from tests.helpers import unavailable


@pytest.fixture(scope="session")
def docker_daemon():
    daemon = images.Daemon()
    try:
        daemon.start()
    except images.Unavailable as exc:
        daemon.me.unlink(missing_ok=True)
        unavailable(str(exc))
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def base(docker_daemon) -> str:
    try:
        return images.base_image()
    except images.Unavailable as exc:
        unavailable(str(exc))
        raise


@pytest.fixture(scope="session")
def image(base) -> str:
    return images.build_image(base)


@pytest.fixture(scope="session")
def redis_image(base) -> str:
    return images.redis_image(base)


class Container:
    """One container on the host's network (``docker run -d --network host``)."""

    def __init__(self, image: str, *args: str, env: dict[str, str] | None = None, volumes: tuple[str, ...] = ()):
        command = ["run", "-d", "--network", "host"]
        for key, value in (env or {}).items():
            command += ["-e", f"{key}={value}"]
        for volume in volumes:
            command += ["-v", volume]
        self.id = images.docker(*command, image, *args).stdout.strip()

    def logs(self) -> str:
        run = images.docker("logs", self.id, check=False)
        return run.stdout + run.stderr

    def inspect(self, template: str) -> str:
        return images.docker("inspect", "--format", template, self.id).stdout.strip()

    def wait_until_answering(self, port: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if images.health_answers(port):
                return
            if self.inspect("{{.State.Running}}") != "true":
                pytest.fail(f"the container stopped at start:\n{self.logs()}")
            time.sleep(0.05)
        pytest.fail(f"the container did not answer on port {port} within {timeout} s:\n{self.logs()}")

    def stop_with(self, signal: str = "TERM", timeout: float = 60) -> tuple[int, float]:
        """Send ``signal``; the exit status and the seconds until the container had exited."""
        started = time.monotonic()
        images.docker("kill", "--signal", signal, self.id)
        status = int(images.docker("wait", self.id, timeout=timeout).stdout.strip())
        return status, time.monotonic() - started


@pytest.fixture
def run_container():
    """``run_container(image, *args, env=..., volumes=...)``: a started container, removed after the test."""
    started: list[Container] = []

    def run(image: str, *args: str, **options) -> Container:
        container = Container(image, *args, **options)
        started.append(container)
        return container

    yield run
    if started:  # one call: the daemon removes them side by side
        images.docker("rm", "--force", "--volumes", *(container.id for container in started), check=False)


@pytest.fixture
def volume(docker_daemon):
    """A named Docker volume for --state, removed after the test."""
    name = f"mockcloud-test-{uuid.uuid4().hex[:12]}"
    images.docker("volume", "create", name)
    yield name
    users = images.docker("ps", "--all", "--quiet", "--filter", f"volume={name}", check=False).stdout.split()
    if users:  # containers of this test still hold it (fixtures end in any order)
        images.docker("rm", "--force", *users, check=False)
    images.docker("volume", "rm", "--force", name, check=False)
