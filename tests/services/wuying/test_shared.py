"""WUYING across mocks that share one emulator through a store (as server workers on one Redis do).

A logon made through one mock serves requests through another, a connection task started through one is polled
through another, of mocks racing to start one stopped desktop exactly one does, and requests on different
desktops never conflict.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

from alibabacloud_tea_openapi.exceptions import ClientException
from werkzeug.serving import make_server
from werkzeug.test import Client

from mockcloud import MockCloud
from mockcloud.state.store import Commit, Committed, Conflict, MemoryStore
from tests.services.wuying.support import Backend, Session

DESKTOP = "ecd-0123456789abcdefg"


def sharing(count: int) -> list[MockCloud]:
    store = MemoryStore()
    clouds = [MockCloud(store=store, services=["wuying"], patch_time=False, intercept=False) for _ in range(count)]
    for cloud in clouds:
        cloud.start()
    return clouds


def call(cloud: MockCloud, action: str, **params: str):
    query = urlencode({"Action": action, "Version": "2020-10-02", "RegionId": "cn-hangzhou", **params})
    return Client(cloud.app).post(f"https://ecd.cn-hangzhou.aliyuncs.com/?{query}")


def test_one_emulator_behind_several_mocks():
    clouds = sharing(4)
    try:
        logon = call(clouds[0], "GetLoginToken", ClientId="c", EndUserId="alice", Password="Alice-Passw0rd").json
        mine = {"ClientId": "c", "LoginToken": logon["LoginToken"], "SessionId": logon["SessionId"]}
        codes: list[str] = []
        barrier = threading.Barrier(8)

        def race(i: int) -> None:
            barrier.wait(timeout=10)
            reply = call(clouds[i % 4], "StartDesktops", **{**mine, "DesktopId.1": DESKTOP})
            codes.append(reply.json.get("Code", "started"))

        threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(codes) == ["IncorrectDesktopStatus"] * 7 + ["started"]

        task = call(clouds[1], "GetConnectionTicket", **mine, DesktopId=DESKTOP).json
        assert task["TaskStatus"] == "RUNNING"
        clouds[2].state.transaction(lambda: clouds[2].clock.advance(seconds=30))  # the clock is shared too
        done = call(clouds[3], "GetConnectionTicket", **mine, TaskId=task["TaskId"]).json
        assert done["TaskStatus"] == "FINISHED" and done["Ticket"]
        assert call(clouds[0], "GetConnectionTicket", **mine, TaskId=task["TaskId"]).json["Ticket"] == done["Ticket"]
    finally:
        for cloud in clouds:
            cloud.stop()


SECOND = "ecd-fedcba9876543210z"


@contextlib.contextmanager
def served(cloud: MockCloud) -> Iterator[str]:
    """The mock's application on a loopback port, for a client in this process that speaks HTTP."""
    server = make_server("127.0.0.1", 0, cloud.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class _Interleaved(MemoryStore):
    """Runs ``meanwhile`` once, just before the first commit that writes ``entity``: another request commits
    between that transaction's reads and its commit."""

    def __init__(self) -> None:
        super().__init__()
        self.entity = ""
        self.meanwhile: Callable[[], None] | None = None

    def commit(self, commit: Commit) -> Committed | Conflict:
        meanwhile = self.meanwhile
        if meanwhile is not None and self.entity in commit.writes:
            self.meanwhile = None
            meanwhile()
        return super().commit(commit)


def test_real_clients_on_two_workers_start_two_desktops_without_conflict_and_race_one_to_one_winner():
    store = _Interleaved()
    clouds = [MockCloud(store=store, services=["wuying"], patch_time=False, intercept=False) for _ in range(2)]
    for cloud in clouds:
        cloud.start()
    try:
        clouds[1].wuying.create_desktop(SECOND, end_user_ids=["alice"], status="Stopped")
        with served(clouds[0]) as first_url, served(clouds[1]) as second_url:
            first = Session.logon(Backend(clouds[0], first_url).client())
            second = Session(
                Backend(clouds[1], second_url).client(), first.login_token, first.session_id, "client-1", "alice"
            )
            assert {d.desktop_id for d in second.call("describe_global_desktops").desktops} == {DESKTOP, SECOND}
            started: list[str] = []
            store.entity = f"wuying/desktop/{DESKTOP}"
            store.meanwhile = lambda: started.append(second.call("start_desktops", desktop_id=[SECOND]).request_id)
            conflicts = [cloud.state.conflicts for cloud in clouds]
            assert first.call("start_desktops", desktop_id=[DESKTOP]).request_id
            assert started  # the other desktop started on the other worker while this start was under way
            assert [cloud.state.conflicts for cloud in clouds] == conflicts  # and neither had to try again
            clouds[0].state.transaction(lambda: clouds[0].clock.advance(seconds=30))
            assert {d.desktop_status for d in first.call("describe_global_desktops").desktops} == {"Running"}

            outcomes: list[str] = []
            barrier = threading.Barrier(6)

            def race(session: Session) -> None:
                barrier.wait(timeout=10)
                try:
                    session.call("stop_desktops", desktop_id=[DESKTOP])
                    outcomes.append("stopped")
                except ClientException as exc:
                    outcomes.append(exc.code)

            threads = [threading.Thread(target=race, args=(s,)) for s in [first, second] * 3]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert sorted(outcomes) == ["IncorrectDesktopStatus"] * 5 + ["stopped"]
            assert clouds[1].wuying.desktop_status(DESKTOP) == "Stopping"
            assert clouds[0].wuying.desktop_status(SECOND) == "Running"
    finally:
        for cloud in clouds:
            cloud.stop()
