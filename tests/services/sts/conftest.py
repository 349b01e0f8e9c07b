"""How the STS tests reach STS (and License Manager, which issues its tokens), in-process and on the live server."""

from __future__ import annotations

import pytest

from tests.services.sts.support import Backend


@pytest.fixture
def backend_services():
    return ["licensemanager", "sts"]


@pytest.fixture
def make_backend():
    return Backend
