"""Server mode: the same application over HTTP, plus admin endpoints under ``/_mockcloud/``."""
from .app import AdminApp, create_app
from .live import LiveServer

__all__ = ["AdminApp", "LiveServer", "create_app"]
