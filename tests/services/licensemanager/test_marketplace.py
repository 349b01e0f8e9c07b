"""AWS Marketplace as an issuer: ``subscribe(...)``, then the check every Marketplace product makes, with boto3
under the buyer's own credentials, in-process and against the server (where ``cloud.licensemanager.subscribe``
is the admin API's helper call)."""

from __future__ import annotations

import base64
import uuid

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding

import mockcloud
from mockcloud import mock_licensemanager
from tests.helpers import lm_client
from tests.services.licensemanager.support import (
    BUYER,
    MARKETPLACE_FINGERPRINT,
    STRANGER,
    Backend,
    activate,
    code_of,
    grant,
    new_license,
)

PRODUCT = "prod-abcdefghij123"
DIMENSIONS = [{"Name": "ReadOnlyUsers", "Unit": "Count", "MaxCount": 5, "Overage": False, "AllowCheckIn": True}]


def marketplace_check(lm, value: str = "1") -> dict:
    """What a Marketplace product runs: CheckoutLicense with Marketplace's fingerprint and its product id, no
    Beneficiary."""
    return lm.checkout_license(
        ProductSKU=PRODUCT,
        CheckoutType="PROVISIONAL",
        KeyFingerprint=MARKETPLACE_FINGERPRINT,
        Entitlements=[{"Name": "ReadOnlyUsers", "Unit": "Count", "Value": value}],
        ClientToken=uuid.uuid4().hex,
    )


def verified_offline(token: str, authority: x509.Certificate) -> dict:
    """Verify a SignedToken as an offline application would: its x5c chain up to a pinned CA certificate."""
    chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in jwt.get_unverified_header(token)["x5c"]]
    leaf, root = chain
    assert root == authority
    authority.public_key().verify(
        leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(), leaf.signature_hash_algorithm
    )
    return jwt.decode(token, leaf.public_key(), algorithms=["PS256"])


