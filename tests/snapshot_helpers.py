"""What the services' snapshot tests share: take a snapshot, check it, restore it into a fresh mock (no tests here)."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import time_machine

from mockcloud import MockCloud, MockCloudError, mock_cloud
from mockcloud.core import fixtures

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def take(cloud: Any) -> dict[str, Any]:
    """``cloud.snapshot()``: in-process, or ``GET /_mockcloud/state`` through the remote handle."""
    return cloud.snapshot()  # type: ignore[no-any-return]


def check_document(document: dict[str, Any], services: list[str]) -> None:
    """JSON types only, and valid: against the whole fixtures schema, and each section against its own file."""
    assert json.loads(json.dumps(document, allow_nan=False)) == document
    fixtures.validate(document, "the snapshot")
    for name in services:
        jsonschema.Draft7Validator(json.loads((FIXTURES / f"{name}.schema.json").read_text())).validate(document[name])


def assert_refused(
    cloud: Any, document: dict[str, Any], service: str, corrupt: Callable[[dict[str, Any]], Any]
) -> None:
    """A restore of ``document`` with ``service``'s section corrupted fails, and leaves the mock as it was."""
    bad = copy.deepcopy(document)
    corrupt(bad[service])
    with pytest.raises(MockCloudError):
        cloud.restore(bad)
    assert take(cloud) == document


@contextlib.contextmanager
def restored(cloud: Any, server_url: str | None, document: dict[str, Any], services: list[str]) -> Iterator[Any]:
    """A fresh mock with ``document`` restored: a new in-process mock (clients reach it while it runs),
    or the live server reset and restored."""
    if server_url is None:
        with mock_cloud(services=services) as fresh:
            fresh.restore(document)
            yield fresh
    else:
        cloud.reset()
        cloud.restore(document)
        yield cloud


class FrozenTime:
    """The mock's clock frozen, so that a snapshot taken twice is the same, and moved on demand.

    boto3 signs with this process's time: against the server (whose clock is its own), this
    process travels along with it, so that signatures stay within the allowed skew.
    """

    def __init__(self, cloud: Any, server_url: str | None) -> None:
        self.cloud, self.server_url = cloud, server_url
        self._travel: Any = None
        self._traveller: Any = None

    def __enter__(self) -> FrozenTime:
        self.cloud.clock.freeze()
        if self.server_url is not None:
            self._travel = time_machine.travel(self.cloud.clock.time(), tick=False)
            self._traveller = self._travel.start()
        return self

    def advance(self, seconds: float) -> None:
        self.cloud.clock.advance(seconds)
        if self._traveller is not None:
            self._traveller.shift(seconds)

    def __exit__(self, *exc: object) -> None:
        if self._travel is not None:
            self._travel.stop()


@contextlib.contextmanager
def started_from(document: dict[str, Any], folder: Path, services: list[str]) -> Iterator[Any]:
    """A new in-process mock whose fixtures file is ``document`` saved, its clock put where the snapshot's was
    (fixtures leave the clock alone)."""
    path = folder / "state.json"
    path.write_text(json.dumps(document, indent=2))
    with mock_cloud(services=services, fixtures=path) as saved:
        saved.clock.freeze(document["clock"]["now"])
        yield saved


@contextlib.contextmanager
def restored_backend(backend: Any, document: dict[str, Any]) -> Iterator[Any]:
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
