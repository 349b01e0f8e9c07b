"""AWS License Manager token lifecycle, driven by the real boto3 client.

Every test that does not move the clock runs twice: in-process under the
mock, and against a live server over loopback. Tests that move the clock run
in-process, where the client's clock moves with the emulator's.
"""

from __future__ import annotations

import threading
import uuid

import jwt
import pytest
from botocore.exceptions import ClientError
from botocore.paginate import Paginator

from mockcloud import mock_cloud, mock_licensemanager
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client


@pytest.fixture
def local():
    """In-process only: for tests that move the clock the client signs with."""
    with mock_licensemanager() as cloud:
        yield cloud


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def new_license(lm, **overrides) -> str:
    params = {
        "LicenseName": "Widget license",
        "ProductName": "Widget",
        "ProductSKU": "WIDGET-1",
        "Issuer": {"Name": "Widget Co"},
        "HomeRegion": "us-east-1",
        "Validity": {"Begin": "2025-01-01T00:00:00Z", "End": "2035-01-01T00:00:00Z"},
        "Entitlements": [{"Name": "Seats", "Unit": "Count", "MaxCount": 5}],
        "Beneficiary": "arn:aws:iam::123456789012:root",
        "ConsumptionConfiguration": {
            "RenewType": "Monthly",
            "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 60},
        },
        "ClientToken": uuid.uuid4().hex,
    }
    params.update(overrides)
    return lm.create_license(**params)["LicenseArn"]


# ---- licenses ----------------------------------------------------------------


def test_create_get_and_list_licenses(lm):
    arn = new_license(lm, LicenseMetadata=[{"Name": "tier", "Value": "gold"}])
    assert arn.startswith("arn:aws:license-manager::123456789012:license:l-")
    got = lm.get_license(LicenseArn=arn)["License"]
    assert got["LicenseName"] == "Widget license"
    assert got["Status"] == "AVAILABLE"
    assert got["Issuer"]["KeyFingerprint"] == "aws:123456789012:Widget Co:issuer-fingerprint"
    assert got["Validity"] == {"Begin": "2025-01-01T00:00:00Z", "End": "2035-01-01T00:00:00Z"}
    assert got["LicenseMetadata"] == [{"Name": "tier", "Value": "gold"}]
    listed = {lic["LicenseArn"] for lic in lm.list_licenses()["Licenses"]}
    assert listed == {arn, DEFAULT_LICENSE_ARN}
    only = lm.list_licenses(Filters=[{"Name": "ProductSKU", "Values": ["WIDGET-1"]}])["Licenses"]
    assert [lic["LicenseArn"] for lic in only] == [arn]


def test_create_license_is_idempotent_on_client_token(lm):
    first = new_license(lm, ClientToken="same")
    assert new_license(lm, ClientToken="same") == first
    with pytest.raises(ClientError) as exc:
        new_license(lm, ClientToken="same", LicenseName="Other")
    assert code_of(exc) == "ValidationException"


def test_create_license_requires_every_member_boto3_requires(backend):
    raw = backend.client(validate=False)
    with pytest.raises(ClientError) as exc:
        raw.create_license(LicenseName="x", ClientToken="t")
    message = exc.value.response["Error"]["Message"]
    assert code_of(exc) == "ValidationException"
    assert message.startswith("8 validation errors detected: ")
    assert "Value null at 'productName' failed to satisfy constraint: Member must not be null" in message


