"""How the DevPay tests reach the License Service: REST-Query and SOAP URLs, in-process or on the server."""

from __future__ import annotations

import pytest

from tests.services.devpay.support import Backend, LsClient


@pytest.fixture
def backend_services():
    return ["devpay"]


@pytest.fixture
def make_backend():
    """Under the mock, requests and urllib are intercepted on the real host; the server takes SOAP on /devpay/."""

    def make(cloud, server_url):
        if server_url is None:
            return Backend(cloud, "https://ls.amazonaws.com/", "https://ls.amazonaws.com/")
        return Backend(cloud, server_url + "/", server_url + "/devpay/")

    return make


@pytest.fixture
def ls(backend) -> LsClient:
    return backend.client()
