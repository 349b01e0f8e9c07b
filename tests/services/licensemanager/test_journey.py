"""The License Manager token's whole journey with boto3, in-process and against the live server.

CreateLicense and CreateToken (the seller), then GetAccessToken and
AssumeRoleWithWebIdentity (the customer's application, without AWS keys of
its own), then CheckoutLicense and ExtendLicenseConsumption on the temporary
credentials; then the clock moves past the access token's hour, past the role
session's expiry and past the consumption's time to live, and each step
fails as AWS fails and recovers by refreshing.

In-process the mock's clock moves ``time.time()`` for the client too; against
the server the test moves the whole process's time (time-machine), which the
server's clock follows, so the client signs with the time the server checks.
"""

from __future__ import annotations

import time
import uuid

import boto3
import jwt
import pytest
import time_machine
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers import error_of, lm_client

ROLE = "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole"
ISSUER = "Widget Co"
FINGERPRINT = "aws:123456789012:Widget Co:issuer-fingerprint"
SKU = "WIDGET-PRO"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


class World:
    """Where the emulator runs, the clients a seller and a customer application use, and how time moves."""

    def __init__(self, cloud, url: str | None, traveller=None) -> None:
        self.cloud, self.url, self.traveller = cloud, url, traveller

    def advance(self, seconds: float) -> None:
        if self.traveller is None:
            self.cloud.clock.advance(seconds)
        else:
            self.traveller.shift(seconds)

    def seller(self):
        return lm_client(self.url)

    def anonymous_lm(self):
        """The customer's application calls GetAccessToken with no AWS keys: the refresh token authenticates."""
        return boto3.client(
            "license-manager",
            region_name="us-east-1",
            endpoint_url=self.url,
            config=NO_RETRY.merge(Config(signature_version=UNSIGNED)),
        )

    def sts(self, credentials: dict | None = None):
        return boto3.client(
            "sts", region_name="us-east-1", endpoint_url=self.url, config=NO_RETRY, **_keys(credentials)
        )

    def lm(self, credentials: dict):
        return boto3.client(
            "license-manager", region_name="us-east-1", endpoint_url=self.url, config=NO_RETRY, **_keys(credentials)
        )


def _keys(credentials: dict | None) -> dict:
    if credentials is None:
        return {}
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


@pytest.fixture
def backend_services():
    return ["licensemanager", "sts"]


@pytest.fixture
def make_backend():
    """On the server, time moves by travelling this process's clock (``World.advance``): the travel starts here."""

    def make(cloud, server_url):
        if server_url is None:
            yield World(cloud, None)
        else:
            with time_machine.travel(time.time(), tick=True) as traveller:
                yield World(cloud, server_url, traveller)

    return make


@pytest.fixture
def world(backend):
    return backend