def test_get_unknown_license_and_unknown_filter(lm):
    missing = "arn:aws:license-manager::123456789012:license:l-ffffffffffffffffffffffffffffffff"
    with pytest.raises(ClientError) as exc:
        lm.get_license(LicenseArn=missing)
    assert code_of(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:
        lm.list_licenses(Filters=[{"Name": "Colour", "Values": ["red"]}])
    assert code_of(exc) == "InvalidParameterValueException"


def test_test_side_license_helper(cloud, lm):
    lic = cloud.licensemanager.create_license(product_sku="HELPER-SKU")
    assert lm.get_license(LicenseArn=lic.arn)["License"]["ProductSKU"] == "HELPER-SKU"


# ---- tokens ------------------------------------------------------------------


def test_create_token_returns_a_jwt_refresh_token(cloud, lm):
    out = lm.create_token(
        LicenseArn=DEFAULT_LICENSE_ARN,
        ClientToken="c1",
        RoleArns=["arn:aws:iam::123456789012:role/LicenseRole"],
        TokenProperties=["instance:i-1", "env:test"],
    )
    assert out["TokenType"] == "REFRESH_TOKEN"
    claims = jwt.decode(
        out["Token"], cloud.licensemanager.public_key, algorithms=["ES256"], audience=DEFAULT_LICENSE_ARN
    )
    assert claims["aud"] == DEFAULT_LICENSE_ARN
    assert claims["amr"] == ["instance:i-1", "env:test"]
    assert claims["roles"] == ["arn:aws:iam::123456789012:role/LicenseRole"]
    assert claims["jti"] == out["TokenId"]
    # default lifetime: 365 days counted from creation
    assert claims["exp"] - claims["iat"] == 365 * 86400


def test_expiration_in_days_and_expiry_on_the_mock_clock(local):
    cloud, lm = local, lm_client()
    token = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="c2", ExpirationInDays=2)["Token"]
    claims = cloud.licensemanager.decode(token)
    assert claims["exp"] - claims["iat"] == 2 * 86400
    cloud.clock.advance(days=1, hours=23)
    assert lm.get_access_token(Token=token)["AccessToken"]
    cloud.clock.advance(hours=2)
    with pytest.raises(ClientError) as exc:
        lm.get_access_token(Token=token)
    assert code_of(exc) == "AuthorizationException"
    assert "expired" in exc.value.response["Error"]["Message"]


def test_create_token_for_unknown_license(lm):
    with pytest.raises(ClientError) as exc:
        lm.create_token(
            LicenseArn="arn:aws:license-manager::123456789012:license:l-00000000000000000000000000000000",
            ClientToken="c",
        )
    assert code_of(exc) == "ResourceNotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_create_token_validation(lm):
    with pytest.raises(ClientError) as exc:
        lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="c", TokenProperties=["a", "b", "c", "d"])
    assert code_of(exc) == "ValidationException"
    assert exc.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '[a, b, c, d]' at 'tokenProperties' failed to satisfy constraint: "
        "Member must have length less than or equal to 3"
    )
    with pytest.raises(ClientError) as exc:
        lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="has space")
    assert "Member must satisfy regular expression pattern: \\S+" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="c", RoleArns=["not-an-arn"])
    assert "at 'roleArns.1.member' failed to satisfy constraint" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="c", ExpirationInDays=0)
    assert code_of(exc) == "ValidationException"


def test_client_token_idempotency_window(local):
    cloud, lm = local, lm_client()
    first = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="idem")
    again = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="idem")
    assert again["TokenId"] == first["TokenId"] and again["Token"] == first["Token"]
    with pytest.raises(ClientError) as exc:
        lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="idem", TokenProperties=["different"])
    assert code_of(exc) == "ValidationException"
    cloud.clock.advance(minutes=11)
    later = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="idem")
    assert later["TokenId"] != first["TokenId"]
    assert len(lm.list_tokens()["Tokens"]) == 2


def test_get_access_token_is_a_one_hour_jwt(local):
    cloud, lm = local, lm_client()
    refresh = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="c", TokenProperties=["p1", "p2"])
    access = lm.get_access_token(Token=refresh["Token"], TokenProperties=["p1"])["AccessToken"]
    claims = jwt.decode(access, cloud.licensemanager.public_key, algorithms=["ES256"], audience=DEFAULT_LICENSE_ARN)
    assert claims["exp"] - claims["iat"] == 3600
    # the TokenProperties, and the token issuer's account that the consumption role's trust policy checks
    assert claims["amr"] == ["p1", "p2", "aws:license-manager:token-issuer-account-id:123456789012"]
    assert claims["iss"] == "https://openid-license-manager.amazonaws.com"
    assert claims["rti"] == refresh["TokenId"]
    assert access != refresh["Token"]
    # the access token expires on the mock clock, as code under test would see it
    cloud.clock.advance(minutes=61)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(access, cloud.licensemanager.public_key, algorithms=["ES256"], audience=DEFAULT_LICENSE_ARN)


def test_token_properties_must_be_present_in_the_refresh_token(lm):
    token = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="c", TokenProperties=["p1"])["Token"]
    with pytest.raises(ClientError) as exc:
        lm.get_access_token(Token=token, TokenProperties=["p1", "p9"])
    assert code_of(exc) == "ValidationException"
    assert "p9" in exc.value.response["Error"]["Message"]


