"""SigV4 verification: every front-door error as AWS's JSON protocol returns it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from mockcloud.core.auth import sigv4
from mockcloud.core.credentials import Credentials
from mockcloud.core.errors import ServiceError
from mockcloud.core.request import Request, build_environ
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client

LM_URL = "https://license-manager.us-east-1.amazonaws.com/"
JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSLicenseManager.ListTokens"}


def error_of(excinfo) -> tuple[str, str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


VECTOR_NOW = datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc).timestamp()


def vector_request(url: str, signature: str) -> tuple[Request, Credentials]:
    """A request from AWS's SigV4 test suite (key AKIDEXAMPLE, 2015-08-30 12:36:00Z, service 'service')."""
    credentials = Credentials()
    credentials.add_aws("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    headers = {
        "Host": "example.amazonaws.com",
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}",
    }
    return Request(build_environ("GET", url, headers, b"")), credentials


def test_aws_published_test_vector_get_vanilla():
    """AWS's SigV4 test suite, case get-vanilla: our canonical form and signature agree with it."""
    signature = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    request, credentials = vector_request("https://example.amazonaws.com/", signature)
    principal = sigv4.verify(request, credentials, VECTOR_NOW, service="service", body=b"")
    assert principal.access_key_id == "AKIDEXAMPLE" and principal.region == "us-east-1"
    assert sigv4.canonical_request(request, ["host", "x-amz-date"], b"") == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    tampered, _ = vector_request("https://example.amazonaws.com/", signature[:-1] + "0")
    with pytest.raises(ServiceError) as exc:
        sigv4.verify(tampered, credentials, VECTOR_NOW, service="service", body=b"")
    assert exc.value.code == "InvalidSignatureException"


def test_aws_published_test_vector_get_vanilla_query_order():
    """Case get-vanilla-query-order-key-case: parameters are sorted and re-encoded before signing."""
    request, credentials = vector_request(
        "https://example.amazonaws.com/?Param2=value2&Param1=value1",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    )
    assert sigv4.verify(request, credentials, VECTOR_NOW, service="service", body=b"").access_key_id == "AKIDEXAMPLE"


@pytest.fixture
def cloud():
    with mock_cloud(patch_time=False) as cloud:
        yield cloud


def test_unknown_access_key(cloud):
    with pytest.raises(ClientError) as exc:
        lm_client(key="AKIDUNKNOWN", secret="x").list_tokens()
    assert error_of(exc) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        400,
    )


def test_wrong_secret(cloud):
    with pytest.raises(ClientError) as exc:
        lm_client(secret="not-the-secret").list_tokens()
    code, message, status = error_of(exc)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    assert "The Canonical String for this request should have been\n'POST\n/\n\n" in message
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message


def test_documentation_example_key_pair_is_accepted(cloud):
    client = lm_client(key="AKIAIOSFODNN7EXAMPLE", secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert client.list_tokens()["Tokens"] == []


def test_registered_key_pair_and_session_token(cloud):
    cloud.credentials.add_aws("ASIATEMPORARY", "temp-secret", session_token="the-session")
    import boto3

    ok = boto3.client(
        "license-manager",
        region_name="us-east-1",
        aws_access_key_id="ASIATEMPORARY",
        aws_secret_access_key="temp-secret",
        aws_session_token="the-session",
    )
    assert ok.list_tokens()["Tokens"] == []
    bad = boto3.client(
        "license-manager",
        region_name="us-east-1",
        aws_access_key_id="ASIATEMPORARY",
        aws_secret_access_key="temp-secret",
        aws_session_token="another-session",
    )
    with pytest.raises(ClientError) as exc:
        bad.list_tokens()
    assert error_of(exc)[0] == "UnrecognizedClientException"


@pytest.mark.parametrize("minutes", [6, 60 * 24])
def test_signature_expired_by_the_mock_clock(cloud, minutes):
    """The emulator's clock runs ahead of the client's: its time stamp is too old."""
    lm = lm_client()
    cloud.clock.advance(minutes=minutes)
    with pytest.raises(ClientError) as exc:
        lm.list_tokens()
    code, message, status = error_of(exc)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("Signature expired: ") and message.endswith(" - 5 min.)")
    assert " is now earlier than " in message


def test_signature_not_yet_current(cloud):
    lm = lm_client()
    cloud.clock.advance(minutes=-6)
    with pytest.raises(ClientError) as exc:
        lm.list_tokens()
    code, message, _ = error_of(exc)
    assert code == "InvalidSignatureException"
    assert message.startswith("Signature not yet current: ") and message.endswith(" + 5 min.)")


def test_skew_within_five_minutes_is_accepted(cloud):
    lm = lm_client()
    cloud.clock.advance(minutes=4)
    assert lm.list_tokens()["Tokens"] == []
    cloud.clock.advance(minutes=-8)
    assert lm.list_tokens()["Tokens"] == []


def test_missing_authentication(cloud):
    reply = requests.post(LM_URL, data=b"{}", headers=JSON_HEADERS)
    assert reply.status_code == 400
    assert reply.json() == {
        "__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
        "message": "Request is missing Authentication Token",
    }
    assert reply.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException")


def test_incomplete_and_malformed_authorization(cloud):
    headers = dict(
        JSON_HEADERS,
        Authorization="AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/license-manager/aws4_request",
    )
    reply = requests.post(LM_URL, data=b"{}", headers=headers)
    assert reply.status_code == 400
    body = reply.json()
    assert body["__type"].endswith("IncompleteSignatureException")
    assert "Authorization header requires 'Signature' parameter." in body["message"]
    assert "Authorization header requires 'SignedHeaders' parameter." in body["message"]
    headers = dict(
        JSON_HEADERS,
        Authorization="AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/license-manager/aws4_request, "
        "SignedHeaders=host, Signature=abc",
    )
    reply = requests.post(LM_URL, data=b"{}", headers=headers)
    assert reply.json()["__type"].endswith("IncompleteSignatureException")
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in reply.json()["message"]
    headers = dict(JSON_HEADERS, Authorization="AWS3 whatever")
    reply = requests.post(LM_URL, data=b"{}", headers=headers)
    assert reply.json()["__type"].endswith("IncompleteSignatureException")


def test_credential_scoped_to_another_service(cloud):
    """A request signed for service 'sts' but sent to License Manager's host."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    request = AWSRequest("POST", LM_URL, data=b"{}", headers=JSON_HEADERS)
    SigV4Auth(BotoCredentials("testing", "testing"), "sts", "us-east-1").add_auth(request)
    reply = requests.post(LM_URL, data=b"{}", headers=dict(request.headers))
    assert reply.status_code == 400
    assert reply.json()["__type"].endswith("InvalidSignatureException")
    assert "Credential should be scoped to correct service: 'license-manager'" in reply.json()["message"]


def test_errors_do_not_change_state(cloud):
    lm = lm_client()
    bad = lm_client(secret="wrong")
    with pytest.raises(ClientError):
        bad.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="x")
    assert lm.list_tokens()["Tokens"] == []
