"""Hostile input answers the service's own client error, never an internal one (issue 11's probe list).

Each case of the probe runs in-process and against the live server, sent by
requests (signed by botocore's own SigV4 signer where the service needs it)
or by boto3 where boto3 sends it. The framing cases (a Content-Length that is
no number, broken chunks) are checked on the application, whatever server is
in front of it.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import xml.etree.ElementTree as ET
from urllib.parse import quote, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from mockcloud.core.request import build_environ
from tests.helpers import DEFAULT_LICENSE_ARN, aws_signed_headers, lm_client
from tests.service_formats import server_refused_framing

HTTP_TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long
DEEP = b"[" * 100_000 + b"]" * 100_000
LM_HOST = "https://license-manager.us-east-1.amazonaws.com"
AMPLIFY_HOST = "https://amplifyuibuilder.us-east-1.amazonaws.com"
LS_HOST = "https://ls.amazonaws.com"
ECD_HOST = "https://ecd.cn-hangzhou.aliyuncs.com"
LS_ERRORS = "{http://ls.amazonaws.com/doc/2007-06-05/}"
# botocore's ISO8601DateTime pattern for License Manager: years may have more than four digits
ISO8601 = re.compile(
    r"^(-?(?:[1-9][0-9]*)?[0-9]{4})-(1[0-2]|0[1-9])-(3[0-1]|0[1-9]|[1-2][0-9])"
    r"T(2[0-3]|[0-1][0-9]):([0-5][0-9]):([0-5][0-9])(\.[0-9]+)?(Z|[+-](?:2[ 0-3]|[0-1][0-9]):[0-5][0-9])+$"
)


class Target:
    """One backend: where each service answers, and a requests sender."""

    def __init__(self, cloud, server_url: str | None) -> None:
        self.cloud, self.server_url = cloud, server_url

    def url(self, real_host: str, path: str = "/") -> str:
        return (self.server_url or real_host) + path

    def aws(self, service: str, real_host: str, path: str, body: bytes, headers: dict) -> requests.Response:
        url = self.url(real_host, path)
        signed = aws_signed_headers("POST", url, body, service, headers)
        return requests.post(url, data=body, headers=signed, timeout=HTTP_TIMEOUT)

    def lm(self, operation: str, body: bytes | dict) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"X-Amz-Target": f"AWSLicenseManager.{operation}", "Content-Type": "application/x-amz-json-1.1"}
        return self.aws("license-manager", LM_HOST, "/", data, headers)

    def amplify(self, path: str, body: bytes) -> requests.Response:
        return self.aws("amplifyuibuilder", AMPLIFY_HOST, path, body, {"Content-Type": "application/json"})

    def ls(self, params: dict) -> requests.Response:
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
        return requests.get(self.url(LS_HOST, "/?" + query), timeout=HTTP_TIMEOUT)


@pytest.fixture
def make_backend():
    return Target


@pytest.fixture
def target(backend):
    return backend


def coral(reply: requests.Response) -> str:
    """The code of an AWS JSON error, after checking it is one (never an internal error)."""
    assert reply.status_code == 400, (reply.status_code, reply.text[:300])
    assert reply.headers["Content-Type"] == "application/x-amz-json-1.1"
    body = reply.json()
    assert "x-amzn-ErrorType" in reply.headers and ("message" in body or "Message" in body)
    return body["__type"].rpartition("#")[2]


def ls_code(reply: requests.Response) -> str:
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:300])
    return ET.fromstring(reply.content).find(f"{LS_ERRORS}Error/{LS_ERRORS}Code").text


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# ---- License Manager -----------------------------------------------------------------------


def test_deeply_nested_json_bodies(target):
    assert coral(target.lm("CreateToken", b'{"LicenseArn":' + DEEP + b"}")) == "SerializationException"
    assert coral(target.lm("ListTokens", b'{"Filters":' + b"[" * 70 + b"]" * 70 + b"}")) == "SerializationException"
    reply = target.amplify("/tokens/figma", b'{"code":' + DEEP + b"}")
    assert (reply.status_code, reply.headers["x-amzn-ErrorType"]) == (400, "InvalidParameterException")
    assert "nested" in reply.json()["message"]


def test_an_expiry_millions_of_days_ahead_is_a_token_and_list_tokens_still_works(target):
    """ExpirationInDays is a 32-bit Integer in botocore's model, with no bound: 3,000,000 days is valid."""
    lm = lm_client(target.server_url)
    created = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="far-1", ExpirationInDays=3_000_000)
    listed = {t["TokenId"]: t for t in lm.list_tokens()["Tokens"]}
    expiry = listed[created["TokenId"]]["ExpirationTime"]
    assert ISO8601.match(expiry) and expiry.startswith("10")  # 8,200 years ahead: year 10,2xx
    assert lm.get_access_token(Token=created["Token"])["AccessToken"]
    claims = target.cloud.licensemanager.decode(created["Token"])
    assert claims["exp"] - claims["iat"] == 3_000_000 * 86400
    longest = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="far-2", ExpirationInDays=2**31 - 1)
    assert {t["TokenId"] for t in lm.list_tokens()["Tokens"]} == {created["TokenId"], longest["TokenId"]}


