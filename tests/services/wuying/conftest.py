"""How the WUYING tests reach the service, in-process and on the live server."""

from __future__ import annotations

import pytest
from alibabacloud_ecd20201002.client import Client as EcdClient

from tests.services.wuying.support import Backend, Session


@pytest.fixture
def backend_services():
    return ["wuying"]


@pytest.fixture
def make_backend():
    return Backend


@pytest.fixture
def ecd(backend) -> EcdClient:
    return backend.client()


@pytest.fixture
def server(mockcloud_server):
    return Backend(mockcloud_server.cloud, mockcloud_server.url)


@pytest.fixture
def alice(ecd) -> Session:
    """alice of the default fixtures, logged on with the tea SDK."""
    return Session.logon(ecd)
