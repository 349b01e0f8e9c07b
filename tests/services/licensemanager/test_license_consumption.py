"""License Manager consumption with boto3: checkout, extend, check-in, usage, borrow.

Both backends; the clock in-process.
"""

from __future__ import annotations

import uuid

import jwt
import pytest
from botocore.exceptions import ClientError

from mockcloud import mock_licensemanager
from tests.helpers import lm_client

FINGERPRINT = "aws:123456789012:Widget Co:issuer-fingerprint"


@pytest.fixture
def local():
    with mock_licensemanager() as cloud:
        client = lm_client()
        client.cloud = cloud
        yield client


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def new_license(lm, *, max_count=2, overage=False, allow_check_in=True, borrow=None, sku="WIDGET-1") -> str:
    consumption = {"RenewType": "None", "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 30}}
    if borrow:
        consumption["BorrowConfiguration"] = borrow
    return lm.create_license(
        LicenseName="Widget",
        ProductName="Widget",
        ProductSKU=sku,
        Issuer={"Name": "Widget Co"},
        HomeRegion="us-east-1",
        Validity={"Begin": "2024-01-01T00:00:00Z"},
        Beneficiary="arn:aws:iam::123456789012:root",
        Entitlements=[
            {
                "Name": "Seats",
                "Unit": "Count",
                "MaxCount": max_count,
                "Overage": overage,
                "AllowCheckIn": allow_check_in,
            },
            {"Name": "Support", "Unit": "None", "Value": "Enabled"},
        ],
        ConsumptionConfiguration=consumption,
        ClientToken=uuid.uuid4().hex,
    )["LicenseArn"]


def checkout(lm, value="1", kind="PROVISIONAL", client_token=None, **overrides):
    params = {
        "ProductSKU": "WIDGET-1",
        "CheckoutType": kind,
        "KeyFingerprint": FINGERPRINT,
        "Beneficiary": "123456789012",
        "Entitlements": [{"Name": "Seats", "Unit": "Count", "Value": value}],
        "ClientToken": client_token or uuid.uuid4().hex,
    }
    params.update(overrides)
    return lm.checkout_license(**params)


def seats_used(lm, arn) -> str:
    return lm.get_license_usage(LicenseArn=arn)["LicenseUsage"]["EntitlementUsages"][0]["ConsumedValue"]


def test_capacity_is_shared_by_every_consumer_and_comes_back_on_check_in(lm):
    arn = new_license(lm)
    first = checkout(lm)
    checkout(lm, Beneficiary="someone-else")
    assert seats_used(lm, arn) == "2"
    with pytest.raises(ClientError) as exc:
        checkout(lm)
    assert code_of(exc) == "NoEntitlementsAllowedException"
    assert exc.value.response["Error"]["Message"] == "No Entitlements Allowed"
    lm.check_in_license(LicenseConsumptionToken=first["LicenseConsumptionToken"])
    assert seats_used(lm, arn) == "1"
    assert checkout(lm)["EntitlementsAllowed"] == [{"Name": "Seats", "Unit": "Count", "Value": "1"}]
    with pytest.raises(ClientError) as exc:  # a checked-in token is gone
        lm.check_in_license(LicenseConsumptionToken=first["LicenseConsumptionToken"])
    assert code_of(exc) == "ResourceNotFoundException"


def test_wrong_fingerprint_sku_entitlement_and_missing_beneficiary(lm):
    new_license(lm)
    with pytest.raises(ClientError) as exc:
        checkout(lm, KeyFingerprint="aws:123456789012:Someone Else:issuer-fingerprint")
    assert code_of(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        checkout(lm, ProductSKU="NO-SUCH-SKU")
    assert code_of(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:
        checkout(lm, Entitlements=[{"Name": "Storage", "Unit": "Gigabytes", "Value": "1"}])
    assert code_of(exc) == "NoEntitlementsAllowedException"
    params = {
        "ProductSKU": "WIDGET-1",
        "CheckoutType": "PROVISIONAL",
        "KeyFingerprint": FINGERPRINT,
        "Entitlements": [{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        "ClientToken": "t",
    }
    with pytest.raises(ClientError) as exc:  # "you must specify the account as the beneficiary"
        lm.checkout_license(**params)
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        lm.checkout_license(**{**params, "CheckoutType": "FOREVER", "Beneficiary": "b"})
    assert code_of(exc) == "ValidationException"


def test_client_token_idempotency_and_unlimited_entitlements(lm):
    arn = new_license(lm)
    first = checkout(lm, client_token="same")
    again = checkout(lm, client_token="same")
    first.pop("ResponseMetadata"), again.pop("ResponseMetadata")
    assert again == first  # the same checkout, not a second one
    assert seats_used(lm, arn) == "1"
    with pytest.raises(ClientError) as exc:
        checkout(lm, value="2", client_token="same")
    assert code_of(exc) == "ValidationException"
    out = checkout(lm, Entitlements=[{"Name": "Support", "Unit": "None"}])
    assert out["EntitlementsAllowed"] == [{"Name": "Support", "Unit": "None", "Value": "Enabled"}]


def test_signed_token_verifies_with_the_published_keys(lm):
    arn = new_license(lm)
    out = checkout(lm, NodeId="10.0.21.57")
    keys = {k["kid"]: k for k in lm.cloud.licensemanager.jwks()["keys"]}
    header = jwt.get_unverified_header(out["SignedToken"])
    # the issuer's key (it names no SignKey: the key of its fingerprint), RSASSA-PSS SHA-256
    assert (header["alg"], header["kid"]) == ("PS256", "aws:123456789012:Widget Co:issuer-fingerprint")
    assert len(out["SignedToken"]) >= 4096  # botocore's SignedToken shape: min 4096
    claims = jwt.decode(out["SignedToken"], jwt.PyJWK(keys[header["kid"]]), algorithms=["PS256"])
    assert claims["licenseArn"] == arn and claims["licenseConsumptionToken"] == out["LicenseConsumptionToken"]
    assert claims["entitlementsAllowed"] == [{"name": "Seats", "unit": "Count", "value": "1"}]
    # the user guide's payload shows its times without a zone; the response's carry Z, as the model's pattern asks
    assert (claims["issuedAt"] + "Z", claims["expiration"] + "Z", claims["nodeId"]) == (
        out["IssuedAt"],
        out["Expiration"],
        "10.0.21.57",
    )
    tampered = out["SignedToken"][:-6] + ("A" * 6 if not out["SignedToken"].endswith("A" * 6) else "B" * 6)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, jwt.PyJWK(keys[header["kid"]]).key, algorithms=[header["alg"]])


def test_provisional_checkout_expires_unless_extended(local):
    lm, clock = local, local.cloud.clock
    arn = new_license(lm, max_count=1)
    out = checkout(lm)
    clock.advance(minutes=20)
    extended = lm.extend_license_consumption(LicenseConsumptionToken=out["LicenseConsumptionToken"])
    assert extended["Expiration"] > out["Expiration"]
    clock.advance(minutes=29)  # 49 minutes after checkout: alive thanks to the extension
    assert seats_used(lm, arn) == "1"
    clock.advance(minutes=2)  # 31 minutes after the extension: the TTL (30) has run out
    assert seats_used(lm, arn) == "0"
    with pytest.raises(ClientError) as exc:
        lm.extend_license_consumption(LicenseConsumptionToken=out["LicenseConsumptionToken"])
    assert code_of(exc) == "ResourceNotFoundException"
    checkout(lm)  # the seat is back


def test_perpetual_consumption_and_overage(local):
    lm, clock = local, local.cloud.clock
    arn = new_license(lm, max_count=10, allow_check_in=False, overage=True)
    out = checkout(lm, value="8", kind="PERPETUAL")
    assert out["CheckoutType"] == "PERPETUAL"
    clock.advance(hours=5)
    assert seats_used(lm, arn) == "8"  # consumed for good: no expiry
    checkout(lm, value="5", kind="PERPETUAL")  # past MaxCount: Overage allows it
    assert seats_used(lm, arn) == "13"
    lm.check_in_license(LicenseConsumptionToken=out["LicenseConsumptionToken"])
    assert seats_used(lm, arn) == "13"  # without AllowCheckIn a check-in gives nothing back


def test_borrow_needs_the_borrow_configuration_and_signs_ps384(lm):
    plain = new_license(lm, sku="PLAIN")
    params = {
        "Entitlements": [{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        "DigitalSignatureMethod": "JWT_PS384",
        "ClientToken": uuid.uuid4().hex,
    }
    with pytest.raises(ClientError) as exc:
        lm.checkout_borrow_license(LicenseArn=plain, **params)
    assert code_of(exc) == "NoEntitlementsAllowedException"
    arn = new_license(lm, borrow={"AllowEarlyCheckIn": False, "MaxTimeToLiveInMinutes": 1440})
    out = lm.checkout_borrow_license(
        LicenseArn=arn, NodeId="host-1", CheckoutMetadata=[{"Name": "Mac", "Value": "ABC"}], **params
    )
    header = jwt.get_unverified_header(out["SignedToken"])
    # the issuer's key (its fingerprint's), in the DigitalSignatureMethod asked for
    assert (header["alg"], header["kid"]) == ("PS384", f"{FINGERPRINT}#PS384")
    key = next(k for k in lm.cloud.licensemanager.jwks()["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(out["SignedToken"], jwt.PyJWK(key), algorithms=["PS384"])
    assert claims["checkoutMetadata"] == {"Mac": "ABC"} and claims["licenseArn"] == arn
    assert out["IssuedAt"].endswith("Z") and out["Expiration"].endswith("Z")
    unnamed = lm.checkout_borrow_license(  # Metadata's Name is optional in the model
        LicenseArn=arn, CheckoutMetadata=[{"Value": "x"}], **{**params, "ClientToken": uuid.uuid4().hex}
    )
    assert unnamed["CheckoutMetadata"] == [{"Value": "x"}]
    with pytest.raises(ClientError) as exc:  # AllowEarlyCheckIn false
        lm.check_in_license(LicenseConsumptionToken=out["LicenseConsumptionToken"])
    assert code_of(exc) == "ConflictException"
    no_check_in = new_license(
        lm, sku="NOCHECKIN", allow_check_in=False, borrow={"AllowEarlyCheckIn": True, "MaxTimeToLiveInMinutes": 60}
    )
    with pytest.raises(ClientError) as exc:
        lm.checkout_borrow_license(LicenseArn=no_check_in, **{**params, "ClientToken": uuid.uuid4().hex})
    assert code_of(exc) == "EntitlementNotAllowedException"


def test_get_license_usage_of_an_unknown_license(lm):
    with pytest.raises(ClientError) as exc:
        lm.get_license_usage(
            LicenseArn="arn:aws:license-manager::123456789012:license:l-ffffffffffffffffffffffffffffffff"
        )
    assert code_of(exc) == "InvalidParameterValueException"
