"""What the services' snapshot tests share: a restored backend, the checks of a document, and a server of one service.

A test module imports ``mockcloud_server`` and ``one_service_server`` from here
and names its service in ``SERVICE``: its ``backend`` then runs against a live
server of that service alone, whose state document holds that section and no
other's (so the module checks what its service owns, whatever the others can do).
"""
from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mockcloud import MockCloud, mock_cloud
from mockcloud.core import fixtures
from mockcloud.pytest_plugin import ServerHandle
from mockcloud.remote import connect
from mockcloud.server.app import create_app
from mockcloud.server.live import LiveServer


@pytest.fixture(scope="module")
def one_service_server(request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    """A live server on loopback that emulates the test module's ``SERVICE`` only."""
    with LiveServer(app=create_app(services=[request.module.SERVICE])) as server:
        yield ServerHandle(server.url, connect(server.url), server)


@pytest.fixture
def mockcloud_server(one_service_server: ServerHandle) -> ServerHandle:
    """What ``backend`` runs against over HTTP in these modules: the one-service server, reset for each test."""
    one_service_server.cloud.reset()
    return one_service_server


@contextlib.contextmanager
def restored(backend: Any, document: dict[str, Any]) -> Iterator[Any]:
    """``backend`` again, over an emulator that knows nothing but ``document``.

    In-process that is a new ``mock_cloud()`` (it takes the requests while it
    runs); over HTTP it is the same server, reset to its fixtures first, so
    nothing the test did before survives but what the document holds.
    """
    cloud = backend.cloud
    if isinstance(cloud, MockCloud):
        with mock_cloud(services=cloud.service_names) as fresh:
            fresh.restore(document)
            again = copy.copy(backend)
            again.cloud = fresh
            yield again
    else:
        cloud.reset()
        cloud.restore(document)
        yield backend


def assert_valid(document: dict[str, Any], service: str) -> None:
    """The document is a snapshot the fixtures schema accepts, and JSON through and through."""
    assert json.loads(json.dumps(document)) == document
    jsonschema.Draft7Validator(fixtures.schema()).validate(document)
    fixtures.validate(document, "the snapshot")
    section_schema = fixtures.schema()["properties"][service]
    assert section_schema["additionalProperties"] is False
    assert set(document[service]) <= set(section_schema["properties"])


def saved(document: dict[str, Any], folder: Path) -> Path:
    """The document as a fixtures file: what ``mockcloud server --fixtures`` and ``mock_cloud(fixtures=)`` take."""
    path = folder / "state.json"
    path.write_text(json.dumps(document, indent=1))
    return path
