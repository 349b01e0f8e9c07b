"""The LoginToken as the key to every client operation, and the account actions taken with it, through the tea SDK.

Every test takes ``backend`` (through ``cloud``/``ecd``): it runs in-process and against the live server.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alibabacloud_ecd20201002 import models

from mockcloud import MockCloudError
from tests.services.wuying.support import REGION, Session, refused
from tests.services.wuying.test_wuying import _no_proxies  # noqa: F401

SITE = "cn-hangzhou+dir-0123456789"
DESKTOP = "ecd-0123456789abcdefg"
PASSWORD = "Alice-Passw0rd"
UNKNOWN_TOKEN = "v1" + "0" * 94


# Every operation that takes the LoginToken, with what else it needs to get past its own checks.
TOKEN_OPERATIONS = {
    "describe_user_resources": {},
    "describe_global_desktops": {},
    "describe_snapshots": {},
    "start_desktops": {"desktop_id": [DESKTOP]},
    "stop_desktops": {"desktop_id": [DESKTOP]},
    "reboot_desktops": {"desktop_id": [DESKTOP]},
    "reset_snapshot": {"snapshot_id": "s-0000000000000000000a"},
    "unbind_user_desktop": {"user_desktop_id": DESKTOP},
    "approve_fota_update": {"desktop_id": DESKTOP, "app_version": "2.0.0"},
    "get_connection_ticket": {"desktop_id": DESKTOP},
    "start_record_content": {"desktop_id": DESKTOP},
    "stop_record_content": {"desktop_id": DESKTOP},
    "change_password": {
        "end_user_id": "alice",
        "office_site_id": SITE,
        "old_password": PASSWORD,
        "new_password": "New-Passw0rd!",
    },
    "verify_credential": {"office_site_id": SITE, "credential": PASSWORD},
    "encrypt_password": {"password": PASSWORD},
    "get_cloud_drive_service_mount_token": {},
    "set_finger_print_template": {"password": PASSWORD, "finger_print_template": "minutiae"},
    "set_finger_print_template_description": {"index": 1, "description": "left thumb"},
    "describe_finger_print_templates": {},
    "delete_finger_print_template": {"index": 1},
}


@pytest.mark.parametrize("operation", sorted(TOKEN_OPERATIONS))
def test_every_operation_checks_the_login_token(cloud, ecd, operation):
    fields = TOKEN_OPERATIONS[operation]
    alice = Session.logon(ecd)
    accepted = alice.request(operation).to_map()

    def code(session: Session, **more) -> str:
        return refused(session.call, operation, **fields, **more).code

    assert code(alice, login_token=None) == "MissingLoginToken"
    assert code(alice.but(login_token=UNKNOWN_TOKEN)) == "InvalidLoginToken"
    assert code(alice.but(login_token=alice.login_token[:-1] + "x")) == "InvalidLoginToken"
    assert code(alice.but(client_id="someone-elses-client")) == "InvalidLoginToken.Mismatch"
    if "SessionId" in accepted:
        assert code(alice.but(session_id="6c1fd7e0-0000-4000-8000-000000000000")) == "InvalidLoginToken.Mismatch"
    if "RegionId" in accepted:  # (the office site the request names is looked for in that region first)
        in_region = "InvalidOfficeSiteId.NotFound" if "office_site_id" in fields else "InvalidLoginToken.Mismatch"
        assert code(alice, region_id="cn-shanghai") == in_region
    stale = alice.login_token
    alice.refresh()
    assert code(alice.but(login_token=stale)) == "InvalidLoginToken.Replaced"
    cloud.clock.advance(minutes=15)
    expired = refused(alice.call, operation, **fields)
    assert (expired.code, expired.status_code) == ("InvalidLoginToken.Expired", 400)
    assert expired.data["Message"] == "The LoginToken has expired. Log on again."
    later = Session.logon(ecd, client_id="client-2")
    cloud.wuying.logout(later.login_token)
    assert code(later) == "InvalidLoginToken.Revoked"


def test_tokens_of_another_user_do_not_reach_alices_desktop(cloud, ecd):
    cloud.wuying.create_user("bob", "Bob-Passw0rd")
    bob = Session.logon(ecd, "bob", "Bob-Passw0rd")
    assert bob.call("describe_user_resources").resources == []
    assert refused(bob.call, "start_desktops", desktop_id=[DESKTOP]).code == "InvalidDesktopId.NotFound"
    change = TOKEN_OPERATIONS["change_password"]
    assert refused(bob.call, "change_password", **change).code == "InvalidLoginToken.Mismatch"  # EndUserId alice


# ---- ChangePassword -----------------------------------------------------------------------------------


def test_change_password_ends_every_other_logon_and_goes_on_with_a_new_token(cloud, ecd, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    cloud.wuying.update_desktop(DESKTOP, status="Running")
    laptop = Session.logon(ecd, client_id="laptop")
    keep_alive = ecd.get_login_token(
        models.GetLoginTokenRequest(
            region_id=REGION, client_id="tablet", end_user_id="alice", password=PASSWORD, keep_alive=True
        )
    ).body.keep_alive_token
    laptop_ticket = laptop.ticket(cloud, DESKTOP)
    laptop_mount = laptop.call("get_cloud_drive_service_mount_token").token.token
    mine = alice.call("get_cloud_drive_service_mount_token").token.token

    change = {"end_user_id": "alice", "office_site_id": SITE, "old_password": PASSWORD}
    wrong = refused(alice.call, "change_password", **change | {"old_password": "nope"}, new_password="New-Passw0rd!")
    assert (wrong.code, wrong.status_code) == ("InvalidOldPassword", 400)
    weak = refused(alice.call, "change_password", **change, new_password="short")
    assert weak.code == "InvalidNewPassword" and weak.data["PasswordStrategy"]["TenantPasswordLength"] == "8"

    old_token = alice.login_token
    new_token = alice.call("change_password", **change, new_password="New-Passw0rd!").login_token
    assert new_token.startswith("v1") and new_token != old_token
    assert refused(alice.but(login_token=old_token).call, "describe_user_resources").code == (
        "InvalidLoginToken.Revoked"
    )
    alice.login_token = new_token  # the same session goes on
    assert alice.call("describe_user_resources").total_count == 1
    assert alice.refresh().startswith("v1")
    assert refused(laptop.call, "describe_user_resources").code == "InvalidLoginToken.Revoked"
    revived = models.GetLoginTokenRequest(
        region_id=REGION, client_id="tablet", current_stage="KeepAliveVerify", keep_alive_token=keep_alive
    )
    assert refused(ecd.get_login_token, revived).code == "InvalidKeepAliveToken.Revoked"
    with pytest.raises(MockCloudError, match="revoked"):
        cloud.wuying.redeem_ticket(laptop_ticket)
    assert not cloud.wuying.mount_token_valid(laptop_mount)
    assert cloud.wuying.mount_token_valid(mine)  # this session's own goes on
    assert refused(Session.logon, ecd).code == "InvalidUsernameOrPassword"
    assert Session.logon(ecd, password="New-Passw0rd!").login_token


# ---- ResetPassword, SendTokenCode ------------------------------------------------------------------------


def test_reset_password_records_a_reset_only_for_the_users_own_contact(cloud, ecd, alice):
    def reset(**fields):
        request = models.ResetPasswordRequest(
            region_id=REGION, client_id="c", end_user_id="alice", office_site_id=SITE, **fields
        )
        return ecd.reset_password(request).body

    assert reset(email="someone@example.com").request_id  # the same answer, and no reset
    assert reset(phone="13900000000").request_id
    unknown = ecd.reset_password(
        models.ResetPasswordRequest(
            region_id=REGION, client_id="c", end_user_id="nobody", office_site_id=SITE, email="x@example.com"
        )
    )
    assert unknown.status_code == 200
    assert cloud.wuying.password_resets("alice") == []
    reset(email="ALICE@example.com")
    [sent] = cloud.wuying.password_resets("alice")
    assert (sent.channel, sent.used) == ("Email", False)
    reset(phone="138 0000 0000")
    assert [r.channel for r in cloud.wuying.password_resets("alice")] == ["Email", "Phone"]
    assert refused(reset).code == "MissingEmail"
    site = refused(
        ecd.reset_password,
        models.ResetPasswordRequest(
            region_id=REGION, client_id="c", end_user_id="alice", office_site_id="cn-hangzhou+dir-x", email="a@b.c"
        ),
    )
    assert (site.code, site.status_code) == ("InvalidOfficeSiteId.NotFound", 404)

    cloud.wuying.complete_password_reset("alice", "Reset-Passw0rd!")
    assert refused(alice.call, "describe_user_resources").code == "InvalidLoginToken.Revoked"
    assert Session.logon(ecd, password="Reset-Passw0rd!").login_token
    with pytest.raises(MockCloudError):
        cloud.wuying.complete_password_reset("alice", "Again-Passw0rd!")  # each reset once


def test_send_token_code_hands_in_the_emailed_code(cloud, ecd):
    cloud.wuying.create_office_site("cn-hangzhou+dir-secure", secondary_auth=True)
    cloud.wuying.create_user("gus", "Gus-Passw0rd", "cn-hangzhou+dir-secure", email="gus@example.com")
    first = ecd.get_login_token(
        models.GetLoginTokenRequest(region_id=REGION, client_id="c", end_user_id="gus", password="Gus-Passw0rd")
    ).body
    assert first.next_stage == "TokenVerify"

    def send(code: str, **more):
        return ecd.send_token_code(
            models.SendTokenCodeRequest(client_id="c", session_id=first.session_id, token_code=code, **more)
        )

    wrong = refused(send, "000000" if cloud.wuying.email_code("gus") != "000000" else "111111")
    assert (wrong.code, wrong.status_code) == ("InvalidTokenCode", 400)
    other_client = refused(
        ecd.send_token_code,
        models.SendTokenCodeRequest(client_id="x", session_id=first.session_id, token_code="123456"),
    )
    assert other_client.code == "InvalidSessionId.Mismatch"
    assert refused(ecd.send_token_code, models.SendTokenCodeRequest(client_id="c", token_code="123456")).code == (
        "MissingSessionId"
    )
    assert send(cloud.wuying.email_code("gus")).status_code == 200
    done = ecd.get_login_token(
        models.GetLoginTokenRequest(
            region_id=REGION, client_id="c", current_stage="TokenVerify", session_id=first.session_id
        )
    ).body
    assert done.login_token.startswith("v1")  # the stage needs no code once SendTokenCode took it
    assert refused(send, "123456").code == "InvalidCurrentStage"  # the logon is complete


# ---- VerifyCredential, EncryptPassword ------------------------------------------------------------------------


def test_verify_credential_takes_the_password_an_encrypted_password_an_mfa_code_or_a_fingerprint(cloud, ecd, alice):
    def verify(credential: str, **more):
        return alice.call("verify_credential", **{"office_site_id": SITE, "credential": credential, **more})

    assert verify(PASSWORD).request_id
    wrong = refused(verify, "Not-The-Passw0rd")
    assert (wrong.code, wrong.status_code, wrong.data["Message"]) == (
        "InvalidCredential",
        400,
        "The credential is incorrect.",
    )
    encrypted = alice.call("encrypt_password", password=PASSWORD).encrypted_password
    assert (
        PASSWORD not in encrypted and encrypted != alice.call("encrypt_password", password=PASSWORD).encrypted_password
    )
    assert verify(encrypted, encrypted_key="key-1").request_id
    assert refused(verify, encrypted).code == "InvalidCredential"  # without EncryptedKey it is no password
    assert refused(verify, encrypted[:-4] + "AAA=", encrypted_key="key-1").code == "InvalidCredential"
    assert refused(verify, "123456", credential_type="MfaPasscode").code == "InvalidCredential"  # no MFA device
    assert refused(verify, "x", credential_type="Retina").code == "InvalidCredentialType"
    assert refused(verify, PASSWORD, office_site_id="cn-hangzhou+dir-nope").code == "InvalidOfficeSiteId.NotFound"

    cloud.wuying.create_user("erin", "Erin-Passw0rd", mfa=True, mfa_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    erin = Session.logon_with_mfa(cloud, ecd, "erin", "Erin-Passw0rd", "c")
    cloud.clock.advance(seconds=30)
    code = cloud.wuying.totp_code("erin")
    erin.call("verify_credential", office_site_id=SITE, credential=code, credential_type="MfaPasscode")
    reused = refused(
        erin.call, "verify_credential", office_site_id=SITE, credential=code, credential_type="MfaPasscode"
    )
    assert reused.code == "InvalidCredential"  # each code once


def test_wrong_passwords_at_verify_credential_lock_the_user(cloud, alice):
    for _ in range(4):
        assert refused(alice.call, "verify_credential", office_site_id=SITE, credential="wrong").code == (
            "InvalidCredential"
        )
    locked = refused(alice.call, "verify_credential", office_site_id=SITE, credential="wrong")
    assert locked.code == "UserLocked" and locked.data["RiskVerifyInfo"]["Locked"] == "true"
    assert refused(alice.call, "verify_credential", office_site_id=SITE, credential=PASSWORD).code == "UserLocked"


# ---- fingerprint templates --------------------------------------------------------------------------------------


def test_fingerprint_templates_are_set_described_renamed_and_deleted(cloud, ecd, alice):
    wrong = refused(alice.call, "set_finger_print_template", password="nope", finger_print_template="t1")
    assert wrong.code == "InvalidUsernameOrPassword"
    assert refused(alice.call, "set_finger_print_template", password=PASSWORD).code == "MissingFingerPrintTemplate"
    first = alice.call(
        "set_finger_print_template", password=PASSWORD, finger_print_template="minutiae-1", description="thumb"
    )
    assert first.index == 1 and first.encrypted_password
    retry = alice.call(
        "set_finger_print_template",
        password=PASSWORD,
        finger_print_template="minutiae-2",
        client_token="enrol-2",
    )
    again = alice.call(
        "set_finger_print_template",
        password=PASSWORD,
        finger_print_template="minutiae-2",
        client_token="enrol-2",
    )
    assert retry.index == again.index == 2  # the same request, done once
    encrypted = alice.call(
        "set_finger_print_template",
        password=PASSWORD,
        encrypted_finger_print_template="sealed-3",
        encrypted_key="k-3",
    )
    assert encrypted.index == 3
    templates = alice.call("describe_finger_print_templates").finger_print_templates
    assert [(t.index, t.description, t.end_user_id, t.client_id) for t in templates] == [
        (1, "thumb", "alice", "client-1"),
        (2, "", "alice", "client-1"),
        (3, "", "alice", "client-1"),
    ]
    assert templates[0].office_site_id == SITE and templates[0].login_time is None
    alice.call("verify_credential", office_site_id=SITE, credential="minutiae-2", credential_type="FingerPrint")
    assert alice.call("describe_finger_print_templates").finger_print_templates[1].login_time
    assert refused(
        alice.call, "verify_credential", office_site_id=SITE, credential="minutiae-9", credential_type="FingerPrint"
    ).code == ("InvalidCredential")

    alice.call("set_finger_print_template_description", index=2, description="index finger")
    alice.call("delete_finger_print_template", index=1)
    left = alice.call("describe_finger_print_templates").finger_print_templates
    assert [(t.index, t.description) for t in left] == [(2, "index finger"), (3, "")]
    gone = refused(alice.call, "delete_finger_print_template", index=1)
    assert (gone.code, gone.status_code) == ("InvalidIndex.NotFound", 404)
    assert refused(alice.call, "set_finger_print_template_description", index=7, description="x").code == (
        "InvalidIndex.NotFound"
    )
    assert refused(alice.call, "delete_finger_print_template", index=-1).code == "InvalidIndex"
    assert "minutiae" not in str(cloud.wuying.fingerprint_templates("alice"))  # kept by hash only

    cloud.wuying.create_user("bob", "Bob-Passw0rd")
    bob = Session.logon(ecd, "bob", "Bob-Passw0rd")
    assert bob.call("describe_finger_print_templates").finger_print_templates == []
    assert refused(bob.call, "delete_finger_print_template", index=2).code == "InvalidIndex.NotFound"
    assert alice.call("set_finger_print_template", password=PASSWORD, finger_print_template="m-4").index == 1


def test_fingerprint_templates_have_a_limit():
    from mockcloud import mock_wuying
    from tests.services.wuying.support import Backend

    with mock_wuying(settings={"wuying": {"fingerprint_templates_per_user": 2}}):
        alice = Session.logon(Backend(None).client())
        for n in range(2):
            alice.call("set_finger_print_template", password=PASSWORD, finger_print_template=f"t{n}")
        full = refused(alice.call, "set_finger_print_template", password=PASSWORD, finger_print_template="t9")
        assert (full.code, full.data["Message"]) == (
            "QuotaExceeded.FingerPrintTemplate",
            "An end user can keep at most 2 fingerprint templates.",
        )


# ---- the cloud drive ----------------------------------------------------------------------------------------


def test_a_mount_token_has_its_own_expiry(cloud, ecd, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    token = alice.call("get_cloud_drive_service_mount_token", office_site_id=SITE).token
    assert (token.status, token.total_size, token.used_size) == ("enabled", 100, 0)
    assert token.domain_id.startswith("cds-") and len(token.token) == 40
    record = cloud.wuying.mount_token(token.token)
    assert token.expired_after == datetime.fromtimestamp(record.expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record.expires - record.issued == 3600
    assert cloud.wuying.mount_token_valid(token.token)
    for _ in range(4):  # the logon goes on; the mount token lives by its own clock
        cloud.clock.advance(minutes=14)
        alice.refresh()
    assert cloud.wuying.mount_token_valid(token.token)
    cloud.clock.advance(minutes=4)
    assert not cloud.wuying.mount_token_valid(token.token)
    assert alice.call("get_cloud_drive_service_mount_token").token.token != token.token
    other_site = refused(alice.call, "get_cloud_drive_service_mount_token", office_site_id="cn-hangzhou+dir-x")
    assert other_site.code == "InvalidOfficeSiteId.NotFound"
    fresh = alice.call("get_cloud_drive_service_mount_token").token.token
    cloud.wuying.logout(alice.login_token)
    assert not cloud.wuying.mount_token_valid(fresh)  # revoked with its session


# ---- GetLoginToken's internal fields ---------------------------------------------------------------------------


def test_get_login_token_returns_the_office_sites_internal_fields(cloud, ecd):
    plain = Session.logon(ecd)
    body = ecd.get_login_token(
        models.GetLoginTokenRequest(region_id=REGION, client_id="c", end_user_id="alice", password=PASSWORD)
    ).body
    assert (body.industry, body.props, body.reason, body.window_display_mode) == ("", {}, "", "")
    cloud.wuying.create_office_site(
        "cn-hangzhou+dir-edu", industry="Education", window_display_mode="FullScreen", props={"Theme": "dark"}
    )
    cloud.wuying.create_user("pat", "Pat-Passw0rd1", "cn-hangzhou+dir-edu")
    pat = ecd.get_login_token(
        models.GetLoginTokenRequest(region_id=REGION, client_id="c", end_user_id="pat", password="Pat-Passw0rd1")
    ).body
    assert (pat.industry, pat.props, pat.window_display_mode) == ("Education", {"Theme": "dark"}, "FullScreen")
    assert plain.login_token != body.login_token
