"""Expired state is dropped on the mock clock, in memory and in every store, and the space comes back.

A record past every use (its ``dead_at``: an expired token's expiry and a day, in which it still answers
"expired" or "reused") is dropped a few at a time as new records are written, and all at once before a
snapshot. The same mechanism serves every kind that says when its records are past use.
"""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from mockcloud import mock_cloud
from mockcloud.core.entities import KEPT_SECONDS, ExpiringTable, Kind, MemoryTables
from mockcloud.mock import MockCloud
from mockcloud.state.store import MemoryStore
from tests.redis_support import RedisServer

HEADERS = {"Version": "2.0"}
USER = {"username": "api_user", "password": "secure_password_123"}
DAY = 86400


def login(cloud: MockCloud) -> dict:
    reply = Client(cloud.app).post(
        "https://userapi.example.com/User/Login", json=USER, headers={**HEADERS, "Host": "userapi.example.com"}
    )
    assert reply.status_code == 200, reply.text
    return reply.json


def refresh(cloud: MockCloud, pair: dict):
    headers = {**HEADERS, "Host": "userapi.example.com", "Authorization": f"Bearer {pair['accessToken']}"}
    return Client(cloud.app).post(
        "https://userapi.example.com/User/RefreshToken", json={"refreshToken": pair["refreshToken"]}, headers=headers
    )


def test_a_table_drops_what_is_past_use_a_few_records_per_write():
    now = [0.0]
    kind: Kind[dict] = Kind("token", dict, dict, lambda record: record["dead_at"])
    table = MemoryTables(lambda: now[0]).table(kind)
    assert isinstance(table, ExpiringTable)
    for i in range(1000):
        table[f"old-{i}"] = {"dead_at": 100.0}
    table["kept"] = {"dead_at": 100.0}
    table["kept"] = {"dead_at": 10_000.0}  # written again later: its first note is stale
    now[0] = 5_000.0
    for i in range(200):
        table[f"new-{i}"] = {"dead_at": 10_000.0}
    assert len(table) == 201 and "kept" in table  # the thousand old ones went while two hundred came
    now[0] = 20_000.0
    assert table.prune(now[0]) == 201 and len(table) == 0


def test_expired_user_api_sessions_are_dropped_and_a_snapshot_holds_none_of_them():
    with mock_cloud(services=["userapi"], intercept=False, patch_time=False) as cloud:
        cloud.userapi.mount("https://userapi.example.com", refresh_token_seconds=3600)
        pairs = [login(cloud) for _ in range(100)]
        rotated = refresh(cloud, pairs[0]).json
        model = cloud.protocol("userapi").model
        assert len(model._sessions) == 100 and len(model._refresh) == 101
        cloud.clock.advance(3600 + 60)  # expired, not yet past use: it still says so
        assert refresh(cloud, rotated).json["reason"] == "expired"
        assert refresh(cloud, pairs[1]).json["reason"] == "expired"
        cloud.clock.advance(KEPT_SECONDS)  # past every use
        for _ in range(20):
            login(cloud)
        assert len(model._sessions) < 100  # the old go as the new come
        document = cloud.snapshot()
        mount = document["userapi"]["mounts"][0]
        assert len(mount["sessions"]) == 20 and len(mount["refresh_tokens"]) == 20
        assert refresh(cloud, pairs[2]).json["reason"] == "unknown"


def test_expired_devpay_keys_and_tokens_and_temporary_aws_keys_are_dropped():
    with mock_cloud(services=["devpay"], intercept=False, patch_time=False) as cloud:
        for _ in range(50):
            cloud.devpay.create_activation_key("6883959E")
        key = cloud.credentials.add_aws("ASIATEMPORARY0000001", "s", session_token="t", expires=cloud.clock.time() + 60)
        cloud.clock.advance(2 * DAY)
        document = cloud.snapshot()
        assert document["devpay"]["activation_keys"] == []
        assert key.access_key_id not in [k["access_key_id"] for k in document["credentials"]["aws"]]
        assert "testing" in [k["access_key_id"] for k in document["credentials"]["aws"]]  # long-term keys stay


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        from mockcloud.state.sqlite_store import SqliteStore

        store = SqliteStore(tmp_path / "state.db")
        yield store
        store.close()
    else:
        from mockcloud.state.redis_store import RedisStore

        redis = RedisServer(tmp_path)
        store = RedisStore(redis.url(prefix="prune"))
        yield store
        store.close()
        redis.stop()


def test_every_store_drops_what_is_past_use_on_the_shared_clock(store):
    cloud = MockCloud(services=["userapi"], store=store, patch_time=False, intercept=False)
    cloud.start()
    try:
        cloud.userapi.mount("https://userapi.example.com", refresh_token_seconds=3600)
        pairs = [login(cloud) for _ in range(40)]

        def held(kind: str) -> int:
            dumped = store.dump()
            assert dumped is not None
            return sum(1 for entity, _ in dumped[1] if entity.startswith(f"userapi/{kind}/"))

        assert held("session") == 40 and held("refresh") == 40
        cloud.clock.advance(3600 + KEPT_SECONDS + 60)  # the clock is shared: the next transaction writes it
        for _ in range(10):
            login(cloud)
        assert held("session") < 40 and held("refresh") < 40  # each commit drops a few
        for _ in range(10):
            login(cloud)
        assert held("session") == 20 and held("refresh") == 20
        assert refresh(cloud, pairs[0]).json["reason"] == "unknown"
    finally:
        cloud.stop()
        cloud.state.close()


