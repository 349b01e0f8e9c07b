"""STS AssumeRoleWithWebIdentity and GetCallerIdentity, with boto3 and raw requests, in-process and against the server.

Tests that do not move the clock run on both backends; the web-identity
tokens are License Manager's access tokens, or tokens of an issuer the test
registers with the mock (``cloud.issuers``), signed with its own key.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET

import boto3
import jwt
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from mockcloud import MockCloudError, mock_cloud
from tests.helpers import DEFAULT_LICENSE_ARN, error_of
from tests.services.sts.support import NO_RETRY, ROLE, Backend

NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
ISSUER_AMR = "aws:license-manager:token-issuer-account-id:123456789012"


@pytest.fixture
def local():
    with mock_cloud(services=["licensemanager", "sts"]) as cloud:
        yield Backend(cloud, None)


class OwnIssuer:
    """An OIDC issuer of the test's own, registered with the mock as License Manager registers itself."""

    def __init__(self, cloud, provider="idp.example.com", audiences=("my-client",)):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.provider, self.issuer = provider, f"https://{provider}"
        jwk = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": "k1", "alg": "ES256"})
        cloud.issuers.register(
            self.issuer, provider=provider, jwks=lambda: {"keys": [jwk]}, accepts_audience=lambda aud: aud in audiences
        )

    def token(self, now: float, **claims) -> str:
        body = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": "my-client",
            "iat": int(now),
            "exp": int(now) + 600,
            **claims,
        }
        return jwt.encode(body, self.key, algorithm="ES256", headers={"kid": "k1"})


# ---- AssumeRoleWithWebIdentity ----------------------------------------------------------------


def test_the_documented_role_accepts_a_license_manager_access_token(backend):
    out = backend.assume(backend.access_token())
    credentials = out["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["SecretAccessKey"]) == 40
    assert len(credentials["SessionToken"]) > 300
    assert out["SubjectFromWebIdentityToken"] == "123456789012"
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA") and out["AssumedRoleUser"][
        "AssumedRoleId"
    ].endswith(":app")
    # the default session is 3600 s; Expiration is on the mock clock
    remaining = credentials["Expiration"].timestamp() - backend.cloud.clock.time()
    assert 3595 <= remaining <= 3600
    who = backend.sts(credentials).get_caller_identity()
    assert (who["Arn"], who["Account"], who["UserId"]) == (
        "arn:aws:sts::123456789012:assumed-role/AWSLicenseManagerConsumptionRole/app",
        "123456789012",
        out["AssumedRoleUser"]["AssumedRoleId"],
    )
    # long-term keys: the account's root
    assert (
        backend.sts(aws_access_key_id="testing", aws_secret_access_key="testing").get_caller_identity()["Arn"]
        == "arn:aws:iam::123456789012:root"
    )


def test_the_reply_is_sts_xml(backend):
    token = backend.access_token()
    form = {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": "2011-06-15",
        "RoleArn": ROLE,
        "RoleSessionName": "raw",
        "WebIdentityToken": token,
        "DurationSeconds": "900",
    }
    reply = requests.post(backend.sts_url, data=form, timeout=10)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "text/xml"
    root = ET.fromstring(reply.content)
    assert root.tag == f"{NS}AssumeRoleWithWebIdentityResponse"
    result = root.find(f"{NS}AssumeRoleWithWebIdentityResult")
    assert [child.tag[len(NS) :] for child in result] == [
        "SubjectFromWebIdentityToken",
        "Audience",
        "AssumedRoleUser",
        "Credentials",
        "Provider",
    ]
    assert result.find(f"{NS}Credentials/{NS}Expiration").text.endswith("Z")
    assert root.find(f"{NS}ResponseMetadata/{NS}RequestId").text == reply.headers["x-amzn-RequestId"]

    refused = requests.post(backend.sts_url, data={**form, "WebIdentityToken": "not-a-jwt"}, timeout=10)
    assert refused.status_code == 400
    error = ET.fromstring(refused.content)
    assert error.tag == f"{NS}ErrorResponse"
    assert [child.tag[len(NS) :] for child in error.find(f"{NS}Error")] == ["Type", "Code", "Message"]  # no <Detail/>
    assert error.find(f"{NS}Error/{NS}Type").text == "Sender"
    assert error.find(f"{NS}Error/{NS}Code").text == "InvalidIdentityToken"
    assert error.find(f"{NS}RequestId").text == refused.headers["x-amzn-RequestId"]


