"""User API state through a snapshot: a restored emulator goes on with every token exactly where it stood.

Tests that take ``backend`` run in-process (the snapshot restored into a new
``mock_cloud()``) and against a live server of the User API alone (``GET``/``PUT
/_mockcloud/state``, the server reset in between); the client is requests.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import pytest

from mockcloud import mock_cloud
from mockcloud.core.errors import MockCloudError
from tests.services.userapi.support import DEFAULT_BASE, PASSWORD, USERNAME
from tests.services.userapi.test_userapi import problem
from tests.snapshot_helpers import assert_valid, restored_backend, saved

SECOND = "https://second.example/api"
BYTES_KEY = bytes(range(200, 248))  # 48 bytes, not UTF-8: a key JSON cannot hold as text


def _digest(refresh_token: str) -> str:
    return base64.b64encode(hashlib.sha256(refresh_token.encode()).digest()).decode()


def rich_state(backend) -> dict:
    """Two mounts (one with a bytes key and a grace period), users old and new, and token families in every state."""
    cloud = backend.cloud
    cloud.clock.freeze(int(cloud.clock.time()))
    api = cloud.userapi
    api.mount(SECOND, signing_key=BYTES_KEY, reuse_grace_seconds=30, access_token_seconds=600, instance_id="7")
    api.create_user("carol", "carol-password", base_url=SECOND, roles=[{"RoleID": 2, "RoleName": "Reader"}])
    api.create_user("dave", "dave-password", user_id=42, base_url=SECOND)
    api.create_user("erin", "erin-password")
    state = {"live": backend.tokens()}  # a pair never refreshed
    rotated_from = backend.tokens()
    state["rotated_from"] = rotated_from
    state["rotated"] = backend.refresh(rotated_from).json()  # the first token retired, its successor live
    logged_out = backend.tokens("erin", "erin-password")
    assert backend.logout(logged_out["accessToken"]).status_code == 204
    state["logged_out"] = logged_out
    reused = backend.tokens()
    backend.refresh(reused)
    problem(backend.refresh(reused), 401, "invalid_token", "reused")  # the family revoked for reuse
    state["reused"] = reused
    # on the second mount, a retry within the grace period replaced a rotation's pair
    first = backend.tokens("carol", "carol-password", base=SECOND)
    given_way = backend.refresh(first, base=SECOND).json()
    retried = backend.refresh(first, base=SECOND).json()
    state.update(carol_first=first, carol_given_way=given_way, carol_retried=retried)
    state["dave"] = backend.tokens("dave", "dave-password", base=SECOND)
    cloud.clock.advance(seconds=10)
    return state


def test_the_round_trip_is_exact_and_every_token_keeps_its_rules(backend):
    state = rich_state(backend)
    document = backend.cloud.snapshot()
    assert_valid(document, "userapi")
    text = json.dumps(document)
    # secrets the model keeps only as digests stay digests: no refresh token, no password
    for pair in state.values():
        assert pair["refreshToken"] not in text and _digest(pair["refreshToken"]) in text
    for password in (PASSWORD, "carol-password", "dave-password", "erin-password"):
        assert password not in text
    second = document["userapi"]["mounts"][1]
    assert base64.b64decode(second["signing_key_base64"]) == BYTES_KEY and second["settings"]["signing_key"] is None

    with restored_backend(backend, document) as again:
        assert again.cloud.snapshot() == document
        api = again.cloud.userapi
        assert api.signing_key(SECOND) == BYTES_KEY
        assert [m.base_url for m in api.mounts] == [DEFAULT_BASE, SECOND]
        # a live pair: the access token works, the refresh token redeems once
        live = state["live"]
        assert again.me(live["accessToken"]).json()["username"] == USERNAME
        renewed = again.refresh(live)
        assert renewed.status_code == 200, renewed.text
        renewed = renewed.json()
        problem(again.me(live["accessToken"]), 401, "invalid_token", "revoked")
        assert again.me(renewed["accessToken"]).status_code == 200
        # presented again it is reuse: the whole family goes, the pair it gave too
        problem(again.refresh(live), 401, "invalid_token", "reused")
        problem(again.me(renewed["accessToken"]), 401, "invalid_token", "revoked")
        # a token retired before the snapshot is reuse after it
        assert again.me(state["rotated"]["accessToken"]).status_code == 200
        problem(again.refresh(state["rotated_from"]), 401, "invalid_token", "reused")
        problem(again.me(state["rotated"]["accessToken"]), 401, "invalid_token", "revoked")
        # revoked stays revoked, whether by logout or by reuse
        problem(again.refresh(state["logged_out"]), 401, "invalid_token", "revoked")
        problem(again.me(state["reused"]["accessToken"]), 401, "invalid_token", "revoked")
        # the pair a retry replaced stays replaced; the retry's pair is the session's
        problem(again.refresh(state["carol_given_way"], base=SECOND), 401, "invalid_token", "revoked")
        assert again.me(state["carol_retried"]["accessToken"], base=SECOND).json()["roles"] == [
            {"RoleID": 2, "RoleName": "Reader"}
        ]
        # the mount's own settings: 600-second access tokens, signed with the bytes key
        dave = state["dave"]
        assert again.me(dave["accessToken"], base=SECOND).json() == {
            "userID": "42",
            "username": "dave",
            "instanceID": "7",
            "roles": [],
        }
        again.cloud.clock.advance(seconds=590)
        problem(again.me(dave["accessToken"], base=SECOND), 401, "invalid_token", "expired")
        assert again.refresh(dave, base=SECOND).status_code == 200
        # passwords still log in from their hashes; a wrong one is still refused
        assert again.login("carol", "carol-password", base=SECOND).status_code == 200
        problem(again.login("carol", "not-her-password", base=SECOND), 401, "invalid_credentials")
        assert api.create_user("frank", "frank-password", base_url=SECOND).user_id == "2"  # carol has "1"


def test_a_restored_seeded_mock_goes_on_as_the_original_would():
    """Restoring draws nothing from the seeded sequence: the next tokens, ids and keys are the original's."""

    def next_steps(cloud, pair: dict) -> list:
        from tests.services.userapi.support import Backend

        client = Backend(cloud)
        out = [client.refresh(pair).json(), client.tokens("erin", "erin-password")]
        mount = cloud.userapi.mount("https://third.example")
        out.append(mount.key)
        out.append(cloud.userapi.create_user("gina", "gina-password", base_url="https://third.example").salt)
        client.http.close()
        return out

    from tests.services.userapi.support import Backend

    with mock_cloud(services=["userapi"], seed=11) as original:
        backend = Backend(original)
        state = rich_state(backend)
        document = original.snapshot()
        expected = next_steps(original, state["live"])
    with mock_cloud(services=["userapi"]) as fresh:
        fresh.restore(document)
        assert fresh.seed == 11
        assert next_steps(fresh, state["live"]) == expected


