"""License Manager in a snapshot: everything a restored mock needs to go on exactly, driven with boto3.

Every test runs in-process and against the live server. The state is rich on
purpose: a live, a deleted and an expired refresh token, ClientToken records,
checkouts live, checked in, expired and borrowed, and the signing keys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt
import pytest
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client
from tests.services.licensemanager.support import BUYER, accept_and_activate, grant, new_license
from tests.services.licensemanager.support import checkout as checkout_received
from tests.snapshot_helpers import (
    FrozenTime,
    assert_refused,
    check_document,
    restored,
    restored_backend,
    started_from,
    take,
)

SERVICES = ["licensemanager"]
ROLE = "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole"
SKU = "SNAP-PRO"
ISSUER = "Snap Co"
FINGERPRINT = f"aws:123456789012:{ISSUER}:issuer-fingerprint"
UNKNOWN_LICENSE = "arn:aws:license-manager::123456789012:license:l-" + "f" * 32
NOT_A_KEY = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@dataclass
class State:
    """What the rich state handed out, for the checks after the restore."""

    license_arn: str
    license_client_token: str
    live: dict  # CreateToken's answer
    live_client_token: str
    deleted: str
    expired: str
    access: str  # an access token of ``live``, signed before the snapshot
    held: str  # a provisional checkout of 2 seats, live
    checked_in: str
    lapsed: str  # a provisional checkout whose time to live ran out
    borrowed: dict  # CheckoutBorrowLicense's answer


def build(lm, time: FrozenTime) -> State:
    expired = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex, ExpirationInDays=1)["Token"]
    time.advance(86400 + 1)
    license_client_token = uuid.uuid4().hex
    license_arn = lm.create_license(
        LicenseName="Snap Pro",
        ProductName="Snap",
        ProductSKU=SKU,
        HomeRegion="us-east-1",
        Issuer={"Name": ISSUER, "SignKey": "arn:aws:kms:us-east-1:123456789012:key/snap"},
        Validity={"Begin": "2024-01-01T00:00:00Z", "End": "2099-01-01T00:00:00Z"},
        Entitlements=[{"Name": "Seats", "Unit": "Count", "MaxCount": 5, "AllowCheckIn": True}],
        Beneficiary="arn:aws:iam::123456789012:root",
        ConsumptionConfiguration={
            "RenewType": "None",
            "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 10},
            "BorrowConfiguration": {"AllowEarlyCheckIn": True, "MaxTimeToLiveInMinutes": 120},
        },
        LicenseMetadata=[{"Name": "tier", "Value": "gold"}],
        ClientToken=license_client_token,
    )["LicenseArn"]
    lapsed = checkout(lm)["LicenseConsumptionToken"]
    time.advance(11 * 60)
    live_client_token = uuid.uuid4().hex
    live = lm.create_token(
        LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=live_client_token, RoleArns=[ROLE], TokenProperties=["env:test"]
    )
    deleted = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex)
    lm.delete_token(TokenId=deleted["TokenId"])
    access = lm.get_access_token(Token=live["Token"])["AccessToken"]
    held = checkout(lm, value="2")["LicenseConsumptionToken"]
    checked_in = checkout(lm)["LicenseConsumptionToken"]
    lm.check_in_license(LicenseConsumptionToken=checked_in)
    borrowed = lm.checkout_borrow_license(
        LicenseArn=license_arn,
        Entitlements=[{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        DigitalSignatureMethod="JWT_PS384",
        CheckoutMetadata=[{"Name": "laptop", "Value": "x1"}],
        ClientToken=uuid.uuid4().hex,
    )
    return State(
        license_arn,
        license_client_token,
        live,
        live_client_token,
        deleted["Token"],
        expired,
        access,
        held,
        checked_in,
        lapsed,
        borrowed,
    )


def of_a_token(section: dict) -> dict:
    """The first ClientToken record of a CreateToken (the expired token's may have been dropped already)."""
    return next(item for item in section["client_tokens"] if "token_id" in item)


def checkout(lm, value: str = "1") -> dict:
    return lm.checkout_license(
        ProductSKU=SKU,
        CheckoutType="PROVISIONAL",
        KeyFingerprint=FINGERPRINT,
        Beneficiary="user@example.com",
        Entitlements=[{"Name": "Seats", "Unit": "Count", "Value": value}],
        ClientToken=uuid.uuid4().hex,
    )


def verified(token: str, jwks: dict) -> dict:
    """The claims of one of our tokens, verified with the published key its kid names (as a consumer would)."""
    header = jwt.get_unverified_header(token)
    keys = {key["kid"]: key for key in jwks["keys"]}
    return jwt.decode(
        token, jwt.PyJWK(keys[header["kid"]]).key, algorithms=[header["alg"]], options={"verify_aud": False}
    )


def seats_used(lm, arn: str) -> str:
    usage = lm.get_license_usage(LicenseArn=arn)["LicenseUsage"]["EntitlementUsages"]
    return next(u["ConsumedValue"] for u in usage if u["Name"] == "Seats")


def test_restore_is_exact_and_every_token_keeps_its_rules(backend):
    cloud, lm = backend.cloud, backend.client()
    with FrozenTime(cloud, backend.endpoint_url) as time:
        state = build(lm, time)
        jwks = cloud.licensemanager.jwks()
        document = take(cloud)
        check_document(document, SERVICES)
        section = document["licensemanager"]
        assert {t["deleted"] for t in section["tokens"]} == {True, False}
        operations = {c["operation"] for c in section["client_tokens"]}
        assert operations == {"CreateLicense", "CreateToken", "CheckoutLicense", "CheckoutBorrowLicense"}
        assert len(section["consumptions"]) == 4 and "certificate_authority" in section
        assert [key["kid"] for key in section["issuer_keys"]] == ["arn:aws:kms:us-east-1:123456789012:key/snap"]

        with restored(cloud, backend.endpoint_url, document, SERVICES) as fresh:
            assert take(fresh) == document
            assert fresh.licensemanager.jwks() == jwks  # the same keys, under the same kids
            # tokens signed before the snapshot verify after it; the refresh token still redeems
            assert verified(state.access, fresh.licensemanager.jwks())["rti"] == state.live["TokenId"]
            access = lm.get_access_token(Token=state.live["Token"], TokenProperties=["env:test"])["AccessToken"]
            claims = verified(access, jwks)
            assert (claims["rti"], claims["roles"]) == (state.live["TokenId"], [ROLE])
            # the deleted and the expired token stay refused
            for token, reason in ((state.deleted, "deleted"), (state.expired, "expired")):
                with pytest.raises(ClientError) as exc:
                    lm.get_access_token(Token=token)
                assert code_of(exc) == "AuthorizationException" and reason in exc.value.response["Error"]["Message"]
            assert [t["TokenId"] for t in lm.list_tokens()["Tokens"]] == [
                t["token_id"] for t in document["licensemanager"]["tokens"] if not t["deleted"]
            ]
            # a ClientToken reused within its window answers the same token, and refuses other parameters
            again = lm.create_token(
                LicenseArn=DEFAULT_LICENSE_ARN,
                ClientToken=state.live_client_token,
                RoleArns=[ROLE],
                TokenProperties=["env:test"],
            )
            assert (again["TokenId"], again["Token"]) == (state.live["TokenId"], state.live["Token"])
            with pytest.raises(ClientError) as exc:
                lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=state.live_client_token)
            assert code_of(exc) == "ValidationException"
            license = lm.get_license(LicenseArn=state.license_arn)["License"]
            assert license["Issuer"]["SignKey"].endswith("key/snap") and license["LicenseMetadata"] == [
                {"Name": "tier", "Value": "gold"}
            ]
            assert license["Validity"] == {"Begin": "2024-01-01T00:00:00Z", "End": "2099-01-01T00:00:00Z"}

            # checkouts: the live one and the borrow hold 3 of 5 seats; the checked-in and the lapsed one are gone
            assert seats_used(lm, state.license_arn) == "3"
            for token in (state.checked_in, state.lapsed):
                with pytest.raises(ClientError) as exc:
                    lm.extend_license_consumption(LicenseConsumptionToken=token)
                assert code_of(exc) == "ResourceNotFoundException"
            lm.extend_license_consumption(LicenseConsumptionToken=state.held)
            lm.check_in_license(LicenseConsumptionToken=state.held)
            with pytest.raises(ClientError) as exc:  # once
                lm.check_in_license(LicenseConsumptionToken=state.held)
            assert code_of(exc) == "ResourceNotFoundException"
            assert seats_used(lm, state.license_arn) == "1"
            borrow_claims = verified(state.borrowed["SignedToken"], fresh.licensemanager.jwks())
            assert borrow_claims["licenseConsumptionToken"] == state.borrowed["LicenseConsumptionToken"]
            time.advance(121 * 60)  # the borrow's 120 minutes run out after the restore too
            assert seats_used(lm, state.license_arn) == "0"


