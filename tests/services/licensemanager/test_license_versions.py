"""License versions, deletion, Regions, tags and settings with boto3, in-process and against the server
(tests that move the clock the client signs with run in-process)."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from botocore.paginate import Paginator

from mockcloud import mock_licensemanager
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client
from tests.services.licensemanager.support import (
    BUYER,
    FINGERPRINT,
    STRANGER,
    Backend,
    accept_and_activate,
    checkout,
    code_of,
    grant,
    new_license,
    seats_used,
)


@pytest.fixture
def local():
    """In-process, with the clock the client signs with."""
    with mock_licensemanager() as cloud:
        yield Backend(cloud)


def version_of(lm, arn: str, reader=None, **changes) -> dict:
    """CreateLicenseVersion by ``lm`` with the license's current fields (read by ``reader``, else ``lm``) and
    ``changes``."""
    current = (reader or lm).get_license(LicenseArn=arn)["License"]
    params = {
        "LicenseArn": arn,
        "LicenseName": current["LicenseName"],
        "ProductName": current["ProductName"],
        "Issuer": {"Name": current["Issuer"]["Name"]},
        "HomeRegion": current["HomeRegion"],
        "Validity": current["Validity"],
        "Entitlements": current["Entitlements"],
        "ConsumptionConfiguration": current["ConsumptionConfiguration"],
        "Status": "AVAILABLE",
        "ClientToken": uuid.uuid4().hex,
    }
    params.update(changes)
    return lm.create_license_version(**params)


def test_a_new_version_changes_what_checkout_allows(backend, lm):
    arn = new_license(lm, seats=1)
    buyer = backend.account(BUYER)
    accept_and_activate(buyer, grant(lm, arn)["GrantArn"])
    checkout(buyer)
    with pytest.raises(ClientError) as exc:  # one seat, taken
        checkout(buyer)
    assert code_of(exc) == "NoEntitlementsAllowedException"
    more = [{"Name": "Seats", "Unit": "Count", "MaxCount": 3, "AllowCheckIn": True}]
    created = version_of(lm, arn, Entitlements=more, LicenseName="Widget Pro (3 seats)")
    assert created == {**created, "LicenseArn": arn, "Version": "2", "Status": "AVAILABLE"}
    checkout(buyer, value="2")  # three seats now: one held, two more
    assert seats_used(lm, arn) == "3"
    with pytest.raises(ClientError) as exc:  # the Tier entitlement is gone from version 2
        checkout(buyer, Entitlements=[{"Name": "Tier", "Unit": "None"}])
    assert code_of(exc) == "NoEntitlementsAllowedException"

    # GetLicense with Version, and ListLicenseVersions, read the versions back
    first = lm.get_license(LicenseArn=arn, Version="1")["License"]
    assert (first["Version"], first["LicenseName"], len(first["Entitlements"])) == ("1", "Widget Pro", 2)
    assert buyer.get_license(LicenseArn=arn)["License"]["LicenseName"] == "Widget Pro (3 seats)"
    versions = lm.list_license_versions(LicenseArn=arn)["Licenses"]
    assert [v["Version"] for v in versions] == ["1", "2"]
    assert versions[1]["Entitlements"] == more
    with pytest.raises(ClientError) as exc:
        lm.get_license(LicenseArn=arn, Version="7")
    assert code_of(exc) == "InvalidParameterValueException"

    # a status change: DEACTIVATED stops checkouts, AVAILABLE again allows them
    assert version_of(lm, arn, Status="DEACTIVATED")["Status"] == "DEACTIVATED"
    with pytest.raises(ClientError) as exc:
        checkout(buyer)
    assert code_of(exc) == "NoEntitlementsAllowedException"
    assert buyer.list_received_licenses()["Licenses"][0]["Status"] == "DEACTIVATED"
    version_of(lm, arn, ResetUsage=True)  # and ResetUsage gives every seat back
    assert seats_used(lm, arn) == "0"
    assert [v["Status"] for v in lm.list_license_versions(LicenseArn=arn)["Licenses"]] == [
        "AVAILABLE",
        "AVAILABLE",
        "DEACTIVATED",
        "AVAILABLE",
    ]


def test_create_license_version_refuses(backend, lm):
    arn = new_license(lm)
    with pytest.raises(ClientError) as exc:  # SourceVersion: the version the change is made on
        version_of(lm, arn, SourceVersion="3")
    assert code_of(exc) == "ConflictException"
    with pytest.raises(ClientError) as exc:  # DeleteLicense deletes
        version_of(lm, arn, Status="DELETED")
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        version_of(lm, arn, HomeRegion="eu-west-1")
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:  # only its issuer makes versions; for anyone else it is not found
        version_of(backend.account(STRANGER), arn, reader=lm, LicenseName="mine now")
    assert code_of(exc) == "ResourceNotFoundException"
    west = backend.client(region="eu-west-1")
    with pytest.raises(ClientError) as exc:
        version_of(west, arn, reader=lm)
    assert code_of(exc) == "RedirectException"
    assert exc.value.response["Location"] == "https://license-manager.us-east-1.amazonaws.com"
    token = uuid.uuid4().hex
    again = version_of(lm, arn, ClientToken=token)
    assert version_of(lm, arn, ClientToken=token)["Version"] == again["Version"] == "2"


def test_delete_license_without_grants_is_deleted_at_once(lm):
    arn = new_license(lm)
    token = checkout(lm, Beneficiary="someone@example.com")["LicenseConsumptionToken"]
    with pytest.raises(ClientError) as exc:
        lm.delete_license(LicenseArn=arn, SourceVersion="2")
    assert code_of(exc) == "ConflictException"
    deleted = lm.delete_license(LicenseArn=arn, SourceVersion="1")
    assert deleted["Status"] == "DELETED" and deleted["DeletionDate"].endswith("Z")
    assert lm.get_license(LicenseArn=arn)["License"]["Status"] == "DELETED"
    with pytest.raises(ClientError) as exc:  # a deleted license is no longer checked out
        checkout(lm, Beneficiary="someone@example.com")
    assert code_of(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:  # and its checkouts are over
        lm.extend_license_consumption(LicenseConsumptionToken=token)
    assert code_of(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        lm.delete_license(LicenseArn=arn, SourceVersion="1")
    assert code_of(exc) == "ConflictException"
    assert lm.list_licenses(Filters=[{"Name": "Status", "Values": ["DELETED"]}])["Licenses"][0]["LicenseArn"] == arn


def test_delete_license_with_grants_is_pending_then_deleted_on_the_clock(local):
    lm, buyer = local.client(), local.account(BUYER)
    arn = new_license(lm)
    grant_arn = grant(lm, arn)["GrantArn"]
    accept_and_activate(buyer, grant_arn)
    checkout(buyer)
    deleted = lm.delete_license(LicenseArn=arn, SourceVersion="1")
    assert deleted["Status"] == "PENDING_DELETE"
    assert buyer.get_grant(GrantArn=grant_arn)["Grant"]["GrantStatus"] == "PENDING_DELETE"
    with pytest.raises(ClientError) as exc:  # the license can no longer be used
        checkout(buyer)
    assert code_of(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        version_of(lm, arn)
    assert code_of(exc) == "ConflictException"
    local.cloud.clock.advance(hours=1, seconds=1)  # license_deletion_seconds later
    assert lm.get_license(LicenseArn=arn)["License"]["Status"] == "DELETED"
    assert buyer.get_grant(GrantArn=grant_arn)["Grant"]["GrantStatus"] == "DELETED"
    received = buyer.list_received_licenses()["Licenses"][0]
    assert (received["Status"], received["ReceivedMetadata"]["ReceivedStatus"]) == ("DELETED", "DELETED")


def test_a_license_expires_on_the_mock_clock(local):
    lm = local.client()
    arn = new_license(lm, Validity={"Begin": "2024-01-01T00:00:00Z", "End": "2099-01-01T00:00:00Z"})
    local.cloud.clock.freeze("2099-01-01T00:00:01Z")
    assert lm.get_license(LicenseArn=arn)["License"]["Status"] == "EXPIRED"
    with pytest.raises(ClientError) as exc:
        checkout(lm, Beneficiary="x@example.com")
    assert code_of(exc) == "NoEntitlementsAllowedException"


def test_list_licenses_filters_and_pages(lm):
    arns = [new_license(lm, sku=f"SKU-{n % 2}") for n in range(5)]
    every = [lic["LicenseArn"] for lic in lm.list_licenses()["Licenses"]]
    assert every == [DEFAULT_LICENSE_ARN, *arns]
    assert [
        lic["LicenseArn"] for lic in lm.list_licenses(Filters=[{"Name": "ProductSKU", "Values": ["SKU-1"]}])["Licenses"]
    ] == arns[1::2]
    by_fingerprint = lm.list_licenses(Filters=[{"Name": "Fingerprint", "Values": [FINGERPRINT]}])["Licenses"]
    assert len(by_fingerprint) == 5
    by_beneficiary = lm.list_licenses(Filters=[{"Name": "Beneficiary", "Values": [f"arn:aws:iam::{BUYER}:root"]}])
    assert len(by_beneficiary["Licenses"]) == 5
    paginator = Paginator(
        lm.list_licenses,
        {"input_token": "NextToken", "output_token": "NextToken", "limit_key": "MaxResults", "result_key": "Licenses"},
        lm.meta.service_model.operation_model("ListLicenses"),
    )
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 4}))
    assert [len(p["Licenses"]) for p in pages] == [4, 2]
    assert [lic["LicenseArn"] for p in pages for lic in p["Licenses"]] == every


def test_create_license_and_tokens_in_the_home_region_only(backend, lm):
    west = backend.client(region="eu-west-1")
    with pytest.raises(ClientError) as exc:
        new_license(west)  # HomeRegion us-east-1, called in eu-west-1
    assert code_of(exc) == "RedirectException"
    assert exc.value.response["Location"] == "https://license-manager.us-east-1.amazonaws.com"
    with pytest.raises(ClientError) as exc:  # "The API calls must be made in the home Region"
        west.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex)
    assert code_of(exc) == "RedirectException"
    with pytest.raises(ClientError) as exc:  # so must the issuer's own checkouts
        checkout(
            west, sku="EXAMPLE-PRO-SKU", fingerprint="aws:123456789012:mockcloud:issuer-fingerprint", Beneficiary="x"
        )
    assert code_of(exc) == "RedirectException"
    arn = new_license(west, HomeRegion="eu-west-1")
    assert [lic["LicenseArn"] for lic in west.list_licenses()["Licenses"]] == [arn]
    assert arn not in [lic["LicenseArn"] for lic in lm.list_licenses()["Licenses"]]
    with pytest.raises(ClientError) as exc:
        lm.delete_license(LicenseArn=arn, SourceVersion="1")
    assert code_of(exc) == "RedirectException"


def test_tags_on_licenses_and_grants(backend, lm):
    arn = new_license(lm, Tags=[{"Key": "team", "Value": "billing"}])
    grant_arn = grant(lm, arn, Tags=[{"Key": "customer", "Value": "acme"}])["GrantArn"]
    assert lm.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "billing"}]
    assert lm.list_tags_for_resource(ResourceArn=grant_arn)["Tags"] == [{"Key": "customer", "Value": "acme"}]
    lm.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "sales"}, {"Key": "env", "Value": "prod"}])
    assert lm.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "sales"},
        {"Key": "env", "Value": "prod"},
    ]
    lm.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    assert lm.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    lm.untag_resource(ResourceArn=grant_arn, TagKeys=["customer"])
    assert lm.list_tags_for_resource(ResourceArn=grant_arn)["Tags"] == []
    buyer = backend.account(BUYER)
    for call in (
        lambda: buyer.list_tags_for_resource(ResourceArn=arn),  # the grantee does not tag its grantor's things
        lambda: buyer.tag_resource(ResourceArn=grant_arn, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: lm.tag_resource(
            ResourceArn="arn:aws:license-manager:us-east-1:123456789012:report-generator:r-1",
            Tags=[{"Key": "k", "Value": "v"}],
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:
        lm.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(50)])
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        lm.tag_resource(ResourceArn=arn, Tags=[{"Value": "no key"}])
    assert code_of(exc) == "ValidationException"
    # a tag without a Key refuses the whole CreateGrant or CreateLicense: nothing is made
    grants = lm.list_distributed_grants()["Grants"]
    licenses = lm.list_licenses()["Licenses"]
    with pytest.raises(ClientError) as exc:
        grant(lm, arn, Tags=[{"Value": "no key"}])
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        new_license(lm, Tags=[{"Value": "no key"}])
    assert code_of(exc) == "ValidationException"
    assert (lm.list_distributed_grants()["Grants"], lm.list_licenses()["Licenses"]) == (grants, licenses)


def test_service_settings_per_account_and_region(backend, lm):
    fresh = lm.get_service_settings()
    fresh.pop("ResponseMetadata")
    assert fresh == {"OrganizationConfiguration": {"EnableIntegration": False}, "EnableCrossAccountsDiscovery": False}
    lm.update_service_settings(
        S3BucketArn="arn:aws:s3:::license-reports",
        SnsTopicArn="arn:aws:sns:us-east-1:123456789012:license-alerts",
        EnabledDiscoverySourceRegions=["us-east-1", "eu-west-1"],
    )
    got = lm.get_service_settings()
    assert (got["S3BucketArn"], got["SnsTopicArn"]) == (
        "arn:aws:s3:::license-reports",
        "arn:aws:sns:us-east-1:123456789012:license-alerts",
    )
    assert (got["CrossRegionDiscoveryHomeRegion"], got["CrossRegionDiscoverySourceRegions"]) == (
        "us-east-1",
        ["us-east-1", "eu-west-1"],
    )
    assert "S3BucketArn" not in backend.client(region="eu-west-1").get_service_settings()  # per Region
    assert "S3BucketArn" not in backend.account(BUYER).get_service_settings()  # per account
    for bad in ({"S3BucketArn": "my-bucket"}, {"SnsTopicArn": "arn:aws:sqs:us-east-1:123456789012:q"}):
        with pytest.raises(ClientError) as exc:
            lm.update_service_settings(**bad)
        assert code_of(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:  # cross-account discovery needs Organizations
        lm.update_service_settings(EnableCrossAccountsDiscovery=True)
    assert code_of(exc) == "InvalidParameterValueException"
    backend.cloud.licensemanager.set_organization("o-exampleorg1", "123456789012", [BUYER])
    lm.update_service_settings(OrganizationConfiguration={"EnableIntegration": True}, EnableCrossAccountsDiscovery=True)
    linked = lm.get_service_settings()
    assert linked["OrganizationConfiguration"] == {"EnableIntegration": True} and linked["EnableCrossAccountsDiscovery"]
    assert linked["LicenseManagerResourceShareArn"].startswith("arn:aws:ram:us-east-1:123456789012:resource-share/")
    assert linked["S3BucketArn"] == "arn:aws:s3:::license-reports"  # what was not given is kept


def test_validation_comes_from_botocores_model(backend):
    raw = backend.client(validate=False)
    with pytest.raises(ClientError) as exc:
        raw.create_grant(
            ClientToken="t",
            GrantName="g",
            LicenseArn=DEFAULT_LICENSE_ARN,
            Principals=[],
            HomeRegion="us-east-1",
            AllowedOperations=["CheckoutLicense"],
        )
    assert exc.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '[]' at 'principals' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    with pytest.raises(ClientError) as exc:
        raw.create_grant_version(GrantArn="not-an-arn", ClientToken="t", Status="SLEEPING")
    message = exc.value.response["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert "at 'status' failed to satisfy constraint: Member must satisfy enum value set: [" in message
    with pytest.raises(ClientError) as exc:
        raw.delete_license(LicenseArn=DEFAULT_LICENSE_ARN)
    assert (
        "Value null at 'sourceVersion' failed to satisfy constraint: Member must not be null"
        in (exc.value.response["Error"]["Message"])
    )


def test_the_test_side_helper_still_makes_licenses():
    with mock_licensemanager() as cloud:
        lic = cloud.licensemanager.create_license(product_sku="HELPER-SKU")
        assert lm_client().get_license(LicenseArn=lic.arn)["License"]["ProductSKU"] == "HELPER-SKU"
