"""The request log: a bounded ring buffer that never shows the secrets a request carried."""

from __future__ import annotations

import json
import os

import pytest
import requests

from mockcloud import mock_cloud
from mockcloud.core.log import REDACTED, RequestLog, redact_header, redact_target, redact_text
from mockcloud.core.request import build_environ
from mockcloud.server.app import create_app

WUYING = "https://ecd.ap-southeast-1.aliyuncs.com/"
DEVPAY = "https://ls.amazonaws.com/"


def test_the_log_keeps_the_last_n_requests_in_order():
    with mock_cloud(request_log_size=3) as cloud:
        for i in range(7):
            requests.get(f"{DEVPAY}?Action=ActivateHostedProduct&Version=2008-04-28&N={i}", timeout=5)
        assert len(cloud.requests) == 3
        assert [r.url.rsplit("N=", 1)[1] for r in cloud.requests] == ["4", "5", "6"]
        assert cloud.requests[-1].url.endswith("N=6") and [r.url[-1] for r in cloud.requests[0:2]] == ["4", "5"]
        cloud.reset()
        assert len(cloud.requests) == 0 and cloud.requests.size == 3  # the size survives a reset


def test_default_size_and_bad_sizes():
    assert RequestLog().size == 1000
    with pytest.raises(ValueError):
        RequestLog(0)


def test_secrets_in_query_strings_are_redacted_when_recorded():
    """WUYING sends passwords in the query string; the log, and so the admin API, shows none of them."""
    query = (
        "Action=GetLoginToken&Version=2020-10-02&RegionId=ap-southeast-1&ClientId=c1&EndUserId=alice"
        "&Password=hunter2&NewPassword=n3w-secret&AuthenticationCode=123456&SessionId=s355ion"
        "&Signature=c2lnbmF0dXJl&SignatureMethod=HMAC-SHA1&SignatureNonce=n1&X-Amz-Security-Token=t0ken"
        "&Pass%77ord=encoded-secret"
    )
    with mock_cloud() as cloud:
        requests.get(f"{WUYING}?{query}", timeout=5)
        url = cloud.requests[-1].url
    for secret in ("hunter2", "n3w-secret", "123456", "s355ion", "c2lnbmF0dXJl", "t0ken", "encoded-secret"):
        assert secret not in url
    assert f"Password={REDACTED}" in url and f"Signature={REDACTED}" in url
    # what is no secret stays, so that tests can still assert on it
    for kept in (
        "Action=GetLoginToken",
        "EndUserId=alice",
        "SignatureMethod=HMAC-SHA1",
        "SignatureNonce=n1",
        "ClientId=c1",
    ):
        assert kept in url
    assert cloud.requests[-1].service == "wuying"


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/", "/"),
        ("/path?flag&token=&a=1", "/path?flag&token=&a=1"),  # empty values and bare flags are left alone
        ("/?UserToken=%7BUserToken%7DAAA&ProductCode=6883959E", f"/?UserToken={REDACTED}&ProductCode=6883959E"),
        (
            "/?X-Amz-Signature=ff&X-Amz-Credential=AKID%2F2024",
            f"/?X-Amz-Signature={REDACTED}&X-Amz-Credential=AKID%2F2024",
        ),
        ("/cb?code=abc;state=s", f"/cb?code={REDACTED};state=s"),
    ],
)
def test_redact_target(target, expected):
    assert redact_target(target) == expected


def resident_bytes() -> int:
    """This process's resident memory (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_ten_thousand_requests_with_8kb_urls_keep_memory_bounded():
    """The issue's case: 10,000 such requests once grew the log by 107 MiB; the ring buffer holds 1000."""
    app = create_app()
    pad = "x" * 8000
    statuses = []

    def send(i: int) -> None:
        environ = build_environ(
            "GET", f"{DEVPAY}?Action=ActivateHostedProduct&Version=2008-04-28&Pad={pad}{i}", {}, b""
        )
        app(environ, lambda status, headers, exc_info=None: statuses.append(status))

    for i in range(2000):  # the log is full from the 1000th on
        send(i)
    full = resident_bytes()
    for i in range(2000, 10000):
        send(i)
    grown = resident_bytes() - full
    assert len(statuses) == 10000 and all(status.startswith("400") for status in statuses)
    assert len(app.cloud.requests) == 1000
    assert app.cloud.requests[-1].url.endswith("9999")
    # unbounded, 8000 more records of 8 KB would be 64 MB more
    assert grown < 16 * 1024 * 1024, f"8000 more requests grew the process by {grown / 2**20:.1f} MiB"


