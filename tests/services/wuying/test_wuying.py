"""WUYING Workspace logon and refresh, driven by the real Alibaba Cloud SDKs.

Tests that take ``backend`` run twice: in-process under the mock, and
against a live server over loopback. The sync tea client
(``alibabacloud-ecd20201002``) runs everywhere; the whole logon walk also runs
with its async methods and with aliyunsdkcore's CommonRequest (always
v1-signed), in-process through the aiohttp and vendored-requests interceptors
and against the server; the remaining checks of those two clients (signature
errors, replays, time stamps) run against the server. The ecd operations are
anonymous, so moving the server's clock does not upset them; signed requests
to the server are timed with time_machine.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import requests
import time_machine
from alibabacloud_ecd20201002 import models
from alibabacloud_ecd20201002.client import Client as EcdClient
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from aliyunsdkcore.acs_exception.exceptions import ServerException as CoreServerException
from aliyunsdkcore.auth.composer import rpc_signature_composer
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest, RpcRequest
from darabonba.runtime import RuntimeOptions

from mockcloud import MockCloudError, mock_cloud, mock_wuying
from tests.services.wuying.support import ECD_HOST, REGION, Backend, refused, rpc_params

SITE = "cn-hangzhou+dir-0123456789"
ALICE, ALICE_PASSWORD = "alice", "Alice-Passw0rd"


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    """darabonba hands HTTP(S)_PROXY to every request; loopback must not go through one."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def logon(
    ecd: EcdClient, end_user_id: str = ALICE, password: str = ALICE_PASSWORD, client_id: str = "client-1", **extra
):
    request = models.GetLoginTokenRequest(
        region_id=REGION,
        client_id=client_id,
        end_user_id=end_user_id,
        password=password,
        current_stage="ADPassword",
        **extra,
    )
    return ecd.get_login_token(request).body


def stage(ecd: EcdClient, current_stage: str, session_id: str | None, client_id: str = "client-1", **extra):
    request = models.GetLoginTokenRequest(
        region_id=REGION, client_id=client_id, current_stage=current_stage, session_id=session_id, **extra
    )
    return ecd.get_login_token(request).body


def refresh(ecd: EcdClient, token: str, end_user_id: str = ALICE, client_id: str = "client-1", **extra):
    request = models.RefreshLoginTokenRequest(
        region_id=REGION, client_id=client_id, end_user_id=end_user_id, login_token=token, **extra
    )
    return ecd.refresh_login_token(request).body


# ---- ADPassword and RefreshLoginToken ----------------------------------------------------


def test_password_logon_returns_the_login_token_and_the_user(ecd):
    body = logon(ecd)
    assert body.login_token.startswith("v1") and len(body.login_token) == 96
    assert str(uuid.UUID(body.session_id)) == body.session_id
    assert body.next_stage is None
    assert body.keep_alive_token == ""  # "an empty value is returned" without keep-alive
    assert (body.end_user_id, body.office_site_id, body.office_site_name) == (ALICE, SITE, "Example office")
    assert (body.email, body.nick_name, body.tenant_id) == ("alice@example.com", "Alice", 1234567890123456)
    assert body.wy_id.startswith("wy-")
    assert len(body.request_id) == 36 and body.request_id == body.request_id.upper()
    # the office site may be named, by OfficeSiteId or by its older name DirectoryId
    assert logon(ecd, office_site_id=SITE).login_token != body.login_token
    assert logon(ecd, directory_id=SITE).login_token


def test_refresh_returns_a_new_token_and_retires_the_old_one(ecd):
    first = logon(ecd)
    second = refresh(ecd, first.login_token, session_id=first.session_id, office_site_id=SITE).login_token
    assert second.startswith("v1") and second != first.login_token
    error = refused(refresh, ecd, first.login_token)
    assert (error.code, error.status_code) == ("InvalidLoginToken.Replaced", 400)
    third = refresh(ecd, second).login_token
    assert third not in (first.login_token, second)


def test_a_login_token_is_bound_to_its_user_client_session_site_and_region(cloud, ecd):
    cloud.wuying.create_user("bob", "Bob-Passw0rd")
    body = logon(ecd)
    token = body.login_token
    for kwargs in (
        {"end_user_id": "bob"},
        {"client_id": "client-2"},
        {"session_id": str(uuid.uuid4())},
    ):
        error = refused(refresh, ecd, token, **kwargs)
        assert error.code == "InvalidLoginToken.Mismatch", kwargs
    other_site = cloud.wuying.create_office_site("cn-hangzhou+dir-9999999999")
    assert refused(refresh, ecd, token, office_site_id=other_site.office_site_id).code == "InvalidLoginToken.Mismatch"
    missing_site = refused(refresh, ecd, token, office_site_id="cn-hangzhou+dir-nope")
    assert (missing_site.code, missing_site.status_code) == ("InvalidOfficeSiteId.NotFound", 404)
    assert refused(refresh, ecd, "v1" + "0" * 94).code == "InvalidLoginToken"
    assert refused(refresh, ecd, token[:-1] + ("0" if token[-1] != "0" else "1")).code == "InvalidLoginToken"
    # none of the refused refreshes spent the token
    assert refresh(ecd, token).login_token


def test_login_tokens_live_15_minutes_on_the_mock_clock(cloud, ecd):
    token = logon(ecd).login_token
    cloud.clock.advance(minutes=14, seconds=59)
    renewed = refresh(ecd, token).login_token  # valid 15 minutes from the refresh
    cloud.clock.advance(minutes=14)
    renewed = refresh(ecd, renewed).login_token
    cloud.clock.advance(minutes=15)
    error = refused(refresh, ecd, renewed)
    assert (error.code, error.status_code) == ("InvalidLoginToken.Expired", 400)