def test_the_marketplace_check_under_the_buyers_own_credentials(backend, cloud):
    subscription = cloud.licensemanager.subscribe(BUYER, PRODUCT, DIMENSIONS, product_name="Widget Analytics")
    assert subscription.key_fingerprint == MARKETPLACE_FINGERPRINT and subscription.grant_status == "ACTIVE"
    buyer = backend.account(BUYER)

    [received] = buyer.list_received_licenses()["Licenses"]
    assert received["LicenseArn"] == subscription.license_arn
    assert received["LicenseArn"].startswith("arn:aws:license-manager::294406891311:license:l-")
    assert received["Issuer"] == {"Name": "AWS/Marketplace", "KeyFingerprint": MARKETPLACE_FINGERPRINT}
    assert (received["ProductSKU"], received["ProductName"], received["Beneficiary"]) == (
        PRODUCT,
        "Widget Analytics",
        f"arn:aws:iam::{BUYER}:root",
    )
    assert received["ReceivedMetadata"]["ReceivedStatus"] == "ACTIVE"  # a purchase is accepted and activated
    assert received["Validity"]["End"] > received["Validity"]["Begin"]
    [grant_of_it] = buyer.list_received_grants()["Grants"]
    assert (grant_of_it["GrantArn"], grant_of_it["ParentArn"]) == (subscription.grant_arn, subscription.license_arn)

    out = marketplace_check(buyer)
    assert out["LicenseArn"] == subscription.license_arn
    assert out["EntitlementsAllowed"] == [{"Name": "ReadOnlyUsers", "Unit": "Count", "Value": "1"}]
    claims = verified_offline(out["SignedToken"], cloud.licensemanager.issuer_certificate_authority())
    assert claims["keyFingerprint"] == MARKETPLACE_FINGERPRINT and claims["issuer"]["Name"] == "AWS/Marketplace"
    assert "beneficiary" not in claims
    buyer.check_in_license(LicenseConsumptionToken=out["LicenseConsumptionToken"])

    # nobody else holds it: not the default account, not another buyer
    for other in (backend.client(), backend.account(STRANGER)):
        with pytest.raises(ClientError) as exc:
            marketplace_check(other)
        assert code_of(exc) == "ResourceNotFoundException"
        with pytest.raises(ClientError) as exc:
            other.get_license(LicenseArn=subscription.license_arn)
        assert code_of(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:  # more users than the contract's 5
        marketplace_check(buyer, value="6")
    assert code_of(exc) == "NoEntitlementsAllowedException"


def test_two_subscriptions_to_one_product_are_not_active_at_once(backend, cloud):
    first = cloud.licensemanager.subscribe(BUYER, PRODUCT, DIMENSIONS)
    second = cloud.licensemanager.subscribe(BUYER, PRODUCT, DIMENSIONS)  # a private offer, say
    assert (first.grant_status, second.grant_status) == ("ACTIVE", "DISABLED")
    buyer = backend.account(BUYER)
    assert marketplace_check(buyer)["LicenseArn"] == first.license_arn
    with pytest.raises(ClientError) as exc:
        activate(buyer, second.grant_arn)
    assert code_of(exc) == "ValidationException"
    assert "ALL_GRANTS_PERMITTED_BY_ISSUER" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:  # DISTRIBUTED_GRANTS_ONLY replaces nothing
        activate(buyer, second.grant_arn, Options={"ActivationOverrideBehavior": "DISTRIBUTED_GRANTS_ONLY"})
    assert code_of(exc) == "ValidationException"
    replaced = activate(
        buyer, second.grant_arn, Options={"ActivationOverrideBehavior": "ALL_GRANTS_PERMITTED_BY_ISSUER"}
    )
    assert replaced["Status"] == "ACTIVE"
    old = buyer.get_grant(GrantArn=first.grant_arn)["Grant"]
    assert (old["GrantStatus"], old["StatusReason"]) == ("DISABLED", f"Replaced by grant {second.grant_arn}")
    assert buyer.get_grant(GrantArn=second.grant_arn)["Grant"]["Options"] == {
        "ActivationOverrideBehavior": "ALL_GRANTS_PERMITTED_BY_ISSUER"
    }
    assert marketplace_check(buyer)["LicenseArn"] == second.license_arn


def test_options_are_for_marketplace_grants_only(backend, lm):
    arn = new_license(lm)
    grant_arn = grant(lm, arn)["GrantArn"]
    buyer = backend.account(BUYER)
    buyer.accept_grant(GrantArn=grant_arn)
    with pytest.raises(ClientError) as exc:
        activate(buyer, grant_arn, Options={"ActivationOverrideBehavior": "ALL_GRANTS_PERMITTED_BY_ISSUER"})
    assert code_of(exc) == "ValidationException"


def test_a_buyer_distributes_its_subscription_in_its_organization(backend, cloud):
    management, member = BUYER, "444455556666"
    cloud.licensemanager.set_organization("o-buyerorg123", management, [member])
    subscription = cloud.licensemanager.subscribe(management, PRODUCT, DIMENSIONS)
    boss, staff = backend.account(management), backend.account(member)
    distributed = grant(
        boss, subscription.license_arn, account=member, operations=["CheckoutLicense", "CheckInLicense"]
    )
    accepted = staff.accept_grant(GrantArn=distributed["GrantArn"])
    assert accepted["Status"] == "DISABLED"
    activate(staff, distributed["GrantArn"])
    out = marketplace_check(staff)
    assert out["LicenseArn"] == subscription.license_arn
    assert staff.get_grant(GrantArn=distributed["GrantArn"])["Grant"]["ParentArn"] == subscription.grant_arn
    assert [
        g["GrantArn"] for g in boss.list_received_grants_for_organization(LicenseArn=subscription.license_arn)["Grants"]
    ] == [subscription.grant_arn, distributed["GrantArn"]]


def test_the_contract_ends_on_the_mock_clock():
    with mock_licensemanager() as cloud:
        backend = Backend(cloud)
        cloud.licensemanager.subscribe(BUYER, PRODUCT, DIMENSIONS, duration_days=30)
        buyer = backend.account(BUYER)
        marketplace_check(buyer)
        cloud.clock.advance(days=31)
        assert buyer.list_received_licenses()["Licenses"][0]["Status"] == "EXPIRED"
        with pytest.raises(ClientError) as exc:
            marketplace_check(buyer)
        assert code_of(exc) == "NoEntitlementsAllowedException"


def test_subscribe_over_http_with_connect(mockcloud_server):
    remote = mockcloud.connect(mockcloud_server.url)
    subscription = remote.licensemanager.subscribe(buyer_account=BUYER, product_sku=PRODUCT, entitlements=DIMENSIONS)
    assert subscription.license_arn.startswith("arn:aws:license-manager::294406891311:license:")
    remote.credentials.add_aws("AKIABUYERKEYOVERHTTP", "buyer-secret", account_id=BUYER)
    buyer = lm_client(mockcloud_server.url, key="AKIABUYERKEYOVERHTTP", secret="buyer-secret")
    assert marketplace_check(buyer)["LicenseArn"] == subscription.license_arn
    assert isinstance(remote.licensemanager.issuer_certificate_authority(), x509.Certificate)
