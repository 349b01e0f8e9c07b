"""Grants with boto3, seller and buyer each under their own account's keys, in-process and against the server.

The lifecycle is the user guide's: PENDING_ACCEPT, AcceptGrant to DISABLED, CreateGrantVersion
``Status: ACTIVE`` to ACTIVE; RejectGrant, DeleteGrant and the grantor's deactivation end it; only an
ACTIVE grant lets its grantee use the license, and only for its AllowedOperations.
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from botocore.paginate import Paginator

from tests.services.licensemanager.support import (
    BUYER,
    EVERY_OPERATION,
    FINGERPRINT,
    SELLER,
    STRANGER,
    accept_and_activate,
    activate,
    checkout,
    code_of,
    grant,
    new_license,
    seats_used,
)


@pytest.fixture
def seller(lm):
    return lm


@pytest.fixture
def buyer(backend):
    return backend.account(BUYER)


@pytest.fixture
def stranger(backend):
    return backend.account(STRANGER)


def error(excinfo) -> tuple[str, str]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_the_documented_lifecycle(seller, buyer):
    license_arn = new_license(seller)
    created = grant(seller, license_arn)
    grant_arn = created["GrantArn"]
    assert grant_arn.startswith(f"arn:aws:license-manager::{SELLER}:grant:g-")
    assert (created["Status"], created["Version"]) == ("PENDING_ACCEPT", "1")

    received = buyer.list_received_grants()["Grants"]
    assert [g["GrantArn"] for g in received] == [grant_arn]
    assert received[0] == {
        "GrantArn": grant_arn,
        "GrantName": "Widget for the buyer",
        "ParentArn": license_arn,
        "LicenseArn": license_arn,
        "GranteePrincipalArn": f"arn:aws:iam::{BUYER}:root",
        "HomeRegion": "us-east-1",
        "GrantStatus": "PENDING_ACCEPT",
        "Version": "1",
        "GrantedOperations": EVERY_OPERATION,
    }
    with pytest.raises(ClientError) as exc:  # not yet accepted: the license is not the buyer's to use
        checkout(buyer)
    assert code_of(exc) == "NoEntitlementsAllowedException"

    accepted = buyer.accept_grant(GrantArn=grant_arn)
    assert (accepted["Status"], accepted["Version"]) == ("DISABLED", "2")
    with pytest.raises(ClientError) as exc:  # accepted, not active
        checkout(buyer)
    assert code_of(exc) == "NoEntitlementsAllowedException"
    assert "DISABLED" in exc.value.response["Error"]["Message"]

    activated = activate(buyer, grant_arn)
    assert (activated["Status"], activated["Version"]) == ("ACTIVE", "3")
    out = checkout(buyer)  # by fingerprint and SKU, without a beneficiary
    assert out["LicenseArn"] == license_arn and out["EntitlementsAllowed"] == [
        {"Name": "Seats", "Unit": "Count", "Value": "1"}
    ]
    assert seats_used(seller, license_arn) == "1"
    assert seats_used(buyer, license_arn) == "1"  # a grantee with an active grant reads the usage too

    # every change was a version: GetGrant reads them back
    assert seller.get_grant(GrantArn=grant_arn)["Grant"]["GrantStatus"] == "ACTIVE"
    assert buyer.get_grant(GrantArn=grant_arn, Version="1")["Grant"]["GrantStatus"] == "PENDING_ACCEPT"
    assert buyer.get_grant(GrantArn=grant_arn, Version="2")["Grant"]["GrantStatus"] == "DISABLED"
    with pytest.raises(ClientError) as exc:
        seller.get_grant(GrantArn=grant_arn, Version="9")
    assert code_of(exc) == "InvalidParameterValueException"


def test_accept_and_reject_only_a_pending_grant(seller, buyer):
    license_arn = new_license(seller)
    first = grant(seller, license_arn)["GrantArn"]
    rejected = buyer.reject_grant(GrantArn=first)
    assert rejected["Status"] == "REJECTED"
    for act in (buyer.accept_grant, buyer.reject_grant):
        with pytest.raises(ClientError) as exc:
            act(GrantArn=first)
        assert error(exc) == (
            "ValidationException",
            f"Grant {first} is REJECTED: only a PENDING_ACCEPT grant can be "
            + ("accepted." if act == buyer.accept_grant else "rejected."),
        )
    with pytest.raises(ClientError) as exc:  # a rejected grant never activates
        activate(buyer, first)
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:  # the grantor does not accept for its grantee
        seller.accept_grant(GrantArn=grant(seller, license_arn)["GrantArn"])
    assert code_of(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:  # nor is a pending grant activated before it is accepted
        activate(buyer, grant(seller, license_arn)["GrantArn"])
    assert "PENDING_ACCEPT" in error(exc)[1]


def test_delete_grant_ends_the_grantees_use(seller, buyer):
    license_arn = new_license(seller)
    grant_arn = grant(seller, license_arn)["GrantArn"]
    accept_and_activate(buyer, grant_arn)
    held = checkout(buyer)["LicenseConsumptionToken"]
    version = seller.get_grant(GrantArn=grant_arn)["Grant"]["Version"]
    with pytest.raises(ClientError) as exc:  # Version is the grant's current one
        seller.delete_grant(GrantArn=grant_arn, Version="1")
    assert code_of(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:  # only its grantor deletes it
        buyer.delete_grant(GrantArn=grant_arn, Version=version)
    assert code_of(exc) == "AuthorizationException"
    deleted = seller.delete_grant(GrantArn=grant_arn, Version=version, StatusReason="contract ended")
    assert deleted["Status"] == "DELETED" and int(deleted["Version"]) == int(version) + 1

    with pytest.raises(ClientError) as exc:  # the license is no longer received: AWS's not-found error
        checkout(buyer)
    assert error(exc) == ("ResourceNotFoundException", f"No license found for key fingerprint {FINGERPRINT}.")
    with pytest.raises(ClientError) as exc:  # and the checkout made through the grant is over, its seat back
        buyer.extend_license_consumption(LicenseConsumptionToken=held)
    assert code_of(exc) == "ResourceNotFoundException"
    assert seats_used(seller, license_arn) == "0"
    got = buyer.get_grant(GrantArn=grant_arn)["Grant"]
    assert (got["GrantStatus"], got["StatusReason"]) == ("DELETED", "contract ended")
    received = buyer.list_received_licenses()["Licenses"]
    assert received[0]["ReceivedMetadata"]["ReceivedStatus"] == "DELETED"
    with pytest.raises(ClientError) as exc:
        seller.delete_grant(GrantArn=grant_arn, Version=deleted["Version"])
    assert code_of(exc) == "ValidationException"


def test_the_grantors_deactivation_holds_until_the_grantor_activates(seller, buyer):
    license_arn = new_license(seller)
    grant_arn = grant(seller, license_arn)["GrantArn"]
    accept_and_activate(buyer, grant_arn)
    off = seller.create_grant_version(
        GrantArn=grant_arn, Status="DISABLED", StatusReason="unpaid invoice", ClientToken=uuid.uuid4().hex
    )
    assert off["Status"] == "DISABLED"
    with pytest.raises(ClientError) as exc:
        checkout(buyer)
    assert code_of(exc) == "NoEntitlementsAllowedException"
    with pytest.raises(ClientError) as exc:  # the grantee cannot undo its grantor's deactivation
        activate(buyer, grant_arn)
    assert code_of(exc) == "AuthorizationException"
    assert activate(seller, grant_arn)["Status"] == "ACTIVE"
    checkout(buyer)
    # a grantee deactivates and reactivates its own grant
    buyer.create_grant_version(GrantArn=grant_arn, Status="DISABLED", ClientToken=uuid.uuid4().hex)
    assert activate(buyer, grant_arn)["Status"] == "ACTIVE"


def test_create_grant_version_changes_the_allowed_operations(seller, buyer):
    license_arn = new_license(seller, ConsumptionConfiguration={"RenewType": "None"})
    grant_arn = grant(seller, license_arn, operations=["CheckoutLicense", "CheckInLicense"])["GrantArn"]
    accept_and_activate(buyer, grant_arn)
    token = checkout(buyer)["LicenseConsumptionToken"]
    with pytest.raises(ClientError) as exc:  # the grant does not allow ExtendConsumptionLicense
        buyer.extend_license_consumption(LicenseConsumptionToken=token)
    assert error(exc) == (
        "AuthorizationException",
        f"The grant of license {license_arn} to this account does not allow ExtendConsumptionLicense.",
    )
    with pytest.raises(ClientError) as exc:  # the grantee does not change what it may do
        buyer.create_grant_version(GrantArn=grant_arn, AllowedOperations=EVERY_OPERATION, ClientToken=uuid.uuid4().hex)
    assert code_of(exc) == "AuthorizationException"
    current = seller.get_grant(GrantArn=grant_arn)["Grant"]["Version"]
    with pytest.raises(ClientError) as exc:  # SourceVersion: the version the change is made on
        seller.create_grant_version(
            GrantArn=grant_arn, AllowedOperations=["CheckInLicense"], SourceVersion="1", ClientToken=uuid.uuid4().hex
        )
    assert code_of(exc) == "InvalidParameterValueException"
    changed = seller.create_grant_version(
        GrantArn=grant_arn,
        GrantName="Widget, no checkouts",
        AllowedOperations=["CheckInLicense"],
        SourceVersion=current,
        ClientToken=uuid.uuid4().hex,
    )
    assert changed["Status"] == "ACTIVE"
    with pytest.raises(ClientError) as exc:
        checkout(buyer)
    assert code_of(exc) == "AuthorizationException"
    buyer.check_in_license(LicenseConsumptionToken=token)  # CheckInLicense it still allows
    got = buyer.get_grant(GrantArn=grant_arn)["Grant"]
    assert (got["GrantName"], got["GrantedOperations"]) == ("Widget, no checkouts", ["CheckInLicense"])
    with pytest.raises(ClientError) as exc:
        seller.create_grant_version(GrantArn=grant_arn, Status="PENDING_ACCEPT", ClientToken=uuid.uuid4().hex)
    assert code_of(exc) == "ValidationException"


def test_other_accounts_see_nothing(seller, buyer, stranger):
    license_arn = new_license(seller)
    grant_arn = grant(seller, license_arn)["GrantArn"]
    for call, param, arn in (
        (stranger.get_grant, "GrantArn", grant_arn),
        (stranger.get_license, "LicenseArn", license_arn),
        (stranger.get_license_usage, "LicenseArn", license_arn),
        (stranger.list_license_versions, "LicenseArn", license_arn),
        (stranger.accept_grant, "GrantArn", grant_arn),
    ):
        with pytest.raises(ClientError) as exc:
            call(**{param: arn})
        assert code_of(exc) == "InvalidParameterValueException", call
    assert stranger.list_received_grants()["Grants"] == []
    assert stranger.list_received_licenses()["Licenses"] == []
    assert stranger.list_distributed_grants()["Grants"] == []
    assert stranger.list_licenses()["Licenses"] == []
    with pytest.raises(ClientError) as exc:
        checkout(stranger)
    assert code_of(exc) == "ResourceNotFoundException"
    # the buyer sees the license it received (GetLicense) but does not list it among its own
    assert buyer.get_license(LicenseArn=license_arn)["License"]["LicenseArn"] == license_arn
    assert buyer.list_licenses()["Licenses"] == []
    assert buyer.list_distributed_grants()["Grants"] == []
    assert [g["GrantArn"] for g in seller.list_distributed_grants()["Grants"]] == [grant_arn]
    assert seller.list_received_grants()["Grants"] == []


def test_received_licenses_carry_how_they_were_received(seller, buyer):
    pro = new_license(seller)
    lite = new_license(seller, sku="WIDGET-LITE", LicenseName="Widget Lite")
    pro_grant = grant(seller, pro)["GrantArn"]
    grant(seller, lite, operations=["CheckoutLicense"])
    accept_and_activate(buyer, pro_grant)
    received = {lic["ProductSKU"]: lic for lic in buyer.list_received_licenses()["Licenses"]}
    assert set(received) == {"WIDGET-PRO", "WIDGET-LITE"}
    assert received["WIDGET-PRO"]["ReceivedMetadata"] == {
        "ReceivedStatus": "ACTIVE",
        "AllowedOperations": EVERY_OPERATION,
    }
    assert received["WIDGET-LITE"]["ReceivedMetadata"] == {
        "ReceivedStatus": "PENDING_ACCEPT",
        "AllowedOperations": ["CheckoutLicense"],
    }
    assert received["WIDGET-PRO"]["Issuer"]["KeyFingerprint"] == FINGERPRINT
    assert received["WIDGET-PRO"]["CreateTime"].endswith("Z")
    only = buyer.list_received_licenses(Filters=[{"Name": "ProductSKU", "Values": ["WIDGET-LITE"]}])["Licenses"]
    assert [lic["LicenseArn"] for lic in only] == [lite]
    by_issuer = buyer.list_received_licenses(Filters=[{"Name": "IssuerName", "Values": ["Widget Co"]}])
    assert len(by_issuer["Licenses"]) == 2
    assert buyer.list_received_licenses(LicenseArns=[pro])["Licenses"][0]["LicenseArn"] == pro
    with pytest.raises(ClientError) as exc:
        buyer.list_received_licenses(Filters=[{"Name": "Colour", "Values": ["red"]}])
    assert code_of(exc) == "InvalidParameterValueException"


def test_received_licenses_are_listed_in_every_region(backend, seller):
    license_arn = new_license(seller)
    grant(seller, license_arn)
    west = backend.account(BUYER, region="eu-west-1")
    assert [lic["LicenseArn"] for lic in west.list_received_licenses()["Licenses"]] == [license_arn]
    assert len(west.list_received_grants()["Grants"]) == 1


def test_grant_lists_filter_and_page(seller, buyer):
    licenses = [new_license(seller, sku=f"SKU-{n}") for n in range(3)]
    grants = [grant(seller, arn)["GrantArn"] for arn in licenses for _ in range(2)]
    buyer.accept_grant(GrantArn=grants[0])
    by_status = seller.list_distributed_grants(Filters=[{"Name": "GrantStatus", "Values": ["DISABLED"]}])["Grants"]
    assert [g["GrantArn"] for g in by_status] == [grants[0]]
    by_sku = buyer.list_received_grants(Filters=[{"Name": "ProductSKU", "Values": ["SKU-2"]}])["Grants"]
    assert [g["GrantArn"] for g in by_sku] == grants[4:]
    by_granter = buyer.list_received_grants(Filters=[{"Name": "GranterAccountId", "Values": [SELLER]}])["Grants"]
    assert len(by_granter) == 6
    by_grantee = seller.list_distributed_grants(
        Filters=[{"Name": "GranteePrincipalARN", "Values": [f"arn:aws:iam::{BUYER}:root"]}]
    )
    assert len(by_grantee["Grants"]) == 6
    assert [g["GrantArn"] for g in seller.list_distributed_grants(GrantArns=grants[1:3])["Grants"]] == grants[1:3]
    paginator = Paginator(
        buyer.list_received_grants,
        {"input_token": "NextToken", "output_token": "NextToken", "limit_key": "MaxResults", "result_key": "Grants"},
        buyer.meta.service_model.operation_model("ListReceivedGrants"),
    )
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 4}))
    assert [len(p["Grants"]) for p in pages] == [4, 2]
    assert [g["GrantArn"] for p in pages for g in p["Grants"]] == grants
    with pytest.raises(ClientError) as exc:
        seller.list_distributed_grants(Filters=[{"Name": "GranterAccountId", "Values": [SELLER]}])
    assert code_of(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:
        buyer.list_received_grants(NextToken="not-ours")
    assert code_of(exc) == "ValidationException"


def test_create_grant_checks_its_principal_and_is_idempotent(seller, buyer):
    license_arn = new_license(seller)
    for principal in ("arn:aws:iam::210987654321:user/bob", f"arn:aws:iam::{SELLER}:root"):
        with pytest.raises(ClientError) as exc:
            grant(seller, license_arn, Principals=[principal])
        assert code_of(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:
        grant(seller, "arn:aws:license-manager::123456789012:license:l-" + "0" * 32)
    assert code_of(exc) == "InvalidParameterValueException"
    token = uuid.uuid4().hex
    first = grant(seller, license_arn, ClientToken=token)
    again = grant(seller, license_arn, ClientToken=token)
    assert (again["GrantArn"], again["Status"], again["Version"]) == (first["GrantArn"], "PENDING_ACCEPT", "1")
    with pytest.raises(ClientError) as exc:
        grant(seller, license_arn, ClientToken=token, GrantName="another")
    assert code_of(exc) == "ValidationException"
    assert len(buyer.list_received_grants()["Grants"]) == 1


def test_a_grantee_distributes_what_its_grant_allows(backend, seller, buyer):
    """A grantee with CreateGrant grants the license on: the new grant's parent is its own grant."""
    license_arn = new_license(seller)
    parent = grant(seller, license_arn, operations=["CheckoutLicense", "CheckInLicense", "CreateGrant"])["GrantArn"]
    accept_and_activate(buyer, parent)
    member = backend.account(STRANGER)
    with pytest.raises(ClientError) as exc:  # no more than its own grant allows
        grant(buyer, license_arn, account=STRANGER, operations=["CheckoutLicense", "CreateToken"])
    assert code_of(exc) == "InvalidParameterValueException"
    child = grant(buyer, license_arn, account=STRANGER, operations=["CheckoutLicense"])["GrantArn"]
    assert child.startswith(f"arn:aws:license-manager::{BUYER}:grant:")
    got = member.get_grant(GrantArn=child)["Grant"]
    assert (got["ParentArn"], got["LicenseArn"]) == (parent, license_arn)
    accept_and_activate(member, child)
    checkout(member)
    assert seats_used(seller, license_arn) == "1"
    # the child grant needs its parent: when the buyer's own grant is deactivated, so is the member's use
    seller.create_grant_version(GrantArn=parent, Status="DISABLED", ClientToken=uuid.uuid4().hex)
    with pytest.raises(ClientError) as exc:
        checkout(member)
    assert error(exc) == (
        "NoEntitlementsAllowedException",
        f"No Entitlements Allowed: the grant of license {license_arn} to this account was received through a "
        "grant that is not ACTIVE.",
    )
    with pytest.raises(ClientError) as exc:  # nor does the buyer grant on while its own grant is deactivated
        grant(buyer, license_arn, account=STRANGER, operations=["CheckoutLicense"])
    assert code_of(exc) == "AuthorizationException"  # CreateGrant's list has no NoEntitlementsAllowedException
    # a grant that does not allow CreateGrant grants nothing on
    other = new_license(seller, sku="WIDGET-LITE")
    accept_and_activate(buyer, grant(seller, other, operations=["CheckoutLicense"])["GrantArn"])
    with pytest.raises(ClientError) as exc:
        grant(buyer, other, account=STRANGER, operations=["CheckoutLicense"])
    assert code_of(exc) == "AuthorizationException"