def test_the_lifetime_and_the_error_codes_are_settings():
    settings = {
        "wuying": {"login_token_seconds": 8 * 3600, "error_codes": {"login_token_expired": "LoginTokenExpired"}}
    }
    with mock_cloud(services=["wuying"], settings=settings) as cloud:
        ecd = Backend(cloud).client()
        token = logon(ecd).login_token
        cloud.clock.advance(hours=7, minutes=59)
        token = refresh(ecd, token).login_token
        cloud.clock.advance(hours=8)
        assert refused(refresh, ecd, token).code == "LoginTokenExpired"


def test_office_site_id_on_refresh_can_be_required():
    with mock_wuying(settings={"wuying": {"refresh_requires_office_site": True}}) as cloud:
        ecd = Backend(cloud).client()
        token = logon(ecd).login_token
        error = refused(refresh, ecd, token)
        assert (error.code, error.message) == (
            "MissingOfficeSiteId",
            f"code: 400, OfficeSiteId is mandatory for this action. request id: {error.request_id}",
        )
        assert refresh(ecd, token, office_site_id=SITE).login_token


def test_missing_and_invalid_parameters_in_the_gateway_wording(ecd):
    error = refused(ecd.get_login_token, models.GetLoginTokenRequest(region_id=REGION))
    assert (error.code, error.status_code) == ("MissingClientId", 400)
    assert error.data["Message"] == "ClientId is mandatory for this action."
    assert refused(ecd.get_login_token, models.GetLoginTokenRequest(client_id="c")).code == "MissingRegionId"
    assert (
        refused(ecd.get_login_token, models.GetLoginTokenRequest(region_id=REGION, client_id="c", password="x")).code
        == "MissingEndUserId"
    )
    assert (
        refused(
            ecd.get_login_token, models.GetLoginTokenRequest(region_id=REGION, client_id="c", end_user_id=ALICE)
        ).code
        == "MissingPassword"
    )
    blank = refused(
        ecd.get_login_token,
        models.GetLoginTokenRequest(region_id=REGION, client_id="", end_user_id=ALICE, password="x"),
    )
    assert blank.code == "MissingClientId"
    bad_stage = refused(
        ecd.get_login_token, models.GetLoginTokenRequest(region_id=REGION, client_id="c", current_stage="Telepathy")
    )
    assert (bad_stage.code, bad_stage.data["Message"]) == (
        "InvalidCurrentStage",
        "Specified parameter CurrentStage is not valid.",
    )
    for missing in ("region_id", "client_id", "end_user_id", "login_token"):
        fields = {"region_id": REGION, "client_id": "c", "end_user_id": ALICE, "login_token": "v1x"}
        del fields[missing]
        name = "".join(part.title() for part in missing.split("_"))
        assert refused(ecd.refresh_login_token, models.RefreshLoginTokenRequest(**fields)).code == f"Missing{name}"
    # GetLoginToken without CurrentStage is the password stage
    body = ecd.get_login_token(
        models.GetLoginTokenRequest(region_id=REGION, client_id="c", end_user_id=ALICE, password=ALICE_PASSWORD)
    ).body
    assert body.login_token


# ---- wrong passwords, locks, office sites ----------------------------------------------------


def test_wrong_passwords_lock_the_user_until_the_lock_ends(cloud, ecd):
    for _ in range(4):
        error = refused(logon, ecd, password="wrong")
        assert (error.code, error.status_code) == ("InvalidUsernameOrPassword", 400)
    locked = refused(logon, ecd, password="wrong")
    assert locked.code == "UserLocked"
    assert locked.data["RiskVerifyInfo"] == {
        "Locked": "true",
        "LastLockDuration": 1800,
        "Email": "a***@example.com",
        "Phone": "138****0000",
    }
    assert refused(logon, ecd).code == "UserLocked"  # even with the right password
    cloud.clock.advance(minutes=29)
    assert refused(logon, ecd).code == "UserLocked"
    cloud.clock.advance(minutes=2)
    assert logon(ecd).login_token
    # a success resets the count of failures
    for _ in range(4):
        refused(logon, ecd, password="wrong")
    assert logon(ecd).login_token
    assert refused(logon, ecd, password="wrong").code == "InvalidUsernameOrPassword"


def test_unknown_users_look_like_wrong_passwords_and_unknown_sites_differ(cloud, ecd):
    assert refused(logon, ecd, end_user_id="mallory").code == "InvalidUsernameOrPassword"
    error = refused(logon, ecd, office_site_id="cn-hangzhou+dir-404")
    assert (error.code, error.status_code) == ("InvalidOfficeSiteId.NotFound", 404)
    cloud.wuying.create_office_site("cn-shanghai+dir-1")  # a site of another region
    assert refused(logon, ecd, office_site_id="cn-shanghai+dir-1").code == "InvalidOfficeSiteId.NotFound"
    # a user exists in one office site only
    cloud.wuying.create_user("carol", "Carol-Passw0rd", office_site_id="cn-hangzhou+dir-2")
    assert refused(logon, ecd, "carol", "Carol-Passw0rd", office_site_id=SITE).code == "InvalidUsernameOrPassword"
    assert (
        logon(ecd, "carol", "Carol-Passw0rd", office_site_id="cn-hangzhou+dir-2").office_site_id == "cn-hangzhou+dir-2"
    )
    assert refused(logon, ecd, office_site_id=SITE, directory_id="cn-hangzhou+dir-2").code == "InvalidParameter"


# ---- MFA -----------------------------------------------------------------------------------


