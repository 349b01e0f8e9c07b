"""How the STS tests reach STS (and License Manager, which issues its tokens), in-process and on the live server."""

from __future__ import annotations

import pytest

from tests.core.test_pruning import store  # noqa: F401  # the memory, SQLite and Redis stores, each a test
from tests.services.sts.support import Backend


@pytest.fixture
def backend_services():
    return ["licensemanager", "sts"]


@pytest.fixture
def make_backend():
    return Backend