@pytest.mark.parametrize(
    "days", [b"1" + b"0" * 400, b"2147483648", b"-2147483649", b"1e400", b"1.5", b"true", b"NaN", b"Infinity"]
)
def test_a_days_value_no_integer_can_hold_fails_and_leaves_no_token(target, days):
    body = b'{"LicenseArn":"%s","ClientToken":"c","ExpirationInDays":%s}' % (DEFAULT_LICENSE_ARN.encode(), days)
    assert coral(target.lm("CreateToken", body)) == "SerializationException"
    assert target.cloud.licensemanager.tokens == []
    assert lm_client(target.server_url).list_tokens()["Tokens"] == []


@pytest.mark.parametrize(
    "token",
    [
        b64(b'{"o":1e400,"s":"x"}'),
        b64(b'{"o":' + b"9" * 5000 + b',"s":"x"}'),
        b64(b'{"o":' + DEEP + b"}"),
        b64(b'{"o":-1}'),
        b64(b'["o"]'),
        b64(b'"o"'),
        "\u00b2\u00b2",
        "not base64!",
    ],
)
def test_a_next_token_that_is_not_ours_is_refused(target, token):
    reply = target.lm("ListTokens", {"NextToken": token})
    assert coral(reply) == "ValidationException" and reply.json()["Message"] == "Invalid NextToken."


def test_a_token_whose_payload_is_deeply_nested_is_not_a_jwt(target):
    token = b64(b'{"alg":"ES256"}') + "." + b64(b"[" * 1400 + b"]" * 1400) + ".c2ln"
    reply = target.lm("GetAccessToken", {"Token": token})
    assert coral(reply) == "ValidationException" and "not a valid JWT" in reply.json()["Message"]


def test_a_non_ascii_signature_is_a_signature_mismatch(target):
    url = target.url(LM_HOST)
    headers = aws_signed_headers(
        "POST", url, b"{}", "license-manager", {"X-Amz-Target": "AWSLicenseManager.ListTokens"}
    )
    headers["Authorization"] = headers["Authorization"][:-2] + "\u00b2\u00e9"
    reply = requests.post(
        url, data=b"{}", headers={k: v.encode("latin-1") for k, v in headers.items()}, timeout=HTTP_TIMEOUT
    )
    assert coral(reply) == "InvalidSignatureException"


@pytest.mark.parametrize("member", ["Token", "TokenProperties"])
def test_lone_surrogates_in_json_strings_are_refused(target, member):
    body = json.dumps({"Token": "eyJ.eyJ.c2ln", member: "\ud800" if member == "Token" else ["\udc00"]}).encode()
    assert b"\\ud800" in body or b"\\udc00" in body
    assert coral(target.lm("GetAccessToken", body)) == "SerializationException"
    raw = b'{"Token":"\xed\xa0\x80"}'  # the surrogate itself, encoded: not UTF-8
    assert coral(target.lm("GetAccessToken", raw)) == "SerializationException"


