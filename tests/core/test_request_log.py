"""The request log: a bounded ring buffer that never shows the secrets a request carried."""
from __future__ import annotations

import os

import pytest
import requests

from mockcloud import mock_cloud
from mockcloud.core.log import REDACTED, RequestLog, redact_target
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
    for kept in ("Action=GetLoginToken", "EndUserId=alice", "SignatureMethod=HMAC-SHA1", "SignatureNonce=n1", "ClientId=c1"):
        assert kept in url
    assert cloud.requests[-1].service == "wuying"


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/", "/"),
        ("/path?flag&token=&a=1", "/path?flag&token=&a=1"),  # empty values and bare flags are left alone
        ("/?UserToken=%7BUserToken%7DAAA&ProductCode=6883959E", f"/?UserToken={REDACTED}&ProductCode=6883959E"),
        ("/?X-Amz-Signature=ff&X-Amz-Credential=AKID%2F2024", f"/?X-Amz-Signature={REDACTED}&X-Amz-Credential=AKID%2F2024"),
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
        environ = build_environ("GET", f"{DEVPAY}?Action=ActivateHostedProduct&Version=2008-04-28&Pad={pad}{i}", {}, b"")
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