def test_a_saved_snapshot_serves_as_fixtures(tmp_path):
    from tests.services.userapi.support import Backend

    with mock_cloud(services=["userapi"]) as cloud:
        backend = Backend(cloud)
        state = rich_state(backend)
        document = cloud.snapshot()
    path = saved(document, tmp_path)
    with mock_cloud(services=["userapi"], fixtures=path) as cloud:
        cloud.clock.freeze(document["clock"]["now"])
        assert cloud.snapshot()["userapi"] == document["userapi"]
        backend = Backend(cloud)
        assert backend.refresh(state["live"]).status_code == 200
        problem(backend.refresh(state["live"]), 401, "invalid_token", "reused")
        problem(backend.refresh(state["logged_out"]), 401, "invalid_token", "revoked")
        assert backend.me(state["dave"]["accessToken"], base=SECOND).status_code == 200


def _corruptions(section: dict) -> list:
    """Sections the schema accepts but that cannot be state, and one it refuses."""
    mounts = section["mounts"]
    orphan = copy.deepcopy(section)
    orphan["mounts"][0]["sessions"][0]["username"] = "nobody"
    dangling = copy.deepcopy(section)
    dangling["mounts"][0]["refresh_tokens"][0]["sid"] = "no-such-session"
    twice = copy.deepcopy(section)
    twice["mounts"][0]["refresh_tokens"].append(twice["mounts"][0]["refresh_tokens"][0])
    lost = copy.deepcopy(section)
    used = next(r for r in lost["mounts"][0]["refresh_tokens"] if "successor" in r)
    used["successor"] = base64.b64encode(b"\0" * 32).decode()
    short_key = copy.deepcopy(section)
    short_key["mounts"][1]["signing_key_base64"] = base64.b64encode(b"short").decode()
    both_keys = copy.deepcopy(section)
    both_keys["mounts"][1]["settings"]["signing_key"] = "k" * 32
    mistyped = copy.deepcopy(section)
    mistyped["mounts"][0]["refresh_tokens"][0]["expires"] = "soon"
    both_passwords = copy.deepcopy(section)
    both_passwords["mounts"][0]["users"][0]["password"] = PASSWORD
    assert len(mounts) == 2
    return [orphan, dangling, twice, lost, short_key, both_keys, mistyped, both_passwords]


def test_a_corrupted_section_is_refused_and_changes_nothing(backend):
    state = rich_state(backend)
    document = backend.cloud.snapshot()
    for section in _corruptions(document["userapi"]):
        with pytest.raises(MockCloudError):
            backend.cloud.restore({**document, "userapi": section})
        assert backend.cloud.snapshot() == document
    assert backend.me(state["live"]["accessToken"]).status_code == 200
    assert backend.refresh(state["live"]).status_code == 200