def test_lone_surrogates_in_amplify_exchange_and_refresh(target):
    model = target.cloud.amplifyuibuilder
    for path, document in [
        ("/tokens/figma", {"code": model.create_authorization_code(), "redirectUri": "\ud800"}),
        (
            "/tokens/figma",
            {"code": "x", "redirectUri": "https://mockcloud.example/figma/callback", "clientId": "\udfff"},
        ),
        ("/tokens/figma/refresh", {"token": "\ud800"}),
        ("/tokens/figma/refresh", {"token": "figur_x", "clientId": "a\udc80"}),
    ]:
        reply = target.amplify(path, json.dumps(document).encode())
        assert (reply.status_code, reply.headers["x-amzn-ErrorType"]) == (400, "InvalidParameterException"), reply.text
        assert "surrogate" in reply.json()["message"]


# ---- DevPay (REST-Query and SOAP), before any signature check ------------------------------


def desktop_activation(cloud, **extra) -> dict:
    return {
        "Action": "ActivateDesktopProduct",
        "Version": "2008-04-28",
        "ActivationKey": "ADMAY7DVLJTWHJ76MMBMQEXAMPLE",
        "ProductToken": cloud.devpay.product("6883959E").token,
        **extra,
    }


@pytest.mark.parametrize("value", ["\u00b2", "P\u00b2Y", "PT\u0661S", "1" * 5000, "P" + "9" * 5000 + "Y"])
def test_devpay_token_expiration_in_other_digits_or_huge(target, value):
    reply = target.ls(desktop_activation(target.cloud, TokenExpiration=value))
    if value.isascii():  # any length of ASCII digits is a valid xs:duration: a token that outlives every clock
        assert reply.status_code == 200, reply.text[:300]
        assert target.cloud.devpay.user_token(ET.fromstring(reply.content).find(".//{*}UserToken").text).expires > 1e11
    else:
        assert ls_code(reply) == "InvalidParameterValue"


def test_devpay_list_member_numbers_in_other_digits(target):
    reply = target.ls(
        desktop_activation(target.cloud, **{"AdditionalTokens.\u00b2": "x", "AdditionalTokens.1" + "0" * 5000: "y"})
    )
    assert reply.status_code == 200, reply.text[:300]


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-01-01T00:00:00+99:00",
        "2024-01-01T00:00:00+14:01",
        "2024-01-01T00:00:00+\u00b21:00",
        "2024-01-01T00:00:00.\u00b2Z",
    ],
)
def test_devpay_timestamps_with_impossible_offsets(target, stamp):
    reply = target.ls(
        {
            "Action": "VerifyProductSubscriptionByPid",
            "Version": "2008-04-28",
            "AWSAccessKeyId": "testing",
            "Timestamp": stamp,
            "Signature": "x",
        }
    )
    assert ls_code(reply) == "InvalidParameterValue"


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00"]
)
@pytest.mark.parametrize("name", ["Timestamp", "Expires"])
def test_devpay_timestamps_at_the_ends_of_the_calendar(target, stamp, name):
    reply = target.ls(
        {
            "Action": "VerifyProductSubscriptionByPid",
            "Version": "2008-04-28",
            "AWSAccessKeyId": "testing",
            name: stamp,
            "Signature": "x",
        }
    )
    assert ls_code(reply) == (
        "RequestExpired" if stamp.startswith("0001") or name == "Timestamp" else "SignatureDoesNotMatch"
    )


