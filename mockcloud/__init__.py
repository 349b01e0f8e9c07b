"""mockcloud: an in-process and standalone emulator of cloud token APIs for tests.

Imports are lazy so that ``import mockcloud`` costs almost nothing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
from .services import SERVICE_PACKAGES as _SERVICES  # a dict of names only: cheap

__all__ = [
    "MockCloud",
    "MockCloudError",
    "ServiceError",
    "UnmockedRequestError",
    "connect",
    "current_mock",
    "mock_cloud",
    *(f"mock_{name}" for name in _SERVICES),
]

if TYPE_CHECKING:  # pragma: no cover
    from .core.errors import MockCloudError, ServiceError, UnmockedRequestError
    from .mock import MockCloud, current_mock, mock_cloud
    from .remote import connect

def __getattr__(name: str):
    if name in ("MockCloud", "mock_cloud", "current_mock"):
        from . import mock

        return getattr(mock, name)
    if name.startswith("mock_"):
        if name[5:] in _SERVICES:  # mock_licensemanager, mock_devpay, ...: one per service
            from .mock import _service_shortcut

            value = _service_shortcut(name[5:])
            globals()[name] = value
            return value
    if name == "connect":
        from .remote import connect

        return connect
    if name in ("MockCloudError", "ServiceError", "UnmockedRequestError"):
        from .core import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'mockcloud' has no attribute {name!r}")
