"""The buyer's whole journey with boto3, each side under its own account's keys, in-process and against the server.

A seller creates a license and grants it to a buyer account; the buyer sees the grant in ListReceivedGrants,
accepts and activates it, finds the license with ListReceivedLicenses, checks it out by fingerprint and SKU
without a beneficiary, verifies the SignedToken with the issuer's public key (PS256), extends and checks in;
a new license version changes what checkout allows; a deleted grant, then a deleted license, makes checkout
fail with AWS's error. (tests/services/licensemanager/js/buyer.mjs walks it with the AWS SDK for JavaScript v3.)
"""

from __future__ import annotations

import uuid

import jwt
import pytest
from botocore.exceptions import ClientError

from tests.helpers import error_of
from tests.services.licensemanager.support import BUYER, FINGERPRINT, checkout, seats_used

SKU = "WIDGET-PRO"
ENTITLEMENTS = [
    {"Name": "Seats", "Unit": "Count", "MaxCount": 2, "AllowCheckIn": True},
    {"Name": "Tier", "Unit": "None", "Value": "Pro"},
]


def issuer_key(backend, token: str) -> jwt.PyJWK:
    """The key a verifier finds for a SignedToken by its kid: in the server's JWKS, fetched as a verifier would
    (``jwt.PyJWKClient``), or in the in-process handle's ``jwks()``."""
    if backend.endpoint_url:
        client = jwt.PyJWKClient(f"{backend.endpoint_url}/_mockcloud/jwks", cache_keys=False)
        return client.get_signing_key_from_jwt(token)
    return jwt.PyJWKSet.from_dict(backend.cloud.licensemanager.jwks())[jwt.get_unverified_header(token)["kid"]]


def license_version(seller, arn: str, entitlements: list, status: str = "AVAILABLE") -> dict:
    current = seller.get_license(LicenseArn=arn)["License"]
    return seller.create_license_version(
        LicenseArn=arn,
        LicenseName=current["LicenseName"],
        ProductName=current["ProductName"],
        Issuer={"Name": current["Issuer"]["Name"]},
        HomeRegion=current["HomeRegion"],
        Validity=current["Validity"],
        Entitlements=entitlements,
        ConsumptionConfiguration=current["ConsumptionConfiguration"],
        Status=status,
        SourceVersion=current["Version"],
        ClientToken=uuid.uuid4().hex,
    )