def test_soap_with_an_unknown_encoding_is_a_parse_fault(target):
    envelope = b'<?xml version="1.0" encoding="bogus"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>'
    url = target.url(LS_HOST, "/devpay/" if target.server_url else "/")
    reply = requests.post(
        url, data=envelope, headers={"Content-Type": "text/xml", "SOAPAction": "x"}, timeout=HTTP_TIMEOUT
    )
    assert reply.status_code == 500  # SOAP 1.1: every fault is a 500; the fault code says whose fault
    fault = ET.fromstring(reply.content).find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    assert fault.find("faultcode").text == "aws:Client.SoapEnvelopeParseError"


# ---- WUYING's XML replies --------------------------------------------------------------------


def test_wuying_xml_replies_stay_well_formed_whatever_the_host_holds(target):
    params = (
        "Format=XML&Action=GetLoginToken&Version=2020-10-02&RegionId=cn-hangzhou"
        "&ClientId=c%01%0c&EndUserId=x&Password=y"
    )
    host = "ecd.cn-hangzhou.aliyuncs.com\x01\x1f\x7f"
    if target.server_url is None:
        reply = target.cloud.app.handle_environ(build_environ("GET", f"{ECD_HOST}/?{params}", {"Host": host}, b""))
        status, body = reply.status, reply.body
    else:  # the Host header as bytes on the wire: no client library sends control bytes
        status, body = raw_http(
            target.server_url, f"GET /?{params} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1")
        )
        if server_refused_framing(status, body):  # the server refuses control bytes in a field (RFC 9110 §5.5)
            assert status == 400
            return
    assert 400 <= status < 500
    root = ET.fromstring(body)  # raises if the reply is not well-formed XML
    assert root.tag == "Error" and root.find("Code").text.startswith(("Invalid", "Missing"))
    assert "\ufffd" in root.find("HostId").text


def raw_http(base_url: str, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are to the server; return the status and the body."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# ---- bytes that are not UTF-8, text that is not latin-1 --------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["Version=\xff", "Action=GetLoginToken&Version=2020-10-02&\xff\xfe=\xc3", "Version=2008-04-28&Action=\xed\xa0\x80"],
)
def test_query_strings_of_raw_bytes_that_are_not_utf8(query):
    """A server hands the query's raw bytes over as latin-1 characters; routing must not decode them strictly."""
    with mock_cloud() as cloud:
        environ = build_environ("GET", "http://127.0.0.1:4566/", {}, b"")
        del environ["mockcloud.in_process"]
        environ["QUERY_STRING"] = query
        statuses = []
        body = b"".join(cloud.app(environ, lambda status, headers: statuses.append(status)))
    assert statuses[0].startswith(("400", "404")), (statuses, body)


def test_paths_and_headers_beyond_latin1_in_process():
    """What a client library may hand an interceptor as text becomes bytes, as on a wire."""
    with mock_cloud() as cloud:
        for url, headers in [
            (
                "https://license-manager.us-east-1.amazonaws.com/\u4e2d\udc80",
                {"X-Amz-Target": "AWSLicenseManager.ListTokens"},
            ),
            ("https://ecd.cn-hangzhou.aliyuncs.com/?Action=\ud800&Version=2020-10-02", {"X-Note": "\u4e2d\ud800"}),
            ("http://unclaimed.example/\udc80?\u4e2d=\ud800", {}),
        ]:
            reply = cloud.app.handle_environ(build_environ("GET", url, headers, b""))
            assert reply.unclaimed or 400 <= reply.status < 500, (url, reply.status, reply.body)


# ---- framing the application cannot read ------------------------------------------------------


