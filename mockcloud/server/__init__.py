"""Server mode: the same application over HTTP, plus admin endpoints under ``/_mockcloud/``."""

from .app import AdminApp, create_app
from .guard import AdminGuard
from .live import LiveServer
from .serving import ServerLimits

__all__ = ["AdminApp", "AdminGuard", "LiveServer", "ServerLimits", "create_app"]