def test_mfa_bind_then_verify_with_rfc6238_codes(cloud, ecd):
    cloud.wuying.create_user("dave", "Dave-Passw0rd", mfa=True)
    first = logon(ecd, "dave", "Dave-Passw0rd")
    assert (first.next_stage, first.login_token) == ("MFABind", None)
    with pytest.raises(MockCloudError):
        cloud.wuying.totp_code("dave")  # nothing bound yet
    bound = stage(ecd, "MFABind", first.session_id)
    assert bound.next_stage == "MFAVerify" and bound.login_token is None
    assert len(bound.secret) == 32
    png = base64.b64decode(bound.qr_code_png)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 200
    code = cloud.wuying.totp_code("dave")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    error = refused(stage, ecd, "MFAVerify", first.session_id, authentication_code=wrong)
    assert (error.code, error.status_code) == ("InvalidAuthenticationCode", 400)
    done = stage(ecd, "MFAVerify", first.session_id, authentication_code=code)
    assert done.login_token.startswith("v1") and done.next_stage is None
    assert done.session_id is None  # SessionId only on the first call of a session
    assert cloud.wuying.user("dave").mfa_secret == bound.secret

    # the device is bound: the next logon goes straight to MFAVerify, and a code is good once
    again = logon(ecd, "dave", "Dave-Passw0rd")
    assert again.next_stage == "MFAVerify" and again.secret is None
    assert (
        refused(stage, ecd, "MFAVerify", again.session_id, authentication_code=code).code == "InvalidAuthenticationCode"
    )
    cloud.clock.advance(seconds=30)
    assert stage(ecd, "MFAVerify", again.session_id, authentication_code=cloud.wuying.totp_code("dave")).login_token