def test_duration_seconds(backend):
    token = backend.access_token()
    out = backend.assume(token, DurationSeconds=900)
    assert 895 <= out["Credentials"]["Expiration"].timestamp() - backend.cloud.clock.time() <= 900
    raw = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=backend.url,
        config=NO_RETRY.merge(Config(parameter_validation=False)),
    )
    with pytest.raises(ClientError) as exc:
        raw.assume_role_with_web_identity(
            RoleArn=ROLE, RoleSessionName="app", WebIdentityToken=token, DurationSeconds=899
        )
    assert error_of(exc) == (
        "ValidationError",
        400,
        "1 validation error detected: Value '899' at 'durationSeconds' failed to "
        "satisfy constraint: Member must have value greater than or equal to 900",
    )
    with pytest.raises(ClientError) as exc:
        backend.assume(token, DurationSeconds=3601)  # the role's MaxSessionDuration is 3600
    assert error_of(exc) == (
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    with pytest.raises(ClientError) as exc:
        raw.assume_role_with_web_identity(RoleArn=ROLE, RoleSessionName="no spaces", WebIdentityToken=token)
    assert error_of(exc)[:2] == ("ValidationError", 400) and "roleSessionName" in error_of(exc)[2]


def test_tokens_are_verified_by_signature_issuer_and_audience(backend):
    token = backend.access_token()
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"
    with pytest.raises(ClientError) as exc:
        backend.assume(forged)
    assert error_of(exc)[:2] == ("InvalidIdentityToken", 400)
    # the same claims signed by anyone else's key
    claims = jwt.decode(token, options={"verify_signature": False})
    other = jwt.encode(
        claims,
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": jwt.get_unverified_header(token)["kid"]},
    )
    with pytest.raises(ClientError) as exc:
        backend.assume(other)
    assert error_of(exc)[:2] == ("InvalidIdentityToken", 400)
    # an issuer the mock does not trust
    stranger = jwt.encode({**claims, "iss": "https://idp.unknown.example"}, "s" * 32, algorithm="HS256")
    with pytest.raises(ClientError) as exc:
        backend.assume(stranger)
    assert error_of(exc) == (
        "InvalidIdentityToken",
        400,
        "No OpenIDConnect provider found in your account for https://idp.unknown.example",
    )
    # a refresh token is not a web identity
    refresh = backend.lm().create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=uuid.uuid4().hex)["Token"]
    with pytest.raises(ClientError) as exc:
        backend.assume(refresh)
    assert error_of(exc)[:2] == ("InvalidIdentityToken", 400)


OTHER_ISSUER_AMR = "aws:license-manager:token-issuer-account-id:999999999999"


