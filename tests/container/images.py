"""Docker for the container tests and the container benchmark: the daemon, a Debian base, the image, a Redis image.

No image registry is reachable here, so everything is made locally:

- the daemon: ``dockerd`` from Debian's ``docker.io``, started when none runs (as root) and stopped by the
  process that started it once no other test process uses it (``Daemon``);
- the base: ``debootstrap --variant=minbase`` of Debian's packages, then ``docker import``, tagged by a hash of
  its package list, so it is made once and found again (``base_image``);
- the image: the checkout's ``Dockerfile`` on that base, built with ``--network none`` from a wheelhouse made
  on this machine (``build_image``), tagged by a hash of everything that goes into it;
- Redis: the base with Debian's ``redis-server`` (``redis_image``).

Every container runs with ``--network host`` and binds 127.0.0.1, so all traffic stays on loopback.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
WORK = Path(tempfile.gettempdir()) / "mockcloud-container-tests"  # shared by every test process on this machine
OFFLINE = "--no-index --find-links=/src/wheels"  # pip's options in the build: the wheelhouse in the context
PLATFORMS = ("manylinux_2_36_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


class Unavailable(Exception):
    """Docker cannot be had here: the reason (the tests skip with it, or fail in CI)."""


def docker(*args: str, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},  # the classic builder: Debian's daemon has no buildx
        **kwargs,
    )
    if check and run.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}... failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return run


def daemon_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return docker("version", "--format", "{{.Server.Version}}", check=False, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@contextlib.contextmanager
def locked(name: str = "lock") -> Iterator[None]:
    """One test process at a time (xdist workers, parallel runs) for what builds or starts something shared."""
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / name, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Daemon:
    """The Docker daemon for this process: one already running, or ``dockerd`` started here (as root).

    Each process that uses it registers in ``WORK/users``; the process that started it stops it when it
    is done and no other registered process is alive.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.users = WORK / "users"
        self.me = self.users / str(os.getpid())

    def start(self) -> Daemon:
        if shutil.which("docker") is None:
            raise Unavailable("the docker client is not installed (.ci/packages installs docker.io)")
        with locked():
            self.users.mkdir(parents=True, exist_ok=True)
            self.me.touch()
            if daemon_answers():
                return self
            dockerd = shutil.which("dockerd")
            if dockerd is None:
                raise Unavailable(
                    "no Docker daemon runs and dockerd is not installed (.ci/packages installs docker.io)"
                )
            if os.geteuid() != 0:
                raise Unavailable("no Docker daemon runs, and starting dockerd needs root")
            for entry in self.users.iterdir():  # nobody uses a daemon that does not run: left by ended runs
                if entry != self.me:
                    entry.unlink(missing_ok=True)
            log = open(WORK / "dockerd.log", "ab")  # noqa: SIM115  # the daemon's, for as long as it runs
            self.process = subprocess.Popen([dockerd], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 120
            while not daemon_answers():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = (WORK / "dockerd.log").read_text(errors="replace")[-2000:]
                    self.process.kill()
                    raise Unavailable(f"dockerd did not come up:\n{tail}")
                time.sleep(0.2)
        return self

    def stop(self) -> None:
        """This process is done with Docker; the daemon stops if this process started it and nobody else uses it."""
        self.me.unlink(missing_ok=True)
        if self.process is None:
            return
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline and self._others_alive():
            time.sleep(1)
        with locked():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def _others_alive(self) -> bool:
        alive = False
        for entry in self.users.iterdir():
            try:
                os.kill(int(entry.name), 0)
                alive = True
            except (ValueError, ProcessLookupError):
                entry.unlink(missing_ok=True)  # a process that ended without saying so
            except PermissionError:
                alive = True
        return alive


def image_exists(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False, timeout=60).returncode == 0


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:12]


def _once(tag: str, make: Callable[[Path], None]) -> str:
    """``tag`` if Docker has it, else made by ``make(folder)`` in a temporary folder; one process at a time."""
    with locked():
        if not image_exists(tag):
            with tempfile.TemporaryDirectory(prefix="mockcloud-image-") as where:
                make(Path(where))
    return tag


