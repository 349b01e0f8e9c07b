"""pytest plugin: the ``mockcloud`` and ``mockcloud_server`` fixtures and the ``mockcloud`` marker.

Installed as the ``pytest11`` entry point named after this module, so that
``-p mockcloud.pytest_plugin`` and ``pytest_plugins = ["mockcloud.pytest_plugin"]``
find it already loaded instead of registering it twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mockcloud.mock import MockCloud
    from mockcloud.remote import RemoteCloud
    from mockcloud.server.live import LiveServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockcloud(**options): run the test inside mock_cloud(**options) "
        "(services=[...], passthrough=[...], fixtures=...)",
    )


@pytest.fixture
def mockcloud(request: pytest.FixtureRequest) -> Iterator[MockCloud]:
    """An in-process mock for this test; options come from ``@pytest.mark.mockcloud(...)``."""
    from mockcloud.mock import MockCloud

    marker = request.node.get_closest_marker("mockcloud")
    options = dict(marker.kwargs) if marker else {}
    if marker and marker.args:  # mockcloud("licensemanager") or mockcloud("licensemanager", "devpay")
        options.setdefault("services", marker.args[0] if len(marker.args) == 1 else list(marker.args))
    with MockCloud(**options) as cloud:
        yield cloud


@pytest.fixture(autouse=True)
def _mockcloud_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked ``mockcloud`` runs under the mock even without asking for the fixture."""
    if request.node.get_closest_marker("mockcloud") is not None:
        request.getfixturevalue("mockcloud")
    yield


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--mockcloud-url",
        default=None,
        help="use the mockcloud server at this URL for the mockcloud_server fixture (default: $MOCKCLOUD_URL, "
        "else one started per session on loopback); each test process gets a namespace of its own there",
    )
    parser.addoption(
        "--mockcloud-shared",
        action="store_true",
        default=False,
        help="with --mockcloud-url: use that server's own state, not a namespace (one test process at a time)",
    )


class ServerHandle:
    """What ``mockcloud_server`` gives: ``url``, ``cloud`` (the remote handle), and ``server``.

    ``server`` is the :class:`~mockcloud.server.LiveServer` when it runs in
    this process, else None (a server given by ``--mockcloud-url``). There,
    ``url`` is this test process's own namespace on that server, and
    ``namespace`` its name.
    """

    def __init__(
        self, url: str, cloud: RemoteCloud, server: LiveServer | None = None, namespace: str | None = None
    ) -> None:
        from urllib.parse import urlsplit

        self.url, self.cloud, self.server, self.namespace = url, cloud, server, namespace
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def __repr__(self) -> str:
        return f"<mockcloud server {self.url}>"


@pytest.fixture(scope="session")
def _mockcloud_live_server(request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    import os

    from mockcloud.remote import connect

    url = request.config.getoption("--mockcloud-url", default=None) or os.environ.get("MOCKCLOUD_URL")
    if url:
        url = url.rstrip("/")
        if request.config.getoption("--mockcloud-shared", default=False):
            yield ServerHandle(url, connect(url))
            return
        with connect(url).new_namespace(_process_name(request.config)) as own:
            yield ServerHandle(own.url, own, namespace=own.namespace)
        return
    from mockcloud.server.live import LiveServer

    with LiveServer("127.0.0.1", 0) as server:
        yield ServerHandle(server.url, connect(server.url), server)


@pytest.fixture
def mockcloud_server(_mockcloud_live_server: ServerHandle) -> Iterator[ServerHandle]:
    """One live server per test session (per xdist worker), reset before each test.

    ``mockcloud_server.url`` is its base URL; ``.cloud`` is its remote handle
    (:func:`mockcloud.connect`), with the same surface as the in-process mock:
    clock, faults, credentials, requests, and every helper of every service.
    It works the same against a server in another process or container
    (``--mockcloud-url`` or ``$MOCKCLOUD_URL``).
    """
    _mockcloud_live_server.cloud.reset()
    yield _mockcloud_live_server


def _process_name(config: pytest.Config) -> str:
    """This test process's part of a namespace name: the xdist worker (gw0...) or "main", and the CI job if any."""
    import os

    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    job = os.environ.get("MOCKCLOUD_NAMESPACE_PREFIX", "")
    return f"{job}-{worker}" if job else worker
