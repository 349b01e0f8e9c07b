"""What a service's external model declares, read from the ``operations.json`` shipped beside its protocol.

``tools/model_operations.py`` writes each file from botocore's ``service-2.json``
or the Alibaba SDK's client, so the emulator knows at run time, without either,
which operations the real service has. An operation the model declares and no
``@operation`` carries out is *not emulated*: it answers :class:`NotEmulated`
(HTTP 501, code ``NotImplemented``) in its protocol's own error format, never the
service's "unknown operation" answer, which stays for names the model lacks.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ServiceError

# Where the coverage table lives: docs/coverage.md in the repository and in the built docs (``coverage/``).
COVERAGE_PAGE = "docs/coverage.md"
NOT_IMPLEMENTED = "NotImplemented"
FILE_NAME = "operations.json"


@dataclass(frozen=True)
class ModelOperations:
    """The operations one external model declares (``operations`` maps a name to its HTTP route, if REST)."""

    service: str  # the model's own name for the service, as IAM or RAM actions prefix it: license-manager, ecd
    title: str
    protocol: str
    api_version: str
    source: str  # what the file was generated from, with versions
    operations: Mapping[str, Mapping[str, str]]

    @classmethod
    def read(cls, path: Path) -> ModelOperations:
        document: dict[str, Any] = json.loads(path.read_text())
        operations = {name: MappingProxyType(dict(route)) for name, route in document["operations"].items()}
        return cls(
            document["service"],
            document["title"],
            document["protocol"],
            document["api_version"],
            document["source"],
            MappingProxyType(operations),
        )

    def routes(self) -> dict[str, tuple[str, str]]:
        """``{operation: (method, path template)}`` of a REST model (empty for the others)."""
        return {name: (route["method"], route["path"]) for name, route in self.operations.items() if route}


_read: dict[Path, ModelOperations | None] = {}
_lock = threading.Lock()


def beside(module: str) -> ModelOperations | None:
    """The model operations shipped beside the module ``module`` (a service's protocol), or None if none are."""
    found = sys.modules.get(module)
    file = getattr(found, "__file__", None)
    if file is None:
        return None
    path = Path(file).with_name(FILE_NAME)
    if path in _read:
        return _read[path]
    with _lock:
        if path not in _read:
            _read[path] = ModelOperations.read(path) if path.is_file() else None
        return _read[path]


def anchor(service: str) -> str:
    """The coverage page's section for a service (the heading is the service's model name)."""
    return f"{COVERAGE_PAGE}#{service.lower()}"


class NotEmulated(ServiceError):
    """The answer to an operation the service's model declares and mockcloud does not emulate (HTTP 501).

    A code of its own, ``NotImplemented``, that no emulated service answers for
    anything else, and a message naming the operation as an IAM (or RAM) action
    would, and the coverage page.
    """

    def __init__(self, service: str, operation: str, *, fields: dict[str, Any] | None = None) -> None:
        message = f"mockcloud does not emulate {service}:{operation}; see {anchor(service)}"
        super().__init__(NOT_IMPLEMENTED, message, 501, fields=fields, common=True)
        self.service = service
        self.operation = operation