def create_license(seller) -> str:
    return seller.create_license(
        LicenseName="Widget Pro",
        ProductName="Widget",
        ProductSKU=SKU,
        Issuer={"Name": ISSUER},
        HomeRegion="us-east-1",
        Validity={"Begin": "2024-01-01T00:00:00Z"},
        Beneficiary="arn:aws:iam::123456789012:root",
        Entitlements=[
            {"Name": "Seats", "Unit": "Count", "MaxCount": 1},
            {"Name": "Tier", "Unit": "None", "Value": "Pro"},
        ],
        ConsumptionConfiguration={"RenewType": "None", "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 120}},
        ClientToken=uuid.uuid4().hex,
    )["LicenseArn"]


def checkout(lm) -> dict:
    return lm.checkout_license(
        ProductSKU=SKU,
        CheckoutType="PROVISIONAL",
        KeyFingerprint=FINGERPRINT,
        Beneficiary="customer@example.com",
        Entitlements=[{"Name": "Seats", "Unit": "Count", "Value": "1"}, {"Name": "Tier", "Unit": "None"}],
        NodeId="10.0.21.57",
        ClientToken=uuid.uuid4().hex,
    )


def test_the_whole_journey(world):
    # 1. the seller: a license, and a refresh token that embeds the consumption role
    seller = world.seller()
    license_arn = create_license(seller)
    refresh = seller.create_token(LicenseArn=license_arn, RoleArns=[ROLE], ClientToken=uuid.uuid4().hex)["Token"]

    # 2. the customer's application: an access token, then role credentials for it
    access = world.anonymous_lm().get_access_token(Token=refresh)["AccessToken"]
    world.advance(30 * 60)  # t = 30 min
    sts = world.sts()
    assumed = sts.assume_role_with_web_identity(RoleArn=ROLE, RoleSessionName="widget-app", WebIdentityToken=access)
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert (
        assumed["AssumedRoleUser"]["Arn"]
        == "arn:aws:sts::123456789012:assumed-role/AWSLicenseManagerConsumptionRole/widget-app"
    )
    assert assumed["Audience"] == license_arn and assumed["Provider"] == "openid-license-manager.amazonaws.com"
    assert world.sts(credentials).get_caller_identity()["Arn"] == assumed["AssumedRoleUser"]["Arn"]

    # 3. on those credentials: CheckoutLicense, then ExtendLicenseConsumption
    app = world.lm(credentials)
    out = checkout(app)
    assert out["LicenseArn"] == license_arn and out["NodeId"] == "10.0.21.57"
    assert out["EntitlementsAllowed"] == [
        {"Name": "Seats", "Unit": "Count", "Value": "1"},
        {"Name": "Tier", "Unit": "None", "Value": "Pro"},
    ]
    keys = {key["kid"]: key for key in world.cloud.licensemanager.jwks()["keys"]}
    signed = jwt.decode(out["SignedToken"], jwt.PyJWK(keys[FINGERPRINT]), algorithms=["PS256"])
    assert signed["licenseConsumptionToken"] == out["LicenseConsumptionToken"] and signed["nodeId"] == "10.0.21.57"
    consumption = out["LicenseConsumptionToken"]
    with pytest.raises(ClientError) as exc:  # the only seat is taken
        checkout(app)
    assert error_of(exc)[:2] == ("NoEntitlementsAllowedException", 400)
    world.advance(20 * 60)  # t = 50 min
    extended = app.extend_license_consumption(LicenseConsumptionToken=consumption)
    assert extended["LicenseConsumptionToken"] == consumption

    # 4a. past the access token's hour: STS refuses it; GetAccessToken again recovers
    world.advance(11 * 60 + 1)  # t = 61 min
    with pytest.raises(ClientError) as exc:
        sts.assume_role_with_web_identity(RoleArn=ROLE, RoleSessionName="widget-app", WebIdentityToken=access)
    code, status, message = error_of(exc)
    assert (code, status) == ("ExpiredTokenException", 400)
    assert (
        message.startswith("Token expired: current date/time ")
        and " must be before the expiration date/time " in message
    )
    app.extend_license_consumption(LicenseConsumptionToken=consumption)  # the role session still runs
    access = world.anonymous_lm().get_access_token(Token=refresh)["AccessToken"]

    # 4b. past the role session's expiry (it began at 30 min, for 3600 s): every service refuses the keys
    world.advance(30 * 60)  # t = 91 min
    with pytest.raises(ClientError) as exc:
        app.extend_license_consumption(LicenseConsumptionToken=consumption)
    assert error_of(exc) == ("ExpiredTokenException", 403, "The security token included in the request is expired")
    with pytest.raises(ClientError) as exc:
        world.sts(credentials).get_caller_identity()
    assert error_of(exc) == ("ExpiredToken", 403, "The security token included in the request is expired")
    credentials = sts.assume_role_with_web_identity(
        RoleArn=ROLE, RoleSessionName="widget-app", WebIdentityToken=access
    )["Credentials"]
    app = world.lm(credentials)
    extended = app.extend_license_consumption(
        LicenseConsumptionToken=consumption
    )  # the checkout lives on: 120 min from now

    # 4c. past the consumption's time to live: the checkout is gone and its seat is back
    world.advance(121 * 60)  # t = 212 min: the access token and the second session have expired too
    access = world.anonymous_lm().get_access_token(Token=refresh)["AccessToken"]
    credentials = sts.assume_role_with_web_identity(
        RoleArn=ROLE, RoleSessionName="widget-app", WebIdentityToken=access
    )["Credentials"]
    app = world.lm(credentials)
    with pytest.raises(ClientError) as exc:
        app.extend_license_consumption(LicenseConsumptionToken=consumption)
    assert error_of(exc)[:2] == ("ResourceNotFoundException", 400)
    usage = seller.get_license_usage(LicenseArn=license_arn)["LicenseUsage"]["EntitlementUsages"]
    assert usage[0] == {"Name": "Seats", "ConsumedValue": "0", "MaxCount": "1", "Unit": "Count"}
    again = checkout(app)
    assert again["LicenseConsumptionToken"] != consumption
    app.check_in_license(LicenseConsumptionToken=again["LicenseConsumptionToken"], Beneficiary="customer@example.com")
    assert (
        seller.get_license_usage(LicenseArn=license_arn)["LicenseUsage"]["EntitlementUsages"][0]["ConsumedValue"] == "0"
    )