def test_mfa_codes_from_a_neighbouring_time_step_pass_and_older_ones_fail(cloud, ecd):
    cloud.wuying.create_user("erin", "Erin-Passw0rd", mfa=True, mfa_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    session = logon(ecd, "erin", "Erin-Passw0rd").session_id
    code = cloud.wuying.totp_code("erin")
    cloud.clock.advance(seconds=30)
    assert stage(ecd, "MFAVerify", session, authentication_code=code).login_token  # one step of drift is allowed
    session = logon(ecd, "erin", "Erin-Passw0rd").session_id
    old = cloud.wuying.totp_code("erin")
    cloud.clock.advance(seconds=90)
    assert refused(stage, ecd, "MFAVerify", session, authentication_code=old).code == "InvalidAuthenticationCode"


def test_wrong_mfa_codes_count_towards_the_lock(cloud, ecd):
    cloud.wuying.create_user("fay", "Fay-Passw0rd", mfa=True, mfa_secret="JBSWY3DPEHPK3PXP")
    session = logon(ecd, "fay", "Fay-Passw0rd").session_id
    codes = [refused(stage, ecd, "MFAVerify", session, authentication_code="000000").code for _ in range(5)]
    assert codes[:4] == ["InvalidAuthenticationCode"] * 4 and codes[4] == "UserLocked"


# ---- TokenVerify, ChangePassword, KeepAliveVerify --------------------------------------------


def test_token_verify_checks_the_emailed_code(cloud, ecd):
    cloud.wuying.create_user("gus", "Gus-Passw0rd", email="gus@example.com", secondary_auth=True)
    first = logon(ecd, "gus", "Gus-Passw0rd")
    assert first.next_stage == "TokenVerify"
    assert first.risk_verify_info.email == "g***@example.com"
    code = cloud.wuying.email_code("gus")
    assert len(code) == 6 and code.isdigit()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert refused(stage, ecd, "TokenVerify", first.session_id, token_code=wrong).code == "InvalidTokenCode"
    assert stage(ecd, "TokenVerify", first.session_id, token_code=code).login_token
    # a code lives 5 minutes
    late = logon(ecd, "gus", "Gus-Passw0rd")
    cloud.clock.advance(minutes=5, seconds=1)
    error = refused(stage, ecd, "TokenVerify", late.session_id, token_code=cloud.wuying.email_code("gus"))
    assert error.code == "InvalidTokenCode.Expired"


def test_secondary_auth_follows_the_office_site(cloud, ecd):
    cloud.wuying.create_office_site("cn-hangzhou+dir-secure", name="Secure office", secondary_auth=True)
    cloud.wuying.create_user("hal", "Hal-Passw0rd", office_site_id="cn-hangzhou+dir-secure", email="hal@example.com")
    first = logon(ecd, "hal", "Hal-Passw0rd")
    assert (first.next_stage, first.office_site_name) == ("TokenVerify", "Secure office")
    with pytest.raises(MockCloudError):
        cloud.wuying.email_code(ALICE)  # nothing was sent to alice


def test_change_password_stage(cloud, ecd):
    cloud.wuying.create_user("ivy", "Ivy-Passw0rd", must_change_password=True)
    first = logon(ecd, "ivy", "Ivy-Passw0rd")
    assert first.next_stage == "ChangePassword" and first.login_token is None
    assert first.password_strategy.tenant_password_length == "8"
    error = refused(stage, ecd, "ChangePassword", first.session_id, old_password="nope", new_password="New-Passw0rd")
    assert error.code == "InvalidOldPassword"
    weak = refused(stage, ecd, "ChangePassword", first.session_id, old_password="Ivy-Passw0rd", new_password="short")
    assert weak.code == "InvalidNewPassword" and "at least 8 characters" in weak.data["Message"]
    assert (
        refused(stage, ecd, "ChangePassword", first.session_id, old_password="Ivy-Passw0rd").code
        == "MissingNewPassword"
    )
    done = stage(ecd, "ChangePassword", first.session_id, old_password="Ivy-Passw0rd", new_password="New-Passw0rd")
    assert done.login_token
    assert refused(logon, ecd, "ivy", "Ivy-Passw0rd").code == "InvalidUsernameOrPassword"
    assert logon(ecd, "ivy", "New-Passw0rd").next_stage is None


def test_keep_alive_token_buys_login_tokens_in_new_sessions(cloud, ecd):
    first = logon(ecd, keep_alive=True)
    keep = first.keep_alive_token
    assert keep
    again = stage(ecd, "KeepAliveVerify", None, keep_alive_token=keep)
    assert again.login_token and again.login_token != first.login_token
    assert again.session_id and again.session_id != first.session_id
    assert again.keep_alive_token == keep and again.end_user_id == ALICE
    assert refresh(ecd, again.login_token, session_id=again.session_id).login_token
    assert (
        refused(stage, ecd, "KeepAliveVerify", None, client_id="client-2", keep_alive_token=keep).code
        == "InvalidKeepAliveToken.Mismatch"
    )
    assert refused(stage, ecd, "KeepAliveVerify", None, keep_alive_token="forged").code == "InvalidKeepAliveToken"
    assert refused(stage, ecd, "KeepAliveVerify", None).code == "MissingKeepAliveToken"
    cloud.clock.advance(days=7, seconds=1)
    assert refused(stage, ecd, "KeepAliveVerify", None, keep_alive_token=keep).code == "InvalidKeepAliveToken.Expired"


def test_session_rules(cloud, ecd):
    cloud.wuying.create_user("kim", "Kim-Passw0rd", mfa=True, mfa_secret="JBSWY3DPEHPK3PXP")
    session = logon(ecd, "kim", "Kim-Passw0rd").session_id
    assert refused(stage, ecd, "MFAVerify", None, authentication_code="123456").code == "MissingSessionId"
    assert refused(stage, ecd, "MFAVerify", str(uuid.uuid4()), authentication_code="123456").code == "InvalidSessionId"
    assert (
        refused(stage, ecd, "MFAVerify", session, client_id="client-2", authentication_code="1").code
        == "InvalidSessionId.Mismatch"
    )
    assert refused(stage, ecd, "MFAVerify", session).code == "MissingAuthenticationCode"
    out_of_order = refused(stage, ecd, "TokenVerify", session, token_code="123456")
    assert out_of_order.code == "InvalidCurrentStage" and "MFAVerify" in out_of_order.data["Message"]
    assert stage(ecd, "MFAVerify", session, authentication_code=cloud.wuying.totp_code("kim")).login_token
    assert refused(stage, ecd, "MFAVerify", session, authentication_code="123456").code == "InvalidCurrentStage"
    late = logon(ecd, "kim", "Kim-Passw0rd").session_id
    cloud.clock.advance(minutes=10, seconds=1)
    assert (
        refused(stage, ecd, "MFAVerify", late, authentication_code=cloud.wuying.totp_code("kim")).code
        == "InvalidSessionId.Expired"
    )


# ---- the wire ---------------------------------------------------------------------------------


def test_error_body_status_and_headers(backend):
    reply = backend.raw(params={"RegionId": REGION, "ClientId": "c", "EndUserId": ALICE, "Password": "wrong"})
    assert reply.status_code == 400
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert list(body) == ["RequestId", "HostId", "Code", "Message", "Recommend"]
    assert body["Code"] == "InvalidUsernameOrPassword"
    assert reply.headers["x-acs-request-id"] == body["RequestId"]
    assert body["HostId"] in (ECD_HOST, "127.0.0.1")
    assert (
        body["Recommend"]
        == f"https://api.aliyun.com/troubleshoot?q=InvalidUsernameOrPassword&product=ecd&requestId={body['RequestId']}"
    )


def test_actions_versions_methods_and_formats(backend):
    unknown = backend.raw(params={"Action": "MintDesktops"})
    assert (unknown.status_code, unknown.json()["Code"]) == (404, "InvalidAction.NotFound")
    assert unknown.json()["Message"] == "Specified api is not found, please check your url and method."
    # the admin API's version on the same endpoint (routed here by host, or by the x-acs-version header)
    version = backend.raw(params={"Version": "2020-09-30"}, headers={"x-acs-version": "2020-10-02"})
    assert (version.status_code, version.json()["Code"]) == (400, "InvalidVersion")
    assert version.json()["Message"] == "Specified parameter Version is not valid."
    assert backend.raw("PUT").json()["Code"] == "UnsupportedHTTPMethod"
    good = {"RegionId": REGION, "ClientId": "c", "EndUserId": ALICE, "Password": ALICE_PASSWORD}
    assert backend.raw("GET", params=good).json()["LoginToken"].startswith("v1")
    xml = backend.raw(params={**good, "Format": "XML"})
    assert xml.status_code == 200 and xml.text.startswith("<?xml") and "<GetLoginTokenResponse><RequestId>" in xml.text
    xml_error = backend.raw(params={"Format": "XML"})
    assert (
        xml_error.status_code == 400
        and "<Error><RequestId>" in xml_error.text
        and "<Code>MissingRegionId</Code>" in xml_error.text
    )


def test_form_bodies_headers_and_the_encodings_clients_use(backend):
    form = "RegionId=cn-hangzhou&ClientId=a+b%20c&EndUserId=alice&Password=Alice-Passw0rd&KeepAlive=TRUE"
    reply = requests.post(
        backend.url,
        data=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            "x-acs-action": "GetLoginToken",
            "x-acs-version": "2020-10-02",
        },
        timeout=5,
    )
    body = reply.json()
    assert reply.status_code == 200 and body["KeepAliveToken"]
    # "a+b%20c" is the client id "a b c" however it was encoded, and a raw ":" in a query is a colon
    query = (
        f"Action=RefreshLoginToken&Version=2020-10-02&Timestamp=2024-01-01T00:00:00Z&RegionId={REGION}"
        f"&ClientId=a%20b+c&EndUserId=alice&LoginToken={body['LoginToken']}"
    )
    refreshed = requests.post(
        backend.url + "?" + query, headers={"Content-Type": "application/octet-stream"}, timeout=5
    )
    assert refreshed.status_code == 200, refreshed.text
    for value, expected in (("true", True), ("True", True), ("false", False)):
        out = backend.raw(
            params={
                "RegionId": REGION,
                "ClientId": "c",
                "EndUserId": ALICE,
                "Password": ALICE_PASSWORD,
                "KeepAlive": value,
            }
        ).json()
        assert bool(out["KeepAliveToken"]) is expected
    bad = backend.raw(
        params={"RegionId": REGION, "ClientId": "c", "EndUserId": ALICE, "Password": "x", "KeepAlive": "maybe"}
    )
    assert (bad.status_code, bad.json()["Code"]) == (400, "InvalidKeepAlive")