def test_the_buyer_journey(backend):
    seller, buyer = backend.client(), backend.account(BUYER)

    # 1. the seller: a license for the buyer, and a grant of it to the buyer's account
    license_arn = seller.create_license(
        LicenseName="Widget Pro for the buyer",
        ProductName="Widget",
        ProductSKU=SKU,
        Issuer={"Name": "Widget Co"},
        HomeRegion="us-east-1",
        Validity={"Begin": "2024-01-01T00:00:00Z"},
        Beneficiary=f"arn:aws:iam::{BUYER}:root",
        Entitlements=ENTITLEMENTS,
        ConsumptionConfiguration={"RenewType": "None", "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 60}},
        ClientToken=uuid.uuid4().hex,
    )["LicenseArn"]
    grant_arn = seller.create_grant(
        GrantName="Widget Pro",
        LicenseArn=license_arn,
        Principals=[f"arn:aws:iam::{BUYER}:root"],
        HomeRegion="us-east-1",
        AllowedOperations=["CheckoutLicense", "CheckInLicense", "ExtendConsumptionLicense"],
        ClientToken=uuid.uuid4().hex,
    )["GrantArn"]

    # 2. the buyer: the grant, accepted and activated
    [received] = buyer.list_received_grants()["Grants"]
    assert (received["GrantArn"], received["GrantStatus"]) == (grant_arn, "PENDING_ACCEPT")
    assert received["GranteePrincipalArn"] == f"arn:aws:iam::{BUYER}:root"
    assert buyer.accept_grant(GrantArn=grant_arn)["Status"] == "DISABLED"
    activated = buyer.create_grant_version(GrantArn=grant_arn, Status="ACTIVE", ClientToken=uuid.uuid4().hex)
    assert activated["Status"] == "ACTIVE"
    [granted] = buyer.list_received_licenses()["Licenses"]
    assert (granted["LicenseArn"], granted["ProductSKU"], granted["Issuer"]["KeyFingerprint"]) == (
        license_arn,
        SKU,
        FINGERPRINT,
    )
    assert granted["ReceivedMetadata"]["ReceivedStatus"] == "ACTIVE"

    # 3. the buyer's product checks out by fingerprint and SKU, with no beneficiary
    out = buyer.checkout_license(
        ProductSKU=SKU,
        CheckoutType="PROVISIONAL",
        KeyFingerprint=FINGERPRINT,
        Entitlements=[{"Name": "Seats", "Unit": "Count", "Value": "1"}, {"Name": "Tier", "Unit": "None"}],
        ClientToken=uuid.uuid4().hex,
    )
    assert out["LicenseArn"] == license_arn
    assert out["EntitlementsAllowed"] == [
        {"Name": "Seats", "Unit": "Count", "Value": "1"},
        {"Name": "Tier", "Unit": "None", "Value": "Pro"},
    ]
    assert out["IssuedAt"].endswith("Z") and out["Expiration"].endswith("Z")
    token = out["SignedToken"]
    assert len(token) >= 4096
    claims = jwt.decode(token, issuer_key(backend, token), algorithms=["PS256"])  # the issuer's key, RSASSA-PSS SHA-256
    assert (claims["licenseArn"], claims["licenseConsumptionToken"], claims["productSKU"]) == (
        license_arn,
        out["LicenseConsumptionToken"],
        SKU,
    )
    consumption = out["LicenseConsumptionToken"]
    extended = buyer.extend_license_consumption(LicenseConsumptionToken=consumption)
    assert extended["LicenseConsumptionToken"] == consumption and extended["Expiration"].endswith("Z")
    assert seats_used(seller, license_arn) == "1"
    buyer.check_in_license(LicenseConsumptionToken=consumption)
    assert seats_used(seller, license_arn) == "0"

    # 4. a new license version changes what checkout allows: one seat more, no Tier
    version = license_version(seller, license_arn, [{"Name": "Seats", "Unit": "Count", "MaxCount": 3}])
    assert version["Version"] == "2"
    assert len(checkout(buyer, value="3")["EntitlementsAllowed"]) == 1  # three seats at once
    with pytest.raises(ClientError) as exc:
        checkout(buyer, Entitlements=[{"Name": "Tier", "Unit": "None"}])
    assert error_of(exc)[:2] == ("NoEntitlementsAllowedException", 400)

    # 5. the seller deletes the grant: the buyer no longer holds the license
    current = seller.get_grant(GrantArn=grant_arn)["Grant"]["Version"]
    seller.delete_grant(GrantArn=grant_arn, Version=current)
    with pytest.raises(ClientError) as exc:
        checkout(buyer)
    assert error_of(exc) == ("ResourceNotFoundException", 400, f"No license found for key fingerprint {FINGERPRINT}.")

    # 6. a deleted license: a new grant of it was active, then the license goes
    second = seller.create_grant(
        GrantName="Widget Pro again",
        LicenseArn=license_arn,
        Principals=[f"arn:aws:iam::{BUYER}:root"],
        HomeRegion="us-east-1",
        AllowedOperations=["CheckoutLicense"],
        ClientToken=uuid.uuid4().hex,
    )["GrantArn"]
    buyer.accept_grant(GrantArn=second)
    buyer.create_grant_version(GrantArn=second, Status="ACTIVE", ClientToken=uuid.uuid4().hex)
    checkout(buyer)
    deleted = seller.delete_license(LicenseArn=license_arn, SourceVersion="2")
    assert deleted["Status"] == "PENDING_DELETE"  # a grant of it is in use
    with pytest.raises(ClientError) as exc:
        checkout(buyer)
    assert error_of(exc)[:2] == ("ResourceNotFoundException", 400)
    log = [(r.operation, r.status) for r in backend.cloud.requests]
    assert ("CheckoutLicense", 200) in log and ("CheckoutLicense", 400) in log
