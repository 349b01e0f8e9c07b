"""mockcloud: an in-process and standalone emulator of cloud token APIs for tests.

Imports are lazy so that ``import mockcloud`` costs almost nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import hooks as _hooks
from .services import SERVICE_PACKAGES as _SERVICES  # a dict of names only: cheap
from .version import __version__ as __version__

__all__ = [
    "MockCloud",
    "MockCloudError",
    "NotEmulatedError",
    "ServiceError",
    "UnmockedRequestError",
    "connect",
    "current_mock",
    "mock_amplifyuibuilder",  # mock_<service>: one per service (tests check it against SERVICE_PACKAGES)
    "mock_cloud",
    "mock_devpay",
    "mock_licensemanager",
    "mock_sts",
    "mock_userapi",
    "mock_wuying",
]

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Awaitable, Callable
    from typing import ParamSpec, Protocol, TypeVar, overload

    from typing_extensions import Unpack

    from .core.errors import MockCloudError, NotEmulatedError, ServiceError, UnmockedRequestError
    from .mock import MockCloud, MockOptions, current_mock, mock_cloud
    from .remote import connect

    _P = ParamSpec("_P")
    _R = TypeVar("_R")
    _C = TypeVar("_C", bound=type)

    class _ServiceShortcut(Protocol):
        """``mock_<service>``: ``mock_cloud`` limited to one service (its options but ``services``)."""

        @overload
        def __call__(self, target: None = None, /, **options: Unpack[MockOptions]) -> MockCloud: ...

        @overload
        def __call__(self, target: _C, /) -> _C: ...

        @overload
        def __call__(self, target: Callable[_P, Awaitable[_R]], /) -> Callable[_P, Awaitable[_R]]: ...

        @overload
        def __call__(self, target: Callable[_P, _R], /) -> Callable[_P, _R]: ...

    mock_amplifyuibuilder: _ServiceShortcut
    mock_devpay: _ServiceShortcut
    mock_licensemanager: _ServiceShortcut
    mock_sts: _ServiceShortcut
    mock_userapi: _ServiceShortcut
    mock_wuying: _ServiceShortcut


def _serve_dashboard(cloud: MockCloud) -> object:
    """``cloud.dashboard()``'s server: the admin app over this very mock, on 127.0.0.1, in a thread."""
    from .server.app import AdminApp
    from .server.live import LiveServer

    return LiveServer(app=AdminApp(cloud)).start()


_hooks.serve_dashboard = _serve_dashboard


def __getattr__(name: str) -> object:
    if name in ("MockCloud", "mock_cloud", "current_mock"):
        from . import mock

        return getattr(mock, name)
    if name.startswith("mock_") and name[5:] in _SERVICES:  # mock_licensemanager, mock_devpay, ...: one per service
        from .mock import _service_shortcut

        value = _service_shortcut(name[5:])
        globals()[name] = value
        return value
    if name == "connect":
        from .remote import connect

        return connect
    if name in ("MockCloudError", "NotEmulatedError", "ServiceError", "UnmockedRequestError"):
        from .core import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'mockcloud' has no attribute {name!r}")
