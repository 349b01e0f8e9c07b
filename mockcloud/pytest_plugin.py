"""pytest plugin: the ``mockcloud`` and ``mockcloud_server`` fixtures and the ``mockcloud`` marker.

Installed as the ``pytest11`` entry point named after this module, so that
``-p mockcloud.pytest_plugin`` and ``pytest_plugins = ["mockcloud.pytest_plugin"]``
find it already loaded instead of registering it twice.
"""
from __future__ import annotations

import pytest


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "mockcloud(**options): run the test inside mock_cloud(**options) (services=[...], passthrough=[...], fixtures=...)",
    )


@pytest.fixture
def mockcloud(request):
    """An in-process mock for this test; options come from ``@pytest.mark.mockcloud(...)``."""
    from mockcloud.mock import MockCloud

    marker = request.node.get_closest_marker("mockcloud")
    options = dict(marker.kwargs) if marker else {}
    if marker and marker.args:  # mockcloud("licensemanager") or mockcloud("licensemanager", "devpay")
        options.setdefault("services", marker.args[0] if len(marker.args) == 1 else list(marker.args))
    with MockCloud(**options) as cloud:
        yield cloud


@pytest.fixture(autouse=True)
def _mockcloud_marker(request):
    """A test marked ``mockcloud`` runs under the mock even without asking for the fixture."""
    if request.node.get_closest_marker("mockcloud") is not None:
        request.getfixturevalue("mockcloud")
    yield


@pytest.fixture(scope="session")
def _mockcloud_live_server():
    from mockcloud.server.live import LiveServer

    with LiveServer("127.0.0.1", 0) as server:
        yield server


@pytest.fixture
def mockcloud_server(_mockcloud_live_server):
    """One live server per test session (per xdist worker), reset before each test.

    ``mockcloud_server.url`` is its base URL; ``.cloud`` is its mock, for the
    same helpers as in-process (clock, faults, credentials, services).
    """
    _mockcloud_live_server.cloud.reset()
    yield _mockcloud_live_server
