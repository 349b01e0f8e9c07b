"""Mocks that share one emulator through a store, in one process: the transactions themselves.

Several ``MockCloud(store=...)`` objects on one :class:`MemoryStore` behave as
workers on one Redis do (the same code runs; only the store differs), so the
rules are checked here quickly, and against Redis where a test names it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from werkzeug.test import Client

from mockcloud import mock_cloud
from mockcloud.core.errors import MockCloudError
from mockcloud.mock import MockCloud
from mockcloud.state.store import MemoryStore, Store, StoreUnavailable
from tests.redis_support import RedisServer

HEADERS = {"Version": "2.0", "Host": "userapi.example.com"}
USER = {"username": "api_user", "password": "secure_password_123"}


def sharing(store: Store, count: int = 2, **options) -> list[MockCloud]:
    clouds = [MockCloud(store=store, patch_time=False, intercept=False, **options) for _ in range(count)]
    for cloud in clouds:
        cloud.start()
    return clouds


def call(cloud: MockCloud, operation: str, token: str | None = None, **kwargs):
    headers = dict(HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    method = "GET" if operation == "Me" else "POST"
    return Client(cloud.app).open(
        f"https://userapi.example.com/User/{operation}", method=method, headers=headers, **kwargs
    )


def login(cloud: MockCloud) -> dict:
    reply = call(cloud, "Login", json=USER)
    assert reply.status_code == 200, reply.text
    return reply.json


def refresh(cloud: MockCloud, pair: dict):
    return call(cloud, "RefreshToken", token=pair["accessToken"], json={"refreshToken": pair["refreshToken"]})


@pytest.fixture(params=["memory", "redis"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
        return
    from mockcloud.state.redis_store import RedisStore

    redis = RedisServer(tmp_path)
    store = RedisStore(redis.url(prefix="unit"))
    yield store
    store.close()
    redis.stop()


def test_a_token_issued_by_one_mock_rotates_once_among_racing_mocks(store):
    clouds = sharing(store, 4)
    for _ in range(5):
        pair = login(clouds[0])
        barrier = threading.Barrier(8)
        codes: list[int] = []

        def racer(i: int, barrier: threading.Barrier, codes: list[int], pair: dict) -> None:
            barrier.wait(timeout=10)
            codes.append(refresh(clouds[i % 4], pair).status_code)

        threads = [threading.Thread(target=racer, args=(i, barrier, codes, pair)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(codes) == [200] + [401] * 7


def test_separate_mocks_without_a_store_are_separate_worlds():
    """What the store is for: without it, each mock redeems the same token as if it were the only one."""
    with mock_cloud(intercept=False, patch_time=False) as a, mock_cloud(intercept=False, patch_time=False) as b:
        pair = login(a)
        b.restore(a.snapshot())
        assert refresh(a, pair).status_code == refresh(b, pair).status_code == 200


def test_a_snapshot_moves_between_the_in_memory_mock_and_a_store(store):
    with mock_cloud(intercept=False, patch_time=False, seed=3) as alone:
        pair = login(alone)
        document = alone.snapshot()
    first, second = sharing(store)
    first.restore(document)
    assert second.snapshot()["userapi"] == document["userapi"]
    assert refresh(second, pair).status_code == 200  # the token issued in memory, redeemed from the store
    back = first.snapshot()
    with mock_cloud(intercept=False, patch_time=False) as again:
        again.restore(back)
        assert refresh(again, pair).status_code == 401  # already used, in the store's state


def test_reset_clock_faults_keys_seed_and_log_reach_every_mock(store):
    first, second = sharing(store)
    first.clock.freeze("2030-01-01T00:00:00Z")
    first.faults.add("userapi", "Me", status=503, count=2)
    first.faults.rate_limit("userapi", "Login", rate=0, burst=2)
    first.credentials.add_aws("AKIASHARED0000000001", "secret")
    # the next transaction of the mock writes them (a direct change is the mock's own until then)
    first.state.transaction(lambda: None)
    login(second)
    assert second.clock.now().year == 2030
    assert second.credentials.aws("AKIASHARED0000000001") is not None
    pair = login(first)
    assert call(second, "Login", json=USER).status_code == 429  # the bucket of two is shared
    assert [call(m, "Me", token=pair["accessToken"]).status_code for m in (first, second, first)] == [503, 503, 200]
    assert second.state.transaction(lambda: second.faults.rules) == []  # the count ran out on both
    assert [r.operation for r in first.requests] == ["Login", "Login", "Login", "Me", "Me", "Me"]
    second.reset(seed=7)
    assert login(first) and first.seed == 7 and not first.clock.frozen
    assert [r.operation for r in second.requests] == ["Login"]
    assert len(first.snapshot()["entropy"]["state"][1]) == 625


def test_the_shared_log_numbers_records_across_mocks_and_keeps_each_exchange(store):
    """What the dashboard reads: numbers that grow whichever mock answered, and each exchange redacted."""
    first, second = sharing(store)
    pairs = [login(first), login(second), login(first)]
    assert refresh(second, pairs[0]).status_code == 200
    records = first.requests.since(0)
    numbers = [r.seq for r in records]
    assert [r.operation for r in records] == ["Login", "Login", "Login", "RefreshToken"]
    assert numbers == sorted(set(numbers)) and numbers[0] > 0
    assert second.requests.last == numbers[-1] == first.requests.last
    assert [r.seq for r in second.requests.since(numbers[1])] == numbers[2:]
    detail = second.requests.find(numbers[-1]).detail()
    assert detail["latency"] >= 0 and detail["time"] == records[-1].time
    assert ("Authorization", "Bearer REDACTED") in [tuple(h) for h in detail["request"]["headers"]]
    assert pairs[0]["refreshToken"] not in json.dumps(detail)
    assert detail["response"]["status"] == 200 and "REDACTED" in detail["response"]["body"]
    first.requests.clear()
    login(second)
    assert [r.seq for r in first.requests] > numbers[-1:]  # a number is never reused, not even after a clear


def test_sts_keys_issued_through_one_mock_sign_for_another(store):
    first, second = sharing(store)
    issued = first.state.transaction(
        lambda: first.credentials.issue_temporary(
            account_id="123456789012",
            expires=first.clock.time() + 60,
            arn="arn:aws:sts::123456789012:assumed-role/r/s",
            user_id="AROA:s",
        )
    )
    assert second.state.transaction(lambda: second.credentials.aws(issued.access_key_id)) == issued


def test_a_request_that_changes_nothing_writes_nothing(store):
    first, second = sharing(store)
    pair = login(first)
    commits = first.state.commits
    for _ in range(5):
        assert call(first, "Me", token=pair["accessToken"]).status_code == 200
    assert first.state.commits == commits
    assert refresh(second, pair).status_code == 200
    assert call(first, "Me", token=pair["accessToken"]).status_code == 401  # the rotation revoked it, seen at once


class _Busy(MemoryStore):
    """Another mock writes the session a request reads just before each check of that request (which only read)."""

    def commit(self, commit):
        if not commit.writes:
            with self._lock:
                for entity in commit.reads:
                    if entity.startswith("userapi/session/"):
                        self._version += 1
                        _, text, dead_at = self._entities[entity]
                        self._entities[entity] = (self._version, text, dead_at)
        return super().commit(commit)


def test_a_reader_among_busy_writers_is_answered_at_its_second_try():
    """A read that met newer state is answered from the state the store held then: writers never starve it."""
    (reader,) = sharing(_Busy(), 1)
    pair = login(reader)
    conflicts = reader.state.conflicts
    for _ in range(5):
        assert call(reader, "Me", token=pair["accessToken"]).status_code == 200
    assert reader.state.conflicts - conflicts == 5
    assert [r.operation for r in reader.requests][-5:] == ["Me"] * 5


def test_an_emptied_store_is_filled_again_and_every_mock_follows():
    """As a Redis that lost its data (restarted without persistence): the next request fills it anew."""
    store = MemoryStore()
    first, second = sharing(store)
    pair = login(first)
    store.wipe()
    assert refresh(second, pair).status_code == 401  # a new world: the session is gone
    assert len(first.requests) == 1


def test_mocks_of_more_services_join_a_store_filled_by_a_mock_of_fewer():
    store = MemoryStore()
    (small,) = sharing(store, 1, services=["userapi"])
    big, other = sharing(store)  # License Manager was never in the store: each starts it from its fixtures
    assert login(big) and login(small)
    big.licensemanager.create_license(license_name="joined later")  # a helper of a mock on a store: one transaction
    names = [lic.name for lic in other.licensemanager.licenses]
    assert "joined later" in names and "Example Pro license" in names


class _Down(MemoryStore):
    def meta(self):
        raise StoreUnavailable("down")


def test_a_store_that_cannot_be_reached_gets_the_services_own_503():
    cloud = MockCloud(store=_Down(), patch_time=False, intercept=False)
    reply = call(cloud, "Login", json=USER)
    assert reply.status_code == 503
    assert reply.json["error"] == "server_error"


def test_a_shared_mock_needs_its_own_clock():
    with pytest.raises(MockCloudError, match="patch_time=False"):
        MockCloud(store=MemoryStore())


def test_a_record_changed_without_being_written_back_is_refused_when_verifying(monkeypatch):
    """Only what a model writes back is committed; verify mode checks that no change misses its write."""
    monkeypatch.setenv("MOCKCLOUD_SHARED_VERIFY", "1")
    first, _ = sharing(MemoryStore())
    login(first)

    def change_without_writing() -> None:
        sessions = first.protocol("userapi").model._sessions
        session = next(iter(sessions.values()))
        session.revoked_reason = "logout"

    with pytest.raises(MockCloudError, match="without being written back"):
        first.state.transaction(change_without_writing)


def test_in_memory_mocks_never_import_redis():
    code = (
        "import sys, mockcloud; from mockcloud import mock_cloud\n"
        "with mock_cloud() as cloud: cloud.snapshot()\n"
        "import mockcloud.server.app\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'redis')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "2"], "--workers needs --store"),
        (["--store", "redis://127.0.0.1:1/0", "--state", "x.json"], "not both"),
        (["--store", "memcached://127.0.0.1:1"], "unknown store"),
        (["--store", "redis://127.0.0.1:1/0"], "Redis at redis://127.0.0.1:1/0 failed"),
    ],
)
def test_the_server_refuses_what_cannot_be_one_emulator(argv, message):
    argv = [sys.executable, "-m", "mockcloud", "server", "--port", "0", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert message in out.stderr