def base_image() -> str:
    """Debian's minbase with python3 and its venv module, made once per package list (debootstrap, docker import)."""
    tag = f"mockcloud-test-base:{_digest(SUITE.encode(), MIRROR.encode(), ' '.join(BASE_PACKAGES).encode())}"

    def make(where: Path) -> None:
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
        if not Path(debootstrap).exists():
            raise Unavailable("debootstrap is not installed (.ci/packages installs it)")
        root = where / "root"
        packages = f"--include={','.join(BASE_PACKAGES)}"
        _run([debootstrap, "--variant=minbase", packages, SUITE, str(root), MIRROR], "debootstrap", 1800)
        # the package cache and lists are not part of the base (what `apt-get clean` would remove)
        clean = ["--exclude=./var/cache/apt/archives/*.deb", "--exclude=./var/lib/apt/lists/*"]
        tar = subprocess.Popen(["tar", "-C", str(root), *clean, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["docker", "import", "-", tag], stdin=tar.stdout, capture_output=True, text=True, timeout=600, check=False
        )
        tar.wait(timeout=600)
        if imported.returncode != 0 or tar.returncode != 0:
            raise RuntimeError(f"docker import failed: {imported.stderr[-2000:]}")

    return _once(tag, make)


def _image_inputs() -> list[bytes]:
    files = [ROOT / "Dockerfile", ROOT / "setup.cfg", ROOT / "pyproject.toml"]
    for folder in ("mockcloud", "fixtures"):
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return [str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() for p in files]


def build_image(base: str) -> str:
    """The checkout's Dockerfile on ``base``, built offline (``--network none``) from a wheelhouse made here."""
    tag = f"mockcloud-test:{_digest(base.encode(), *_image_inputs())}"

    def make(context: Path) -> None:
        shutil.copy(ROOT / "Dockerfile", context / "Dockerfile")
        make_wheelhouse(base, context / "wheels")
        options = ["--build-arg", "PACKAGE=mockcloud[redis]", "--build-arg", f"PIP_OPTIONS={OFFLINE}"]
        docker("build", "--quiet", "--network", "none", "--build-arg", f"BASE={base}", *options, "--tag", tag,
               str(context), timeout=1200)  # fmt: skip
        _forget_older_builds(tag)

    return _once(tag, make)


def _forget_older_builds(tag: str) -> None:
    """Images of earlier checkouts, and the build stages left untagged, are of no further use: removed."""
    repository = tag.split(":", 1)[0]
    listed = docker("images", "--format", "{{.Repository}}:{{.Tag}}", repository).stdout.split()
    older = [name for name in listed if name != tag]
    if older:
        docker("rmi", *older, check=False)
    docker("image", "prune", "--force", check=False)


def _run(argv: list[str], what: str, timeout: float) -> None:
    run = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"{what} failed ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")


def _pip(*args: str) -> None:
    _run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "-q"], f"pip {args[0]}", 900)


def make_wheelhouse(base: str, wheels: Path) -> None:
    """The mockcloud wheel built from the checkout, and every dependency's wheel for the base's own Python.

    pip on this machine downloads them for the base's Python version and platform; what it cannot tell
    from here (markers on the full version, such as redis's ``python_full_version < "3.11.3"``) the base's
    own pip names, offline, and the next round downloads it.
    """
    wheels.mkdir(parents=True, exist_ok=True)
    _pip("wheel", "--no-deps", "--wheel-dir", str(wheels), str(ROOT))
    version = docker(
        "run", "--rm", "--network", "none", base, "python3", "-c", "import platform; print(platform.python_version())"
    )
    target = ["--only-binary=:all:", "--python-version", version.stdout.strip(), "--implementation", "cp"]
    for platform in PLATFORMS:
        target += ["--platform", platform]
    wanted = [f"{next(wheels.glob('mockcloud-*.whl'))}[redis]"]
    for _ in range(5):
        _pip("download", *target, "--dest", str(wheels), *wanted)
        check = docker(
            "run", "--rm", "--network", "none", "-v", f"{wheels}:/wheels:ro", base, "sh", "-c",
            "python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --dry-run --no-index --find-links /wheels "
            "--disable-pip-version-check 'mockcloud[redis]'",
            check=False,
        )  # fmt: skip
        if check.returncode == 0:
            return
        wanted = re.findall(r"No matching distribution found for (\S+)", check.stderr)
        if not wanted:
            raise RuntimeError(f"the wheelhouse does not install on {base}:\n{check.stderr[-3000:]}")
    raise RuntimeError(f"the wheelhouse still misses {wanted}")


REDIS_DOCKERFILE = """ARG BASE
FROM ${BASE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
USER redis
ENTRYPOINT ["redis-server"]
"""


def redis_image(base: str) -> str:
    """Redis from Debian's package on the base (no registry here), made once per base."""
    tag = f"mockcloud-test-redis:{_digest(base.encode(), REDIS_DOCKERFILE.encode())}"

    def make(context: Path) -> None:
        (context / "Dockerfile").write_text(REDIS_DOCKERFILE)
        docker("build", "--quiet", "--network", "host", "--build-arg", f"BASE={base}", "--tag", tag, str(context))

    return _once(tag, make)


def health_answers(port: int, path: str = "/_mockcloud/health") -> bool:
    """Whether GET ``path`` on 127.0.0.1:``port`` answers 200 now."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
