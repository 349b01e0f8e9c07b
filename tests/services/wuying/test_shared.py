"""WUYING across mocks that share one emulator through a store (as server workers on one Redis do).

A logon made through one mock serves requests through another, a connection task started through one is polled
through another, and of mocks racing to start one stopped desktop exactly one does.
"""

from __future__ import annotations

import threading
from urllib.parse import urlencode

from werkzeug.test import Client

from mockcloud import MockCloud
from mockcloud.state.store import MemoryStore

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