class BrokenChunks(io.RawIOBase):
    """What werkzeug's dechunker does with a bad chunk header: raise OSError on read."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise OSError("Invalid chunk header")


SERVICE_REQUESTS = {
    # service: (method, url, headers, what its own 400 looks like)
    "licensemanager": ("POST", f"{LM_HOST}/", {"X-Amz-Target": "AWSLicenseManager.ListTokens"}, "coral"),
    "amplifyuibuilder": ("POST", f"{AMPLIFY_HOST}/tokens/figma", {"Authorization": "AWS4-HMAC-SHA256 x"}, "restjson"),
    "devpay": ("POST", f"{LS_HOST}/", {"Content-Type": "application/x-www-form-urlencoded"}, "query"),
    "devpay-soap": ("POST", f"{LS_HOST}/", {"Content-Type": "application/soap+xml"}, "soap12"),
    "wuying": ("POST", f"{ECD_HOST}/", {"Content-Type": "application/x-www-form-urlencoded"}, "alibaba"),
    "userapi": (
        "POST",
        "https://userapi.example.com/User/Login",
        {"Content-Type": "application/json", "Version": "2.0"},
        "problem",
    ),
}


@pytest.mark.parametrize("framing", ["content-length", "5000-digit-length", "short-body", "chunks"])
@pytest.mark.parametrize("service", sorted(SERVICE_REQUESTS))
def test_unreadable_bodies_get_the_services_own_400(service, framing):
    method, url, headers, kind = SERVICE_REQUESTS[service]
    with mock_cloud() as cloud:
        environ = build_environ(method, url, headers, b"{}")
        for key in ("mockcloud.in_process", "mockcloud.body"):  # as a server hands it over
            del environ[key]
        if framing == "content-length":
            environ["CONTENT_LENGTH"] = "abc"
        elif framing == "5000-digit-length":
            environ["CONTENT_LENGTH"] = "9" * 5000
        elif framing == "short-body":  # the client stopped sending before its Content-Length
            environ["CONTENT_LENGTH"] = "100"
        else:
            del environ["CONTENT_LENGTH"]
            environ["HTTP_TRANSFER_ENCODING"] = "chunked"
            environ["wsgi.input"] = BrokenChunks()
            environ["wsgi.input_terminated"] = True
        statuses = []
        body = b"".join(cloud.app(environ, lambda status, headers: statuses.append((status, dict(headers)))))
    status, reply_headers = statuses[0]
    assert status == "400 Bad Request", (status, body)
    if kind == "coral":
        assert json.loads(body)["__type"].endswith("#SerializationException")
    elif kind == "restjson":
        assert reply_headers["x-amzn-ErrorType"] == "InvalidParameterException" and "message" in json.loads(body)
    elif kind == "query":
        assert ET.fromstring(body).find(f"{LS_ERRORS}Error/{LS_ERRORS}Code").text == "InvalidHttpRequest"
    elif kind == "soap12":
        subcode = ET.fromstring(body).find(
            ".//{http://www.w3.org/2003/05/soap-envelope}Subcode/{http://www.w3.org/2003/05/soap-envelope}Value"
        )
        assert subcode.text == "aws:InvalidHttpRequest"
    elif kind == "alibaba":
        assert json.loads(body)["Code"] == "InvalidParameter" and "RequestId" in json.loads(body)
    else:
        assert (
            reply_headers["Content-Type"].startswith("application/problem+json")
            and json.loads(body)["error"] == "invalid_request"
        )


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: abc\r\n\r\n{}", b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"],
    ids=["content-length", "chunk-header"],
)
def test_unreadable_framing_is_a_400_on_the_server(mockcloud_server, framing):
    """Whichever server is in front (it may refuse the framing itself), no 500 comes back."""
    head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AWSLicenseManager.ListTokens\r\nConnection: close\r\n"
    status, _ = raw_http(mockcloud_server.url, head + framing)
    assert status == 400


# ---- state stays whole ----------------------------------------------------------------------------


def test_a_failed_create_token_leaves_nothing_behind(target):
    lm = lm_client(target.server_url, validate=False)
    with pytest.raises(ClientError):
        lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="x", ExpirationInDays=0)
    with pytest.raises(ClientError):
        lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="x", ExpirationInDays=2**40)
    assert lm.list_tokens()["Tokens"] == []
    created = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="x", ExpirationInDays=1)
    assert [t["TokenId"] for t in lm.list_tokens()["Tokens"]] == [created["TokenId"]]
