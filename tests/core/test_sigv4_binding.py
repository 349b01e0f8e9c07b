"""SigV4 binds the body, refuses foreign session tokens, and accepts presigned (query-string) requests by AWS's rules.

Clients are botocore's own: ``SigV4Auth`` for headers, ``SigV4QueryAuth`` and
``generate_presigned_url`` for query strings; requests sends what they signed.
Every test runs in-process and against the live server.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import pytest
import requests
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.helpers import DEFAULT_LICENSE_ARN, REGION, aws_signed_headers, lm_client

HTTP_TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long
LM_TARGET = "AWSLicenseManager.{}"
JSON_11 = "application/x-amz-json-1.1"
WEEK = 604800


class Backend:
    def __init__(self, cloud, server_url: str | None) -> None:
        self.cloud, self.server_url = cloud, server_url

    @property
    def lm_url(self) -> str:
        return (self.server_url or "https://license-manager.us-east-1.amazonaws.com") + "/"

    @property
    def amplify_url(self) -> str:
        return self.server_url or "https://amplifyuibuilder.us-east-1.amazonaws.com"

    def freeze_at_signing(self, url: str) -> None:
        """Stand the emulator's clock still at the presigned URL's X-Amz-Date (the server's clock is
        its own; in-process it is this process's too)."""
        stamp = dict(parse_qsl(urlsplit(url).query))["X-Amz-Date"]
        self.cloud.clock.freeze(datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc))


@pytest.fixture
def make_backend():
    return Backend


def lm_headers(operation: str) -> dict:
    return {"X-Amz-Target": LM_TARGET.format(operation), "Content-Type": JSON_11}


def coral_error(reply: requests.Response) -> tuple[int, str, str]:
    body = reply.json()
    return reply.status_code, body["__type"].rpartition("#")[2], body.get("message", body.get("Message", ""))


# ---- the body is bound -------------------------------------------------------------------


def test_a_captured_request_with_a_forged_body_is_refused(backend):
    """The issue's replay: the headers of a signed CreateToken, sent again with another body."""
    honest = json.dumps({"LicenseArn": DEFAULT_LICENSE_ARN, "ClientToken": "c1"}).encode()
    headers = aws_signed_headers("POST", backend.lm_url, honest, "license-manager", lm_headers("CreateToken"))
    forged = json.dumps(
        {"LicenseArn": DEFAULT_LICENSE_ARN, "ClientToken": "c1", "TokenProperties": ["admin"], "ExpirationInDays": 3650}
    ).encode()
    for extra in ({}, {"X-Amz-Content-Sha256": hashlib.sha256(honest).hexdigest()}):
        reply = requests.post(backend.lm_url, data=forged, headers={**headers, **extra}, timeout=HTTP_TIMEOUT)
        status, code, message = coral_error(reply)
        assert (status, code) == (400, "InvalidSignatureException")
        assert (
            hashlib.sha256(forged).hexdigest() in message
        )  # the canonical request AWS computed, from the body received
    assert backend.cloud.licensemanager.tokens == []
    reply = requests.post(backend.lm_url, data=honest, headers=headers, timeout=HTTP_TIMEOUT)
    assert reply.status_code == 200 and [t.token_properties for t in backend.cloud.licensemanager.tokens] == [[]]