def test_the_trust_policy_is_evaluated(backend):
    sts = backend.cloud.sts
    sts.create_role(
        "OtherIssuerOnly",
        trust={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "openid-license-manager.amazonaws.com"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "ForAnyValue:StringLike": {"openid-license-manager.amazonaws.com:amr": OTHER_ISSUER_AMR}
                    },
                }
            ],
        },
    )
    sts.create_role(
        "GoldOnly",
        trust={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {
                        "Federated": "arn:aws:iam::123456789012:oidc-provider/openid-license-manager.amazonaws.com"
                    },
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "ForAnyValue:StringEquals": {"openid-license-manager.amazonaws.com:amr": "tier=gold"},
                        "StringEquals": {"openid-license-manager.amazonaws.com:aud": DEFAULT_LICENSE_ARN},
                    },
                }
            ],
        },
        max_session_duration=7200,
    )
    other = "arn:aws:iam::123456789012:role/OtherIssuerOnly"
    gold = "arn:aws:iam::123456789012:role/GoldOnly"
    with pytest.raises(ClientError) as exc:
        backend.assume(backend.access_token(roles=[other]), role=other)
    assert error_of(exc) == ("AccessDenied", 403, "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    with pytest.raises(ClientError) as exc:
        backend.assume(backend.access_token(roles=[gold], properties=["tier=silver"]), role=gold)
    assert error_of(exc)[:2] == ("AccessDenied", 403)
    out = backend.assume(backend.access_token(roles=[gold], properties=["tier=gold"]), role=gold, DurationSeconds=7200)
    assert out["AssumedRoleUser"]["Arn"].endswith(":assumed-role/GoldOnly/app")
    # a role the token does not embed is refused when the token names any; a token that names none may try any
    with pytest.raises(ClientError) as exc:
        backend.assume(backend.access_token(roles=[ROLE], properties=["tier=gold"]), role=gold)
    assert error_of(exc)[:2] == ("IDPRejectedClaim", 403)
    assert backend.assume(backend.access_token(roles=[], properties=["tier=gold"]), role=gold)
    with pytest.raises(ClientError) as exc:
        backend.assume(backend.access_token(roles=[]), role="arn:aws:iam::123456789012:role/NoSuchRole")
    assert error_of(exc)[:2] == ("AccessDenied", 403)


def test_create_role_refuses_what_it_cannot_evaluate():
    with mock_cloud(services=["sts"]) as cloud:
        with pytest.raises(MockCloudError, match="Invalid Condition type : DateBefore"):
            cloud.sts.create_role(
                "R",
                trust={
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": "x"},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {"DateBefore": {"aws:CurrentTime": "2030-01-01"}},
                        }
                    ]
                },
            )
        with pytest.raises(MockCloudError, match="unknown element"):
            cloud.sts.create_role(
                "R", trust={"Statement": [{"Effect": "Allow", "Principal": "*", "Actions": "sts:AssumeRole"}]}
            )
        with pytest.raises(MockCloudError, match="Resource"):  # a trust policy names no resource
            cloud.sts.create_role(
                "R",
                trust={
                    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}]
                },
            )
        with pytest.raises(MockCloudError, match="3600 to 43200"):
            cloud.sts.create_role(
                "R",
                trust={"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]},
                max_session_duration=60,
            )


def test_any_registered_issuer_with_exp_nbf_and_audience_on_the_mock_clock(local):
    cloud = local.cloud
    idp = OwnIssuer(cloud)
    cloud.sts.create_role(
        "WebApp",
        trust={
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "idp.example.com"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringLike": {"idp.example.com:sub": "user-*"}},
                },
                {
                    "Effect": "Deny",
                    "Principal": {"Federated": "idp.example.com"},
                    "Action": "sts:*",
                    "Condition": {"StringEquals": {"idp.example.com:sub": "user-banned"}},
                },
            ]
        },
    )
    role = "arn:aws:iam::123456789012:role/WebApp"
    now = cloud.clock.time()
    assert local.assume(idp.token(now), role=role)["Provider"] == "idp.example.com"
    for claims, code, text in [
        ({"aud": "someone-else"}, "InvalidIdentityToken", "Incorrect token audience"),
        ({"aud": None}, "InvalidIdentityToken", "Missing a required claim: aud"),
        ({"nbf": int(now) + 60}, "InvalidIdentityToken", "Token is not yet valid"),
        ({"sub": "user-banned"}, "AccessDenied", "Not authorized"),
        ({"sub": "admin"}, "AccessDenied", "Not authorized"),
    ]:
        body = {k: v for k, v in claims.items() if v is not None}
        token = (
            idp.token(now, **body)
            if claims.get("aud", "") is not None
            else jwt.encode(
                {"iss": idp.issuer, "sub": "user-1", "exp": int(now) + 600},
                idp.key,
                algorithm="ES256",
                headers={"kid": "k1"},
            )
        )
        with pytest.raises(ClientError) as exc:
            local.assume(token, role=role)
        assert error_of(exc)[0] == code and text in error_of(exc)[2]
    token = idp.token(now)
    cloud.clock.advance(601)
    with pytest.raises(ClientError) as exc:
        local.assume(token, role=role)
    assert error_of(exc) == (
        "ExpiredTokenException",
        400,
        f"Token expired: current date/time {int(cloud.clock.time())} "
        f"must be before the expiration date/time {int(now) + 600}",
    )