def test_throttling_faults_and_server_errors(cloud, ecd):
    cloud.faults.rate_limit("wuying", "RefreshLoginToken", rate=0.5, burst=1)
    token = logon(ecd).login_token
    token = refresh(ecd, token).login_token
    with pytest.raises(ThrottlingException) as exc:
        refresh(ecd, token)
    assert (exc.value.code, exc.value.status_code) == ("Throttling.User", 400)
    assert 1 <= exc.value.retry_after <= 2000  # milliseconds, as the tea SDK sleeps them
    cloud.faults.clear()
    cloud.faults.add("wuying", "GetLoginToken", throttle=True, count=1)
    error = refused(logon, ecd)
    assert (error.code, error.data["Message"]) == ("Throttling.User", "Request was denied due to user flow control.")
    assert not isinstance(error, ThrottlingException)  # no retry time known, no x-acs-retry-after
    cloud.faults.add("wuying", status=503, count=1)
    with pytest.raises(ServerException) as exc:
        logon(ecd)
    assert (exc.value.code, exc.value.status_code) == ("ServiceUnavailable", 503)
    cloud.faults.add("wuying", error="Forbidden.Custom", status=403, count=1)
    assert refused(logon, ecd).code == "Forbidden.Custom"
    assert logon(ecd).login_token
    codes = [r.error_code for r in cloud.requests.filter(service="wuying")]
    assert codes[-4:] == ["Throttling.User", "ServiceUnavailable", "Forbidden.Custom", None]


def test_non_ascii_parameters(cloud, ecd):
    cloud.wuying.create_user("zoë", "Pässwört-中文 1")
    body = logon(ecd, "zoë", "Pässwört-中文 1", client_id="客户端 ~*")
    assert body.end_user_id == "zoë"
    assert refresh(ecd, body.login_token, end_user_id="zoë", client_id="客户端 ~*").login_token
    assert refused(logon, ecd, "zoë", "Passwort-中文 1").code == "InvalidUsernameOrPassword"


def test_every_region_of_the_sdk_routes_by_host_in_process():
    """The SDK's endpoint map (and its regional rule for other regions) all land on ecd.<region>.aliyuncs.com."""
    with mock_wuying():
        regions = [*EcdClient(utils_models.Config(region_id=REGION))._endpoint_map, "xx-unknown-1"]
        assert len(regions) > 20
        for region in regions:
            host = EcdClient(utils_models.Config(region_id=region))._endpoint  # the host the SDK would call
            assert host == f"ecd.{region}.aliyuncs.com"
            query = urlencode(
                {
                    "Action": "GetLoginToken",
                    "Version": "2020-10-02",
                    "RegionId": region,
                    "ClientId": "c",
                    "EndUserId": "x",
                    "Password": "x",
                }
            )
            reply = requests.post(
                f"https://{host}/?{query}", timeout=5
            )  # (a new SDK client per host costs an SSL context each)
            assert (reply.status_code, reply.json()["Code"], reply.json()["HostId"]) == (
                400,
                "InvalidUsernameOrPassword",
                host,
            )
        # network="vpc" changes the host of regions outside the SDK's map
        vpc = EcdClient(utils_models.Config(region_id="xx-unknown-1", network="vpc"))
        assert vpc._endpoint == "ecd-vpc.xx-unknown-1.aliyuncs.com"
        assert logon(vpc).login_token  # the host is transport; RegionId in the request picks the office site


def test_other_regions_route_by_host_in_process():
    with mock_wuying() as cloud:
        cloud.wuying.create_user("sg", "Sg-Passw0rd1", office_site_id="ap-southeast-1+dir-1")
        ecd = EcdClient(utils_models.Config(region_id="ap-southeast-1"))
        body = ecd.get_login_token(
            models.GetLoginTokenRequest(
                region_id="ap-southeast-1", client_id="c", end_user_id="sg", password="Sg-Passw0rd1"
            )
        ).body
        assert body.office_site_id == "ap-southeast-1+dir-1"
        assert cloud.requests[-1].url.startswith("https://ecd.ap-southeast-1.aliyuncs.com/")


def test_helpers_and_defaults():
    with mock_wuying() as cloud:
        assert [s.office_site_id for s in cloud.wuying.office_sites] == [SITE]
        assert [u.end_user_id for u in cloud.wuying.users] == [ALICE]
        user = cloud.wuying.create_user(
            "lee", "Lee-Passw0rd", office_site_id="cn-beijing+dir-5", email="lee@example.com"
        )
        site = cloud.wuying.office_site("cn-beijing+dir-5")
        assert (user.office_site_id, site.region_id, site.tenant_id) == (
            "cn-beijing+dir-5",
            "cn-beijing",
            1234567890123456,
        )
        assert cloud.wuying.create_user("moe", "Moe-Passw0rd").office_site_id == SITE
        with pytest.raises(MockCloudError):
            cloud.wuying.totp_code("lee")
        with pytest.raises(MockCloudError):
            cloud.wuying.user("nobody")
        assert "Lee-Passw0rd" not in repr(user)


# ---- signed requests: ACS3 via the tea client, v1 via tea and aliyunsdkcore ------------------


def _call_api(ecd: EcdClient, query: dict, *, body: bool = False) -> dict:
    params = rpc_params("GetLoginToken")
    request = (
        utils_models.OpenApiRequest(body=query) if body else utils_models.OpenApiRequest(query=TeaUtils.query(query))
    )
    return ecd.call_api(params, request, RuntimeOptions())


LOGON_QUERY = {"RegionId": REGION, "ClientId": "c", "EndUserId": ALICE, "Password": ALICE_PASSWORD}


def test_signed_tea_requests_acs3_and_v1(backend):
    for algorithm in (None, "v2"):  # None: ACS3-HMAC-SHA256 (call_api's default); "v2": RPC v1 HMAC-SHA1
        extra = {"signature_algorithm": algorithm} if algorithm else {}
        signed = backend.client(access_key_id="testing", access_key_secret="testing", **extra)
        assert _call_api(signed, LOGON_QUERY)["body"]["LoginToken"]
        assert _call_api(signed, LOGON_QUERY, body=True)["body"][
            "LoginToken"
        ]  # form body: by hash (ACS3) or signed (v1)
        wrong = backend.client(access_key_id="testing", access_key_secret="wrong", **extra)
        error = refused(_call_api, wrong, LOGON_QUERY)
        assert (error.code, error.status_code) == ("SignatureDoesNotMatch", 400)
        unknown = backend.client(access_key_id="nobody", access_key_secret="x", **extra)
        error = refused(_call_api, unknown, LOGON_QUERY)
        assert (error.code, error.status_code) == ("InvalidAccessKeyId.NotFound", 404)
    backend.cloud.credentials.add_alibaba("LTAI-new-key", "new-secret")
    fresh = backend.client(access_key_id="LTAI-new-key", access_key_secret="new-secret")
    assert _call_api(fresh, LOGON_QUERY)["statusCode"] == 200


