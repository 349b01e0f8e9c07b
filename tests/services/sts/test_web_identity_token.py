"""GetWebIdentityToken: a JWT signed by the account's issuer, verified as an external service verifies it: with
jwt.PyJWKClient against the server's JWKS, and through the issuer's OIDC discovery document in-process."""

from __future__ import annotations

import uuid

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from tests.helpers import error_of
from tests.services.sts.support import Backend

ACCOUNT = "123456789012"
AUDIENCE = "https://api.example.com"


def test_a_token_verifies_with_the_servers_jwks(mockcloud_server):
    backend = Backend(mockcloud_server.cloud, mockcloud_server.url)
    out = backend.sts().get_web_identity_token(
        Audience=[AUDIENCE], SigningAlgorithm="RS256", DurationSeconds=600, Tags=[{"Key": "job", "Value": "nightly"}]
    )
    token = out["WebIdentityToken"]
    key = jwt.PyJWKClient(f"{mockcloud_server.url}/_mockcloud/jwks/sts").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, options={"require": ["exp", "iat"]})
    issuer = backend.cloud.sts.outbound_issuer(ACCOUNT)
    assert claims["iss"] == issuer and issuer.endswith(".tokens.sts.global.api.aws")
    assert claims["sub"] == f"arn:aws:iam::{ACCOUNT}:root" and claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 600
    assert out["Expiration"].timestamp() == claims["exp"]
    assert claims["https://sts.amazonaws.com/"] == {
        "aws_account": ACCOUNT,
        "source_region": "us-east-1",
        "request_tags": {"job": "nightly"},
    }
    # ES384 too, with a key of its own
    es = backend.sts().get_web_identity_token(Audience=[AUDIENCE, "other"], SigningAlgorithm="ES384")[
        "WebIdentityToken"
    ]
    es_key = jwt.PyJWKClient(f"{mockcloud_server.url}/_mockcloud/jwks/sts").get_signing_key_from_jwt(es)
    decoded = jwt.decode(es, es_key.key, algorithms=["ES384"], audience="other")
    assert decoded["aud"] == [AUDIENCE, "other"] and decoded["exp"] - decoded["iat"] == 300  # 5 minutes by default


def test_the_issuers_discovery_document_and_jwks_in_process():
    with mock_cloud(services=["sts"]) as cloud:
        backend = Backend(cloud, None)
        role = cloud.sts.create_role(
            "Outbound",
            {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]},
            policies={
                "jwt": {"Statement": [{"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*"}]}
            },
            tags={"team": "data"},
        )
        session = backend.sts().assume_role(RoleArn=role.arn, RoleSessionName="job1", DurationSeconds=900)
        token = backend.sts(session["Credentials"]).get_web_identity_token(
            Audience=[AUDIENCE], SigningAlgorithm="ES384"
        )["WebIdentityToken"]
        issuer = jwt.decode(token, options={"verify_signature": False})["iss"]
        # what a verifier does: discovery document, then its jwks_uri (answered in-process, never the network)
        discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        assert discovery["issuer"] == issuer and discovery["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
        assert "ES384" in discovery["id_token_signing_alg_values_supported"]
        key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["ES384"], audience=AUDIENCE, issuer=issuer)
        assert claims["sub"] == role.arn  # the role, not the session
        assert claims["https://sts.amazonaws.com/"]["principal_tags"] == {"team": "data"}
        assert cloud.sts.jwks(ACCOUNT) == requests.get(discovery["jwks_uri"], timeout=10).json()
        assert requests.get(f"{issuer}/nothing-here", timeout=10).status_code == 404
        # a token may not outlive the session that asked for it
        with pytest.raises(ClientError) as exc:
            backend.sts(session["Credentials"]).get_web_identity_token(
                Audience=[AUDIENCE], SigningAlgorithm="RS256", DurationSeconds=3600
            )
        assert error_of(exc)[:2] == ("SessionDurationEscalationException", 403)


def test_errors_of_get_web_identity_token(backend):
    sts = backend.sts(validate=False)
    with pytest.raises(ClientError) as exc:
        sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="HS256")
    assert error_of(exc)[:2] == ("ValidationError", 400) and "RS256, ES384" in error_of(exc)[2]
    with pytest.raises(ClientError) as exc:
        sts.get_web_identity_token(
            Audience=[AUDIENCE],
            SigningAlgorithm="RS256",
            Tags=[{"Key": f"k{i}-{uuid.uuid4().hex}", "Value": "v" * 256} for i in range(40)],
        )
    assert error_of(exc)[:2] == ("JWTPayloadSizeExceededException", 400)
    other = backend.cloud.credentials.new_account()
    backend.cloud.sts.set_outbound_web_identity_federation(False, account_id=other.account_id)
    with pytest.raises(ClientError) as exc:
        backend.sts(
            {"AccessKeyId": other.access_key_id, "SecretAccessKey": other.secret_access_key}
        ).get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256")
    assert error_of(exc)[:2] == ("OutboundWebIdentityFederationDisabledException", 403)
