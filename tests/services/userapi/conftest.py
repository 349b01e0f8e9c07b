"""How the User API tests reach the service, in-process and on the live server."""

from __future__ import annotations

import pytest

from tests.services.userapi.support import Backend


@pytest.fixture
def backend_services():
    return ["userapi"]


@pytest.fixture
def make_backend():
    def make(cloud, server_url):
        backend = Backend(cloud, server_url)
        yield backend
        backend.http.close()

    return make


@pytest.fixture
def api(backend):
    return backend.cloud.userapi
