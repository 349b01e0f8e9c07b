"""Test-suite set-up, and the one ``backend`` fixture.

``backend`` runs a test twice: in-process under the mock, and against the
session's live server. A folder (``tests/services/<name>/conftest.py``), or a
module that reaches the emulator its own way, says only what the test gets:

- ``make_backend``: a callable ``(cloud, server_url) -> backend`` (``server_url``
  is None in-process), often the class itself. When the backend needs set-up
  or clean-up around the test, the callable yields it instead, as a fixture does.
- ``backend_services``: the services the in-process mock emulates (None: all).

Whatever ``make_backend`` builds keeps the mock as ``.cloud`` (the ``cloud`` fixture).
"""

# pytester restores sys.modules after each test that uses it; a module that
# mockcloud imported lazily during such a test would be dropped and imported
# anew, and cryptography's Rust classes do not survive that. Import them once.
import contextlib
import http.server
import inspect
import threading

import jwt.algorithms  # noqa: F401
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: F401

from mockcloud import mock_cloud

BACKENDS = ["in-process", "server"]


@pytest.fixture
def backend_services():
    """The services of the in-process mock that ``backend`` starts: every one, unless a folder says otherwise."""
    return None


@pytest.fixture(params=BACKENDS)
def backend(request, backend_services, make_backend):
    """Each test twice: in-process under ``mock_cloud(services=backend_services)``, and against the
    session's live server (the plugin's ``mockcloud_server``); the test gets ``make_backend(cloud, server_url)``."""
    with contextlib.ExitStack() as stack:
        if request.param == "in-process":
            cloud, server_url = stack.enter_context(mock_cloud(services=backend_services)), None
        else:
            server = request.getfixturevalue("mockcloud_server")
            cloud, server_url = server.cloud, server.url
        if inspect.isgeneratorfunction(make_backend):
            yield stack.enter_context(contextlib.contextmanager(make_backend)(cloud, server_url))
        else:
            yield make_backend(cloud, server_url)


@pytest.fixture
def cloud(backend):
    """The mock behind ``backend`` (in-process, or the live server's): every backend keeps it as ``.cloud``."""
    return backend.cloud


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


@pytest.fixture
def own_cloud(request, backend):
    """The emulator's own in-process mock, whichever backend: for the few checks that read what never
    leaves the emulator (a password's hash); the live server of the session runs in this process."""
    if request.node.callspec.params.get("backend") == "server":
        return request.getfixturevalue("mockcloud_server").server.cloud
    return backend.cloud
