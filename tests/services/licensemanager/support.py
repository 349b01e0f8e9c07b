"""How the License Manager tests reach the service, and the calls many of them make (no tests or fixtures here)."""

from __future__ import annotations

import uuid

from tests.helpers import lm_client

SELLER = "123456789012"  # the default test keys' account
BUYER = "210987654321"
STRANGER = "777788889999"
ISSUER = "Widget Co"
FINGERPRINT = f"aws:{SELLER}:{ISSUER}:issuer-fingerprint"
MARKETPLACE_FINGERPRINT = "aws:294406891311:AWS/Marketplace:issuer-fingerprint"
EVERY_OPERATION = [
    "CheckoutLicense",
    "CheckoutBorrowLicense",
    "CheckInLicense",
    "ExtendConsumptionLicense",
    "ListPurchasedLicenses",
    "CreateGrant",
    "CreateToken",
]


class Backend:
    """Where the emulator runs, and how a test reaches it."""

    def __init__(self, cloud, endpoint_url=None):
        self.cloud, self.endpoint_url = cloud, endpoint_url

    def client(self, **kwargs):
        return lm_client(self.endpoint_url, **kwargs)

    def account(self, account_id: str, **kwargs):
        """A client with keys of another account (registered now: ``cloud.credentials.add_aws``)."""
        key, secret = f"AKIA{account_id}TEST", f"secret-of-{account_id}"
        self.cloud.credentials.add_aws(key, secret, account_id=account_id)
        return self.client(key=key, secret=secret, **kwargs)

    @property
    def url(self) -> str:
        return (self.endpoint_url or "https://license-manager.us-east-1.amazonaws.com") + "/"


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def new_license(lm, *, sku: str = "WIDGET-PRO", seats: int = 5, **overrides) -> str:
    params = {
        "LicenseName": "Widget Pro",
        "ProductName": "Widget",
        "ProductSKU": sku,
        "Issuer": {"Name": ISSUER},
        "HomeRegion": "us-east-1",
        "Validity": {"Begin": "2024-01-01T00:00:00Z"},
        "Entitlements": [
            {"Name": "Seats", "Unit": "Count", "MaxCount": seats, "AllowCheckIn": True},
            {"Name": "Tier", "Unit": "None", "Value": "Pro"},
        ],
        "Beneficiary": f"arn:aws:iam::{BUYER}:root",
        "ConsumptionConfiguration": {"RenewType": "None", "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 60}},
        "ClientToken": uuid.uuid4().hex,
    }
    params.update(overrides)
    return lm.create_license(**params)["LicenseArn"]


def grant(lm, license_arn: str, account: str = BUYER, operations=None, **overrides) -> dict:
    params = {
        "ClientToken": uuid.uuid4().hex,
        "GrantName": "Widget for the buyer",
        "LicenseArn": license_arn,
        "Principals": [f"arn:aws:iam::{account}:root"],
        "HomeRegion": "us-east-1",
        "AllowedOperations": operations or EVERY_OPERATION,
    }
    params.update(overrides)
    return lm.create_grant(**params)


def activate(lm, grant_arn: str, **overrides) -> dict:
    return lm.create_grant_version(GrantArn=grant_arn, Status="ACTIVE", ClientToken=uuid.uuid4().hex, **overrides)


def accept_and_activate(lm, grant_arn: str) -> dict:
    lm.accept_grant(GrantArn=grant_arn)
    return activate(lm, grant_arn)


def checkout(lm, sku: str = "WIDGET-PRO", fingerprint: str = FINGERPRINT, value: str = "1", **overrides) -> dict:
    params = {
        "ProductSKU": sku,
        "CheckoutType": "PROVISIONAL",
        "KeyFingerprint": fingerprint,
        "Entitlements": [{"Name": "Seats", "Unit": "Count", "Value": value}],
        "ClientToken": uuid.uuid4().hex,
    }
    params.update(overrides)
    return lm.checkout_license(**params)


def seats_used(lm, license_arn: str) -> str:
    usage = lm.get_license_usage(LicenseArn=license_arn)["LicenseUsage"]["EntitlementUsages"]
    return next(u["ConsumedValue"] for u in usage if u["Name"] == "Seats")