def test_acs3_signed_requests_follow_the_mock_clock_in_process():
    with mock_wuying() as cloud:
        signed = Backend(cloud).client(access_key_id="testing", access_key_secret="testing")
        cloud.clock.advance(days=3)  # the client's clock moves with the mock's: still in time
        assert _call_api(signed, LOGON_QUERY)["statusCode"] == 200


def _core_request(backend: Backend, action: str = "GetLoginToken", **params) -> CommonRequest:
    request = CommonRequest(domain=backend.endpoint or ECD_HOST, version="2020-10-02", action_name=action)
    request.set_method("POST")
    request.set_protocol_type("http" if backend.server_url else "https")
    for key, value in params.items():
        request.add_query_param(key, value)
    return request


def test_aliyunsdkcore_common_request_logon_and_refresh(server):
    client = AcsClient("testing", "testing", REGION)
    logged_on = json.loads(client.do_action_with_exception(_core_request(server, **LOGON_QUERY)))
    assert logged_on["LoginToken"].startswith("v1") and logged_on["RequestId"]
    refreshed = json.loads(
        client.do_action_with_exception(
            _core_request(
                server,
                "RefreshLoginToken",
                RegionId=REGION,
                ClientId="c",
                EndUserId=ALICE,
                LoginToken=logged_on["LoginToken"],
            )
        )
    )
    assert refreshed["LoginToken"] != logged_on["LoginToken"]
    # body parameters are signed too
    in_body = _core_request(server, RegionId=REGION)
    for key, value in LOGON_QUERY.items():
        if key != "RegionId":
            in_body.add_body_params(key, value)
    assert json.loads(client.do_action_with_exception(in_body))["LoginToken"]
    with pytest.raises(CoreServerException) as exc:
        client.do_action_with_exception(
            _core_request(
                server,
                "RefreshLoginToken",
                RegionId=REGION,
                ClientId="c",
                EndUserId=ALICE,
                LoginToken=logged_on["LoginToken"],
            )
        )
    assert (exc.value.get_error_code(), exc.value.get_http_status()) == ("InvalidLoginToken.Replaced", 400)


def test_aliyunsdkcore_signature_errors(server):
    wrong = AcsClient("testing", "wrong-secret", REGION)
    with pytest.raises(CoreServerException) as exc:
        wrong.do_action_with_exception(_core_request(server, **LOGON_QUERY))
    assert (exc.value.get_error_code(), exc.value.get_http_status()) == ("SignatureDoesNotMatch", 400)
    prefix, string_to_sign = exc.value.get_error_msg().split(":", 1)
    assert prefix == "Specified signature is not matched with our calculation. server string to sign is"
    assert string_to_sign.startswith("POST&%2F&AccessKeyId%3Dtesting%26Action%3DGetLoginToken%26")
    assert "%26SignatureType%3D%26" in string_to_sign  # the blank value it signs
    # a typed RpcRequest keeps its string to sign, so aliyunsdkcore recognises the bad secret
    typed = RpcRequest("ecd", "2020-10-02", "GetLoginToken")
    typed.set_endpoint(server.endpoint)
    typed.set_protocol_type("http")
    typed.set_method("POST")
    for key, value in LOGON_QUERY.items():
        typed.add_query_param(key, value)
    with pytest.raises(CoreServerException) as exc:
        wrong.do_action_with_exception(typed)
    assert exc.value.get_error_code() == "InvalidAccessKeySecret"
    with pytest.raises(CoreServerException) as exc:
        AcsClient("LTAI-unknown", "x", REGION).do_action_with_exception(_core_request(server, **LOGON_QUERY))
    assert (exc.value.get_error_code(), exc.value.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)


def test_time_stamps_more_than_15_minutes_off_are_refused(server, monkeypatch):
    """A client whose clock is 16 minutes off both the server's clock and the host's time is refused; one that
    signs with either time is not (the server's clients live in other processes, with clocks of their own)."""
    from aliyunsdkcore.utils import parameter_helper

    client = AcsClient("testing", "testing", REGION)
    server.cloud.clock.freeze()
    server.cloud.clock.advance(minutes=30)  # the host's time is half an hour behind the server's
    assert json.loads(client.do_action_with_exception(_core_request(server, **LOGON_QUERY)))["LoginToken"]
    server_time = server.cloud.clock.now()

    def signing_at(moment):
        monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: moment.strftime("%Y-%m-%dT%H:%M:%SZ"))

    signing_at(server_time + timedelta(minutes=14))  # a client 14 minutes ahead of the server
    assert json.loads(client.do_action_with_exception(_core_request(server, **LOGON_QUERY)))["LoginToken"]
    signing_at(server_time + timedelta(minutes=16))
    with pytest.raises(CoreServerException) as exc:
        client.do_action_with_exception(_core_request(server, **LOGON_QUERY))
    assert (exc.value.get_error_code(), exc.value.get_http_status()) == ("InvalidTimeStamp.Expired", 400)
    assert exc.value.get_error_msg() == "Specified time stamp or date value is expired."
    signing_at(server_time - timedelta(minutes=15, seconds=30))  # 14.5 minutes before the host's time: fresh
    assert json.loads(client.do_action_with_exception(_core_request(server, **LOGON_QUERY)))["LoginToken"]
    # anonymous requests carry no signature to date: the tea client still works
    assert logon(server.client()).login_token