@pytest.mark.parametrize("declared", ["UNSIGNED-PAYLOAD", "0" * 64, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
def test_a_payload_hash_header_other_than_the_bodys_is_refused_even_when_signed(backend, declared):
    body = b"{}"
    headers = aws_signed_headers(
        "POST", backend.lm_url, body, "license-manager", {**lm_headers("ListTokens"), "X-Amz-Content-Sha256": declared}
    )
    assert "x-amz-content-sha256" in headers["Authorization"]  # signed as a header; botocore hashed the real body
    reply = requests.post(backend.lm_url, data=body, headers=headers, timeout=HTTP_TIMEOUT)
    assert coral_error(reply)[:2] == (400, "InvalidSignatureException")


def test_a_payload_hash_header_that_matches_the_body_is_accepted(backend):
    body = b"{}"
    headers = aws_signed_headers(
        "POST",
        backend.lm_url,
        body,
        "license-manager",
        {**lm_headers("ListTokens"), "X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()},
    )
    assert requests.post(backend.lm_url, data=body, headers=headers, timeout=HTTP_TIMEOUT).json() == {"Tokens": []}


def test_amplify_binds_the_body_and_answers_403(backend):
    url = f"{backend.amplify_url}/tokens/figma/refresh"
    headers = aws_signed_headers(
        "POST", url, b'{"token":"a"}', "amplifyuibuilder", {"Content-Type": "application/json"}
    )
    reply = requests.post(url, data=b'{"token":"b"}', headers=headers, timeout=HTTP_TIMEOUT)
    assert (reply.status_code, reply.headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    headers = aws_signed_headers(
        "POST",
        url,
        b'{"token":"a"}',
        "amplifyuibuilder",
        {"Content-Type": "application/json", "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"},
    )
    reply = requests.post(url, data=b'{"token":"a"}', headers=headers, timeout=HTTP_TIMEOUT)
    assert (reply.status_code, reply.headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")


# ---- session tokens ----------------------------------------------------------------------


def test_a_session_token_with_a_long_term_key_is_refused(backend):
    client = boto3.client(
        "license-manager",
        region_name=REGION,
        endpoint_url=backend.server_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="FwoGZXIvYXdzEXAMPLE",
    )
    with pytest.raises(ClientError) as exc:
        client.list_tokens()
    error = exc.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert lm_client(backend.server_url).list_tokens()["Tokens"] == []  # the same key without a token is fine


def test_temporary_keys_need_their_own_session_token_presigned_too(backend):
    backend.cloud.credentials.add_aws("ASIATEMPORARYKEY", "temporary-secret", session_token="the-session")
    for token, ok in [("the-session", True), ("another-session", False), (None, False)]:
        url = presign(backend, "ListTokens", credentials=Credentials("ASIATEMPORARYKEY", "temporary-secret", token))
        reply = requests.post(url, headers=lm_headers("ListTokens"), timeout=HTTP_TIMEOUT)
        assert (reply.status_code == 200) is ok, reply.text
        if not ok:
            assert coral_error(reply)[1] == "UnrecognizedClientException"


# ---- presigned requests ----------------------------------------------------------------------


def presign(
    backend, operation: str, *, expires: int = 300, credentials: Credentials | None = None, body: bytes = b""
) -> str:
    """botocore's SigV4QueryAuth over a License Manager request (headers signed, the body's hash in the signature)."""
    request = AWSRequest("POST", backend.lm_url, data=body, headers=lm_headers(operation))
    SigV4QueryAuth(
        credentials or Credentials("testing", "testing"), "license-manager", REGION, expires=expires
    ).add_auth(request)
    return request.url


def test_sigv4_query_auth_is_accepted(backend):
    lm = lm_client(backend.server_url)
    created = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="p1")
    url = presign(backend, "ListTokens")
    assert "X-Amz-Signature=" in url and "Authorization" not in lm_headers("ListTokens")
    reply = requests.post(url, headers=lm_headers("ListTokens"), timeout=HTTP_TIMEOUT)
    assert reply.status_code == 200, reply.text
    assert [t["TokenId"] for t in reply.json()["Tokens"]] == [created["TokenId"]]


def test_generate_presigned_url_is_accepted(backend):
    client = lm_client(backend.server_url)
    url = client.generate_presigned_url("list_tokens", Params={}, ExpiresIn=60)
    reply = requests.post(url, headers=lm_headers("ListTokens"), timeout=HTTP_TIMEOUT)
    assert reply.status_code == 200 and reply.json() == {"Tokens": []}
    # botocore moves JSON input into the query string, which a JSON protocol never reads: Token is missing
    url = client.generate_presigned_url("get_access_token", Params={"Token": "eyJ.eyJ.c2ln"}, ExpiresIn=60)
    assert "Token=eyJ.eyJ.c2ln" in url
    status, code, message = coral_error(requests.post(url, headers=lm_headers("GetAccessToken"), timeout=HTTP_TIMEOUT))
    assert (status, code) == (400, "ValidationException") and "'token'" in message


def test_presigned_amplify_requests_reach_amplify(backend):
    """Routed by the query's credential scope, and never taken for Figma's on the server's own host."""
    client = boto3.client(
        "amplifyuibuilder",
        region_name=REGION,
        endpoint_url=backend.server_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    url = client.generate_presigned_url(
        "refresh_token", Params={"provider": "figma", "refreshTokenBody": {"token": "t"}}, ExpiresIn=60
    )
    reply = requests.post(url, headers={"Content-Type": "application/json"}, timeout=HTTP_TIMEOUT)
    assert (reply.status_code, reply.headers["x-amzn-ErrorType"]) == (400, "InvalidParameterException"), reply.text


@pytest.mark.parametrize("seconds", [1, 300, WEEK])
def test_a_presigned_request_lives_x_amz_expires_seconds_on_the_mock_clock(backend, seconds):
    url = presign(backend, "ListTokens", expires=seconds)
    backend.freeze_at_signing(url)
    backend.cloud.clock.advance(seconds)
    assert requests.post(url, headers=lm_headers("ListTokens"), timeout=HTTP_TIMEOUT).status_code == 200
    backend.cloud.clock.advance(1)
    status, code, message = coral_error(requests.post(url, headers=lm_headers("ListTokens"), timeout=HTTP_TIMEOUT))
    assert (status, code) == (400, "InvalidSignatureException") and message.startswith("Signature expired: ")
    assert f"- {seconds} sec.)" in message


def test_a_presigned_request_from_the_future_is_not_yet_current(backend):
    url = presign(backend, "ListTokens")
    backend.freeze_at_signing(url)
    backend.cloud.clock.advance(-301)
    _status, code, message = coral_error(requests.post(url, headers=lm_headers("ListTokens"), timeout=HTTP_TIMEOUT))
    assert (code, message.split(":")[0]) == ("InvalidSignatureException", "Signature not yet current")


def with_param(url: str, name: str, value: str | None) -> str:
    """The URL with one query parameter replaced (None: removed), the order otherwise kept."""
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    if value is not None:
        pairs.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(pairs)))


@pytest.mark.parametrize(
    "name, value, code, fragment",
    [
        ("X-Amz-Expires", str(WEEK + 1), "IncompleteSignatureException", "less than a week"),
        ("X-Amz-Expires", "0", "IncompleteSignatureException", "at least 1 second"),
        ("X-Amz-Expires", "-5", "IncompleteSignatureException", "non-negative"),
        ("X-Amz-Expires", "1e3", "IncompleteSignatureException", "should be a number"),
        ("X-Amz-Expires", "\u00b2", "IncompleteSignatureException", "should be a number"),
        ("X-Amz-Expires", None, "IncompleteSignatureException", "'X-Amz-Expires'"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA512", "IncompleteSignatureException", "Unsupported AWS 'algorithm'"),
        ("X-Amz-Algorithm", None, "IncompleteSignatureException", "'X-Amz-Algorithm'"),
        ("X-Amz-Signature", None, "IncompleteSignatureException", "'X-Amz-Signature'"),
        ("X-Amz-SignedHeaders", None, "IncompleteSignatureException", "'X-Amz-SignedHeaders'"),
        (
            "X-Amz-Credential",
            "testing/20240101/us-east-1/license-manager",
            "IncompleteSignatureException",
            "5 slash-delimited",
        ),
        (
            "X-Amz-Credential",
            "nobody/{date}/us-east-1/license-manager/aws4_request",
            "UnrecognizedClientException",
            "security token",
        ),
        (
            "X-Amz-Credential",
            "testing/{date}/us-east-1/sns/aws4_request",
            "InvalidSignatureException",
            "correct service",
        ),
        (
            "X-Amz-Credential",
            "testing/{date}/eu-west-1/license-manager/aws4_request",
            "InvalidSignatureException",
            "does not match",
        ),
        (
            "X-Amz-Credential",
            "testing/20000101/us-east-1/license-manager/aws4_request",
            "InvalidSignatureException",
            "Date in Credential scope",
        ),
        ("X-Amz-Date", "2024-01-01T00:00:00Z", "IncompleteSignatureException", "ISO-8601"),
        ("X-Amz-SignedHeaders", "content-type;x-amz-target", "IncompleteSignatureException", "'Host'"),
        ("X-Amz-SignedHeaders", "host", "InvalidSignatureException", "does not match"),
        ("X-Amz-Signature", "0" * 64, "InvalidSignatureException", "does not match"),
        ("X-Amz-Signature", "\u00e9" * 64, "InvalidSignatureException", "does not match"),
        ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD", "InvalidSignatureException", "does not match"),
        ("X-Amz-Security-Token", "a-token", "UnrecognizedClientException", "security token"),
        ("MaxResults", "5", "InvalidSignatureException", "does not match"),  # an added parameter is not signed
    ],
)
def test_every_component_of_a_presigned_request_is_verified(backend, name, value, code, fragment):
    url = presign(backend, "ListTokens")
    date = dict(parse_qsl(urlsplit(url).query))["X-Amz-Date"][:8]
    reply = requests.post(
        with_param(url, name, None if value is None else value.format(date=date)),
        headers=lm_headers("ListTokens"),
        timeout=HTTP_TIMEOUT,
    )
    status, got, message = coral_error(reply)
    assert (status, got) == (400, code), message
    assert fragment in message


def test_a_presigned_request_is_bound_to_its_headers_method_and_body(backend):
    url = presign(backend, "ListTokens")
    for method, headers, body in [
        ("POST", lm_headers("ListLicenses"), b""),  # another X-Amz-Target than signed
        ("PUT", lm_headers("ListTokens"), b""),
        ("POST", lm_headers("ListTokens"), b'{"MaxResults":1}'),  # a body the signature did not cover
    ]:
        reply = requests.request(method, url, data=body, headers=headers, timeout=HTTP_TIMEOUT)
        assert coral_error(reply)[:2] == (400, "InvalidSignatureException")


def test_a_presigned_request_with_a_payload_hash_header_other_than_the_bodys_is_refused(backend):
    url = presign(backend, "ListTokens")
    for declared in ("UNSIGNED-PAYLOAD", hashlib.sha256(b"{}").hexdigest()):
        reply = requests.post(
            url, headers={**lm_headers("ListTokens"), "X-Amz-Content-Sha256": declared}, timeout=HTTP_TIMEOUT
        )
        assert coral_error(reply)[:2] == (400, "InvalidSignatureException")
    headers = {**lm_headers("ListTokens"), "X-Amz-Content-Sha256": hashlib.sha256(b"").hexdigest()}
    assert requests.post(url, headers=headers, timeout=HTTP_TIMEOUT).status_code == 200


def test_header_and_query_authentication_together_are_refused(backend):
    url = presign(backend, "ListTokens")
    headers = aws_signed_headers("POST", url, b"", "license-manager", lm_headers("ListTokens"))
    status, code, message = coral_error(requests.post(url, headers=headers, timeout=HTTP_TIMEOUT))
    assert (status, code) == (400, "IncompleteSignatureException") and "Only one auth mechanism" in message
