"""``--state FILE`` as an attacker and an unlucky operator would try it: a state file and a store to trust.

Each test runs the real CLI on a loopback port (or its ``main`` in-process, for
files refused before it listens), drives it with real clients, and looks at
the file, its permissions and what comes back after a restart.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mockcloud import mock_cloud
from mockcloud.core.errors import MockCloudError
from mockcloud.server import cli
from tests.server.test_persistence import TIMEOUT, VERSION, Server, login, refresh
from tests.service_formats import verdict

USER = {"username": "api_user", "password": "secure_password_123"}


def clock_offset(url: str) -> tuple[float, float]:
    """The mock clock's lead on real time, as an interval (the request's own time is not known closer)."""
    before = time.time()
    epoch = requests.get(f"{url}/_mockcloud/clock", timeout=TIMEOUT).json()["epoch"]
    after = time.time()
    return epoch - after, epoch - before


def me(url: str, pair: dict) -> requests.Response:
    headers = {**VERSION, "Authorization": f"Bearer {pair['accessToken']}"}
    return requests.get(f"{url}/userapi.example.com/User/Me", headers=headers, timeout=TIMEOUT)


def files_of(path: Path) -> dict[str, tuple[int, int]]:
    """Every file beside the state file, by name: (size, modification time in ns)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in path.parent.iterdir()}


def test_a_running_clock_runs_on_across_a_restart_and_a_frozen_one_stays(tmp_path):
    state = tmp_path / "state.db"
    server = Server(state)
    requests.post(f"{server.url}/_mockcloud/clock", json={"advance": 3600}, timeout=TIMEOUT)
    low, high = clock_offset(server.url)
    assert 3590 < low <= high < 3610
    assert server.stop(signal.SIGTERM) == 0
    time.sleep(3)  # the server is down for three seconds: a running clock goes on meanwhile, as real time does

    again = Server(state)
    try:
        after_low, after_high = clock_offset(again.url)
        # the same lead on real time as before the restart (saved as a moment, it would lag three seconds and more)
        assert after_high > low - 1 and after_low < high + 1, (low, high, after_low, after_high)
        frozen = requests.post(f"{again.url}/_mockcloud/clock", json={"freeze": "2031-05-01T00:00:00Z"}, timeout=10)
        assert frozen.json()["frozen"]
    finally:
        again.stop(signal.SIGTERM)
    time.sleep(1)
    third = Server(state)
    try:
        clock = requests.get(f"{third.url}/_mockcloud/clock", timeout=TIMEOUT).json()
        assert clock["frozen"] and clock["now"].startswith("2031-05-01T00:00:00")
    finally:
        third.stop(signal.SIGTERM)


def test_only_a_change_is_saved_reads_and_refusals_write_nothing(tmp_path):
    state = tmp_path / "state.db"
    server = Server(state)
    try:
        pair = login(server.url)
        time.sleep(0.05)  # a write after this would show in the files' times
        before = files_of(state)
        for _ in range(5):
            assert me(server.url, pair).status_code == 200
        stranger = {"accessToken": pair["accessToken"], "refreshToken": "not-a-refresh-token-of-this-emulator"}
        assert refresh(server.url, stranger).status_code == 401  # refused: nothing changes
        assert requests.get(f"{server.url}/_mockcloud/inventory", timeout=TIMEOUT).status_code == 200
        assert files_of(state) == before
        assert refresh(server.url, pair).status_code == 200  # a change: written
        assert files_of(state) != before
    finally:
        server.stop(signal.SIGTERM)


def test_a_change_that_cannot_be_saved_is_not_made_and_gets_the_services_own_5xx(tmp_path):
    state = tmp_path / "state.db"
    server = Server(state)
    pair = login(server.url)
    assert server.stop(signal.SIGTERM) == 0
    full = Server(state)
    url = full.url
    limit = max(state.stat().st_size, 64 * 1024)
    resource.prlimit(full.process.pid, resource.RLIMIT_FSIZE, (limit, limit))  # no file of it grows past: a full disk
    try:
        replies = []
        for _ in range(300):  # bounded: logins until the disk is full
            reply = requests.post(f"{url}/userapi.example.com/User/Login", json=USER, headers=VERSION, timeout=TIMEOUT)
            replies.append(reply)
            if reply.status_code >= 500:
                break
        failed = replies[-1]
        assert failed.status_code >= 500, [r.status_code for r in replies[-3:]]
        assert verdict("userapi", failed.status_code, failed.headers, failed.content).startswith("internal error 5")
        assert failed.json()["error"] == "server_error"  # the User API's own 5xx, in its own format
        rotated = refresh(url, pair)
        assert rotated.status_code >= 500 and rotated.json()["error"] == "server_error"
    finally:
        full.stop(signal.SIGKILL)
    assert sorted(p.name for p in tmp_path.iterdir()) <= ["state.db", "state.db-shm", "state.db-wal"]
    again = Server(state)
    try:  # the rotation that could not be saved was not made: the pair rotates now, once
        assert refresh(again.url, pair).status_code == 200
        assert refresh(again.url, pair).json()["reason"] == "reused"
    finally:
        again.stop(signal.SIGTERM)