def test_replayed_signed_requests_are_refused(server):
    query = {"Action": "GetLoginToken", "Version": "2020-10-02", **LOGON_QUERY}
    path, _ = rpc_signature_composer.get_signed_url(dict(query), "testing", "testing", "JSON", "GET", {})
    first = requests.get(server.server_url + path, timeout=5)
    assert first.status_code == 200, first.text
    replay = requests.get(server.server_url + path, timeout=5)
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")
    assert replay.json()["Message"] == "Specified signature nonce was used already."
    altered = requests.get(server.server_url + path.replace("ClientId=c", "ClientId=d"), timeout=5)
    assert altered.json()["Code"] == "SignatureDoesNotMatch"


# ---- the async tea client against the server -------------------------------------------------


# ---- one walk through every stage and every error, for each client ---------------------------

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
EXPECTED_ERRORS = [
    "MissingClientId",
    "InvalidCurrentStage",
    "InvalidOfficeSiteId.NotFound",
    "InvalidUsernameOrPassword",
    "InvalidAuthenticationCode",
    "InvalidSessionId",
    "InvalidSessionId.Mismatch",
    "InvalidCurrentStage",
    "InvalidTokenCode",
    "InvalidTokenCode.Expired",
    "InvalidOldPassword",
    "InvalidNewPassword",
    "InvalidLoginToken",
    "InvalidLoginToken.Mismatch",
    "InvalidLoginToken.Replaced",
    "InvalidKeepAliveToken",
    "InvalidLoginToken.Expired",
    "UserLocked",
]


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def walk_every_stage(call, cloud) -> list[str]:
    """ADPassword → ChangePassword → MFABind → MFAVerify → TokenVerify, then KeepAliveVerify and a refresh."""
    cloud.wuying.create_user(
        "jo", "Jo-Passw0rd!", mfa=True, email="jo@example.com", must_change_password=True, secondary_auth=True
    )
    base = {"RegionId": REGION, "ClientId": "client-jo"}
    out = await call(
        "GetLoginToken",
        {**base, "CurrentStage": "ADPassword", "EndUserId": "jo", "Password": "Jo-Passw0rd!", "KeepAlive": "true"},
    )
    session, seen = out["SessionId"], []
    while out.get("NextStage"):
        seen.append(out["NextStage"])
        extra = {
            "ChangePassword": lambda: {"OldPassword": "Jo-Passw0rd!", "NewPassword": "Jo-Passw0rd-2"},
            "MFABind": dict,
            "MFAVerify": lambda: {"AuthenticationCode": cloud.wuying.totp_code("jo")},
            "TokenVerify": lambda: {"TokenCode": cloud.wuying.email_code("jo")},
        }[seen[-1]]()
        out = await call("GetLoginToken", {**base, "CurrentStage": seen[-1], "SessionId": session, **extra})
        assert "error" not in out, out
        if seen[-1] == "MFABind":
            assert len(out["Secret"]) == 32 and base64.b64decode(out["QrCodePng"]).startswith(b"\x89PNG")
    assert out["LoginToken"].startswith("v1") and out["KeepAliveToken"]
    again = await call(
        "GetLoginToken", {**base, "CurrentStage": "KeepAliveVerify", "KeepAliveToken": out["KeepAliveToken"]}
    )
    refreshed = await call(
        "RefreshLoginToken",
        {**base, "EndUserId": "jo", "LoginToken": again["LoginToken"], "SessionId": again["SessionId"]},
    )
    assert refreshed["LoginToken"] not in (out["LoginToken"], again["LoginToken"])
    return seen


async def walk_errors(call, cloud, advance) -> list[str]:
    """Each logon and token error once; returns the codes in order (compare with EXPECTED_ERRORS)."""
    cloud.wuying.create_user(
        "pat", "Pat-Passw0rd", mfa=True, mfa_secret=SECRET, email="pat@example.com", secondary_auth=True
    )
    cloud.wuying.create_user("quin", "Quin-Passw0rd", must_change_password=True)
    base = {"RegionId": REGION, "ClientId": "c"}
    alice = {**base, "EndUserId": ALICE, "Password": ALICE_PASSWORD}
    codes: list[str] = []

    async def expect_error(action: str, params: dict) -> None:
        codes.append((await call(action, params)).get("error", "no error"))

    await expect_error("GetLoginToken", {"RegionId": REGION})
    await expect_error("GetLoginToken", {**base, "CurrentStage": "Telepathy"})
    await expect_error("GetLoginToken", {**alice, "OfficeSiteId": "cn-hangzhou+dir-404"})
    await expect_error("GetLoginToken", {**alice, "Password": "wrong"})
    # MFA and TokenVerify
    session = (await call("GetLoginToken", {**base, "EndUserId": "pat", "Password": "Pat-Passw0rd"}))["SessionId"]
    mfa = {**base, "CurrentStage": "MFAVerify", "SessionId": session}
    await expect_error("GetLoginToken", {**mfa, "AuthenticationCode": _other(cloud.wuying.totp_code("pat"))})
    await expect_error("GetLoginToken", {**mfa, "SessionId": str(uuid.uuid4()), "AuthenticationCode": "123456"})
    await expect_error("GetLoginToken", {**mfa, "ClientId": "someone-else", "AuthenticationCode": "123456"})
    await expect_error("GetLoginToken", {**mfa, "CurrentStage": "TokenVerify", "TokenCode": "123456"})
    verified = await call("GetLoginToken", {**mfa, "AuthenticationCode": cloud.wuying.totp_code("pat")})
    assert verified["NextStage"] == "TokenVerify", verified
    token_verify = {**base, "CurrentStage": "TokenVerify", "SessionId": session}
    await expect_error("GetLoginToken", {**token_verify, "TokenCode": _other(cloud.wuying.email_code("pat"))})
    advance(minutes=5, seconds=1)
    await expect_error("GetLoginToken", {**token_verify, "TokenCode": cloud.wuying.email_code("pat")})
    # ChangePassword
    session = (await call("GetLoginToken", {**base, "EndUserId": "quin", "Password": "Quin-Passw0rd"}))["SessionId"]
    change = {**base, "CurrentStage": "ChangePassword", "SessionId": session}
    await expect_error("GetLoginToken", {**change, "OldPassword": "nope", "NewPassword": "Quin-Passw0rd-2"})
    await expect_error("GetLoginToken", {**change, "OldPassword": "Quin-Passw0rd", "NewPassword": "weak"})
    # tokens
    logged_on = await call("GetLoginToken", {**alice, "KeepAlive": "true"})
    refresh_params = {**base, "EndUserId": ALICE, "LoginToken": logged_on["LoginToken"]}
    await expect_error("RefreshLoginToken", {**refresh_params, "LoginToken": "v1" + "0" * 94})
    await expect_error("RefreshLoginToken", {**refresh_params, "EndUserId": "pat"})
    renewed = (await call("RefreshLoginToken", refresh_params))["LoginToken"]
    await expect_error("RefreshLoginToken", refresh_params)
    await expect_error("GetLoginToken", {**base, "CurrentStage": "KeepAliveVerify", "KeepAliveToken": "forged"})
    advance(minutes=15, seconds=1)
    await expect_error("RefreshLoginToken", {**refresh_params, "LoginToken": renewed})
    # five wrong passwords in a row lock the user
    for _ in range(5):
        outcome = await call("GetLoginToken", {**alice, "Password": "wrong"})
    codes.append(outcome["error"])
    return codes


