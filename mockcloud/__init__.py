"""mockcloud: an in-process and standalone emulator of cloud token APIs for tests.

Imports are lazy so that ``import mockcloud`` costs almost nothing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = [
    "MockCloud",
    "MockCloudError",
    "ServiceError",
    "UnmockedRequestError",
    "current_mock",
    "mock_cloud",
    "mock_licensemanager",
]

if TYPE_CHECKING:  # pragma: no cover
    from .core.errors import MockCloudError, ServiceError, UnmockedRequestError
    from .mock import MockCloud, current_mock, mock_cloud

_SHORTCUTS = {"mock_licensemanager": "licensemanager"}


def __getattr__(name: str):
    if name in ("MockCloud", "mock_cloud", "current_mock"):
        from . import mock

        return getattr(mock, name)
    if name in _SHORTCUTS:
        from .mock import _service_shortcut

        value = _service_shortcut(_SHORTCUTS[name])
        globals()[name] = value
        return value
    if name in ("MockCloudError", "ServiceError", "UnmockedRequestError"):
        from .core import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'mockcloud' has no attribute {name!r}")
