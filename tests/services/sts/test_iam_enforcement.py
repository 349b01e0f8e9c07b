"""IAM at the AWS front door, with boto3, in-process and against the server: every call of a role session or an
IAM user's keys is evaluated against its identity and session policies; the default (root) keys are not.

License Manager is the service called; STS's own calls are checked the same way and refused in its Query XML.
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.helpers import DEFAULT_LICENSE_ARN, error_of
from tests.services.sts.support import CONSUMPTION_POLICY, ROLE

ACCOUNT = "123456789012"
FINGERPRINT = "aws:123456789012:mockcloud:issuer-fingerprint"
TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    ],
}


def allow(*actions: str, resource: str = "*", effect: str = "Allow") -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": list(actions), "Resource": resource}]}


def checkout(lm):
    return lm.checkout_license(
        ProductSKU="EXAMPLE-PRO-SKU",
        CheckoutType="PROVISIONAL",
        KeyFingerprint=FINGERPRINT,
        Beneficiary="someone@example.com",
        Entitlements=[{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        ClientToken=uuid.uuid4().hex,
    )


def role_session(backend, name: str, policies: dict, **assume) -> dict:
    """A role with these inline policies, trusting its account, assumed with the default (root) keys."""
    role = backend.cloud.sts.create_role(name, TRUST_ACCOUNT, policies=policies)
    return backend.sts().assume_role(RoleArn=role.arn, RoleSessionName="s1", **assume)["Credentials"]


def denied(name: str, action: str, resource: str, reason: str) -> str:
    return (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s1 is not authorized to perform: {action} "
        f"on resource: {resource} {reason}"
    )


def test_a_role_whose_policy_lacks_checkout_license_is_denied(backend):
    name = f"Reader-{uuid.uuid4().hex[:6]}"
    credentials = role_session(backend, name, {"read": allow("license-manager:GetLicense")})
    lm = backend.lm(credentials)
    assert lm.get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]["LicenseArn"] == DEFAULT_LICENSE_ARN
    with pytest.raises(ClientError) as exc:
        checkout(lm)
    assert error_of(exc) == (
        "AccessDeniedException",
        400,
        denied(
            name,
            "license-manager:CheckoutLicense",
            "*",
            "because no identity-based policy allows the license-manager:CheckoutLicense action",
        ),
    )
    # the default test keys are the account's root: never limited
    assert checkout(backend.lm())["LicenseConsumptionToken"]


def test_the_default_consumption_role_carries_aws_managed_consumption_policy(backend):
    assert backend.cloud.sts.role(ROLE).managed_policies == [CONSUMPTION_POLICY]
    credentials = backend.assume(backend.access_token())["Credentials"]
    lm = backend.lm(credentials)
    token = checkout(lm)["LicenseConsumptionToken"]
    lm.extend_license_consumption(LicenseConsumptionToken=token)
    lm.check_in_license(LicenseConsumptionToken=token)
    assert lm.get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
    with pytest.raises(ClientError) as exc:
        lm.list_licenses()  # not in AWSLicenseManagerConsumptionPolicy
    assert error_of(exc)[:2] == ("AccessDeniedException", 400)
    assert "because no identity-based policy allows the license-manager:ListLicenses action" in error_of(exc)[2]


def test_a_session_policy_narrows_a_role(backend):
    narrow = json.dumps(allow("license-manager:GetLicense"))
    credentials = backend.assume(backend.access_token(), Policy=narrow)["Credentials"]
    lm = backend.lm(credentials)
    assert lm.get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
    with pytest.raises(ClientError) as exc:
        checkout(lm)  # the role allows it; the session policy does not
    assert error_of(exc) == (
        "AccessDeniedException",
        400,
        denied(
            "AWSLicenseManagerConsumptionRole",
            "license-manager:CheckoutLicense",
            "*",
            "because no session policy allows the license-manager:CheckoutLicense action",
        ).replace("/s1 is", "/app is"),
    )
    # a session policy never widens: ListLicenses stays refused, by the role's policy
    wide = json.dumps(allow("license-manager:*"))
    credentials = backend.assume(backend.access_token(), Policy=wide, PolicyArns=[{"arn": CONSUMPTION_POLICY}])[
        "Credentials"
    ]
    with pytest.raises(ClientError) as exc:
        backend.lm(credentials).list_licenses()
    assert "because no identity-based policy allows" in error_of(exc)[2]


def test_an_explicit_deny_wins(backend):
    name = f"Denied-{uuid.uuid4().hex[:6]}"
    credentials = role_session(
        backend,
        name,
        {
            "all": allow("license-manager:*"),
            "no-checkout": allow("license-manager:CheckoutLicense", effect="Deny"),
        },
    )
    lm = backend.lm(credentials)
    assert lm.list_licenses()["Licenses"]
    with pytest.raises(ClientError) as exc:
        checkout(lm)
    assert error_of(exc)[2] == denied(
        name, "license-manager:CheckoutLicense", "*", "with an explicit deny in an identity-based policy"
    )
    # and in a session policy, over the role's allow
    session_deny = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "license-manager:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "license-manager:GetLicense", "Resource": DEFAULT_LICENSE_ARN},
            ],
        }
    )
    role = backend.cloud.sts.role(f"arn:aws:iam::{ACCOUNT}:role/{name}")
    again = backend.sts().assume_role(RoleArn=role.arn, RoleSessionName="s1", Policy=session_deny)
    assert 0 < again["PackedPolicySize"] <= 100
    with pytest.raises(ClientError) as exc:
        backend.lm(again["Credentials"]).get_license(LicenseArn=DEFAULT_LICENSE_ARN)
    assert error_of(exc)[2] == denied(
        name, "license-manager:GetLicense", DEFAULT_LICENSE_ARN, "with an explicit deny in a session policy"
    )


def test_resource_arns_with_wildcards_and_conditions(backend):
    name = f"Scoped-{uuid.uuid4().hex[:6]}"
    only_ours = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "license-manager:GetLicense",
                "Resource": f"arn:aws:license-manager::{ACCOUNT}:license:l-0123*",
            },
            {
                "Effect": "Allow",
                "Action": "license-manager:ListLicenses",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
            },
        ],
    }
    credentials = role_session(backend, name, {"scoped": only_ours})
    lm = backend.lm(credentials)
    assert lm.get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
    other = f"arn:aws:license-manager::{ACCOUNT}:license:l-ffff456789abcdef0123456789abcdef"
    with pytest.raises(ClientError) as exc:
        lm.get_license(LicenseArn=other)
    assert error_of(exc)[2] == denied(
        name,
        "license-manager:GetLicense",
        other,
        "because no identity-based policy allows the license-manager:GetLicense action",
    )
    with pytest.raises(ClientError) as exc:
        lm.list_licenses()  # signed for us-east-1
    assert error_of(exc)[0] == "AccessDeniedException"


def test_session_tags_are_principal_tags(backend):
    name = f"Tagged-{uuid.uuid4().hex[:6]}"
    by_team = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "license-manager:GetLicense",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "licensing"}},
            }
        ],
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ACCOUNT},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    role = backend.cloud.sts.create_role(name, trust, policies={"team": by_team})
    sts = backend.sts()
    licensing = sts.assume_role(RoleArn=role.arn, RoleSessionName="s1", Tags=[{"Key": "team", "Value": "licensing"}])
    assert backend.lm(licensing["Credentials"]).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
    other = sts.assume_role(RoleArn=role.arn, RoleSessionName="s1", Tags=[{"Key": "team", "Value": "sales"}])
    with pytest.raises(ClientError) as exc:
        backend.lm(other["Credentials"]).get_license(LicenseArn=DEFAULT_LICENSE_ARN)
    assert error_of(exc)[0] == "AccessDeniedException"


def test_iam_users_are_evaluated_and_the_default_keys_can_be_made_one(backend):
    sts = backend.cloud.sts
    name = f"dev-{uuid.uuid4().hex[:6]}"
    sts.create_user(name, policies={"read": allow("license-manager:GetLicense", "license-manager:ListLicenses")})
    key = sts.create_access_key(name)
    assert key.access_key_id.startswith("AKIA") and key.account_id == ACCOUNT
    keys = {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}
    lm = backend.lm(keys)
    assert lm.list_licenses()["Licenses"]
    with pytest.raises(ClientError) as exc:
        checkout(lm)
    assert error_of(exc)[2] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: license-manager:CheckoutLicense "
        "on resource: * because no identity-based policy allows the license-manager:CheckoutLicense action"
    )
    who = backend.sts(keys).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}" and who["UserId"].startswith("AIDA")


def test_turning_enforcement_on_for_the_default_keys():
    """The documented way: bind the default keys to an IAM user; its policies then decide."""
    from mockcloud import mock_cloud
    from tests.helpers import lm_client

    with mock_cloud(services=["licensemanager", "sts"]) as cloud:
        assert checkout(lm_client())  # root keys: everything
        cloud.sts.create_user("tester", policies={"read": allow("license-manager:GetLicense")})
        cloud.sts.create_access_key("tester", access_key_id="testing")
        lm = lm_client()
        assert lm.get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
        with pytest.raises(ClientError) as exc:
            checkout(lm)
        assert error_of(exc)[0] == "AccessDeniedException"


def test_sts_calls_are_checked_too_and_refused_in_query_xml(backend):
    name = f"NoSts-{uuid.uuid4().hex[:6]}"
    credentials = role_session(backend, name, {"lm": allow("license-manager:*")})
    sts = backend.sts(credentials)
    assert sts.get_caller_identity()["Arn"].endswith(f"assumed-role/{name}/s1")  # never denied
    with pytest.raises(ClientError) as exc:
        sts.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm="RS256")
    assert error_of(exc) == (
        "AccessDenied",
        403,
        denied(
            name,
            "sts:GetWebIdentityToken",
            "*",
            "because no identity-based policy allows the sts:GetWebIdentityToken action",
        ),
    )


def test_an_encoded_message_decodes_with_decode_authorization_message(backend):
    backend.cloud.sts.encode_authorization_messages(True)
    try:
        name = f"Encoded-{uuid.uuid4().hex[:6]}"
        credentials = role_session(backend, name, {"read": allow("license-manager:GetLicense")})
        with pytest.raises(ClientError) as exc:
            checkout(backend.lm(credentials))
        message = error_of(exc)[2]
        head, _, encoded = message.partition(". Encoded authorization failure message: ")
        assert head == denied(
            name,
            "license-manager:CheckoutLicense",
            "*",
            "because no identity-based policy allows the license-manager:CheckoutLicense action",
        )
        decoded = json.loads(backend.sts().decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
        assert decoded["allowed"] is False and decoded["explicitDeny"] is False
        context = decoded["context"]
        assert context["action"] == "license-manager:CheckoutLicense" and context["resource"] == "*"
        assert context["principal"]["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s1"
        keys = {c["key"]: c["values"]["items"][0]["value"] for c in context["conditions"]["items"]}
        assert keys["aws:requestedregion"] == "us-east-1"
        assert keys["aws:principalarn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
        # another account cannot read it, nor can a tampered message be read
        other = backend.cloud.credentials.new_account()
        stranger = backend.sts({"AccessKeyId": other.access_key_id, "SecretAccessKey": other.secret_access_key})
        for attempt in (stranger, backend.sts()):
            text = encoded if attempt is stranger else encoded[:-4] + ("AAAA" if encoded[-4:] != "AAAA" else "BBBB")
            with pytest.raises(ClientError) as exc:
                attempt.decode_authorization_message(EncodedMessage=text)
            assert error_of(exc)[:2] == ("InvalidAuthorizationMessageException", 400)
    finally:
        backend.cloud.sts.encode_authorization_messages(False)


def test_temporary_credentials_sign_devpay_queries_with_their_security_token():
    """The 2008-era Query services take temporary keys too: the session token as ``SecurityToken``, signed."""
    from mockcloud import mock_cloud
    from tests.services.devpay.support import LsClient
    from tests.services.sts.support import Backend

    with mock_cloud(services=["devpay", "sts"]) as cloud:
        backend = Backend(cloud, None)
        cloud.clock.freeze()
        allowed = role_session(backend, "DevpayUser", {"devpay": allow("devpay:*")})
        refused = role_session(backend, "NoDevpay", {"lm": allow("license-manager:*")})

        def call(credentials, token):
            client = LsClient(
                "https://ls.amazonaws.com/",
                cloud.clock,
                key=credentials["AccessKeyId"],
                secret=credentials["SecretAccessKey"],
                signature_version="2",
            )
            return client.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PID1", SecurityToken=token)

        assert call(allowed, None).code == "InvalidClientTokenId"
        assert call(allowed, "wrong").code == "InvalidClientTokenId"
        answered = call(allowed, allowed["SessionToken"])
        assert answered.code not in ("InvalidClientTokenId", "AccessDenied", "ExpiredToken")
        denied_reply = call(refused, refused["SessionToken"])
        assert (denied_reply.status, denied_reply.code) == (403, "AccessDenied")
        assert denied_reply.message == (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/NoDevpay/s1 is not authorized to perform: "
            "devpay:GetActiveSubscriptionsByPid on resource: * because no identity-based policy allows the "
            "devpay:GetActiveSubscriptionsByPid action"
        )
        cloud.clock.advance(3600)
        expired = call(allowed, allowed["SessionToken"])
        assert (expired.status, expired.code) == (403, "ExpiredToken")


def test_keys_bound_to_a_user_in_the_fixtures_are_evaluated_from_the_first_call(tmp_path):
    from mockcloud import mock_cloud
    from tests.helpers import lm_client

    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text(
        json.dumps(
            {
                "sts": {
                    "users": [
                        {
                            "name": "tester",
                            "access_keys": ["testing"],
                            "inline_policies": {"read": allow("license-manager:GetLicense")},
                        }
                    ]
                }
            }
        )
    )
    with mock_cloud(fixtures=fixtures):
        with pytest.raises(ClientError) as exc:
            lm_client().list_licenses()  # the very first request of the mock
        assert error_of(exc)[2].startswith(f"User: arn:aws:iam::{ACCOUNT}:user/tester is not authorized")
        assert lm_client().get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
