"""AssumeRole with boto3, in-process and against the server: the trust policy's principals, ExternalId, MFA,
SourceIdentity, session tags, DurationSeconds, role chaining, session policies and STS's errors."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from mockcloud.core.otp import totp
from tests.helpers import error_of

ACCOUNT = "123456789012"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def trust(principal, *actions: str, condition: dict | None = None) -> dict:
    statement = {"Effect": "Allow", "Principal": principal, "Action": list(actions) or "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def allow(*actions: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}


def user_keys(backend, name: str, policies: dict | None = None) -> dict:
    backend.cloud.sts.create_user(name, policies=policies or {})
    key = backend.cloud.sts.create_access_key(name)
    return {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}


def test_trust_by_account_needs_the_callers_own_permission_by_arn_it_does_not(backend):
    sts = backend.cloud.sts
    by_account = sts.create_role(unique("ByAccount"), trust({"AWS": ACCOUNT}))
    alice_name, bob_name = unique("alice"), unique("bob")
    alice = user_keys(backend, alice_name, {"assume": allow("sts:AssumeRole")})
    bob = user_keys(backend, bob_name)
    by_name = sts.create_role(unique("ByName"), trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/{bob_name}"}))
    out = backend.sts(alice).assume_role(RoleArn=by_account.arn, RoleSessionName="alice")
    assert out["AssumedRoleUser"] == {
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{by_account.name}/alice",
        "AssumedRoleId": f"{by_account.role_id}:alice",
    }
    assert "PackedPolicySize" not in out and "SourceIdentity" not in out
    with pytest.raises(ClientError) as exc:  # bob's own policies allow nothing
        backend.sts(bob).assume_role(RoleArn=by_account.arn, RoleSessionName="bob")
    assert error_of(exc) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{ACCOUNT}:user/{bob_name} is not authorized to perform: sts:AssumeRole on resource: "
        f"{by_account.arn} because no identity-based policy allows the sts:AssumeRole action",
    )
    # a trust policy that names bob himself needs nothing more of him, within the account
    assert backend.sts(bob).assume_role(RoleArn=by_name.arn, RoleSessionName="bob")["Credentials"]
    with pytest.raises(ClientError) as exc:  # and does not let alice in
        backend.sts(alice).assume_role(RoleArn=by_name.arn, RoleSessionName="alice")
    assert error_of(exc) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{ACCOUNT}:user/{alice_name} is not authorized to perform: sts:AssumeRole on resource: "
        f"{by_name.arn}",
    )
    with pytest.raises(ClientError) as exc:  # a role that does not exist is refused the same way
        backend.sts(alice).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/NoSuchRole", RoleSessionName="alice")
    assert error_of(exc)[:2] == ("AccessDenied", 403)


def test_trust_in_another_account_and_in_a_role(backend):
    sts = backend.cloud.sts
    other = backend.cloud.credentials.new_account()
    target = sts.create_role(unique("CrossAccount"), trust({"AWS": other.account_id}), account_id=other.account_id)
    # the other account's root keys assume a role of their own account; this account's root keys may not
    assert target.arn.startswith(f"arn:aws:iam::{other.account_id}:role/")
    theirs = backend.sts({"AccessKeyId": other.access_key_id, "SecretAccessKey": other.secret_access_key})
    assert theirs.assume_role(RoleArn=target.arn, RoleSessionName="x1")["AssumedRoleUser"]["Arn"].startswith(
        f"arn:aws:sts::{other.account_id}:assumed-role/"
    )
    with pytest.raises(ClientError) as exc:
        backend.sts().assume_role(RoleArn=target.arn, RoleSessionName="x1")
    assert error_of(exc)[:2] == ("AccessDenied", 403)
    # a role trusted by another role: the first role's sessions chain into it
    first = sts.create_role(unique("First"), trust({"AWS": ACCOUNT}), policies={"p": allow("sts:AssumeRole")})
    second = sts.create_role(unique("Second"), trust({"AWS": first.arn}), max_session_duration=7200)
    hop = backend.sts().assume_role(RoleArn=first.arn, RoleSessionName="hop1")["Credentials"]
    chained = backend.sts(hop).assume_role(RoleArn=second.arn, RoleSessionName="hop2")
    assert chained["AssumedRoleUser"]["Arn"].endswith(f"/{second.name}/hop2")
    # role chaining: one hour at most, whatever the role's maximum
    with pytest.raises(ClientError) as exc:
        backend.sts(hop).assume_role(RoleArn=second.arn, RoleSessionName="hop2", DurationSeconds=3601)
    assert error_of(exc) == (
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    )
    direct = backend.sts().assume_role(RoleArn=first.arn, RoleSessionName="d1")  # the role's own maximum: 3600
    assert direct["Credentials"]
    with pytest.raises(ClientError) as exc:
        backend.sts().assume_role(RoleArn=first.arn, RoleSessionName="d1", DurationSeconds=3601)
    assert error_of(exc) == (
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )


def test_external_id_and_mfa(backend):
    sts = backend.cloud.sts
    role = sts.create_role(
        unique("Guarded"),
        trust(
            {"AWS": ACCOUNT},
            condition={"StringEquals": {"sts:ExternalId": "ext-123"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}},
        ),
    )
    name = unique("mfa-user")
    keys = user_keys(backend, name, {"assume": allow("sts:AssumeRole")})
    device = sts.create_virtual_mfa_device(unique("phone"), user_name=name)
    client = backend.sts(keys)
    with pytest.raises(ClientError) as exc:  # no MFA
        client.assume_role(RoleArn=role.arn, RoleSessionName="m1", ExternalId="ext-123")
    assert error_of(exc)[:2] == ("AccessDenied", 403)
    now = backend.cloud.clock.time()
    code = totp(device.secret, now)
    with pytest.raises(ClientError) as exc:  # the wrong external id
        client.assume_role(
            RoleArn=role.arn, RoleSessionName="m1", ExternalId="ext-999", SerialNumber=device.serial, TokenCode=code
        )
    assert error_of(exc)[:2] == ("AccessDenied", 403)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    with pytest.raises(ClientError) as exc:
        client.assume_role(
            RoleArn=role.arn, RoleSessionName="m1", ExternalId="ext-123", SerialNumber=device.serial, TokenCode=wrong
        )
    assert error_of(exc) == (
        "AccessDenied",
        403,
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
    )
    backend.cloud.clock.advance(30)  # a fresh code: the one refused above was never consumed, but keep it simple
    code = totp(device.secret, backend.cloud.clock.time())
    out = client.assume_role(
        RoleArn=role.arn, RoleSessionName="m1", ExternalId="ext-123", SerialNumber=device.serial, TokenCode=code
    )
    assert out["Credentials"]
    with pytest.raises(ClientError) as exc:  # a code works once
        client.assume_role(
            RoleArn=role.arn, RoleSessionName="m1", ExternalId="ext-123", SerialNumber=device.serial, TokenCode=code
        )
    assert error_of(exc)[2] == "MultiFactorAuthentication failed with invalid MFA one time pass code."
    with pytest.raises(ClientError) as exc:  # someone else's device
        backend.sts().assume_role(
            RoleArn=role.arn, RoleSessionName="m1", ExternalId="ext-123", SerialNumber=device.serial, TokenCode=code
        )
    assert "MultiFactorAuthentication failed, unable to validate MFA code" in error_of(exc)[2]


def test_source_identity_and_session_tags(backend):
    sts = backend.cloud.sts
    tagging = sts.create_role(
        unique("Tagging"),
        trust({"AWS": ACCOUNT}, "sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"),
        policies={
            "chain": allow("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity", "sts:GetWebIdentityToken")
        },
    )
    plain = sts.create_role(unique("Plain"), trust({"AWS": ACCOUNT}))
    client = backend.sts()
    tags = [{"Key": "team", "Value": "licensing"}, {"Key": "cost", "Value": "42"}]
    with pytest.raises(ClientError) as exc:  # tags need sts:TagSession in the trust policy
        client.assume_role(RoleArn=plain.arn, RoleSessionName="t1", Tags=tags)
    assert error_of(exc)[:2] == ("AccessDenied", 403) and "sts:TagSession" in error_of(exc)[2]
    with pytest.raises(ClientError) as exc:  # and a source identity sts:SetSourceIdentity
        client.assume_role(RoleArn=plain.arn, RoleSessionName="t1", SourceIdentity="alice")
    assert "sts:SetSourceIdentity" in error_of(exc)[2]
    out = client.assume_role(
        RoleArn=tagging.arn, RoleSessionName="t1", Tags=tags, TransitiveTagKeys=["team"], SourceIdentity="alice"
    )
    assert out["SourceIdentity"] == "alice" and 0 < out["PackedPolicySize"] <= 100
    # chained: the transitive tag and the source identity go on, and cannot be changed
    session = out["Credentials"]
    second = sts.create_role(
        unique("Second"), trust({"AWS": tagging.arn}, "sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity")
    )
    chained = backend.sts(session).assume_role(RoleArn=second.arn, RoleSessionName="t2")
    assert chained["SourceIdentity"] == "alice"
    record = next(s for s in sts.sessions if s.access_key_id == chained["Credentials"]["AccessKeyId"])
    assert record.tags == {"team": "licensing"} and record.transitive_tag_keys == ["team"] and record.chained
    with pytest.raises(ClientError) as exc:
        backend.sts(session).assume_role(RoleArn=second.arn, RoleSessionName="t2", SourceIdentity="mallory")
    assert error_of(exc)[:2] == ("AccessDenied", 403)
    with pytest.raises(ClientError) as exc:
        backend.sts(session).assume_role(
            RoleArn=second.arn, RoleSessionName="t2", Tags=[{"Key": "Team", "Value": "sales"}]
        )
    assert error_of(exc)[:2] == ("ValidationError", 400)
    for bad, message in [
        (
            {"Tags": [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]},
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ),
        (
            {"Tags": [{"Key": "a", "Value": "1"}], "TransitiveTagKeys": ["b"]},
            "The specified transitive tag key must be included in the requested tags.",
        ),
    ]:
        with pytest.raises(ClientError) as exc:
            client.assume_role(RoleArn=tagging.arn, RoleSessionName="t1", **bad)
        assert error_of(exc) == ("ValidationError", 400, message)


def test_session_policies_are_checked_and_sized(backend):
    role = backend.cloud.sts.create_role(unique("Sized"), trust({"AWS": ACCOUNT}))
    client = backend.sts()
    with pytest.raises(ClientError) as exc:
        client.assume_role(RoleArn=role.arn, RoleSessionName="p1", Policy='{"Statement": "nope"}')
    assert error_of(exc)[:2] == ("MalformedPolicyDocument", 400)
    with pytest.raises(ClientError) as exc:
        client.assume_role(
            RoleArn=role.arn, RoleSessionName="p1", PolicyArns=[{"arn": f"arn:aws:iam::{ACCOUNT}:policy/NoSuch"}]
        )
    assert error_of(exc) == (
        "MalformedPolicyDocument",
        400,
        f"Policy arn:aws:iam::{ACCOUNT}:policy/NoSuch does not exist or is not attachable.",
    )
    small = client.assume_role(RoleArn=role.arn, RoleSessionName="p1", Policy=json.dumps(allow("s3:GetObject")))
    bigger = client.assume_role(
        RoleArn=role.arn,
        RoleSessionName="p1",
        Policy=json.dumps(allow(*(f"license-manager:{uuid.uuid4().hex}" for _ in range(20)))),
    )
    assert 0 < small["PackedPolicySize"] < bigger["PackedPolicySize"] <= 100
    too_many = [{"Key": uuid.uuid4().hex, "Value": uuid.uuid4().hex * 7} for _ in range(50)]
    trusting = backend.cloud.sts.create_role(
        unique("Tags"), trust({"AWS": ACCOUNT}, "sts:AssumeRole", "sts:TagSession")
    )
    with pytest.raises(ClientError) as exc:
        client.assume_role(RoleArn=trusting.arn, RoleSessionName="p1", Tags=too_many)
    code, status, message = error_of(exc)
    assert (code, status) == ("PackedPolicyTooLarge", 400)
    assert message.startswith("Packed policy consumes ") and message.endswith(
        "% of allotted space, please use smaller policy for this session."
    )


def test_region_disabled_and_internal_failure(backend):
    cloud = backend.cloud
    role = cloud.sts.create_role(unique("Regional"), trust({"AWS": ACCOUNT}))
    cloud.sts.disable_region("eu-central-1")
    try:
        eu = backend.sts(region="eu-central-1")
        with pytest.raises(ClientError) as exc:
            eu.assume_role(RoleArn=role.arn, RoleSessionName="r1")
        assert error_of(exc) == (
            "RegionDisabledException",
            403,
            f"STS is not activated in this region for account:{ACCOUNT}. Your account administrator can activate "
            "STS in this region using the IAM Console.",
        )
        assert backend.sts().assume_role(RoleArn=role.arn, RoleSessionName="r1")["Credentials"]
    finally:
        cloud.sts.enable_region("eu-central-1")
    cloud.faults.add("sts", "AssumeRole", status=500, count=1)
    with pytest.raises(ClientError) as exc:
        backend.sts().assume_role(RoleArn=role.arn, RoleSessionName="r1")
    assert error_of(exc)[:2] == ("InternalFailure", 500)
