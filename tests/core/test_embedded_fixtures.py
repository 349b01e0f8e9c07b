"""The package's own fixtures: checked here, once, rather than by every mock and server at start."""

from __future__ import annotations

import pytest

from mockcloud.core import fixtures
from mockcloud.core.errors import MockCloudError


def test_the_embedded_fixtures_match_the_fixtures_schema():
    fixtures.validate(fixtures.embedded(), "the embedded fixtures")


def test_a_file_of_ones_own_is_still_checked_at_load(tmp_path):
    path = tmp_path / "fixtures.json"
    path.write_text('{"userapi": {"users": "not a list"}}')
    with pytest.raises(MockCloudError, match="do not match the fixtures schema"):
        fixtures.load(path)
