"""Amplify UI Builder's records in a shared store: two servers, one emulator; and expired records dropped.

Two live servers (each its own mock) share one ``MemoryStore``, as server workers on one Redis do; boto3
and Figma's ``/v1/me`` (over requests) drive them. Requests on different records both succeed; of racers
on one record (a single-use code, a name in an app environment) exactly one wins. That every store
drops expired codes and tokens is shown in ``tests/core/test_pruning.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from mockcloud.core.entities import KEPT_SECONDS
from mockcloud.mock import MockCloud
from mockcloud.server.app import create_app
from mockcloud.server.live import LiveServer
from mockcloud.state.store import MemoryStore
from tests.helpers import race
from tests.services.amplifyuibuilder.support import HTTP_TIMEOUT, ui_client

REDIRECT_URI = "https://mockcloud.example/figma/callback"
RACERS = 8
DAY = 86400
ENV = {"appId": "d1", "environmentName": "dev"}
THEME = {"values": [{"key": "primary", "value": {"value": "#000"}}]}


@pytest.fixture
def servers() -> Iterator[list[LiveServer]]:
    store = MemoryStore()
    started = [
        LiveServer(app=create_app(services=["amplifyuibuilder"], store=store), namespaces=False).start()
        for _ in range(2)
    ]
    yield started
    for server in started:
        server.stop()
        server.cloud.state.close()


def exchange(ui, code: str) -> dict:
    return ui.exchange_code_for_token(provider="figma", request={"code": code, "redirectUri": REDIRECT_URI})


def me(server: LiveServer, token: str) -> requests.Response:
    return requests.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)


def error_of(result: Any) -> tuple[str, str]:
    assert isinstance(result, ClientError), result
    return result.response["Error"]["Code"], result.response["Error"]["Message"]


def test_a_code_is_exchanged_once_across_servers_and_its_tokens_serve_through_either(servers):
    first, second = servers
    clients = [ui_client(first.url), ui_client(second.url)]
    code = first.cloud.amplifyuibuilder.create_authorization_code()
    results = race([lambda ui=clients[i % 2]: exchange(ui, code) for i in range(RACERS)])
    winners = [r for r in results if isinstance(r, dict)]
    assert len(winners) == 1, results
    assert {error_of(r) for r in results if not isinstance(r, dict)} == {
        ("InvalidParameterException", "The authorization code has already been used.")
    }
    tokens = winners[0]
    assert me(second, tokens["accessToken"]).json()["handle"] == "Mock Designer"

    # two codes at once, one through each server: different records, both succeed
    codes = [second.cloud.amplifyuibuilder.create_authorization_code() for _ in range(2)]
    pair = race([lambda i=i: exchange(clients[i], codes[i]) for i in range(2)])
    assert all(isinstance(r, dict) for r in pair), pair

    # refreshes of one refresh token through both servers: Figma does not rotate it, so each gets its own token
    refreshed = race(
        [
            lambda ui=clients[i % 2]: ui.refresh_token(
                provider="figma", refreshTokenBody={"token": tokens["refreshToken"]}
            )
            for i in range(4)
        ]
    )
    assert all(isinstance(r, dict) for r in refreshed), refreshed
    assert len({r["accessToken"] for r in refreshed}) == 4
    assert all(me(first, r["accessToken"]).status_code == 200 for r in refreshed)

    # revoked through one server: refused through the other, and its access tokens with it
    second.cloud.amplifyuibuilder.revoke_refresh_token(tokens["refreshToken"])
    with pytest.raises(ClientError) as excinfo:
        clients[0].refresh_token(provider="figma", refreshTokenBody={"token": tokens["refreshToken"]})
    assert error_of(excinfo.value)[1] == "The refresh token has been revoked."
    assert me(first, refreshed[0]["accessToken"]).status_code == 403
    assert me(first, pair[0]["accessToken"]).status_code == 200  # another code's tokens: untouched
    section = first.cloud.snapshot()["amplifyuibuilder"]
    revoked = {t["token"] for t in section["access_tokens"] if t["revoked"]}
    assert revoked == {tokens["accessToken"], *(r["accessToken"] for r in refreshed)}


def test_studio_records_across_servers_conflict_only_where_they_meet(servers):
    first, second = servers
    clients = [ui_client(first.url), ui_client(second.url)]

    # one name in one app environment: exactly one of the racers makes it
    results = race(
        [lambda ui=clients[i % 2]: ui.create_theme(**ENV, themeToCreate={"name": "dark", **THEME}) for i in range(4)]
    )
    assert sum(isinstance(r, dict) for r in results) == 1, results
    assert {error_of(r)[0] for r in results if not isinstance(r, dict)} == {"ResourceConflictException"}

    # other names, other environments: every one is made, and each server lists them all
    results = race(
        [
            lambda i=i: clients[i % 2].create_theme(
                appId="d1", environmentName=f"env{i % 2}", themeToCreate={"name": f"t{i}", **THEME}
            )
            for i in range(4)
        ]
    )
    assert all(isinstance(r, dict) for r in results), results
    listed = clients[1].list_themes(appId="d1", environmentName="env0")["entities"]
    assert sorted(t["name"] for t in listed) == ["t0", "t2"]

    # one clientToken, eight racers: one theme, the same answer for all
    token = uuid.uuid4().hex
    results = race(
        [
            lambda ui=clients[i % 2]: ui.create_theme(**ENV, themeToCreate={"name": "idem", **THEME}, clientToken=token)
            for i in range(RACERS)
        ]
    )
    assert all(isinstance(r, dict) for r in results), results
    assert len({r["entity"]["id"] for r in results}) == 1
    assert sorted(t["name"] for t in clients[0].list_themes(**ENV)["entities"]) == ["dark", "idem"]

    # a rename frees the old name, through the other server
    dark = next(t for t in clients[0].list_themes(**ENV)["entities"] if t["name"] == "dark")
    clients[1].update_theme(**ENV, id=dark["id"], updatedTheme={"name": "night", **THEME})
    assert clients[0].create_theme(**ENV, themeToCreate={"name": "dark", **THEME})["entity"]["name"] == "dark"
    clients[0].put_metadata_flag(**ENV, featureName="autoGenerateForms", body={"newValue": "true"})
    assert clients[1].get_metadata(**ENV)["features"] == {"autoGenerateForms": "true"}


# ---- pruning ---------------------------------------------------------------------------------------------
def held(cloud: MockCloud) -> dict[str, int]:
    section = cloud.snapshot()["amplifyuibuilder"]
    return {kind: len(section[kind]) for kind in ("authorization_codes", "refresh_tokens", "access_tokens")}


def test_expired_codes_and_tokens_are_dropped_in_memory():
    settings = {"amplifyuibuilder": {"refresh_token_seconds": 3600}}
    with mock_cloud(services=["amplifyuibuilder"], settings=settings) as cloud:
        ui, model = ui_client(), cloud.amplifyuibuilder
        for _ in range(20):
            model.create_authorization_code()
        tokens = exchange(ui, model.create_authorization_code())
        assert held(cloud) == {"authorization_codes": 21, "refresh_tokens": 1, "access_tokens": 1}
        cloud.clock.advance(3600)  # the refresh token has expired, its access token not yet: both are kept
        with pytest.raises(ClientError) as excinfo:
            ui.refresh_token(provider="figma", refreshTokenBody={"token": tokens["refreshToken"]})
        assert error_of(excinfo.value)[1] == "The refresh token has expired."
        assert held(cloud) == {"authorization_codes": 21, "refresh_tokens": 1, "access_tokens": 1}
        cloud.clock.advance(90 * DAY)  # past every code's use and the access token's expiry, not yet its day
        assert me_in_process(tokens["accessToken"]) == 403
        assert held(cloud)["access_tokens"] == 1
        cloud.clock.advance(KEPT_SECONDS + 60)  # records are dropped by the minute of their end
        assert held(cloud) == {"authorization_codes": 0, "refresh_tokens": 0, "access_tokens": 0}


def me_in_process(token: str) -> int:
    reply = requests.get("https://api.figma.com/v1/me", headers={"X-Figma-Token": token}, timeout=HTTP_TIMEOUT)
    return reply.status_code