def test_organizations_receive_grants_and_their_management_account_lists_them(backend, cloud, seller):
    management, member = "111122223333", "444455556666"
    cloud.licensemanager.set_organization("o-exampleorg1", management, [member], units={"ou-ab12-cdef3456": [member]})
    boss, staff = backend.account(management), backend.account(member)
    license_arn = new_license(seller)
    to_org = grant(seller, license_arn, Principals=["arn:aws:organizations::111122223333:organization/o-exampleorg1"])
    to_unit = grant(
        seller, license_arn, Principals=["arn:aws:organizations::111122223333:ou/o-exampleorg1/ou-ab12-cdef3456"]
    )
    assert {g["GrantArn"] for g in staff.list_received_grants()["Grants"]} == {to_org["GrantArn"], to_unit["GrantArn"]}
    assert [g["GrantArn"] for g in boss.list_received_grants()["Grants"]] == [to_org["GrantArn"]]
    org_grants = boss.list_received_grants_for_organization(LicenseArn=license_arn)["Grants"]
    assert {g["GrantArn"] for g in org_grants} == {to_org["GrantArn"], to_unit["GrantArn"]}
    unit = "arn:aws:organizations::111122223333:ou/o-exampleorg1/ou-ab12-cdef3456"
    filtered = boss.list_received_grants_for_organization(
        LicenseArn=license_arn, Filters=[{"Name": "GranteePrincipalArn", "Values": [unit]}]
    )["Grants"]
    assert [g["GrantArn"] for g in filtered] == [to_unit["GrantArn"]]
    licenses = boss.list_received_licenses_for_organization()["Licenses"]
    assert [lic["LicenseArn"] for lic in licenses] == [license_arn]
    none = boss.list_received_licenses_for_organization(Filters=[{"Name": "ProductSKU", "Values": ["NONE"]}])
    assert none["Licenses"] == []
    with pytest.raises(ClientError) as exc:  # a member account manages no organization
        staff.list_received_licenses_for_organization()
    assert code_of(exc) == "AuthorizationException"
    with pytest.raises(ClientError) as exc:
        grant(seller, license_arn, Principals=["arn:aws:organizations::111122223333:organization/not-an-id"])
    assert code_of(exc) == "InvalidParameterValueException"