def test_a_saved_snapshot_is_a_fixtures_file(backend, tmp_path):
    cloud, lm = backend.cloud, backend.client()
    with FrozenTime(cloud, backend.endpoint_url) as time:
        state = build(lm, time)
        jwks = cloud.licensemanager.jwks()
        document = take(cloud)
    with started_from(document, tmp_path, SERVICES) as saved:
        assert saved.snapshot()["licensemanager"] == document["licensemanager"]
        assert saved.snapshot()["credentials"] == document["credentials"]
        local = lm_client()
        assert saved.licensemanager.jwks() == jwks
        assert (
            verified(local.get_access_token(Token=state.live["Token"])["AccessToken"], jwks)["rti"]
            == state.live["TokenId"]
        )
        for token in (state.deleted, state.expired):
            with pytest.raises(ClientError) as exc:
                local.get_access_token(Token=token)
            assert code_of(exc) == "AuthorizationException"
        assert seats_used(local, state.license_arn) == "3"


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda s: s.update(tokens="not a list"), id="wrong-type"),
        pytest.param(lambda s: s["tokens"][0].update(license_arn=UNKNOWN_LICENSE), id="unknown-license"),
        pytest.param(lambda s: s["signing_key"].update(private_key=NOT_A_KEY), id="bad-key"),
        pytest.param(lambda s: s["signing_key"].update(algorithm="RS256"), id="key-of-another-algorithm"),
        pytest.param(lambda s: of_a_token(s).pop("token_id"), id="record-without-result"),
        pytest.param(lambda s: of_a_token(s).update(token_id="0" * 32), id="record-of-an-unknown-token"),
        pytest.param(lambda s: s["consumptions"][0].update(checkout_type="LEASED"), id="unknown-checkout-type"),
    ],
)
def test_a_corrupted_section_is_refused_and_the_mock_kept(backend, corrupt):
    cloud, lm = backend.cloud, backend.client()
    with FrozenTime(cloud, backend.endpoint_url) as time:
        state = build(lm, time)
        document = take(cloud)
        assert_refused(cloud, document, "licensemanager", corrupt)
        assert lm.get_access_token(Token=state.live["Token"])["AccessToken"]