def test_every_store_drops_expired_amplify_codes_and_tokens_and_forgotten_client_tokens(store):
    from mockcloud.server.app import create_app
    from mockcloud.server.live import LiveServer
    from tests.services.amplifyuibuilder.support import ui_client

    settings = {"amplifyuibuilder": {"refresh_token_seconds": 3600}}
    server = LiveServer(app=create_app(services=["amplifyuibuilder"], settings=settings, store=store), namespaces=False)
    cloud = server.start().cloud
    try:
        ui, model = ui_client(server.url), cloud.amplifyuibuilder
        redirect = {"redirectUri": "https://mockcloud.example/figma/callback"}
        grants = [
            ui.exchange_code_for_token(
                provider="figma", request={"code": model.create_authorization_code(), **redirect}
            )
            for _ in range(3)
        ]
        for _ in range(20):
            model.create_authorization_code()
        ui.create_theme(
            appId="d1", environmentName="dev", themeToCreate={"name": "kept", "values": []}, clientToken="c"
        )

        def held(*kinds: str) -> list[int]:
            dumped = store.dump()
            assert dumped is not None
            return [sum(1 for e, _ in dumped[1] if e.startswith(f"amplifyuibuilder/{kind}/")) for kind in kinds]

        expiring = ("authorization_code", "refresh_token", "access_token", "client_token")
        assert held(*expiring) == [23, 3, 3, 1]
        # past the refresh tokens' hour, their access tokens' 90 days and the day after: the clock is shared
        cloud.state.transaction(lambda: cloud.clock.advance(3600 + 90 * DAY + KEPT_SECONDS + 60))
        for _ in range(40):  # each commit drops a few
            model.create_authorization_code()
        assert held(*expiring) == [40, 0, 0, 0]  # the new codes only
        assert held("theme") == [1]  # Studio's records do not expire
        with pytest.raises(Exception, match="The refresh token is not valid"):  # gone: unknown now
            ui.refresh_token(provider="figma", refreshTokenBody={"token": grants[0]["refreshToken"]})
    finally:
        server.stop()
        cloud.state.close()


def test_expired_wuying_logons_tickets_mount_tokens_and_resets_are_dropped(store):
    """LoginTokens and their sessions, KeepAliveTokens, connection tasks and tickets, mount tokens, password
    resets and client token uses go once past use, from memory and from every store; desktops and users stay."""
    from alibabacloud_ecd20201002 import models

    from tests.services.wuying.support import Backend, Session

    def held(cloud: MockCloud) -> dict[str, int]:
        document = cloud.snapshot()["wuying"]
        return {name: len(document.get(name, ())) for name in EXPIRING_WUYING}

    with mock_cloud(services=["wuying"], patch_time=False) as cloud:
        ecd = Backend(cloud).client()
        alice = Session.logon(ecd)
        alice.call("start_desktops", desktop_id=["ecd-0123456789abcdefg"], client_token="once")
        cloud.clock.advance(seconds=60)
        alice.ticket(cloud, "ecd-0123456789abcdefg")
        alice.call("get_cloud_drive_service_mount_token")
        ecd.reset_password(
            models.ResetPasswordRequest(
                region_id="cn-hangzhou",
                client_id="client-1",
                end_user_id="alice",
                office_site_id="cn-hangzhou+dir-0123456789",
                email="alice@example.com",
            )
        )
        alice.refresh()
        assert all(held(cloud).values())
        document = cloud.snapshot()
        cloud.clock.advance(days=400)
        assert held(cloud) == dict.fromkeys(EXPIRING_WUYING, 0)
        gone = cloud.snapshot()["wuying"]
        assert [u["end_user_id"] for u in gone["users"]] == ["alice"] and len(gone["desktops"]) == 1

    shared = MockCloud(services=["wuying"], store=store, patch_time=False, intercept=False)
    shared.start()
    try:
        shared.restore(document)  # the records of before, in the store one entity each

        def stored() -> int:
            dumped = store.dump()
            assert dumped is not None
            return sum(1 for entity, _ in dumped[1] if entity.split("/")[1] in EXPIRING_KINDS)

        assert stored() >= 8
        shared.state.transaction(lambda: shared.clock.advance(days=400))
        for i in range(40):  # each commit drops a few of what is past use
            shared.wuying.create_user(f"later-{i}", "Later-Passw0rd")
        assert stored() == 0
    finally:
        shared.stop()
        shared.state.close()


EXPIRING_WUYING = (
    "sessions",
    "login_tokens",
    "connection_tasks",
    "connection_tickets",
    "mount_tokens",
    "password_resets",
    "client_tokens",
)
EXPIRING_KINDS = {
    "logon_session",
    "login_token",
    "keep_alive_token",
    "connection_task",
    "connection_ticket",
    "mount_token",
    "password_reset",
    "client_token",
}
