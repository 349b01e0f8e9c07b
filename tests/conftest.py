"""Test-suite set-up."""

# pytester restores sys.modules after each test that uses it; a module that
# mockcloud imported lazily during such a test would be dropped and imported
# anew, and cryptography's Rust classes do not survive that. Import them once.
import jwt.algorithms  # noqa: F401
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: F401


import http.server
import threading

import pytest


@pytest.fixture
def loopback_server():
    """A real HTTP server on 127.0.0.1: what passthrough must reach, and what a stopped mock must not hide."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"real loopback"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
