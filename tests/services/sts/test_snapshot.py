"""STS in a snapshot: roles (ids, trust policies, MaxSessionDuration) and sessions, driven with boto3.

Every test runs in-process and against the live server. The temporary keys
of the sessions are the mock's credentials (the snapshot's ``credentials``);
STS keeps its records of the sessions, which name them.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from tests.helpers import DEFAULT_LICENSE_ARN
from tests.services.sts.support import CONSUMPTION_POLICY, Backend
from tests.snapshot_helpers import FrozenTime, assert_refused, check_document, restored, started_from, take

SERVICES = ["licensemanager", "sts"]
PROVIDER = "openid-license-manager.amazonaws.com"
APP_ROLE = "arn:aws:iam::123456789012:role/apps/SnapApp"
# created from its JSON text, as a test may: the snapshot keeps the text
APP_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"ForAnyValue:StringEquals": {f"{PROVIDER}:amr": "env:prod"}},
            }
        ],
    }
)


def error_of(excinfo) -> tuple[str, str]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def build(backend: Backend, time: FrozenTime) -> dict:
    """Two roles, a session whose credentials have expired and one whose have not, and web-identity tokens."""
    backend.cloud.sts.create_role(
        name="SnapApp",
        trust=APP_TRUST,
        max_session_duration=7200,
        path="/apps/",
        description="snapshots",
        managed_policy_arns=[CONSUMPTION_POLICY],
    )
    state = {
        "prod": backend.access_token(roles=(APP_ROLE,), properties=("env:prod",)),
        "dev": backend.access_token(roles=(APP_ROLE,), properties=("env:dev",)),
        "short": backend.assume(backend.access_token(), DurationSeconds=900),
    }
    time.advance(901)
    state["long"] = backend.assume(state["prod"], role=APP_ROLE, DurationSeconds=7200)
    return state


def test_restore_is_exact_and_sessions_and_roles_keep_their_rules(backend):
    cloud = backend.cloud
    with FrozenTime(cloud, backend.url) as time:
        state = build(backend, time)
        document = take(cloud)
        check_document(document, SERVICES)
        section = document["sts"]
        assert [r["trust_policy"] for r in section["roles"] if r["name"] == "SnapApp"] == [APP_TRUST]
        sessions = {s["access_key_id"]: s for s in section["sessions"]}
        long_key = state["long"]["Credentials"]["AccessKeyId"]
        assert set(sessions) == {long_key, state["short"]["Credentials"]["AccessKeyId"]}
        assert sessions[long_key]["expires"] - sessions[long_key]["issued"] == pytest.approx(7200, abs=1)
        assert long_key in {k["access_key_id"] for k in document["credentials"]["aws"]}  # the key itself is the mock's

        with restored(cloud, backend.url, document, SERVICES) as fresh:
            assert take(fresh) == document
            # the live session's credentials still sign, as the same assumed role
            identity = backend.sts(state["long"]["Credentials"]).get_caller_identity()
            assumed = state["long"]["AssumedRoleUser"]
            assert (identity["Arn"], identity["UserId"]) == (assumed["Arn"], assumed["AssumedRoleId"])
            assert backend.lm(state["long"]["Credentials"]).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
            # the expired one stays expired
            with pytest.raises(ClientError) as exc:
                backend.sts(state["short"]["Credentials"]).get_caller_identity()
            assert error_of(exc)[0] == "ExpiredToken"
            # a web-identity token from before the snapshot still assumes the role: License Manager's key came back,
            # and the role its id, its trust policy and its MaxSessionDuration
            again = backend.assume(state["prod"], role=APP_ROLE, DurationSeconds=7200)
            assert again["AssumedRoleUser"]["AssumedRoleId"] == assumed["AssumedRoleId"]
            with pytest.raises(ClientError) as exc:
                backend.assume(state["prod"], role=APP_ROLE, DurationSeconds=7201)
            assert error_of(exc)[0] == "ValidationError"
            with pytest.raises(ClientError) as exc:
                backend.assume(state["dev"], role=APP_ROLE)
            assert error_of(exc)[0] == "AccessDenied"
            assert backend.assume(backend.access_token())["AssumedRoleUser"]["Arn"].startswith(
                "arn:aws:sts::123456789012:assumed-role/AWSLicenseManagerConsumptionRole/"
            )
            time.advance(7200 + 1)  # the long session ends at its time after the restore too
            with pytest.raises(ClientError) as exc:
                backend.sts(state["long"]["Credentials"]).get_caller_identity()
            assert error_of(exc)[0] == "ExpiredToken"


def test_a_saved_snapshot_is_a_fixtures_file(backend, tmp_path):
    cloud = backend.cloud
    with FrozenTime(cloud, backend.url) as time:
        state = build(backend, time)
        document = take(cloud)
    with started_from(document, tmp_path, SERVICES) as saved:
        assert {name: saved.snapshot()[name] for name in ("sts", "licensemanager", "credentials")} == {
            name: document[name] for name in ("sts", "licensemanager", "credentials")
        }
        local = Backend(saved, None)
        assert (
            local.sts(state["long"]["Credentials"]).get_caller_identity()["Arn"]
            == state["long"]["AssumedRoleUser"]["Arn"]
        )
        with pytest.raises(ClientError) as exc:
            local.sts(state["short"]["Credentials"]).get_caller_identity()
        assert error_of(exc)[0] == "ExpiredToken"
        assert local.assume(state["prod"], role=APP_ROLE)["AssumedRoleUser"] == {
            "Arn": state["long"]["AssumedRoleUser"]["Arn"].rsplit("/", 1)[0] + "/app",
            "AssumedRoleId": state["long"]["AssumedRoleUser"]["AssumedRoleId"].split(":")[0] + ":app",
        }


def _drop_role(section: dict) -> None:
    section["roles"] = [r for r in section["roles"] if r["name"] != "SnapApp"]


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda s: s.update(sessions={"not": "a list"}), id="wrong-type"),
        pytest.param(lambda s: s["roles"][0].update(role_id="AROA-not-an-id"), id="bad-role-id"),
        pytest.param(lambda s: s["roles"][-1].update(trust_policy="{not json"), id="malformed-trust-policy"),
        pytest.param(_drop_role, id="session-of-an-unknown-role"),
        pytest.param(lambda s: s["sessions"][0].pop("expires"), id="session-without-expiry"),
    ],
)
def test_a_corrupted_section_is_refused_and_the_mock_kept(backend, corrupt):
    cloud = backend.cloud
    with FrozenTime(cloud, backend.url) as time:
        state = build(backend, time)
        document = take(cloud)
        assert_refused(cloud, document, "sts", corrupt)
        assert (
            backend.sts(state["long"]["Credentials"]).get_caller_identity()["Arn"]
            == state["long"]["AssumedRoleUser"]["Arn"]
        )


def test_a_seeded_mock_goes_on_with_the_same_sequence_after_a_restore():
    """STS draws its default role's id when it is built: a snapshot of a mock that never used it must
    hold the sequence after that draw, or the restored mock would repeat it."""
    with mock_cloud(services=["sts"], seed=3) as original:
        document = original.snapshot()
        with mock_cloud(services=["sts"]) as fresh:
            fresh.restore(document)
            trust = json.loads(APP_TRUST)
            assert fresh.sts.create_role("Next", trust).role_id == original.sts.create_role("Next", trust).role_id
            assert fresh.snapshot()["entropy"] == original.snapshot()["entropy"]


def test_iam_identities_and_every_kind_of_session_restore_exactly(backend):
    """Users with keys and policies, managed policies, MFA devices, SAML providers, accounts' issuers, delegations
    and sessions of every kind come back as they were, and keep their rules."""
    import jwt

    from mockcloud.core.otp import totp
    from tests.services.sts.test_saml import TestIdP

    cloud = backend.cloud
    sts = cloud.sts
    with FrozenTime(cloud, backend.url):
        read = {"Statement": [{"Effect": "Allow", "Action": "license-manager:GetLicense", "Resource": "*"}]}
        policy = sts.create_policy("Read", read, description="read only")
        sts.create_user("alice", managed_policy_arns=[policy.arn], tags={"team": "licensing"})
        alice = sts.create_access_key("alice")
        alice_keys = {"AccessKeyId": alice.access_key_id, "SecretAccessKey": alice.secret_access_key}
        device = sts.create_virtual_mfa_device("phone", user_name="alice")
        idp = TestIdP()
        provider = sts.create_saml_provider("idp", idp.metadata)
        partner = cloud.credentials.new_account("210987654321")
        token = sts.approve_delegation_request(sts.create_delegation_request(partner.account_id, read).delegation_id)
        session = backend.sts(alice_keys).get_session_token(
            SerialNumber=device.serial, TokenCode=totp(device.secret, cloud.clock.time())
        )["Credentials"]
        federated = backend.sts().get_federation_token(Name="fed", Policy=json.dumps(read))["Credentials"]
        issued = backend.sts().get_web_identity_token(Audience=["aud"], SigningAlgorithm="RS256")["WebIdentityToken"]
        sts.disable_region("ap-south-1")
        document = take(cloud)
        check_document(document, SERVICES)
        section = document["sts"]
        assert {u["name"] for u in section["users"]} == {"alice"}
        assert {s["kind"] for s in section["sessions"]} >= {"session-token", "federated-user"}
        with restored(cloud, backend.url, document, SERVICES) as fresh:
            assert take(fresh) == document
            again = Backend(fresh, backend.url)
            # the user's key, still bound to alice and her policy
            assert again.sts(alice_keys).get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:user/alice"
            assert again.lm(alice_keys).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
            with pytest.raises(ClientError) as exc:
                again.lm(alice_keys).list_licenses()
            assert error_of(exc)[0] == "AccessDeniedException"
            # the MFA code used before the snapshot stays used
            with pytest.raises(ClientError) as exc:
                again.sts(alice_keys).get_session_token(
                    SerialNumber=device.serial, TokenCode=totp(device.secret, fresh.clock.time())
                )
            assert error_of(exc)[0] == "AccessDenied"
            assert again.lm(session).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
            with pytest.raises(ClientError) as exc:
                again.lm(federated).list_licenses()
            assert "no session policy allows" in error_of(exc)[1]
            # the delegation's token, the SAML provider and the issuer's keys came back
            partner_keys = {"AccessKeyId": partner.access_key_id, "SecretAccessKey": partner.secret_access_key}
            assert again.sts(partner_keys).get_delegated_access_token(TradeInToken=token)["Credentials"]
            assert fresh.sts.saml_provider(provider.arn).metadata == idp.metadata
            keys = {k["kid"]: k for k in fresh.sts.jwks("123456789012")["keys"]}
            kid = jwt.get_unverified_header(issued)["kid"]
            public = jwt.PyJWK(keys[kid]).key
            assert jwt.decode(issued, public, algorithms=["RS256"], audience="aud")["sub"].endswith(":root")
            with pytest.raises(ClientError) as exc:
                again.sts(region="ap-south-1").get_session_token()
            assert error_of(exc)[0] == "RegionDisabledException"