# ---- temporary credentials are real credentials ------------------------------------------------


def test_session_token_is_required_and_verified(backend):
    credentials = backend.assume(backend.access_token())["Credentials"]
    wrong = {**credentials, "SessionToken": credentials["SessionToken"][:-8] + "AAAAAAAA"}
    missing = {**credentials, "SessionToken": None}
    for variant in (wrong, missing):
        with pytest.raises(ClientError) as exc:
            backend.sts(variant).get_caller_identity()
        assert error_of(exc) == ("InvalidClientTokenId", 403, "The security token included in the request is invalid.")
        with pytest.raises(ClientError) as exc:
            backend.lm(variant).list_licenses()
        assert error_of(exc) == (
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        )
    bad_secret = {**credentials, "SecretAccessKey": "x" * 40}
    with pytest.raises(ClientError) as exc:
        backend.sts(bad_secret).get_caller_identity()
    assert error_of(exc)[:2] == ("SignatureDoesNotMatch", 403)
    # the right three work with every AWS service of the mock, within the role's policy (AWS's consumption policy)
    assert backend.lm(credentials).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]


def test_temporary_credentials_expire_on_the_mock_clock(local):
    local.cloud.clock.freeze()  # to the second: no real time passes between the steps, however slow the machine
    credentials = local.assume(local.access_token(), DurationSeconds=900)["Credentials"]
    local.cloud.clock.advance(899)
    assert local.sts(credentials).get_caller_identity()["Account"] == "123456789012"
    local.cloud.clock.advance(2)
    with pytest.raises(ClientError) as exc:
        local.sts(credentials).get_caller_identity()
    assert error_of(exc) == ("ExpiredToken", 403, "The security token included in the request is expired")
    with pytest.raises(ClientError) as exc:
        local.lm(credentials).list_licenses()
    assert error_of(exc) == ("ExpiredTokenException", 403, "The security token included in the request is expired")


def test_get_caller_identity_must_be_signed_and_unknown_actions_are_named(backend):
    reply = requests.post(backend.sts_url, data={"Action": "GetCallerIdentity", "Version": "2011-06-15"}, timeout=10)
    assert reply.status_code == 403
    assert ET.fromstring(reply.content).find(f"{NS}Error/{NS}Code").text == "MissingAuthenticationToken"
    # an action STS's model does not declare (one it declares and mockcloud lacks answers 501 NotImplemented)
    reply = requests.post(backend.sts_url, data={"Action": "MintMoney", "Version": "2011-06-15"}, timeout=10)
    assert reply.status_code == 400
    error = ET.fromstring(reply.content).find(f"{NS}Error")
    assert (error.find(f"{NS}Code").text, error.find(f"{NS}Message").text) == (
        "InvalidAction",
        "Could not find operation MintMoney for version 2011-06-15",
    )