# ---- what the dashboard shows of each request: client, latency, headers and bodies, redacted when read ----
def test_each_record_has_a_number_the_client_and_the_time_taken():
    with mock_cloud() as cloud:
        for _ in range(3):
            requests.get(f"{DEVPAY}?Action=ActivateHostedProduct&Version=2008-04-28", timeout=5)
        numbers = [r.seq for r in cloud.requests]
        assert numbers == sorted(numbers) and len(set(numbers)) == 3
        assert all(r.client == "in-process" and 0 < r.latency < 5 and r.delay == 0 for r in cloud.requests)
        assert cloud.requests.first == numbers[0]
        assert [r.seq for r in cloud.requests.since(numbers[0])] == numbers[1:]
        assert [r.seq for r in cloud.requests.since(0, limit=1)] == numbers[-1:]
        assert cloud.requests.find(numbers[1]) is cloud.requests[1] and cloud.requests.find(-1) is None
        cloud.reset()  # a new log: its numbers go on after the old ones, so a reader asking since=N misses nothing
        requests.get(f"{DEVPAY}?Action=ActivateHostedProduct&Version=2008-04-28", timeout=5)
        assert cloud.requests[0].seq > numbers[-1]
        cloud.requests.clear()
        assert cloud.requests.first is None


def test_a_record_shows_headers_and_bodies_with_every_secret_redacted():
    """The request's Authorization keeps its key id and scope but not its signature; the tokens in both bodies go."""
    import boto3

    with mock_cloud() as cloud:
        lm = boto3.client("license-manager", region_name="us-east-1")
        made = lm.create_token(
            LicenseArn="arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef",
            ClientToken="c1",
        )
        access = lm.get_access_token(Token=made["Token"])["AccessToken"]
        created, got = cloud.requests[-2].detail(), cloud.requests[-1].detail()
    text = json.dumps([created, got])
    for secret in (made["Token"], access, made["Token"][-20:], access[-20:]):
        assert secret not in text
    headers = dict(got["request"]["headers"])
    assert headers["X-Amz-Target"] == "AWSLicenseManager.GetAccessToken"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert (
        headers["Authorization"].endswith(f"Signature={REDACTED}")
        and "SignedHeaders=content-type;host;" in headers["Authorization"]
    )
    assert json.loads(got["request"]["body"]) == {"Token": REDACTED}
    assert json.loads(got["response"]["body"]) == {"AccessToken": REDACTED}
    assert (
        got["response"]["status"] == 200
        and ["Content-Type", "application/x-amz-json-1.1"] in got["response"]["headers"]
    )
    # identifiers that only contain a secret word stay readable
    assert json.loads(created["response"]["body"]) == {
        "TokenId": made["TokenId"],
        "TokenType": "REFRESH_TOKEN",
        "Token": REDACTED,
    }
    assert json.loads(created["request"]["body"])["ClientToken"] == "c1"


def test_bodies_are_kept_up_to_the_limit_and_secrets_in_a_cut_body_still_go():
    log = RequestLog(body_limit=64)
    app = create_app()
    app.cloud.requests = log
    app.cloud.app.log = log
    secret = "s3cr3t-" + "x" * 100
    body = json.dumps({"Action": "x", "Password": secret}).encode()
    environ = build_environ(
        "POST", f"{WUYING}?Action=GetLoginToken&Version=2020-10-02", {"Content-Type": "application/json"}, body
    )
    app(environ, lambda status, headers, exc_info=None: None)
    shown = log[-1].detail()["request"]
    assert (
        shown["truncated"] and shown["body_size"] == len(body) and shown["note"] == f"the first 64 of {len(body)} bytes"
    )
    assert "s3cr3t" not in shown["body"] and f'"Password": "{REDACTED}"' in shown["body"]
    assert len(log[-1].capture.body) == 64  # the record holds no more than the limit


