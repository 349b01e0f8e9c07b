"""GetSessionToken, GetFederationToken, AssumeRoot, GetDelegatedAccessToken, GetAccessKeyInfo and GetCallerIdentity
for every kind of caller, with boto3, in-process and against the server."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from mockcloud.core.otp import totp
from tests.helpers import DEFAULT_LICENSE_ARN, error_of

ACCOUNT = "123456789012"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def allow(*actions: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}


def remaining(backend, credentials: dict) -> float:
    return credentials["Expiration"].timestamp() - backend.cloud.clock.time()


def keys_of(key) -> dict:
    return {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}


def test_get_session_token_for_a_user_and_for_the_root(backend):
    sts = backend.cloud.sts
    name = unique("user")
    sts.create_user(name, policies={"lm": allow("license-manager:GetLicense")})  # GetSessionToken needs none
    user = keys_of(sts.create_access_key(name))
    device = sts.create_virtual_mfa_device(unique("phone"), user_name=name)
    out = backend.sts(user).get_session_token(
        SerialNumber=device.serial, TokenCode=totp(device.secret, backend.cloud.clock.time())
    )
    session = out["Credentials"]
    assert 43195 <= remaining(backend, session) <= 43200  # 12 hours by default
    who = backend.sts(session).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"  # the user itself, as AWS answers
    assert backend.lm(session).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]  # the user's permissions
    with pytest.raises(ClientError) as exc:
        backend.lm(session).list_licenses()
    assert error_of(exc)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:  # session credentials call no STS but AssumeRole and GetCallerIdentity
        backend.sts(session).get_session_token()
    assert error_of(exc) == ("AccessDenied", 403, "Cannot call GetSessionToken with session credentials")
    longest = backend.sts(user).get_session_token(DurationSeconds=129600)["Credentials"]
    assert 129595 <= remaining(backend, longest) <= 129600
    # the account's root: one hour at most, a longer request gets one hour
    root = backend.sts().get_session_token(DurationSeconds=7200)["Credentials"]
    assert 3595 <= remaining(backend, root) <= 3600
    assert backend.sts(root).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    with pytest.raises(ClientError) as exc:
        backend.sts(validate=False).get_session_token(DurationSeconds=899)
    assert error_of(exc)[:2] == ("ValidationError", 400)


def test_get_federation_token_limits_and_forbidden_calls(backend):
    sts = backend.cloud.sts
    name = unique("fed-parent")
    sts.create_user(name, policies={"all": allow("license-manager:*", "sts:GetFederationToken")})
    parent = keys_of(sts.create_access_key(name))
    out = backend.sts(parent).get_federation_token(
        Name="bob", Policy=json.dumps(allow("license-manager:GetLicense")), DurationSeconds=900
    )
    assert out["FederatedUser"] == {
        "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
        "FederatedUserId": f"{ACCOUNT}:bob",
    }
    assert 0 < out["PackedPolicySize"] <= 100
    federated = out["Credentials"]
    assert 895 <= remaining(backend, federated) <= 900
    who = backend.sts(federated).get_caller_identity()
    assert (who["Arn"], who["UserId"]) == (f"arn:aws:sts::{ACCOUNT}:federated-user/bob", f"{ACCOUNT}:bob")
    lm = backend.lm(federated)
    assert lm.get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]  # the user's permissions ∩ the policy
    with pytest.raises(ClientError) as exc:
        lm.list_licenses()
    assert error_of(exc)[2] == (
        f"User: arn:aws:sts::{ACCOUNT}:federated-user/bob is not authorized to perform: "
        "license-manager:ListLicenses on resource: * because no session policy allows the license-manager:ListLicenses "
        "action"
    )
    with pytest.raises(ClientError) as exc:  # a federated user calls no STS but GetCallerIdentity
        backend.sts(federated).get_federation_token(Name="again")
    assert error_of(exc) == ("AccessDenied", 403, "Cannot call GetFederationToken with session credentials")
    # without a session policy the federated user may do nothing
    bare = backend.sts(parent).get_federation_token(Name="nobody")["Credentials"]
    with pytest.raises(ClientError) as exc:
        backend.lm(bare).get_license(LicenseArn=DEFAULT_LICENSE_ARN)
    assert "because no session policy allows" in error_of(exc)[2]
    assert 43195 <= remaining(backend, bare) <= 43200
    # a role session may not call it
    role = sts.create_role(
        unique("NoFed"),
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]},
        policies={"fed": allow("sts:GetFederationToken")},
    )
    session = backend.sts().assume_role(RoleArn=role.arn, RoleSessionName="r1")["Credentials"]
    with pytest.raises(ClientError) as exc:
        backend.sts(session).get_federation_token(Name="x1")
    assert error_of(exc) == ("AccessDenied", 403, "Cannot call GetFederationToken with session credentials")
    with pytest.raises(ClientError) as exc:  # the user's own policy must allow the federated user's ARN
        other = unique("nofed")
        sts.create_user(other)
        backend.sts(keys_of(sts.create_access_key(other))).get_federation_token(Name="carol")
    assert error_of(exc)[2].endswith(
        f"on resource: arn:aws:sts::{ACCOUNT}:federated-user/carol because no identity-based policy allows the "
        "sts:GetFederationToken action"
    )


def test_assume_root_is_scoped_to_its_task_policy(backend):
    member = backend.cloud.credentials.new_account()
    out = backend.sts().assume_root(
        TargetPrincipal=member.account_id,
        TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"},
    )
    root_session = out["Credentials"]
    assert 895 <= remaining(backend, root_session) <= 900  # 15 minutes at most, by default
    who = backend.sts(root_session).get_caller_identity()
    assert (who["Arn"], who["Account"]) == (f"arn:aws:iam::{member.account_id}:root", member.account_id)
    with pytest.raises(ClientError) as exc:  # the task policy allows IAM's root-credential tasks only
        backend.lm(root_session).list_licenses()
    assert error_of(exc)[2].endswith("because no session policy allows the license-manager:ListLicenses action")
    with pytest.raises(ClientError) as exc:
        backend.sts().assume_root(
            TargetPrincipal=member.account_id, TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/AdministratorAccess"}
        )
    assert error_of(exc)[:2] == ("ValidationError", 400)
    with pytest.raises(ClientError) as exc:
        backend.sts(validate=False).assume_root(
            TargetPrincipal=member.account_id,
            TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"},
            DurationSeconds=901,
        )
    assert error_of(exc)[:2] == ("ValidationError", 400)


def test_get_delegated_access_token(backend):
    sts = backend.cloud.sts
    partner = backend.cloud.credentials.new_account()
    request = sts.create_delegation_request(
        partner.account_id, allow("license-manager:GetLicense"), session_duration=1800, description="onboarding"
    )
    token = sts.approve_delegation_request(request.delegation_id)
    partner_sts = backend.sts(keys_of(partner))
    with pytest.raises(ClientError) as exc:  # only the partner may exchange it
        backend.sts().get_delegated_access_token(TradeInToken=token)
    assert error_of(exc)[:2] == ("AccessDenied", 403)
    out = partner_sts.get_delegated_access_token(TradeInToken=token)
    assert out["AssumedPrincipal"] == f"arn:aws:iam::{ACCOUNT}:root"
    delegated = out["Credentials"]
    assert 1795 <= remaining(backend, delegated) <= 1800
    assert backend.sts(delegated).get_caller_identity()["Account"] == ACCOUNT
    assert backend.lm(delegated).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
    with pytest.raises(ClientError) as exc:
        backend.lm(delegated).list_licenses()
    assert error_of(exc)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:  # a trade-in token is exchanged once
        partner_sts.get_delegated_access_token(TradeInToken=token)
    assert error_of(exc)[:2] == ("ExpiredTradeInTokenException", 400)


def test_get_delegated_access_token_expires_on_the_mock_clock(local):
    sts = local.cloud.sts
    partner = local.cloud.credentials.new_account()
    token = sts.approve_delegation_request(
        sts.create_delegation_request(partner.account_id, allow("s3:*")).delegation_id
    )
    local.cloud.clock.advance(3601)
    with pytest.raises(ClientError) as exc:
        local.sts(keys_of(partner)).get_delegated_access_token(TradeInToken=token)
    assert error_of(exc) == (
        "ExpiredTradeInTokenException",
        400,
        "The trade-in token provided in the request has expired and can no longer be exchanged for credentials.",
    )


def test_get_access_key_info_and_caller_identity_of_every_caller(backend):
    cloud = backend.cloud
    other = cloud.credentials.new_account("210987654321")
    assert other.access_key_id.startswith("AKIA") and other.account_id == "210987654321"
    sts = backend.sts()
    assert sts.get_access_key_info(AccessKeyId=other.access_key_id)["Account"] == "210987654321"
    assert sts.get_access_key_info(AccessKeyId="AKIAIOSFODNN7EXAMPLE")["Account"] == ACCOUNT  # registered
    # a key the mock does not know: the account its id carries, as AWS decodes it
    assert sts.get_access_key_info(AccessKeyId="ASIAY34FZKBOKMUTVV7A")["Account"] == "609629065308"
    theirs = backend.sts(keys_of(other)).get_caller_identity()
    assert theirs == {
        "UserId": "210987654321",
        "Account": "210987654321",
        "Arn": "arn:aws:iam::210987654321:root",
        "ResponseMetadata": theirs["ResponseMetadata"],
    }
    role = cloud.sts.create_role(
        unique("Id"),
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "210987654321"}, "Action": "sts:AssumeRole"}]},
        account_id="210987654321",
    )
    session = backend.sts(keys_of(other)).assume_role(RoleArn=role.arn, RoleSessionName="who")["Credentials"]
    # temporary keys carry their account too
    assert sts.get_access_key_info(AccessKeyId=session["AccessKeyId"])["Account"] == "210987654321"
    who = backend.sts(session).get_caller_identity()
    assert (who["Account"], who["Arn"]) == ("210987654321", f"arn:aws:sts::210987654321:assumed-role/{role.name}/who")
    with pytest.raises(ClientError) as exc:
        sts.get_access_key_info(AccessKeyId="AKIA!!!!!!!!!!!!!!!!")
    assert error_of(exc)[:2] == ("ValidationError", 400)


@pytest.fixture
def local():
    from mockcloud import mock_cloud
    from tests.services.sts.support import Backend

    with mock_cloud(services=["licensemanager", "sts"]) as cloud:
        yield Backend(cloud, None)
