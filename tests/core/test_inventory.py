"""Each model's ``inventory()``: the tokens, codes and sessions it holds, their states on the mock clock, no secrets."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from mockcloud import mock_cloud
from mockcloud.core.inventory import STATES, entry, short_id, state_of
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client

KEYS = {"service", "kind", "id", "subject", "issued", "expires", "state"}
USERAPI = "https://userapi.example.com/User"
USERAPI_USER = {"username": "api_user", "password": "secure_password_123"}
ROLE = "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole"


def by(entries: list[dict], **match) -> list[dict]:
    return [e for e in entries if all(e.get(k) == v for k, v in match.items())]


def check_shape(entries: list[dict], service: str, secrets: list[str]) -> None:
    """Every entry has the documented keys and a known state, and no secret appears anywhere in it."""
    text = json.dumps(entries)
    for e in entries:
        assert set(e) - {"chain"} == KEYS, e
        assert e["service"] == service and e["state"] in STATES
        assert isinstance(e["issued"], float | int) and (e["expires"] is None or isinstance(e["expires"], float | int))
    for secret in secrets:
        assert secret not in text
        assert secret[:16] not in text  # not even a prefix long enough to matter


def test_state_order_and_entry_checks():
    assert state_of(10, 20) == "active" and state_of(20, 20) == "expired" and state_of(5, None) == "active"
    assert state_of(30, 20, used=True) == "used"
    assert state_of(30, 20, used=True, replaced=True) == "replaced"
    assert state_of(0, 20, used=True, replaced=True, revoked=True) == "revoked"
    assert len(short_id("token")) == 12 and short_id("token") == short_id(b"token") != short_id("token2")
    with pytest.raises(ValueError):
        entry("x", "kind", "id", None, 0, None, "gone")


def test_licensemanager_refresh_tokens_and_checkouts():
    with mock_cloud() as cloud:
        lm = lm_client()
        made = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex, ExpirationInDays=1)
        doomed = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex)
        lm.delete_token(TokenId=doomed["TokenId"])
        lm.create_license(
            LicenseName="Widget",
            ProductName="Widget",
            ProductSKU="WIDGET-1",
            Issuer={"Name": "Widget Co"},
            HomeRegion="us-east-1",
            Validity={"Begin": "2024-01-01T00:00:00Z"},
            Beneficiary="arn:aws:iam::123456789012:root",
            Entitlements=[{"Name": "Seats", "Unit": "Count", "MaxCount": 5, "AllowCheckIn": True}],
            ConsumptionConfiguration={"RenewType": "None", "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 30}},
            ClientToken=uuid.uuid4().hex,
        )
        seats = {
            "ProductSKU": "WIDGET-1",
            "KeyFingerprint": "aws:123456789012:Widget Co:issuer-fingerprint",
            "Beneficiary": "bob",
            "Entitlements": [{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        }
        held = lm.checkout_license(CheckoutType="PROVISIONAL", ClientToken=uuid.uuid4().hex, **seats)
        returned = lm.checkout_license(CheckoutType="PROVISIONAL", ClientToken=uuid.uuid4().hex, **seats)
        lm.check_in_license(LicenseConsumptionToken=returned["LicenseConsumptionToken"])
        entries = cloud.licensemanager.inventory()
        check_shape(
            entries,
            "licensemanager",
            [made["Token"], doomed["Token"], held["LicenseConsumptionToken"], held["SignedToken"]],
        )
        [live] = by(entries, id=made["TokenId"])
        assert live["kind"] == "refresh_token" and live["state"] == "active" and live["subject"] == "123456789012"
        assert live["expires"] - live["issued"] == pytest.approx(86400)
        assert by(entries, id=doomed["TokenId"])[0]["state"] == "revoked"
        checkout = by(entries, id=short_id(held["LicenseConsumptionToken"]))[0]
        assert (
            checkout["kind"] == "provisional_checkout"
            and checkout["subject"] == "bob"
            and checkout["state"] == "active"
        )
        # a checkout ends on a whole second (its Expiration's precision): up to one second past the half hour
        assert 30 * 60 <= checkout["expires"] - checkout["issued"] < 30 * 60 + 1
        assert by(entries, id=short_id(returned["LicenseConsumptionToken"]))[0]["state"] == "used"
        cloud.clock.advance(30 * 60 + 1)  # past the whole second it ends on
        assert by(cloud.licensemanager.inventory(), id=checkout["id"])[0]["state"] == "expired"
        cloud.clock.advance(86400)
        assert by(cloud.licensemanager.inventory(), id=made["TokenId"])[0]["state"] == "expired"


def test_sts_role_sessions_by_access_key_id():
    with mock_cloud() as cloud:
        lm = lm_client()
        refresh = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, RoleArns=[ROLE], ClientToken=uuid.uuid4().hex)[
            "Token"
        ]
        access = lm.get_access_token(Token=refresh)["AccessToken"]
        import boto3

        sts = boto3.client("sts", region_name="us-east-1")
        credentials = sts.assume_role_with_web_identity(RoleArn=ROLE, RoleSessionName="app", WebIdentityToken=access)[
            "Credentials"
        ]
        entries = cloud.sts.inventory()
        check_shape(entries, "sts", [credentials["SecretAccessKey"], credentials["SessionToken"], access])
        [session] = entries
        assert session["id"] == credentials["AccessKeyId"] and session["kind"] == "role_session"
        assert "AWSLicenseManagerConsumptionRole/app" in session["subject"] and session["state"] == "active"
        assert session["expires"] == credentials["Expiration"].timestamp()
        cloud.clock.advance(3600)
        assert cloud.sts.inventory()[0]["state"] == "expired"
        cloud.credentials.clear()
        assert cloud.sts.inventory()[0]["state"] == "revoked"


def test_amplifyuibuilder_codes_refresh_and_access_tokens():
    with mock_cloud() as cloud:
        figma = cloud.amplifyuibuilder
        app = figma.default_app
        code = figma.create_authorization_code()
        unused = figma.create_authorization_code()
        grant = figma.exchange_code(code=code, redirect_uri=app.redirect_uris[0], client_id=app.client_id)
        second, _ = figma.refresh(token=grant.refresh_token, client_id=app.client_id)
        figma.revoke_access_token(second)
        entries = figma.inventory()
        check_shape(entries, "amplifyuibuilder", [code, unused, grant.access_token, grant.refresh_token, second])
        user = figma.default_user
        used = by(entries, id=short_id(code))[0]
        assert (
            used["kind"] == "authorization_code"
            and used["state"] == "used"
            and used["subject"] == f"{user.handle} ({user.id})"
        )
        code_entry = by(entries, id=short_id(unused))[0]
        assert code_entry["state"] == "active" and code_entry["expires"] - code_entry["issued"] == 600
        assert (
            by(entries, id=short_id(grant.refresh_token))[0]["expires"] is None
        )  # Figma's refresh tokens do not expire
        assert by(entries, id=short_id(grant.access_token))[0]["state"] == "active"
        assert by(entries, id=short_id(second))[0]["state"] == "revoked"
        cloud.clock.advance(600)
        assert by(figma.inventory(), id=short_id(unused))[0]["state"] == "expired"
        figma.revoke_refresh_token(grant.refresh_token)
        states = {e["kind"]: e["state"] for e in by(figma.inventory(), id=short_id(grant.refresh_token))}
        assert states == {"refresh_token": "revoked"}
        assert by(figma.inventory(), id=short_id(grant.access_token))[0]["state"] == "revoked"


def test_devpay_activation_keys_and_user_tokens():
    with mock_cloud(settings={"devpay": {"activation_key_single_use": True}}) as cloud:
        devpay = cloud.devpay
        product = devpay.product("6883959E")
        key = devpay.create_activation_key(product.code)
        activation = devpay.activate_desktop_product(str(key), product.token, "PT1H")
        legacy = devpay.issue_legacy_user_token(product.code, key.customer_id)
        upgraded = devpay.refresh_user_token(activation.access_key_id, legacy, [product.token])
        entries = devpay.inventory()
        check_shape(
            entries,
            "devpay",
            [str(key), activation.user_token, legacy, upgraded, activation.secret_access_key, product.token],
        )
        assert by(entries, id=short_id(str(key)))[0]["state"] == "used"
        assert by(entries, id="ADMAY7DVLJTW") == []  # fixture keys show by digest, never by their text
        assert by(entries, id=short_id("ADMAY7DVLJTWHJ76MMBMQEXAMPLE"))[0]["state"] == "active"
        user = by(entries, id=short_id(activation.user_token))[0]
        assert (
            user["kind"] == "user_token"
            and user["subject"] == key.customer_id
            and user["expires"] - user["issued"] == 3600
        )
        old = by(entries, id=short_id(legacy))[0]
        assert old["state"] == "replaced" and old["chain"] == [short_id(legacy), short_id(upgraded)]
        cloud.clock.advance(3600)
        assert by(devpay.inventory(), id=short_id(activation.user_token))[0]["state"] == "expired"


def test_wuying_sessions_chain_their_login_tokens():
    with mock_cloud() as cloud:
        logon = cloud.wuying.logon
        common = {"region_id": "cn-hangzhou", "client_id": "client-1"}
        first = logon.get_login_token(end_user_id="alice", password="Alice-Passw0rd", keep_alive=True, **common)
        second = logon.refresh_login_token(end_user_id="alice", login_token=first["LoginToken"], **common)
        entries = cloud.wuying.inventory()
        secrets = [first["LoginToken"], first["SessionId"], first["KeepAliveToken"], second["LoginToken"]]
        check_shape(entries, "wuying", secrets)
        [session] = by(entries, kind="logon_session")
        assert (
            session["id"] == short_id(first["SessionId"])
            and session["subject"] == "alice"
            and session["state"] == "used"
        )
        assert session["chain"] == [short_id(first["LoginToken"]), short_id(second["LoginToken"])]
        assert by(entries, id=short_id(first["LoginToken"]))[0]["state"] == "replaced"
        fresh = by(entries, id=short_id(second["LoginToken"]))[0]
        assert fresh["state"] == "active" and fresh["expires"] - fresh["issued"] == 900
        keep_alive = by(entries, kind="keep_alive_token")[0]
        assert keep_alive["expires"] - keep_alive["issued"] == 7 * 86400
        cloud.clock.advance(900)
        assert by(cloud.wuying.inventory(), id=short_id(second["LoginToken"]))[0]["state"] == "expired"


def test_userapi_session_is_a_chain_of_refresh_tokens():
    import hashlib

    with mock_cloud() as cloud:
        http = requests.Session()
        pair = http.post(f"{USERAPI}/Login", json=USERAPI_USER, headers={"Version": "2.0"}, timeout=5).json()
        rotated = http.post(
            f"{USERAPI}/RefreshToken",
            json={"refreshToken": pair["refreshToken"]},
            headers={"Version": "2.0", "Authorization": f"Bearer {pair['accessToken']}"},
            timeout=5,
        ).json()
        entries = cloud.userapi.inventory()
        check_shape(
            entries,
            "userapi",
            [pair["accessToken"], pair["refreshToken"], rotated["accessToken"], rotated["refreshToken"]],
        )

        def rid(token: str) -> str:  # refresh tokens are kept as their SHA-256 only
            return hashlib.sha256(token.encode()).hexdigest()[:12]

        [session] = by(entries, kind="session")
        assert session["subject"] == "api_user" and session["state"] == "active"
        assert session["chain"] == [rid(pair["refreshToken"]), rid(rotated["refreshToken"])]
        assert by(entries, id=rid(pair["refreshToken"]))[0]["state"] == "used"
        assert by(entries, id=rid(rotated["refreshToken"]))[0]["state"] == "active"
        access = by(entries, kind="access_token")
        assert [a["state"] for a in access] == ["replaced", "active"]
        assert access[1]["expires"] - access[1]["issued"] == pytest.approx(3600, abs=1)
        # presenting the used refresh token again is reuse: the whole family is revoked
        http.post(
            f"{USERAPI}/RefreshToken",
            json={"refreshToken": pair["refreshToken"]},
            headers={"Version": "2.0", "Authorization": f"Bearer {rotated['accessToken']}"},
            timeout=5,
        )
        assert {e["state"] for e in cloud.userapi.inventory()} == {"revoked"}