def test_a_seeded_mock_goes_on_with_the_same_sequence_after_a_restore():
    def next_token(cloud) -> str:
        return cloud.licensemanager.create_token(
            account_id="123456789012",
            region="us-east-1",
            license_arn=DEFAULT_LICENSE_ARN,
            client_token=uuid.uuid4().hex,
        ).jwt

    with mock_cloud(services=SERVICES, seed=11) as original:
        original.clock.freeze(1_800_000_000)
        next_token(original)
        document = original.snapshot()
        with mock_cloud(services=SERVICES) as fresh:
            fresh.restore(document)
            assert next_token(fresh) == next_token(original)  # ids, claims and RFC 6979 signatures alike


@pytest.mark.parametrize("algorithm", ["ES256", "RS256", "HS256"])
def test_the_signing_key_and_its_algorithm_come_back(algorithm):
    """A mock told its algorithm by settings: the snapshot carries both, so a plain fresh mock signs alike."""
    with mock_cloud(services=SERVICES, settings={"licensemanager": {"jwt_algorithm": algorithm}}) as original:
        lm = lm_client()
        refresh = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex)["Token"]
        before = lm.get_access_token(Token=refresh)["AccessToken"]
        document = original.snapshot()
        check_document(document, SERVICES)
        assert document["licensemanager"]["signing_key"]["algorithm"] == algorithm
        with mock_cloud(services=SERVICES) as fresh:
            fresh.restore(document)
            assert (
                fresh.licensemanager.algorithm == algorithm
                and fresh.licensemanager.key_id == original.licensemanager.key_id
            )
            after = lm.get_access_token(Token=refresh)["AccessToken"]
            for token in (before, after):
                assert jwt.get_unverified_header(token)["alg"] == algorithm
                assert fresh.licensemanager.decode(token)["aud"] == DEFAULT_LICENSE_ARN
                assert original.licensemanager.decode(token)["aud"] == DEFAULT_LICENSE_ARN


# ---- grants, versions, organizations, the Marketplace --------------------------------------------------------