@pytest.mark.parametrize(
    "content_type, body, kept, gone",
    [
        (
            "application/x-www-form-urlencoded",
            "Action=ActivateDesktopProduct&ActivationKey=KEY123&ProductToken=%7BProductToken%7DAAA",
            ["Action=ActivateDesktopProduct", f"ActivationKey={REDACTED}"],
            ["KEY123", "AAA"],
        ),
        (
            "text/xml",
            "<r><UserToken>{UserToken}AAAA</UserToken><PersistentIdentifier>PID1</PersistentIdentifier>"
            "<SecretAccessKey>wJalr</SecretAccessKey><wsse:Password Type='x'>pw</wsse:Password></r>",
            ["<PersistentIdentifier>PID1</PersistentIdentifier>", f"<UserToken>{REDACTED}</UserToken>"],
            ["AAAA", "wJalr", ">pw<"],
        ),
        (
            "application/json",
            '{"refresh_token": "r1", "token_type": "bearer", "x": {"AdditionalTokens": ["a1", "a2"]}, "n": [1, 2]}',
            ['"token_type": "bearer"', '"n": [\n    1,'],
            ['"r1"', '"a1"', '"a2"'],
        ),
        (
            "text/plain",
            "see eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here",
            ["see", "here"],
            ["eyJhbGci", "c2lnbmF0dXJl"],
        ),
        (
            "application/json",
            '{"accessToken": "abc", "cut": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIi',
            ['"cut"'],
            ["abc", "eyJhbGci"],
        ),
    ],
)
def test_body_redaction_by_format(content_type, body, kept, gone):
    shown = redact_text(body, content_type)
    for text in kept:
        assert text in shown
    for text in gone:
        assert text not in shown


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("Authorization", "Bearer eyJ.abc", f"Bearer {REDACTED}"),
        ("Authorization", "acs AKID:c2ln", f"acs {REDACTED}"),
        ("Authorization", "opaque", REDACTED),
        ("X-Amz-Security-Token", "FQoG", REDACTED),
        ("X-Mockcloud-Admin-Token", "t", REDACTED),
        ("Cookie", "a=1; session=2", f"a={REDACTED}; session={REDACTED}"),
        ("X-Acs-Signature-Nonce", "n1", "n1"),
        ("X-Acs-Signature-Method", "HMAC-SHA1", "HMAC-SHA1"),
        ("X-Amz-Date", "20240101T000000Z", "20240101T000000Z"),
        ("X-Custom", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", f"Bearer {REDACTED}"),
    ],
)
def test_header_redaction(name, value, expected):
    assert redact_header(name, value) == expected


def test_a_binary_body_is_not_shown_and_an_unread_one_says_so():
    app = create_app(max_body_size=10)
    environ = build_environ(
        "POST", f"{DEVPAY}?Action=ActivateHostedProduct&Version=2008-04-28", {}, b"\xff\xfe\x00binary"
    )
    app(environ, lambda status, headers, exc_info=None: None)
    shown = app.cloud.requests[-1].detail()["request"]
    assert shown["body"] is None and shown["note"] == "9 bytes of binary data (not shown)"
    too_large = build_environ("POST", f"{DEVPAY}?Action=ActivateHostedProduct&Version=2008-04-28", {}, b"x" * 100)
    del too_large["mockcloud.body"], too_large["mockcloud.in_process"]
    app(too_large, lambda status, headers, exc_info=None: None)
    record = app.cloud.requests[-1]
    assert record.status == 413 and record.detail()["request"]["note"] == "the emulator did not read the body"


def test_an_error_code_in_a_reply_stays_but_a_code_sent_in_a_request_goes():
    error = "<ErrorResponse><Error><Code>InvalidAction</Code><Message>no</Message></Error></ErrorResponse>"
    assert "<Code>InvalidAction</Code>" in redact_text(error, "text/xml", reply=True)
    assert json.loads(redact_text('{"Code": "InvalidParameter", "code": 3}', reply=True)) == {
        "Code": "InvalidParameter",
        "code": 3,
    }
    assert json.loads(redact_text('{"request": {"code": "figma-oauth-code"}}')) == {"request": {"code": REDACTED}}
    assert json.loads(redact_text('{"AuthenticationCode": "123456"}', reply=True)) == {"AuthenticationCode": REDACTED}


def test_records_are_kept_in_the_order_of_their_numbers_across_threads():
    """A reader asking for what came after the last number it saw must never skip a record a slower thread kept."""
    import threading

    app = create_app()
    environ = build_environ("GET", f"{DEVPAY}?Action=ActivateHostedProduct&Version=2008-04-28", {}, b"")

    def send() -> None:
        for _ in range(150):
            app.cloud.app.handle_environ(dict(environ))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = [r.seq for r in app.cloud.requests]
    assert len(numbers) == 900 and numbers == sorted(numbers) and app.cloud.requests.last == numbers[-1]


def test_an_in_process_record_keeps_neither_the_whole_body_nor_the_request_object():
    with mock_cloud() as cloud:
        requests.post(f"{DEVPAY}?Action=ActivateHostedProduct&Version=2008-04-28", data=b"x" * 100_000, timeout=5)
        capture = cloud.requests[-1].capture
    assert len(capture.body) == 4096 and capture.body_size == 100_000
    assert isinstance(capture.headers, dict) and not {"wsgi.input", "mockcloud.body", "werkzeug.request"} & set(
        capture.headers
    )
    assert all(isinstance(value, (str, bool, tuple)) or key == "wsgi.errors" for key, value in capture.headers.items())