def test_tampered_malformed_deleted_and_foreign_tokens_are_refused(backend, cloud, lm):
    out = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="c")
    header, payload, signature = out["Token"].split(".")
    # tampered: same claims but another signature; and claims altered keeping the signature
    forged = jwt.encode(
        cloud.licensemanager.decode(out["Token"]), "not-our-key-but-32-bytes-long-ok!", algorithm="HS256"
    )
    for bad in (f"{header}.{payload}.{signature[::-1]}", forged):
        with pytest.raises(ClientError) as exc:
            lm.get_access_token(Token=bad)
        assert code_of(exc) == "AuthorizationException"
    with pytest.raises(ClientError) as exc:
        lm.get_access_token(Token="not-a-jwt")
    assert code_of(exc) == "ValidationException"
    # foreign: a token of another account
    cloud.credentials.add_aws("AKIDOTHERACCOUNT", "other-secret", account_id="210987654321")
    other = backend.client(key="AKIDOTHERACCOUNT", secret="other-secret")
    with pytest.raises(ClientError) as exc:
        other.get_access_token(Token=out["Token"])
    assert code_of(exc) == "AccessDeniedException"
    # deleted
    lm.delete_token(TokenId=out["TokenId"])
    with pytest.raises(ClientError) as exc:
        lm.get_access_token(Token=out["Token"])
    assert code_of(exc) == "AuthorizationException"
    assert "deleted" in exc.value.response["Error"]["Message"]


def test_list_tokens_filters_and_ids(lm):
    second = new_license(lm)
    a = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="a")["TokenId"]
    b = lm.create_token(LicenseArn=second, ClientToken="b")["TokenId"]
    listed = lm.list_tokens()["Tokens"]
    assert [t["TokenId"] for t in listed] == [a, b]
    assert listed[0]["LicenseArn"] == DEFAULT_LICENSE_ARN and listed[0]["TokenType"] == "REFRESH_TOKEN"
    assert listed[0]["ExpirationTime"].endswith("Z")
    by_license = lm.list_tokens(Filters=[{"Name": "LicenseArns", "Values": [second]}])["Tokens"]
    assert [t["TokenId"] for t in by_license] == [b]
    assert [t["TokenId"] for t in lm.list_tokens(TokenIds=[a])["Tokens"]] == [a]
    with pytest.raises(ClientError) as exc:
        lm.list_tokens(Filters=[{"Name": "Nope", "Values": ["x"]}])
    assert code_of(exc) == "ValidationException"


def test_list_tokens_pages_with_a_real_botocore_paginator(lm):
    created = [lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=f"t{i}")["TokenId"] for i in range(7)]
    first = lm.list_tokens(MaxResults=3)
    assert len(first["Tokens"]) == 3 and "NextToken" in first
    # botocore ships no ListTokens paginator; drive botocore's own Paginator with the operation's shape
    paginator = Paginator(
        lm.list_tokens,
        {"input_token": "NextToken", "output_token": "NextToken", "limit_key": "MaxResults", "result_key": "Tokens"},
        lm.meta.service_model.operation_model("ListTokens"),
    )
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["Tokens"]) for p in pages] == [3, 3, 1]
    assert [t["TokenId"] for p in pages for t in p["Tokens"]] == created
    with pytest.raises(ClientError) as exc:
        lm.list_tokens(NextToken="garbage")
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        lm.list_tokens(MaxResults=101)
    assert "Member must have value less than or equal to 100" in exc.value.response["Error"]["Message"]


def test_delete_token(lm):
    token_id = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="d")["TokenId"]
    lm.delete_token(TokenId=token_id)
    assert lm.list_tokens()["Tokens"] == []
    with pytest.raises(ClientError) as exc:
        lm.delete_token(TokenId=token_id)
    assert code_of(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        lm.delete_token(TokenId="unknown")
    assert code_of(exc) == "ResourceNotFoundException"


def test_delete_token_must_be_called_in_the_home_region(backend, lm):
    token_id = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="r")["TokenId"]
    west = backend.client(region="us-west-2")
    with pytest.raises(ClientError) as exc:
        west.delete_token(TokenId=token_id)
    assert code_of(exc) == "RedirectException"
    assert exc.value.response["Location"] == "https://license-manager.us-east-1.amazonaws.com"
    assert west.list_tokens()["Tokens"] == []  # tokens live in their license's home Region
    lm.delete_token(TokenId=token_id)