def test_grants_from_a_linked_management_account_are_accepted_for_its_members(backend, cloud):
    management, member = "111122223333", "444455556666"
    cloud.licensemanager.set_organization("o-exampleorg1", management, [member])
    boss, staff = backend.account(management), backend.account(member)
    with pytest.raises(ClientError) as exc:  # only a management account links its organization
        staff.update_service_settings(OrganizationConfiguration={"EnableIntegration": True})
    assert code_of(exc) == "InvalidParameterValueException"
    boss.update_service_settings(OrganizationConfiguration={"EnableIntegration": True})
    license_arn = new_license(boss)
    created = grant(boss, license_arn, account=member)
    assert created["Status"] == "DISABLED"  # "automatically accepted in the member accounts"
    assert activate(staff, created["GrantArn"])["Status"] == "ACTIVE"
    checkout(staff, fingerprint=f"aws:{management}:Widget Co:issuer-fingerprint")


def test_a_grantee_makes_tokens_when_its_grant_allows_create_token(seller, buyer):
    license_arn = new_license(seller)
    grant_arn = grant(seller, license_arn, operations=["CheckoutLicense", "CreateToken"])["GrantArn"]
    with pytest.raises(ClientError) as exc:  # not yet active
        buyer.create_token(LicenseArn=license_arn, ClientToken=uuid.uuid4().hex)
    assert code_of(exc) == "AuthorizationException"
    accept_and_activate(buyer, grant_arn)
    created = buyer.create_token(LicenseArn=license_arn, ClientToken=uuid.uuid4().hex)
    assert buyer.get_access_token(Token=created["Token"])["AccessToken"]
    assert [t["TokenId"] for t in buyer.list_tokens()["Tokens"]] == [created["TokenId"]]
    assert seller.list_tokens()["Tokens"] == []  # the token is the buyer account's
    lite = new_license(seller, sku="WIDGET-LITE")
    accept_and_activate(buyer, grant(seller, lite, operations=["CheckoutLicense"])["GrantArn"])
    with pytest.raises(ClientError) as exc:
        buyer.create_token(LicenseArn=lite, ClientToken=uuid.uuid4().hex)
    assert error(exc) == (
        "AuthorizationException",
        f"No active grant of license {lite} to this account allows CreateToken.",
    )
