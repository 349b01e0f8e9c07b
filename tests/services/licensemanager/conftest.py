"""How the License Manager tests reach the service, in-process and on the live server."""

from __future__ import annotations

import pytest

from tests.services.licensemanager.support import Backend


@pytest.fixture
def backend_services():
    return ["licensemanager"]


@pytest.fixture
def make_backend():
    return Backend


@pytest.fixture
def lm(backend):
    """A boto3 client of the backend; its mock is ``lm.cloud``."""
    client = backend.client()
    client.cloud = backend.cloud
    return client