def test_unknown_operation_and_bad_json(backend):
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def signed(target: str, body: bytes):
        request = AWSRequest(
            "POST",
            backend.url,
            data=body,
            headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        )
        SigV4Auth(Credentials("testing", "testing"), "license-manager", "us-east-1").add_auth(request)
        return requests.post(request.url, data=body, headers=dict(request.headers))

    reply = signed("AWSLicenseManager.MintMoney", b"{}")
    assert reply.status_code == 400
    assert reply.json()["__type"].endswith("UnknownOperationException")
    reply = signed("AWSLicenseManager.ListTokens", b"{not json")
    assert reply.status_code == 400
    assert reply.json()["__type"].endswith("SerializationException")
    reply = signed("AWSLicenseManager.ListTokens", b'{"MaxResults": "ten"}')
    assert reply.status_code == 400 and reply.json()["__type"].endswith("SerializationException")
    assert reply.headers["x-amzn-RequestId"]


def test_concurrent_creates_and_exchanges_keep_state_whole(backend, cloud):
    clients = [backend.client() for _ in range(4)]
    errors: list = []

    def work(client, n):
        try:
            for i in range(10):
                token = client.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=f"w{n}-{i}")["Token"]
                client.get_access_token(Token=token)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(cloud.licensemanager.tokens) == 40
    assert len({t.token_id for t in cloud.licensemanager.tokens}) == 40
    assert len(cloud.requests.filter(operation="GetAccessToken")) == 40


def test_rs256_setting_and_jwks(monkeypatch):
    with mock_cloud(settings={"licensemanager": {"jwt_algorithm": "RS256", "access_token_seconds": 900}}) as cloud:
        lm = lm_client()
        token = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="rs")["Token"]
        access = lm.get_access_token(Token=token)["AccessToken"]
        jwks = cloud.licensemanager.jwks()
        key = jwt.PyJWK(jwks["keys"][0])
        assert jwks["keys"][0]["kty"] == "RSA" and jwks["keys"][0]["kid"] == jwt.get_unverified_header(access)["kid"]
        claims = jwt.decode(access, key.key, algorithms=["RS256"], audience=DEFAULT_LICENSE_ARN)
        assert claims["exp"] - claims["iat"] == 900


def test_hs256_setting_publishes_the_shared_key():
    with mock_cloud(settings={"licensemanager": {"jwt_algorithm": "HS256"}}) as cloud:
        lm = lm_client()
        token = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="hs")["Token"]
        access = lm.get_access_token(Token=token)["AccessToken"]
        jwk = cloud.licensemanager.jwks()["keys"][0]
        assert jwk["kty"] == "oct" and jwk["alg"] == "HS256"
        claims = jwt.decode(access, jwt.PyJWK(jwk).key, algorithms=["HS256"], audience=DEFAULT_LICENSE_ARN)
        assert claims["rti"] == cloud.licensemanager.decode(token)["jti"]


def test_concurrent_create_token_with_one_client_token_makes_one_token(backend, cloud):
    """Racing retries of one CreateToken (same ClientToken) must not mint two tokens."""
    clients = [backend.client() for _ in range(6)]
    results: list = []
    barrier = threading.Barrier(len(clients))

    def create(client):
        barrier.wait(timeout=10)
        results.append(client.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="race")["TokenId"])

    threads = [threading.Thread(target=create, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 6 and len(set(results)) == 1
    assert len(cloud.licensemanager.tokens) == 1


def test_enum_and_minimum_constraints_in_the_aws_wording(backend):
    raw = backend.client(validate=False)
    with pytest.raises(ClientError) as exc:
        new_license(raw, Entitlements=[{"Name": "Seats", "Unit": "Parsecs"}])
    message = exc.value.response["Error"]["Message"]
    assert message.startswith("1 validation error detected: Value 'Parsecs' at 'entitlements.1.member.unit' ")
    assert "Member must satisfy enum value set: [Count, None, Seconds," in message
    with pytest.raises(ClientError) as exc:
        raw.list_tokens(MaxResults=0)
    assert exc.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
