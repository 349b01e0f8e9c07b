"""The generic User API, driven by requests: in-process under the mock and against a live server.

Every test that takes ``backend`` runs twice. The client sends bearer tokens,
not signatures, so tests that move the clock run against the server too
(its clock is moved through ``mockcloud_server.cloud``).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http import HTTPStatus

import jwt
import pytest
import requests

import mockcloud
from mockcloud import UnmockedRequestError, mock_cloud, mock_userapi
from mockcloud.core.auth.bearer import MalformedBearer, bearer_token, challenge
from mockcloud.core.errors import MockCloudError
from tests.services.userapi.support import DEFAULT_BASE, PASSWORD, TIMEOUT, USERNAME, Backend

NAMEIDENTIFIER = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
CLAIM_NAMES = {NAMEIDENTIFIER, "UserID", "InstanceID", "Roles", "exp", "iss", "aud", "sid", "jti"}


def problem(reply: requests.Response, status: int, error: str, reason: str | None = None) -> dict:
    """Assert the one error format: RFC 9457 problem details plus ``error`` (and ``reason`` for tokens)."""
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json; charset=utf-8"
    body = reply.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"] == HTTPStatus(status).phrase
    assert body["error"] == error
    assert isinstance(body["detail"], str) and body["detail"]
    if reason is not None:
        assert body["reason"] == reason
    if error == "invalid_token":
        challenge = reply.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ")
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        assert params["error"] == "invalid_token"
        assert params["error_description"] == body["detail"]
        assert params["realm"]
    return body


def claims_of(api, access: str, base_url: str | None = None, **options) -> dict:
    base = base_url or DEFAULT_BASE
    return jwt.decode(
        access,
        api.signing_key(base_url),
        algorithms=["HS256"],
        audience=base,
        issuer=base,
        options={"verify_exp": False, **options},
    )


# ---- login and the token pair -------------------------------------------------------------------
def test_login_returns_a_pair_with_the_documented_claims(backend, api):
    reply = backend.login()
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) == {"accessToken", "refreshToken"}
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["api-supported-versions"] == "2.0"

    header = jwt.get_unverified_header(body["accessToken"])
    assert header == {"alg": "HS256", "typ": "JWT"}
    claims = claims_of(api, body["accessToken"])
    assert set(claims) == CLAIM_NAMES
    assert claims[NAMEIDENTIFIER] == USERNAME
    assert claims["UserID"] == "1001"
    assert claims["InstanceID"] == "1"
    assert json.loads(claims["Roles"]) == [{"RoleID": 1, "RoleName": "Administrator"}]
    assert claims["iss"] == claims["aud"] == DEFAULT_BASE
    assert abs(claims["exp"] - (backend.cloud.clock.time() + 3600)) <= 2

    refresh = body["refreshToken"]
    assert len(refresh) <= 255
    assert len(base64.b64decode(refresh, validate=True)) == 64


def test_every_login_is_a_new_session(backend, api):
    first, second = backend.tokens(), backend.tokens()
    assert claims_of(api, first["accessToken"])["sid"] != claims_of(api, second["accessToken"])["sid"]
    assert backend.me(first["accessToken"]).status_code == 200
    assert backend.me(second["accessToken"]).status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(backend, own_cloud):
    wrong = problem(backend.login(password="not-it"), 401, "invalid_credentials")
    unknown = problem(backend.login(username="nobody"), 401, "invalid_credentials")
    assert wrong["detail"] == unknown["detail"]
    challenge = backend.login(password="not-it").headers["WWW-Authenticate"]
    assert challenge == f'Bearer realm="{DEFAULT_BASE}"'  # nothing was presented, so no error code (RFC 6750 §3.1)
    user = own_cloud.userapi.get_mount().users[USERNAME]  # the hash never leaves the emulator (repr=False)
    assert PASSWORD.encode() not in user.password_hash and len(user.password_hash) == 32


def test_me_shows_the_user_of_a_live_access_token(backend):
    pair = backend.tokens()
    reply = backend.me(pair["accessToken"])
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "userID": "1001",
        "username": USERNAME,
        "instanceID": "1",
        "roles": [{"RoleID": 1, "RoleName": "Administrator"}],
    }


def test_bearer_credentials_and_challenges_follow_rfc_6750():
    assert bearer_token("bearer abc.DEF-_~+/==") == "abc.DEF-_~+/=="  # the scheme is case-insensitive
    assert bearer_token("Basic dXNlcjpwYXNz") is None and bearer_token(None) is None
    for malformed in ("Bearer", "Bearer a b", "Bearer tok\u00e9n", "Bearer =abc"):
        with pytest.raises(MalformedBearer):
            bearer_token(malformed)
    assert challenge('a "realm"', "invalid_token", 'bad "token" \\ here') == (
        'Bearer realm="a \\"realm\\"", error="invalid_token", error_description="bad token  here"'
    )
    assert challenge() == "Bearer"


# ---- refresh: rotation and revocation --------------------------------------------------------------
def test_refresh_rotates_the_pair_and_revokes_the_previous_access_token_at_once(backend, api):
    old = backend.tokens()
    backend.cloud.clock.advance(seconds=10)
    reply = backend.refresh(old)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Cache-Control"] == "no-store"
    new = reply.json()
    assert set(new) == {"accessToken", "refreshToken"}
    assert new["accessToken"] != old["accessToken"] and new["refreshToken"] != old["refreshToken"]

    before, after = claims_of(api, old["accessToken"]), claims_of(api, new["accessToken"])
    assert after["sid"] == before["sid"] and after["jti"] != before["jti"]
    assert after["exp"] >= before["exp"] + 10  # a fresh expiry

    problem(backend.me(old["accessToken"]), 401, "invalid_token", "revoked")
    assert backend.me(new["accessToken"]).status_code == 200
    # and the chain goes on
    newer = backend.refresh(new)
    assert newer.status_code == 200, newer.text
    assert backend.me(newer.json()["accessToken"]).status_code == 200


def test_refresh_needs_the_current_access_token(backend, api):
    pair = backend.tokens()
    body = {"json": {"refreshToken": pair["refreshToken"]}}
    problem(backend.call("POST", "RefreshToken", **body), 401, "invalid_token", "missing")
    basic = backend.call("POST", "RefreshToken", headers={"Authorization": "Basic dXNlcjpwYXNz"}, **body)
    problem(basic, 401, "invalid_token", "missing")
    problem(
        backend.call("POST", "RefreshToken", headers={"Authorization": "Bearer "}, **body),
        401,
        "invalid_token",
        "malformed",
    )
    problem(backend.call("POST", "RefreshToken", token="not-a-jwt", **body), 401, "invalid_token", "malformed")

    claims = claims_of(api, pair["accessToken"])
    forged = jwt.encode(claims, "k" * 32 + "not-the-key", algorithm="HS256")
    problem(backend.call("POST", "RefreshToken", token=forged, **body), 401, "invalid_token", "signature")
    key = api.signing_key()
    other_aud = jwt.encode({**claims, "aud": "https://elsewhere.example"}, key, algorithm="HS256")
    problem(backend.call("POST", "RefreshToken", token=other_aud, **body), 401, "invalid_token", "audience")
    other_iss = jwt.encode({**claims, "iss": "https://elsewhere.example"}, key, algorithm="HS256")
    problem(backend.call("POST", "RefreshToken", token=other_iss, **body), 401, "invalid_token", "issuer")
    no_sid = jwt.encode({k: v for k, v in claims.items() if k != "sid"}, key, algorithm="HS256")
    problem(backend.call("POST", "RefreshToken", token=no_sid, **body), 401, "invalid_token", "malformed")
    unsigned = jwt.encode(claims, None, algorithm="none")
    problem(backend.call("POST", "RefreshToken", token=unsigned, **body), 401, "invalid_token", "signature")

    # none of that touched the refresh token: it still rotates once
    assert backend.refresh(pair).status_code == 200


def test_refresh_token_must_belong_to_the_access_tokens_session(backend, api):
    mine, other_session = backend.tokens(), backend.tokens()
    api.create_user("second_user", "second-password", roles=[])
    other_user = backend.tokens("second_user", "second-password")

    mixed = {"accessToken": mine["accessToken"], "refreshToken": other_session["refreshToken"]}
    problem(backend.refresh(mixed), 401, "invalid_token", "mismatch")
    mixed = {"accessToken": other_user["accessToken"], "refreshToken": mine["refreshToken"]}
    problem(backend.refresh(mixed), 401, "invalid_token", "mismatch")
    unknown = {"accessToken": mine["accessToken"], "refreshToken": base64.b64encode(b"x" * 64).decode()}
    problem(backend.refresh(unknown), 401, "invalid_token", "unknown")

    # refused requests change nothing: every pair still refreshes
    for pair in (mine, other_session, other_user):
        assert backend.refresh(pair).status_code == 200


def test_a_previous_access_token_cannot_refresh_the_current_refresh_token(backend):
    first = backend.tokens()
    second = backend.refresh(first).json()
    stale = {"accessToken": first["accessToken"], "refreshToken": second["refreshToken"]}
    problem(backend.refresh(stale), 401, "invalid_token", "revoked")
    assert backend.refresh(second).status_code == 200


# ---- reuse detection (RFC 9700 §4.14.2) ----------------------------------------------------------------
def test_replaying_a_rotated_refresh_token_revokes_the_whole_family(backend):
    stolen = backend.tokens()  # the attacker copies this pair
    user = backend.refresh(stolen).json()  # the user rotates it

    problem(backend.refresh(stolen), 401, "invalid_token", "reused")

    problem(backend.me(user["accessToken"]), 401, "invalid_token", "revoked")
    problem(backend.refresh(user), 401, "invalid_token", "revoked")
    problem(backend.refresh(stolen), 401, "invalid_token", "revoked")


def test_reuse_by_the_user_after_the_attacker_rotated_revokes_the_attackers_tokens(backend, api):
    stolen = backend.tokens()
    bystander = backend.tokens()  # another session of the same user
    attacker = backend.refresh(stolen).json()
    assert backend.me(attacker["accessToken"]).status_code == 200

    problem(backend.refresh(stolen), 401, "invalid_token", "reused")  # the user comes back with the old pair

    problem(backend.me(attacker["accessToken"]), 401, "invalid_token", "revoked")
    problem(backend.refresh(attacker), 401, "invalid_token", "revoked")
    assert backend.me(bystander["accessToken"]).status_code == 200  # only that family is revoked
    session = api.get_mount().sessions[claims_of(api, stolen["accessToken"])["sid"]]
    assert session.revoked_reason == "reuse"


def _race(backend, pair: dict, racers: int = 6) -> list[requests.Response]:
    barrier = threading.Barrier(racers)
    replies: list = [None] * racers

    def run(index: int) -> None:
        http = requests.Session()
        body = {"refreshToken": pair["refreshToken"]}
        headers = {"Version": "2.0", "Authorization": f"Bearer {pair['accessToken']}"}
        barrier.wait()
        replies[index] = http.post(f"{backend.url()}/User/RefreshToken", json=body, headers=headers, timeout=TIMEOUT)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


def test_of_concurrent_refreshes_with_one_refresh_token_exactly_one_wins(backend):
    replies = _race(backend, backend.tokens())
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] + [401] * (len(replies) - 1)
    losers = [r for r in replies if r.status_code == 401]
    for loser in losers:
        problem(loser, 401, "invalid_token")
    # strict RFC 9700 by default: a second presentation is reuse, so the winner's family is revoked too
    winner = next(r for r in replies if r.status_code == 200).json()
    problem(backend.me(winner["accessToken"]), 401, "invalid_token", "revoked")


def test_a_reuse_grace_period_exchanges_the_latest_rotated_token_again(backend, api):
    api.mount(DEFAULT_BASE, reuse_grace_seconds=30)
    original = backend.tokens()
    replies = _race(backend, original)
    assert [r.status_code for r in replies] == [200] * len(replies)  # every retry within the grace period
    pairs = [r.json() for r in replies]
    live = [p for p in pairs if backend.me(p["accessToken"]).status_code == 200]
    assert len(live) == 1  # the last exchange's pair is the session's; the others gave way to it
    for replaced in (p for p in pairs if p is not live[0]):
        problem(backend.refresh(replaced), 401, "invalid_token", "revoked")
    assert backend.me(live[0]["accessToken"]).status_code == 200  # giving way revoked nothing else
    # once the chain moved on, the old token is reuse again, even within the grace period
    newest = backend.refresh(live[0]).json()
    problem(backend.refresh(original), 401, "invalid_token", "reused")
    problem(backend.me(newest["accessToken"]), 401, "invalid_token", "revoked")


def test_past_the_grace_period_a_retry_is_reuse(backend, api):
    api.mount(DEFAULT_BASE, reuse_grace_seconds=30)
    original = backend.tokens()
    rotated = backend.refresh(original).json()
    backend.cloud.clock.advance(seconds=31)
    problem(backend.refresh(original), 401, "invalid_token", "reused")
    problem(backend.me(rotated["accessToken"]), 401, "invalid_token", "revoked")


def test_without_a_grace_period_a_second_presentation_is_reuse_even_on_a_clock_a_moment_behind(backend):
    """A worker whose clock reads a moment before the rotation it races (the mock clock, moved back) sees reuse."""
    original = backend.tokens()
    rotated = backend.refresh(original).json()
    backend.cloud.clock.advance(seconds=-5)
    problem(backend.refresh(original), 401, "invalid_token", "reused")
    problem(backend.me(rotated["accessToken"]), 401, "invalid_token", "revoked")


# ---- expiry on the mock clock ---------------------------------------------------------------------
def test_an_expired_access_token_still_refreshes_but_nothing_else(backend):
    backend.cloud.clock.freeze(int(backend.cloud.clock.time()))  # a whole second: exp is exact
    pair = backend.tokens()
    backend.cloud.clock.advance(seconds=3599)
    assert backend.me(pair["accessToken"]).status_code == 200
    backend.cloud.clock.advance(seconds=1)  # now == exp: expired (RFC 7519 §4.1.4)
    body = problem(backend.me(pair["accessToken"]), 401, "invalid_token", "expired")
    assert "expired" in body["detail"]
    problem(backend.logout(pair["accessToken"]), 401, "invalid_token", "expired")

    reply = backend.refresh(pair)
    assert reply.status_code == 200, reply.text
    assert backend.me(reply.json()["accessToken"]).status_code == 200


def test_refresh_tokens_live_thirty_days(backend):
    backend.cloud.clock.freeze()
    early, late = backend.tokens(), backend.tokens()
    backend.cloud.clock.advance(days=30, seconds=-5)
    assert backend.refresh(early).status_code == 200
    backend.cloud.clock.advance(seconds=10)
    problem(backend.refresh(late), 401, "invalid_token", "expired")


def test_expiry_leeway_and_lifetimes_are_settings(backend, api):
    api.mount(DEFAULT_BASE, access_token_seconds=60, refresh_token_seconds=120, leeway_seconds=30)
    backend.cloud.clock.freeze(int(backend.cloud.clock.time()))
    pair = backend.tokens()
    backend.cloud.clock.advance(seconds=80)  # past exp, inside the leeway
    assert backend.me(pair["accessToken"]).status_code == 200
    backend.cloud.clock.advance(seconds=20)
    problem(backend.me(pair["accessToken"]), 401, "invalid_token", "expired")
    backend.cloud.clock.advance(seconds=30)
    problem(backend.refresh(pair), 401, "invalid_token", "expired")


# ---- logout ---------------------------------------------------------------------------------------
def test_logout_revokes_the_session(backend, api):
    pair, other = backend.tokens(), backend.tokens()
    reply = backend.logout(pair["accessToken"])
    assert reply.status_code == 204 and reply.content == b""
    problem(backend.me(pair["accessToken"]), 401, "invalid_token", "revoked")
    problem(backend.refresh(pair), 401, "invalid_token", "revoked")
    problem(backend.logout(pair["accessToken"]), 401, "invalid_token", "revoked")
    assert backend.me(other["accessToken"]).status_code == 200
    assert api.get_mount().sessions[claims_of(api, pair["accessToken"])["sid"]].revoked_reason == "logout"


# ---- the request's shape ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "operation, method", [("Login", "POST"), ("RefreshToken", "POST"), ("Logout", "POST"), ("Me", "GET")]
)
def test_every_operation_needs_a_supported_version_header(backend, operation, method):
    pair = backend.tokens()
    kwargs = {"token": pair["accessToken"], "json": {"refreshToken": pair["refreshToken"]}}
    problem(backend.call(method, operation, version=None, **kwargs), 400, "api_version_unspecified")
    for version in ("1.0", "3.0", "latest"):
        reply = backend.call(method, operation, version=version, **kwargs)
        problem(reply, 400, "unsupported_api_version")
        assert reply.headers["api-supported-versions"] == "2.0"
    assert backend.me(pair["accessToken"]).status_code == 200  # nothing was revoked or rotated


def test_malformed_bodies_are_400(backend):
    pair = backend.tokens()
    json_type = {"Content-Type": "application/json"}

    def refresh_with(**kwargs):
        return backend.call("POST", "RefreshToken", token=pair["accessToken"], **kwargs)

    problem(refresh_with(data=b"{not json", headers=json_type), 400, "invalid_request")
    problem(refresh_with(data=b"\xff\xfe\x00", headers=json_type), 400, "invalid_request")
    problem(refresh_with(data=b"", headers=json_type), 400, "invalid_request")
    problem(refresh_with(json=[pair["refreshToken"]]), 400, "invalid_request")
    missing = problem(refresh_with(json={}), 400, "invalid_request")
    assert missing["errors"] == {"refreshToken": ["The refreshToken field is required."]}
    wrong_type = problem(refresh_with(json={"refreshToken": 12}), 400, "invalid_request")
    assert wrong_type["errors"] == {"refreshToken": ["The refreshToken field must be a string."]}
    too_long = problem(refresh_with(json={"refreshToken": "a" * 256}), 400, "invalid_request")
    assert too_long["errors"] == {"refreshToken": ["The refreshToken field must be at most 255 characters long."]}
    problem(refresh_with(json={"refreshToken": ""}), 400, "invalid_request")
    # 255 characters is a well-formed (if unknown) refresh token
    problem(refresh_with(json={"refreshToken": "a" * 255}), 401, "invalid_token", "unknown")
    login = problem(backend.call("POST", "Login", json={"username": USERNAME}), 400, "invalid_request")
    assert login["errors"] == {"password": ["The password field is required."]}

    assert backend.refresh(pair).status_code == 200  # the refresh token survived it all


def test_a_wrong_content_type_is_415(backend):
    pair = backend.tokens()
    body = json.dumps({"refreshToken": pair["refreshToken"]})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        reply = backend.call(
            "POST", "RefreshToken", token=pair["accessToken"], data=body, headers={"Content-Type": content_type}
        )
        problem(reply, 415, "unsupported_media_type")
    problem(
        backend.call("POST", "RefreshToken", token=pair["accessToken"], data=body.encode()),
        415,
        "unsupported_media_type",
    )
    login = json.dumps({"username": USERNAME, "password": PASSWORD})
    problem(
        backend.call("POST", "Login", data=login, headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"
    )
    charset = backend.call("POST", "Login", data=login, headers={"Content-Type": "application/json; charset=utf-8"})
    assert charset.status_code == 200


def test_unknown_paths_and_wrong_methods(backend):
    problem(backend.call("POST", "Register", json={}), 404, "not_found")
    problem(backend.call("POST", "Login/extra", json={}), 404, "not_found")
    reply = backend.call("GET", "Login")
    problem(reply, 405, "method_not_allowed")
    assert reply.headers["Allow"] == "POST"
    reply = backend.call("POST", "Me")
    problem(reply, 405, "method_not_allowed")
    assert reply.headers["Allow"] == "GET"


# ---- throttling and injected faults ---------------------------------------------------------------
def test_throttling_is_429_with_retry_after_and_changes_nothing(backend):
    pair = backend.tokens()
    backend.cloud.faults.add("userapi", "RefreshToken", throttle=True, count=1)
    reply = backend.refresh(pair)
    problem(reply, 429, "too_many_requests")
    assert reply.headers["Retry-After"] == "1"
    assert backend.refresh(pair).status_code == 200  # the throttled request did not spend the refresh token


def test_a_rate_limit_answers_429_until_the_bucket_refills(backend):
    backend.cloud.faults.rate_limit("userapi", "Login", rate=0.25, burst=1)
    assert backend.login().status_code == 200
    reply = backend.login()
    problem(reply, 429, "too_many_requests")
    assert reply.headers["Retry-After"] == "4"
    backend.cloud.clock.advance(seconds=4)
    assert backend.login().status_code == 200


def test_injected_errors_keep_the_format(backend):
    backend.cloud.faults.add("userapi", "Me", status=503, count=1)
    pair = backend.tokens()
    problem(backend.me(pair["accessToken"]), 503, "server_error")
    backend.cloud.faults.add("userapi", "Me", status=401, count=1)
    reply = backend.me(pair["accessToken"])
    problem(reply, 401, "unauthorized")
    assert reply.headers["WWW-Authenticate"] == f'Bearer realm="{DEFAULT_BASE}"'
    backend.cloud.faults.add("userapi", "Me", error="invalid_token", status=401, count=1)
    problem(backend.me(pair["accessToken"]), 401, "invalid_token")
    assert backend.me(pair["accessToken"]).status_code == 200


# ---- mounts ---------------------------------------------------------------------------------------
def test_mounts_live_side_by_side_with_their_own_users_keys_and_settings(backend, api):
    vendor = "https://vendor-b.example.com/api"
    mount = api.mount(
        vendor, issuer="https://issuer.vendor-b.example", audience="vendor-b-clients", access_token_seconds=600
    )
    assert mount.base_url == vendor
    api.create_user(
        "b_user", "b-password", user_id=77, instance_id=9, roles=[{"RoleID": 3, "RoleName": "Reader"}], base_url=vendor
    )
    assert api.signing_key(vendor) != api.signing_key()

    b_pair = backend.tokens("b_user", "b-password", base=vendor)
    claims = jwt.decode(
        b_pair["accessToken"],
        api.signing_key(vendor),
        algorithms=["HS256"],
        audience="vendor-b-clients",
        issuer="https://issuer.vendor-b.example",
        options={"verify_exp": False},
    )
    assert (claims["UserID"], claims["InstanceID"], claims[NAMEIDENTIFIER]) == ("77", "9", "b_user")
    assert abs(claims["exp"] - (backend.cloud.clock.time() + 600)) <= 2

    problem(backend.login(base=vendor), 401, "invalid_credentials")  # api_user lives on the default mount only
    problem(backend.login("b_user", "b-password"), 401, "invalid_credentials")
    problem(backend.me(b_pair["accessToken"]), 401, "invalid_token", "signature")  # the default mount's key
    assert backend.me(b_pair["accessToken"], base=vendor).json()["username"] == "b_user"
    assert backend.refresh(b_pair, base=vendor).status_code == 200


def test_the_longest_mounted_path_of_a_host_wins(backend, api):
    api.mount("https://paths.example.com/api", signing_key="a" * 32)
    api.mount("https://paths.example.com/api/v2", signing_key="b" * 32)
    api.create_user("outer", "outer-password", base_url="https://paths.example.com/api")
    api.create_user("inner", "inner-password", base_url="https://paths.example.com/api/v2")
    assert backend.login("inner", "inner-password", base="https://paths.example.com/api/v2").status_code == 200
    assert backend.login("outer", "outer-password", base="https://paths.example.com/api").status_code == 200
    problem(
        backend.login("outer", "outer-password", base="https://paths.example.com/api/v2"), 401, "invalid_credentials"
    )


def test_remounting_a_base_url_reconfigures_it_and_keeps_its_users(backend, api):
    pair = backend.tokens()
    key = "k" * 40
    assert api.mount(DEFAULT_BASE + "/", signing_key=key) == api.get_mount()
    assert api.signing_key() == key
    problem(backend.me(pair["accessToken"]), 401, "invalid_token", "signature")  # a new key: old tokens fail
    fresh = backend.tokens()
    assert jwt.decode(fresh["accessToken"], key, algorithms=["HS256"], audience=DEFAULT_BASE)["UserID"] == "1001"


def test_a_bytes_signing_key_signs_and_verifies(backend, api):
    key = bytes(range(48))
    api.mount(DEFAULT_BASE, signing_key=key)
    assert api.signing_key() == key
    pair = backend.tokens()
    assert jwt.decode(pair["accessToken"], key, algorithms=["HS256"], audience=DEFAULT_BASE)["UserID"] == "1001"
    assert backend.me(pair["accessToken"]).status_code == 200


def test_bad_mounts_users_and_settings_are_refused(api):
    with pytest.raises(MockCloudError, match="not a base URL"):
        api.mount("ftp://vendor.example")
    with pytest.raises(MockCloudError, match="not a base URL"):
        api.mount("https://vendor.example/api?x=1")
    with pytest.raises(MockCloudError, match="signing_key: 'short' is too short"):
        api.mount("https://vendor.example", signing_key=b"short")
    with pytest.raises(MockCloudError, match="not valid"):
        api.mount("https://vendor.example", access_token_seconds="soon")
    with pytest.raises(MockCloudError, match=r"unknown userapi setting\(s\) \['no_such_setting'\]; known: .*'issuer'"):
        api.mount("https://vendor.example", no_such_setting=1)
    with pytest.raises(MockCloudError, match="already exists"):
        api.create_user(USERNAME, "whatever")
    with pytest.raises(MockCloudError, match="already taken"):
        api.create_user("someone", "whatever", user_id="1001")
    with pytest.raises(MockCloudError, match="no User API is mounted"):
        api.create_user("someone", "whatever", base_url="https://not-mounted.example")
    assert [m.base_url for m in api.mounts] == [DEFAULT_BASE]  # nothing half-added


# ---- routing: in-process by host, on the server by path -----------------------------------------------
def test_in_process_a_mount_answers_on_its_host_only():
    with mock_userapi() as cloud:
        headers = {"Version": "2.0"}
        body = {"username": USERNAME, "password": PASSWORD}
        assert (
            requests.post(f"{DEFAULT_BASE}/User/Login", json=body, headers=headers, timeout=TIMEOUT).status_code == 200
        )
        with pytest.raises(UnmockedRequestError, match=r"other\.example\.com"):
            requests.post("https://other.example.com/User/Login", json=body, headers=headers, timeout=TIMEOUT)
        cloud.userapi.mount("https://other.example.com")
        cloud.userapi.create_user(USERNAME, PASSWORD, base_url="https://other.example.com")
        assert (
            requests.post(
                "https://other.example.com/User/Login", json=body, headers=headers, timeout=TIMEOUT
            ).status_code
            == 200
        )
        problem(requests.get(f"{DEFAULT_BASE}/elsewhere", timeout=TIMEOUT), 404, "not_found")


def test_on_the_server_a_mount_answers_at_its_path_and_at_its_host_qualified_path(mockcloud_server):
    url = mockcloud_server.url
    api = mockcloud_server.cloud.userapi
    api.mount("https://vendor-c.example.com/api", signing_key="c" * 32)
    api.mount("https://vendor-d.example.com/api", signing_key="d" * 32)  # the same path: the first mount keeps it
    api.create_user("c_user", "c-password", base_url="https://vendor-c.example.com/api")
    api.create_user("d_user", "d-password", base_url="https://vendor-d.example.com/api")
    headers = {"Version": "2.0"}

    def login(path: str, username: str, password: str) -> requests.Response:
        body = {"username": username, "password": password}
        return requests.post(f"{url}{path}/User/Login", json=body, headers=headers, timeout=TIMEOUT)

    assert login("", USERNAME, PASSWORD).status_code == 200
    assert login("/userapi.example.com", USERNAME, PASSWORD).status_code == 200
    assert login("/api", "c_user", "c-password").status_code == 200
    assert login("/vendor-c.example.com/api", "c_user", "c-password").status_code == 200
    assert login("/vendor-d.example.com/api", "d_user", "d-password").status_code == 200
    assert login("/api", "d_user", "d-password").status_code == 401
    # a Host header naming a mount reaches it too, as through a proxy
    body = {"username": "d_user", "password": "d-password"}
    proxied = requests.post(
        f"{url}/api/User/Login", json=body, headers={**headers, "Host": "vendor-d.example.com"}, timeout=TIMEOUT
    )
    assert proxied.status_code == 200
    unclaimed = requests.post(f"{url}/nothing/here", timeout=TIMEOUT)
    assert unclaimed.status_code == 404 and unclaimed.json()["error"] == "NoServiceClaimsRequest"


def test_the_secret_stays_off_the_public_jwks_and_requests_are_logged(mockcloud_server):
    backend = Backend(mockcloud_server.cloud, mockcloud_server.url)
    pair = backend.tokens()
    published = requests.get(f"{mockcloud_server.url}/_mockcloud/jwks/userapi", timeout=TIMEOUT).json()
    assert published == {"keys": []}  # an HS256 key is a shared secret, not a public key
    (key,) = mockcloud_server.cloud.userapi.jwk_set()["keys"]
    assert (key["kty"], key["alg"], key["kid"]) == ("oct", "HS256", DEFAULT_BASE)
    verifier = jwt.PyJWK(key)
    assert jwt.decode(pair["accessToken"], verifier, algorithms=["HS256"], audience=DEFAULT_BASE)["UserID"] == "1001"

    problem(backend.me("garbage"), 401, "invalid_token")
    log = requests.get(f"{mockcloud_server.url}/_mockcloud/requests", timeout=TIMEOUT).json()["requests"]
    assert [(r["service"], r["operation"], r["status"]) for r in log] == [
        ("userapi", "Login", 200),
        ("userapi", "Me", 401),
    ]
    assert log[1]["error_code"] == "invalid_token"


# ---- the mock's options --------------------------------------------------------------------------
def test_settings_from_the_mock_apply_to_every_mount():
    key = "s" * 32
    with mock_cloud(
        services=["userapi"], settings={"userapi": {"signing_key": key, "access_token_seconds": 60}}
    ) as cloud:
        backend = Backend(cloud)
        pair = backend.tokens()
        assert cloud.userapi.signing_key() == key
        cloud.userapi.mount("https://second.example.com")
        assert cloud.userapi.signing_key("https://second.example.com") == key
        cloud.clock.advance(seconds=61)
        problem(backend.me(pair["accessToken"]), 401, "invalid_token", "expired")
        assert [r.operation for r in cloud.requests.filter(service="userapi", error_code="invalid_token")] == ["Me"]


def test_custom_fixtures_define_the_mounts(tmp_path):
    path = tmp_path / "fixtures.json"
    path.write_text(
        json.dumps(
            {
                "userapi": {
                    "settings": {"versions": ["2.0", "2.1"]},
                    "mounts": [
                        {
                            "base_url": "https://one.example.com/v",
                            "settings": {"issuer": "one"},
                            "users": [{"username": "u1", "password": "p1", "roles": [{"RoleName": "R"}]}],
                        },
                        {
                            "base_url": "https://two.example.com",
                            "users": [{"username": "u2", "password": "p2", "user_id": 5}],
                        },
                    ],
                }
            }
        )
    )
    with mock_cloud(services=["userapi"], fixtures=path) as cloud:
        backend = Backend(cloud)
        one = backend.tokens("u1", "p1", base="https://one.example.com/v", version="2.1")
        claims = jwt.decode(
            one["accessToken"], cloud.userapi.signing_key(), algorithms=["HS256"], audience="https://one.example.com/v"
        )
        assert (claims["iss"], claims["UserID"], claims["Roles"]) == ("one", "1", '[{"RoleName":"R"}]')
        assert backend.tokens("u2", "p2", base="https://two.example.com")
        with pytest.raises(UnmockedRequestError):
            backend.login(base=DEFAULT_BASE)  # the embedded default mount is replaced

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"userapi": {"mounts": [{"base_url": "not a url"}]}}))
    with (
        pytest.raises(MockCloudError, match="do not match the fixtures schema"),
        mock_cloud(services=["userapi"], fixtures=bad) as cloud,
    ):
        _ = cloud.userapi


def test_mock_userapi_is_exported():
    assert "mock_userapi" in mockcloud.__all__
    with mockcloud.mock_userapi() as cloud:
        assert cloud.service_names == ("userapi",)
        assert cloud.userapi.get_mount().base_url == DEFAULT_BASE