def _snapshot_text() -> str:
    with mock_cloud(services=["userapi"], intercept=False, patch_time=False) as cloud:
        return json.dumps(cloud.snapshot())


def _broken(change) -> str:
    document = json.loads(_snapshot_text())
    change(document)
    return json.dumps(document)


def _deep(depth: int) -> str:
    return '{"format": "mockcloud-state", "version": 1, "clock": {"now": 1, "frozen": false}, "x": ' + (
        "[" * depth + "]" * depth + "}"
    )


BAD_FILES = {
    "garbage": b"\x00\x01 not a state",
    "not-json": b"{this is not json",
    "truncated": _snapshot_text()[:200].encode(),
    "not-utf8": b'{"format": "mockcloud-state", "x": "\xff"}',
    "a-list": b"[1, 2, 3]",
    "another-format": b'{"format": "something else"}',
    "no-clock": _broken(lambda d: d.pop("clock")).encode(),
    "no-entropy": _broken(lambda d: d.pop("entropy")).encode(),
    "nan-clock": _broken(lambda d: d["clock"].update(now=float("nan"))).encode(),
    "clock-out-of-range": _broken(lambda d: d["clock"].update(now=1e300)).encode(),
    "huge-number": _snapshot_text().replace('"frozen": false', '"frozen": false, "x": 1' + "0" * 400).encode(),
    "deep-nesting": _deep(100_000).encode(),
    "bad-entropy-state": _broken(lambda d: d["entropy"].update(seed=1, state=[3, [1, 2], None])).encode(),
    "duplicate-key-id": _broken(
        lambda d: d["credentials"]["aws"].append({**d["credentials"]["aws"][0], "secret_access_key": "other"})
    ).encode(),
    "duplicate-user": _broken(
        lambda d: d["userapi"]["mounts"][0]["users"].append(d["userapi"]["mounts"][0]["users"][0])
    ).encode(),
    "session-of-nobody": _broken(
        lambda d: d["userapi"]["mounts"][0].update(
            sessions=[{"sid": "s", "username": "nobody", "created": 1, "access_jti": "j"}]
        )
    ).encode(),
    "wrong-type": _broken(lambda d: d["clock"].update(now="soon")).encode(),
    "foreign-sqlite": None,  # made in the test: a SQLite database of another program
    "corrupt-sqlite": b"SQLite format 3\x00" + b"\x13" * 4000,
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_every_bad_state_file_gives_one_line_and_exit_2_and_is_left_as_it_was(name, tmp_path, capsys, monkeypatch):
    state = tmp_path / "state"
    content = BAD_FILES[name]
    if content is None:
        import sqlite3

        with sqlite3.connect(state) as db:
            db.execute("CREATE TABLE notes (text TEXT)")
        db.close()
        content = state.read_bytes()
    else:
        state.write_bytes(content)
    listed = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr(cli, "_run_until_stopped", lambda server: pytest.fail(f"{name}: the server started"))
    code = cli.main(["server", "--port", "0", "--state", str(state)])
    out, err = capsys.readouterr()
    assert code == 2, (name, err)
    assert err.count("\n") == 1 and err.startswith("mockcloud: ") and "Traceback" not in err, (name, err)
    assert "listening" not in out
    assert state.read_bytes() == content  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == listed  # nothing beside it


@pytest.mark.parametrize("name", [n for n, c in BAD_FILES.items() if c is not None and c[:1] == b"{"])
def test_restore_raises_only_mockcloud_error_and_leaves_the_mock_as_it_was(name):
    try:
        document = json.loads(BAD_FILES[name])
    except ValueError:
        return  # not JSON: nothing to restore in-process
    except RecursionError:
        document = {"format": "mockcloud-state", "version": 1, "clock": {"now": 1, "frozen": False}}
        inner: list = []
        document["x"] = inner
        for _ in range(100_000):
            inner.append([])
            inner = inner[0]
    with mock_cloud(services=["userapi"], intercept=False, patch_time=False) as cloud:
        cloud.clock.freeze(1_000_000_000)
        before = cloud.snapshot()
        with pytest.raises(MockCloudError):
            cloud.restore(document)
        assert cloud.snapshot() == before


def test_restore_refuses_nan_clocks_and_a_key_id_given_twice_in_process():
    with mock_cloud(services=["userapi"], intercept=False, patch_time=False) as cloud:
        document = cloud.snapshot()
        with pytest.raises(MockCloudError, match="not finite"):
            cloud.restore({**document, "clock": {"now": float("nan"), "frozen": True}})
        keys = document["credentials"]["aws"]
        twice = {**document["credentials"], "aws": [*keys, {**keys[0], "secret_access_key": "replaced"}]}
        with pytest.raises(MockCloudError, match="given twice"):
            cloud.restore({**document, "credentials": twice})
        assert cloud.credentials.aws(keys[0]["access_key_id"]).secret_access_key == keys[0]["secret_access_key"]


def test_the_state_file_and_state_save_are_the_owners_alone(tmp_path):
    os.umask(0o022)
    state = tmp_path / "state.db"
    server = Server(state)
    try:
        login(server.url)
        for path in (state, Path(f"{state}-wal"), Path(f"{state}-shm")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        saved = tmp_path / "saved.json"
        saved.write_text("{}")
        os.chmod(saved, 0o644)  # there already, readable by all: written over, the owner's alone
        result = subprocess.run(
            [sys.executable, "-m", "mockcloud", "state", "save", "--url", server.url, str(saved)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert json.loads(saved.read_text())["format"] == "mockcloud-state"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["saved.json", "state.db", "state.db-shm", "state.db-wal"]
    finally:
        server.stop(signal.SIGTERM)


def test_a_state_file_of_an_older_mockcloud_is_converted_and_goes_on(tmp_path):
    """A JSON snapshot as ``--state`` wrote it: converted into the database, kept beside it, tokens go on."""
    with mock_cloud(services=["userapi"]) as cloud:
        from tests.services.userapi.support import Backend

        backend = Backend(cloud)
        pair = backend.tokens()
        rotated = backend.refresh(pair).json()
        cloud.clock.advance(600)  # ten minutes ahead of real time, running
        document = cloud.snapshot()
        backend.http.close()
    state = tmp_path / "state.json"
    state.write_text(json.dumps(document))
    os.utime(state, (time.time() - 5, time.time() - 5))  # written five seconds ago: the clock ran on since
    server = Server(state)
    try:
        assert state.read_bytes()[:16] == b"SQLite format 3\x00"
        assert json.loads((tmp_path / "state.json.json").read_text()) == document  # the old file, kept
        low, high = clock_offset(server.url)
        assert 590 < low <= high < 610  # ten minutes ahead still, not five seconds behind that
        assert refresh(server.url, rotated).status_code == 200
        assert refresh(server.url, pair).json()["reason"] in ("reused", "revoked")
    finally:
        server.stop(signal.SIGTERM)


def _sessions_snapshot(cloud, count: int) -> dict:
    """The snapshot of ``count`` live User API sessions, made through the model (one password hash for all)."""
    api = cloud.userapi
    mount = api.get_mount()
    for _ in range(count):
        api.login(mount, "api_user", "secure_password_123")
    return json.loads(json.dumps(cloud.snapshot()))


def _calls(action) -> int:
    """How many Python functions run while ``action()`` does (a count, the same on a busy machine or an idle one)."""
    count = 0

    def profile(frame, event, arg) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


def test_restore_works_in_proportion_to_the_document_and_a_refusal_stops_at_the_first_fault(monkeypatch):
    """A few calls per record, for a snapshot of any size; broken everywhere, it is refused at its first fault.

    (Walking every value with jsonschema cost some 350 calls per User API session: a minute for 59 MiB.)
    """
    import functools

    from mockcloud.services.userapi import model

    monkeypatch.setattr(model, "_hash_password", functools.lru_cache(maxsize=None)(model._hash_password))
    with mock_cloud(services=["userapi"], intercept=False, patch_time=False) as cloud:
        cloud.clock.freeze(1_700_000_000)
        small = _sessions_snapshot(cloud, 1000)
        large = _sessions_snapshot(cloud, 3000)  # 4000 sessions
        cloud.restore(json.loads(json.dumps(small)))  # the checks made ready once, outside what is counted
        small_calls = _calls(lambda: cloud.restore(small))
        large_calls = _calls(lambda: cloud.restore(large))
        assert large_calls / 4000 < 40 and large_calls < 4.5 * small_calls  # a few per session, in proportion
        broken = json.loads(json.dumps(large))
        for session in broken["userapi"]["mounts"][0]["sessions"]:
            session["created"] = "yesterday"  # wrong everywhere: one fault is enough to say why

        def refuse() -> None:
            with pytest.raises(MockCloudError, match="sessions/0/created"):
                cloud.restore(broken)

        assert _calls(refuse) / 4000 < 10
        assert cloud.snapshot() == large