def test_sts_is_claimed_by_its_hosts_in_process():
    with mock_cloud(services=["sts"]) as cloud:
        for url in ("https://sts.amazonaws.com", "https://sts.eu-west-1.amazonaws.com"):
            client = boto3.client("sts", region_name="eu-west-1", endpoint_url=url, config=NO_RETRY)
            assert client.get_caller_identity()["Account"] == "123456789012"
        assert [r.service for r in cloud.requests] == ["sts", "sts"]
        assert time.time() == pytest.approx(cloud.clock.time(), abs=1)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256", "HS256"])
def test_every_license_manager_signing_algorithm_is_verified(algorithm):
    with mock_cloud(
        services=["licensemanager", "sts"], settings={"licensemanager": {"jwt_algorithm": algorithm}}
    ) as cloud:
        backend = Backend(cloud, None)
        token = backend.access_token()
        assert backend.assume(token)["Credentials"]["AccessKeyId"].startswith("ASIA")
        claims = jwt.decode(token, options={"verify_signature": False})
        kid = jwt.get_unverified_header(token)["kid"]
        # alg confusion and "none": a token must use the algorithm its key was published for
        confused = jwt.encode(
            claims, "k" * 32 if algorithm != "HS256" else "x" * 32, algorithm="HS256", headers={"kid": kid}
        )
        unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
        for bad in (confused, unsigned):
            with pytest.raises(ClientError) as exc:
                backend.assume(bad)
            assert error_of(exc)[:2] == ("InvalidIdentityToken", 400)


def test_session_policies_packed_policy_size_and_source_identity(local):
    import json

    cloud = local.cloud
    idp = OwnIssuer(cloud)
    cloud.sts.create_role(
        "Sourced",
        trust={
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "idp.example.com"},
                    "Action": ["sts:AssumeRoleWithWebIdentity", "sts:SetSourceIdentity", "sts:TagSession"],
                }
            ]
        },
    )
    role = "arn:aws:iam::123456789012:role/Sourced"
    now = cloud.clock.time()
    plain = local.assume(idp.token(now), role=role)
    assert "PackedPolicySize" not in plain and "SourceIdentity" not in plain
    token = idp.token(
        now,
        **{
            "https://aws.amazon.com/source_identity": "alice",
            "https://aws.amazon.com/tags": {"principal_tags": {"team": ["licensing"]}, "transitive_tag_keys": ["team"]},
        },
    )
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Action": "license-manager:GetLicense", "Resource": "*"}]})
    out = local.assume(token, role=role, Policy=policy)
    assert out["SourceIdentity"] == "alice" and 0 < out["PackedPolicySize"] <= 100
    [session] = [s for s in cloud.sts.sessions if s.access_key_id == out["Credentials"]["AccessKeyId"]]
    assert session.tags == {"team": "licensing"} and session.transitive_tag_keys == ["team"]
    with pytest.raises(ClientError) as exc:
        local.assume(idp.token(now), role=role, Policy="{not json")
    assert error_of(exc)[:2] == ("MalformedPolicyDocument", 400)
    # a token that sets a source identity needs sts:SetSourceIdentity in the trust policy
    cloud.sts.create_role(
        "Unsourced",
        trust={
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "idp.example.com"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                }
            ]
        },
    )
    unsourced = "arn:aws:iam::123456789012:role/Unsourced"
    assert local.assume(idp.token(now), role=unsourced)["Credentials"]
    with pytest.raises(ClientError) as exc:
        local.assume(idp.token(now, **{"https://aws.amazon.com/source_identity": "bob"}), role=unsourced)
    assert error_of(exc) == ("AccessDenied", 403, "Not authorized to perform sts:AssumeRoleWithWebIdentity")


def test_an_injected_500_is_internal_failure(backend):
    backend.cloud.faults.add("sts", "GetCallerIdentity", status=500, count=1)
    with pytest.raises(ClientError) as exc:
        backend.sts().get_caller_identity()
    assert error_of(exc) == (
        "InternalFailure",
        500,
        "The request processing has failed because of an unknown error, exception or failure.",
    )
    assert backend.sts().get_caller_identity()["Account"] == "123456789012"