def tea_sync_call(ecd: EcdClient):
    async def call(action: str, params: dict) -> dict:
        try:
            if action == "GetLoginToken":
                return ecd.get_login_token(models.GetLoginTokenRequest().from_map(params)).body.to_map()
            return ecd.refresh_login_token(models.RefreshLoginTokenRequest().from_map(params)).body.to_map()
        except ClientException as exc:
            return {"error": exc.code}

    return call


def tea_async_call(ecd: EcdClient):
    async def call(action: str, params: dict) -> dict:
        try:
            if action == "GetLoginToken":
                return (await ecd.get_login_token_async(models.GetLoginTokenRequest().from_map(params))).body.to_map()
            return (
                await ecd.refresh_login_token_async(models.RefreshLoginTokenRequest().from_map(params))
            ).body.to_map()
        except ClientException as exc:
            return {"error": exc.code}

    return call


def core_call(backend: Backend, client: AcsClient):
    async def call(action: str, params: dict) -> dict:
        try:
            return json.loads(client.do_action_with_exception(_core_request(backend, action, **params)))
        except CoreServerException as exc:
            return {"error": exc.get_error_code()}

    return call


STAGES = ["ChangePassword", "MFABind", "MFAVerify", "TokenVerify"]


def test_sync_client_walks_every_stage_and_error(backend, cloud, ecd):
    assert asyncio.run(walk_every_stage(tea_sync_call(ecd), cloud)) == STAGES
    assert asyncio.run(walk_errors(tea_sync_call(ecd), cloud, cloud.clock.advance)) == EXPECTED_ERRORS


def test_async_client_walks_every_stage_and_error(backend, cloud):
    """aiohttp under the tea client's async methods (in-process through the aiohttp interceptor).

    Over HTTP: for HTTPS the SDK builds a fresh SSL context (~40 ms) for every async request.
    """
    ecd = backend.client(protocol="http")
    assert asyncio.run(walk_every_stage(tea_async_call(ecd), cloud)) == STAGES
    assert asyncio.run(walk_errors(tea_async_call(ecd), cloud, cloud.clock.advance)) == EXPECTED_ERRORS


def test_aliyunsdkcore_walks_every_stage_and_error(backend, cloud):
    """v1-signed CommonRequests (in-process through the interceptor of aliyunsdkcore's vendored requests).

    In-process the client's clock is the mock's; against the server the client
    signs on a clock travelled to the (frozen) server clock, so time can move.
    """
    call = core_call(backend, AcsClient("testing", "testing", REGION))
    if backend.server_url is None:
        assert asyncio.run(walk_every_stage(call, cloud)) == STAGES
        assert asyncio.run(walk_errors(call, cloud, cloud.clock.advance)) == EXPECTED_ERRORS
        return
    with time_machine.travel(cloud.clock.freeze(), tick=True) as traveller:

        def advance(**delta):
            traveller.move_to(cloud.clock.advance(**delta), tick=True)

        assert asyncio.run(walk_every_stage(call, cloud)) == STAGES
        assert asyncio.run(walk_errors(call, cloud, advance)) == EXPECTED_ERRORS


def test_async_signed_requests_against_the_server(server):
    params = rpc_params("GetLoginToken", "HTTP")

    async def flow():
        signed = server.client(access_key_id="testing", access_key_secret="testing")
        acs3 = await signed.call_api_async(
            params, utils_models.OpenApiRequest(query=TeaUtils.query(LOGON_QUERY)), RuntimeOptions()
        )
        wrong = server.client(access_key_id="testing", access_key_secret="wrong")
        with pytest.raises(ClientException) as bad_signature:
            await wrong.call_api_async(
                params, utils_models.OpenApiRequest(query=TeaUtils.query(LOGON_QUERY)), RuntimeOptions()
            )
        return acs3, bad_signature.value

    acs3, bad_signature = asyncio.run(flow())
    assert acs3["statusCode"] == 200 and acs3["body"]["LoginToken"].startswith("v1")
    assert (bad_signature.code, bad_signature.status_code) == ("SignatureDoesNotMatch", 400)


def test_racing_refreshes_of_one_token_make_one_winner(server):
    token = logon(server.client()).login_token
    clients = [server.client() for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    outcomes: list = []

    def race(client):
        barrier.wait(timeout=10)
        try:
            outcomes.append(refresh(client, token).login_token)
        except ClientException as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=race, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [o for o in outcomes if o.startswith("v1")]
    assert len(winners) == 1 and sorted(set(outcomes) - set(winners)) == ["InvalidLoginToken.Replaced"]
