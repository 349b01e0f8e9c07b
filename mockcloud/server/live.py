"""A mockcloud server on a werkzeug threaded server, in a background thread or in the foreground."""
from __future__ import annotations

import threading
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import AdminApp, create_app


class QuietHandler(WSGIRequestHandler):
    """No per-request access log line: it costs more than answering the request."""

    def log_request(self, code="-", size="-"):
        pass


class LiveServer:
    """``with LiveServer() as server: server.url`` — a real HTTP endpoint on loopback."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, fixtures: str | Path | None = None, app: AdminApp | None = None, quiet: bool = True):
        self.app = app or create_app(fixtures)
        self._server = make_server(host, port, self.app, threaded=True, request_handler=QuietHandler if quiet else None)
        self.host = host
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def cloud(self):
        return self.app.cloud

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> "LiveServer":
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"mockcloud-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
