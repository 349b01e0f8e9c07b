"""Every reply of every service carries ``Date`` (RFC 7231 IMF-fixdate) from the mock clock, not the host's.

SDKs correct clock skew from it (the AWS SDK for JavaScript from every reply,
botocore on a skew error), so it must follow the mock's clock wherever it is
moved. AWS and Alibaba's front doors both send it in this form (Alibaba's POP replies, as the tea SDK
logs them: ``date: Tue, 20 Jun 2023 14:36:07 GMT`` beside ``x-acs-request-id``). Checked on
answers that need no signature (refusals included): a reply is dated whatever it says.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

import pytest
import requests

YEAR = 365 * 86400
IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT"
)


class Reach:
    def __init__(self, cloud, server_url):
        self.cloud, self.server_url = cloud, server_url

    def send(self, method: str, real_url: str, **kwargs) -> requests.Response:
        """``real_url`` in-process; on the server, its path and query under the server, its host in ``Host``."""
        if self.server_url is None:
            return requests.request(method, real_url, timeout=10, **kwargs)
        scheme_host, _, rest = real_url.partition("://")[2].partition("/")
        headers = {"Host": scheme_host, **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.server_url}/{rest}", headers=headers, timeout=10, **kwargs)


@pytest.fixture
def make_backend():
    return Reach


REQUESTS = {
    "licensemanager": (
        "POST",
        "https://license-manager.us-east-1.amazonaws.com/",
        {"headers": {"X-Amz-Target": "AWSLicenseManager.ListLicenses"}, "data": b"{}"},
    ),
    "sts": ("POST", "https://sts.amazonaws.com/", {"data": {"Action": "GetCallerIdentity", "Version": "2011-06-15"}}),
    "amplifyuibuilder": ("POST", "https://amplifyuibuilder.us-east-1.amazonaws.com/tokens/figma", {"data": b"{}"}),
    "figma": ("GET", "https://api.figma.com/v1/me", {}),
    "devpay": ("GET", "https://ls.amazonaws.com/?Action=RefreshUserToken&Version=2008-04-28", {}),
    "wuying": ("POST", "https://ecd.cn-hangzhou.aliyuncs.com/?Action=GetLoginToken&Version=2020-10-02", {}),
    "userapi": (
        "POST",
        "https://userapi.example.com/User/Login",
        {"json": {"username": "nobody", "password": "x"}, "headers": {"Version": "2.0"}},
    ),
}


def dated(reply: requests.Response) -> float:
    value = reply.headers["Date"]
    assert IMF_FIXDATE.fullmatch(value), value
    assert len(reply.raw.headers.getlist("Date")) == 1  # one Date, not the server's beside the service's
    return parsedate_to_datetime(value).timestamp()


@pytest.mark.parametrize("service", list(REQUESTS))
def test_every_service_dates_its_replies_on_the_mock_clock(backend, service):
    method, url, kwargs = REQUESTS[service]
    if backend.server_url is not None and service == "figma":
        url = url.replace("https://api.figma.com", "https://127.0.0.1")  # the server routes /v1/me by path
    clock = backend.cloud.clock
    reply = backend.send(method, url, **dict(kwargs))
    assert reply.status_code < 600
    assert abs(dated(reply) - clock.time()) <= 2
    clock.advance(YEAR)
    try:
        reply = backend.send(method, url, **dict(kwargs))
        assert abs(dated(reply) - clock.time()) <= 2, "the Date did not follow the mock clock"
    finally:
        clock.advance(-YEAR)


def test_a_request_no_service_claims_is_dated_too(mockcloud_server):
    clock = mockcloud_server.cloud.clock
    reply = requests.get(f"{mockcloud_server.url}/no/such/service", timeout=10)
    assert reply.status_code == 404
    assert abs(dated(reply) - clock.time()) <= 2
