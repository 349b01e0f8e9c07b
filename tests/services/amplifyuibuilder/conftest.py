"""How the Amplify UI Builder tests reach the service, in-process and on the live server."""

from __future__ import annotations

import pytest

from tests.services.amplifyuibuilder.support import Backend


@pytest.fixture
def backend_services():
    return ["amplifyuibuilder"]


@pytest.fixture
def make_backend():
    return Backend


@pytest.fixture
def ui(backend):
    return backend.client()