def test_grants_versions_and_the_marketplace_come_back_exactly(backend):
    cloud, seller = backend.cloud, backend.client()
    buyer = backend.account(BUYER)
    with FrozenTime(cloud, backend.endpoint_url) as time:
        cloud.licensemanager.set_organization("o-snaporg1234", BUYER, ["444455556666"], units={"ou-ab12-cdef3456": []})
        arn = new_license(seller, Tags=[{"Key": "team", "Value": "billing"}])
        current = seller.get_license(LicenseArn=arn)["License"]
        seller.create_license_version(
            LicenseArn=arn,
            **{
                k: current[k]
                for k in ("LicenseName", "ProductName", "HomeRegion", "Validity", "ConsumptionConfiguration")
            },
            Issuer={"Name": current["Issuer"]["Name"]},
            Entitlements=[{"Name": "Seats", "Unit": "Count", "MaxCount": 4, "AllowCheckIn": True}],
            Status="AVAILABLE",
            ClientToken=uuid.uuid4().hex,
        )
        active = grant(seller, arn, Tags=[{"Key": "customer", "Value": "acme"}])["GrantArn"]
        accept_and_activate(buyer, active)
        buyer.reject_grant(GrantArn=grant(seller, arn)["GrantArn"])
        held = checkout_received(buyer)
        doomed = new_license(seller, sku="DOOMED")
        grant(seller, doomed)
        seller.delete_license(LicenseArn=doomed, SourceVersion="1")  # PENDING_DELETE for an hour
        subscription = cloud.licensemanager.subscribe(BUYER, "prod-snap", None)
        seller.update_service_settings(S3BucketArn="arn:aws:s3:::snap-reports")
        time.advance(60)
        received = buyer.list_received_licenses()["Licenses"]
        document = take(cloud)
        check_document(document, SERVICES)
        section = document["licensemanager"]
        for kind in ("license_versions", "grants", "grant_versions", "issuer_keys", "tags", "service_settings"):
            assert section[kind], kind
        assert {c["operation"] for c in section["client_tokens"]} >= {
            "CreateLicenseVersion",
            "CreateGrant",
            "CreateGrantVersion",
        }
        assert [c.get("grant_arn") for c in section["consumptions"]] == [active]

        with restored_backend(backend, document) as again:
            fresh, seller_again, buyer_again = again.cloud, again.client(), again.account(BUYER)
            assert take(fresh) == document
            assert buyer_again.list_received_licenses()["Licenses"] == received
            assert buyer_again.get_grant(GrantArn=active, Version="1")["Grant"]["GrantStatus"] == "PENDING_ACCEPT"
            assert seller_again.get_license(LicenseArn=arn, Version="1")["License"]["Entitlements"][0]["MaxCount"] == 5
            assert seller_again.list_tags_for_resource(ResourceArn=active)["Tags"] == [
                {"Key": "customer", "Value": "acme"}
            ]
            assert seller_again.get_service_settings()["S3BucketArn"] == "arn:aws:s3:::snap-reports"
            # the checkout made through the grant still holds its seat, and its SignedToken still verifies
            assert seats_used(seller_again, arn) == "1"
            assert verified(held["SignedToken"], fresh.licensemanager.jwks())["licenseArn"] == arn
            buyer_again.check_in_license(LicenseConsumptionToken=held["LicenseConsumptionToken"])
            assert checkout_received(
                buyer_again,
                sku="prod-snap",
                fingerprint=subscription.key_fingerprint,
                Entitlements=[{"Name": "Users", "Unit": "Count", "Value": "1"}],
            )
            assert (
                fresh.licensemanager.issuer_certificate_authority()
                == cloud.licensemanager.issuer_certificate_authority()
            )
            time.advance(3600)  # the deleted license's hour runs out after the restore too
            assert seller_again.get_license(LicenseArn=doomed)["License"]["Status"] == "DELETED"
            assert [
                g["GrantStatus"]
                for g in seller_again.list_distributed_grants(Filters=[{"Name": "LicenseArn", "Values": [doomed]}])[
                    "Grants"
                ]
            ] == ["DELETED"]


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda s: s["grants"][0].update(license_arn=UNKNOWN_LICENSE), id="grant-of-an-unknown-license"),
        pytest.param(
            lambda s: s["grant_versions"][0].update(
                grant_arn="arn:aws:license-manager::123456789012:grant:g-" + "0" * 32
            ),
            id="version-of-an-unknown-grant",
        ),
        pytest.param(lambda s: s["tags"][0].update(resource_arn=UNKNOWN_LICENSE), id="tags-of-an-unknown-resource"),
        pytest.param(
            lambda s: s["issuer_keys"][0].update(certificate=s["certificate_authority"]["certificate"]),
            id="key-and-certificate-apart",
        ),
        pytest.param(lambda s: s["grants"][0].update(status="SLEEPING"), id="unknown-grant-status"),
        pytest.param(lambda s: s["grants"].append(s["grants"][0]), id="grant-twice"),
    ],
)
def test_a_corrupted_grant_section_is_refused(backend, corrupt):
    cloud, seller = backend.cloud, backend.client()
    buyer = backend.account(BUYER)
    with FrozenTime(cloud, backend.endpoint_url):
        arn = new_license(seller, Tags=[{"Key": "team", "Value": "billing"}])
        accept_and_activate(buyer, grant(seller, arn)["GrantArn"])
        checkout_received(buyer)
        document = take(cloud)
        assert_refused(cloud, document, "licensemanager", corrupt)
