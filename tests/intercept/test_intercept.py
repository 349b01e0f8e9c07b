"""Every mainstream Python HTTP client is answered in-process through the one request path.

For each client family: a real call to every emulated service, unclaimed
hosts refused in the client's own exception type, passthrough, streaming,
redirects, timeouts against injected latency, session reuse, and no patch
left behind after stop().
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import httpx
import pytest
import requests
import urllib3
from aiobotocore.session import get_session
from aliyunsdkcore.vendored import requests as aliyun_requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mockcloud import UnmockedRequestError, mock_cloud
from mockcloud.services import SERVICE_PACKAGES
from tests.helpers import DEADLINE
from tests.intercept import echo_service

ECHO = f"http://{echo_service.HOST}"


@dataclass
class Result:
    status: int
    headers: dict
    body: bytes


def _lower(headers) -> dict:
    return {k.lower(): v for k, v in headers.items()}


# ---- the client families ------------------------------------------------------------


class Client:
    name = ""
    blocked: tuple = ()  # the client's own exception types for a refused connection
    timed_out: tuple = ()
    follows_redirects = True

    def call(self, method, url, headers=None, body=None, timeout=None) -> Result:
        raise NotImplementedError

    def stream(self, url) -> list[bytes]:
        raise NotImplementedError

    def session_calls(self, urls) -> list[Result]:
        raise NotImplementedError


class RequestsClient(Client):
    name = "requests"
    blocked = (requests.exceptions.ConnectionError,)
    timed_out = (requests.exceptions.ReadTimeout,)
    module = requests

    def call(self, method, url, headers=None, body=None, timeout=None):
        r = self.module.request(method, url, headers=headers, data=body, timeout=timeout)
        return Result(r.status_code, _lower(r.headers), r.content)

    def stream(self, url):
        with self.module.get(url, stream=True) as r:
            return list(r.iter_content(65536))

    def session_calls(self, urls):
        with self.module.Session() as s:
            return [Result(r.status_code, _lower(r.headers), r.content) for r in (s.get(u) for u in urls)]


class AliyunVendoredClient(RequestsClient):
    name = "aliyunsdkcore-vendored-requests"
    blocked = (aliyun_requests.exceptions.ConnectionError,)
    timed_out = (aliyun_requests.exceptions.ReadTimeout,)
    module = aliyun_requests


class HttpxClient(Client):
    name = "httpx"
    blocked = (httpx.ConnectError,)
    timed_out = (httpx.ReadTimeout,)

    def call(self, method, url, headers=None, body=None, timeout=None):
        with httpx.Client(follow_redirects=True, timeout=timeout) as c:
            r = c.request(method, url, headers=headers, content=body)
        return Result(r.status_code, _lower(r.headers), r.content)

    def stream(self, url):
        with httpx.stream("GET", url) as r:
            return list(r.iter_bytes(65536))

    def session_calls(self, urls):
        with httpx.Client() as c:
            return [Result(r.status_code, _lower(r.headers), r.content) for r in (c.get(u) for u in urls)]


class HttpxAsyncClient(Client):
    name = "httpx-async"
    blocked = (httpx.ConnectError,)
    timed_out = (httpx.ReadTimeout,)

    def call(self, method, url, headers=None, body=None, timeout=None):
        async def go():
            async with httpx.AsyncClient(follow_redirects=True, timeout=timeout) as c:
                r = await c.request(method, url, headers=headers, content=body)
                return Result(r.status_code, _lower(r.headers), r.content)

        return asyncio.run(go())

    def stream(self, url):
        async def go():
            async with httpx.AsyncClient() as c, c.stream("GET", url) as r:
                return [chunk async for chunk in r.aiter_bytes(65536)]

        return asyncio.run(go())

    def session_calls(self, urls):
        async def go():
            async with httpx.AsyncClient() as c:
                return [Result(r.status_code, _lower(r.headers), r.content) for r in [await c.get(u) for u in urls]]

        return asyncio.run(go())


class AiohttpClient(Client):
    name = "aiohttp"
    blocked = (aiohttp.ClientConnectionError,)
    timed_out = (asyncio.TimeoutError,)

    def call(self, method, url, headers=None, body=None, timeout=None):
        async def go():
            limits = aiohttp.ClientTimeout(sock_read=timeout) if timeout else aiohttp.ClientTimeout()
            async with (
                aiohttp.ClientSession(timeout=limits) as s,
                s.request(method, url, headers=headers, data=body) as r,
            ):
                return Result(r.status, _lower(r.headers), await r.read())

        return asyncio.run(go())

    def stream(self, url):
        async def go():
            async with aiohttp.ClientSession() as s, s.get(url) as r:
                return [chunk async for chunk in r.content.iter_chunked(65536)]

        return asyncio.run(go())

    def session_calls(self, urls):
        async def go():
            out = []
            async with aiohttp.ClientSession() as s:
                for u in urls:
                    async with s.get(u) as r:
                        out.append(Result(r.status, _lower(r.headers), await r.read()))
            return out

        return asyncio.run(go())


class Urllib3Client(Client):
    name = "urllib3"
    blocked = (urllib3.exceptions.NewConnectionError,)
    timed_out = (urllib3.exceptions.ReadTimeoutError,)

    def call(self, method, url, headers=None, body=None, timeout=None):
        r = urllib3.PoolManager().request(
            method, url, headers=headers, body=body, timeout=timeout, retries=False if timeout else None
        )
        return Result(r.status, _lower(r.headers), r.data)

    def stream(self, url):
        r = urllib3.PoolManager().request("GET", url, preload_content=False)
        return list(r.stream(65536))

    def session_calls(self, urls):
        pool = urllib3.PoolManager()
        return [Result(r.status, _lower(r.headers), r.data) for r in (pool.request("GET", u) for u in urls)]


class UrllibClient(Client):
    name = "urllib.request"
    blocked = (urllib.error.URLError,)
    timed_out = (TimeoutError,)

    def call(self, method, url, headers=None, body=None, timeout=None):
        request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
        try:
            r = urllib.request.urlopen(request, timeout=timeout) if timeout else urllib.request.urlopen(request)
        except urllib.error.HTTPError as err:  # 4xx/5xx are answers too
            return Result(err.code, _lower(err.headers), err.read())
        return Result(r.status, _lower(r.headers), r.read())

    def stream(self, url):
        r = urllib.request.urlopen(url)
        return list(iter(lambda: r.read(65536), b""))

    def session_calls(self, urls):
        opener = urllib.request.build_opener()
        return [Result(r.status, _lower(r.headers), r.read()) for r in (opener.open(u) for u in urls)]


class HttpClientClient(Client):
    name = "http.client"
    blocked = (ConnectionError,)
    timed_out = (TimeoutError,)
    follows_redirects = False

    @staticmethod
    def _connection(url, timeout=None):
        parts = urllib.parse.urlsplit(url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        kwargs = {"timeout": timeout} if timeout else {}
        return cls(parts.hostname, parts.port, **kwargs), (parts.path or "/") + (
            f"?{parts.query}" if parts.query else ""
        )

    def call(self, method, url, headers=None, body=None, timeout=None):
        connection, target = self._connection(url, timeout)
        connection.request(method, target, body=body, headers=headers or {})
        r = connection.getresponse()
        return Result(r.status, _lower(dict(r.getheaders())), r.read())

    def stream(self, url):
        connection, target = self._connection(url)
        connection.request("GET", target)
        r = connection.getresponse()
        return list(iter(lambda: r.read(65536), b""))

    def session_calls(self, urls):
        connection, _ = self._connection(urls[0])
        out = []
        for u in urls:
            connection.request("GET", self._connection(u)[1])
            r = connection.getresponse()
            out.append(Result(r.status, _lower(dict(r.getheaders())), r.read()))
        return out


import urllib.parse  # noqa: E402  (used by HttpClientClient)

CLIENTS = [
    RequestsClient(),
    HttpxClient(),
    HttpxAsyncClient(),
    AiohttpClient(),
    Urllib3Client(),
    UrllibClient(),
    HttpClientClient(),
    AliyunVendoredClient(),
]
by_name = pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.name)


# ---- one real call per service -----------------------------------------------------------


def _sigv4(method, url, service, target, body: bytes) -> dict:
    request = AWSRequest(
        method, url, data=body, headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    )
    SigV4Auth(Credentials("testing", "testing"), service, "us-east-1").add_auth(request)
    return dict(request.headers)


def probe_licensemanager(cloud, client: Client) -> None:
    url = "https://license-manager.us-east-1.amazonaws.com/"
    headers = _sigv4("POST", url, "license-manager", "AWSLicenseManager.ListLicenses", b"{}")
    result = client.call("POST", url, headers, b"{}")
    assert result.status == 200, result.body
    assert b"Example Pro license" in result.body
    assert cloud.requests[-1].operation == "ListLicenses"


def _sigv4_rest(method, url, service, body: bytes) -> dict:
    request = AWSRequest(method, url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("testing", "testing"), service, "us-east-1").add_auth(request)
    return dict(request.headers)


def probe_amplifyuibuilder(cloud, client: Client) -> None:
    """ExchangeCodeForToken (REST-JSON, SigV4), then Figma's /v1/me with the token (plain bearer)."""
    code = cloud.amplifyuibuilder.create_authorization_code()
    url = "https://amplifyuibuilder.us-east-1.amazonaws.com/tokens/figma"
    body = json.dumps(
        {
            "code": code,
            "redirectUri": "https://mockcloud.example/figma/callback",
            "clientId": "mockcloud-amplify-figma-client",
        }
    ).encode()
    result = client.call("POST", url, _sigv4_rest("POST", url, "amplifyuibuilder", body), body)
    assert result.status == 200, result.body
    access = json.loads(result.body)["accessToken"]
    me = client.call("GET", "https://api.figma.com/v1/me", {"Authorization": f"Bearer {access}"})
    assert me.status == 200 and json.loads(me.body)["email"] == "designer@example.com"
    assert [r.operation for r in cloud.requests][-2] == "ExchangeCodeForToken"


def probe_userapi(cloud, client: Client) -> None:
    """Login (JSON), then /User/Me with the JWT bearer token."""
    base = "https://userapi.example.com"
    body = json.dumps({"username": "api_user", "password": "secure_password_123"}).encode()
    login = client.call("POST", f"{base}/User/Login", {"Version": "2.0", "Content-Type": "application/json"}, body)
    assert login.status == 200, login.body
    access = json.loads(login.body)["accessToken"]
    me = client.call("GET", f"{base}/User/Me", {"Version": "2.0", "Authorization": f"Bearer {access}"})
    assert me.status == 200 and json.loads(me.body)["userID"] == "1001"


def probe_wuying(cloud, client: Client) -> None:
    """Anonymous Alibaba RPC: GetLoginToken (form body), then RefreshLoginToken (query string)."""
    from urllib.parse import urlencode

    url = "https://ecd.cn-hangzhou.aliyuncs.com/"
    common = {"Version": "2020-10-02", "RegionId": "cn-hangzhou", "ClientId": "probe-client", "EndUserId": "alice"}
    form = urlencode({**common, "Action": "GetLoginToken", "Password": "Alice-Passw0rd", "CurrentStage": "ADPassword"})
    login = client.call("POST", url, {"Content-Type": "application/x-www-form-urlencoded"}, form.encode())
    assert login.status == 200, login.body
    token = json.loads(login.body)["LoginToken"]
    query = urlencode({**common, "Action": "RefreshLoginToken", "LoginToken": token})
    refreshed = client.call("GET", f"{url}?{query}")
    assert refreshed.status == 200, refreshed.body
    assert json.loads(refreshed.body)["LoginToken"] not in ("", token)


def probe_devpay(cloud, client: Client) -> None:
    """ActivateDesktopProduct (unsigned GET), then VerifyProductSubscriptionByTokens signed (version 1) with
    the customer key pair it returned, as a form POST."""
    import base64
    import hashlib
    import hmac
    import xml.etree.ElementTree as ET
    from urllib.parse import urlencode

    ls = "{http://ls.amazonaws.com/doc/2008-04-28/}"
    url = "https://ls.amazonaws.com/"
    token = cloud.devpay.product("6883959E").token
    query = urlencode(
        {
            "Action": "ActivateDesktopProduct",
            "Version": "2008-04-28",
            "ActivationKey": "ADMAY7DVLJTWHJ76MMBMQEXAMPLE",
            "ProductToken": token,
        }
    )
    activated = client.call("GET", f"{url}?{query}")
    assert activated.status == 200, activated.body
    root = ET.fromstring(activated.body)
    key, secret = root.find(f".//{ls}AWSAccessKeyId").text, root.find(f".//{ls}SecretAccessKey").text
    params = {
        "Action": "VerifyProductSubscriptionByTokens",
        "Version": "2008-04-28",
        "AWSAccessKeyId": key,
        "SignatureVersion": "1",
        "Timestamp": cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ProductToken": token,
        "UserToken": root.find(f".//{ls}UserToken").text,
    }
    text = "".join(n + params[n] for n in sorted(params, key=str.lower))
    params["Signature"] = base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
    verified = client.call(
        "POST", url, {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(params).encode()
    )
    assert verified.status == 200, verified.body
    assert ET.fromstring(verified.body).find(f".//{ls}Subscribed").text == "true"
    assert cloud.requests[-1].operation == "VerifyProductSubscriptionByTokens"


def probe_sts(cloud, client: Client) -> None:
    """AssumeRoleWithWebIdentity (unsigned form POST) with a License Manager access token, then GetCallerIdentity
    signed (SigV4, session token) with the temporary credentials it returned."""
    import xml.etree.ElementTree as ET
    from urllib.parse import urlencode

    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    role = "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole"
    refresh = cloud.licensemanager.create_token(
        account_id="123456789012",
        region="us-east-1",
        license_arn=cloud.licensemanager.licenses[0].arn,
        client_token="probe",
    )
    access = cloud.licensemanager.get_access_token(account_id=None, token=refresh.jwt)
    url = "https://sts.amazonaws.com/"
    form = urlencode(
        {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": role,
            "RoleSessionName": "probe",
            "WebIdentityToken": access,
        }
    ).encode()
    assumed = client.call("POST", url, {"Content-Type": "application/x-www-form-urlencoded"}, form)
    assert assumed.status == 200, assumed.body
    creds = ET.fromstring(assumed.body).find(f".//{ns}Credentials")
    key, secret, token = (creds.find(f"{ns}{n}").text for n in ("AccessKeyId", "SecretAccessKey", "SessionToken"))
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    request = AWSRequest(
        "POST", url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    SigV4Auth(Credentials(key, secret, token), "sts", "us-east-1").add_auth(request)
    who = client.call("POST", url, dict(request.headers), body)
    assert who.status == 200, who.body
    assert (
        ET.fromstring(who.body)
        .find(f".//{ns}Arn")
        .text.endswith(":assumed-role/AWSLicenseManagerConsumptionRole/probe")
    )
    assert cloud.requests[-1].operation == "GetCallerIdentity"


PROBES: dict[str, Callable] = {
    "sts": probe_sts,
    "devpay": probe_devpay,
    "licensemanager": probe_licensemanager,
    "wuying": probe_wuying,
    "amplifyuibuilder": probe_amplifyuibuilder,
    "userapi": probe_userapi,
}


def test_every_service_has_a_probe():
    assert set(PROBES) == set(SERVICE_PACKAGES)


@by_name
@pytest.mark.parametrize("service", sorted(SERVICE_PACKAGES))
def test_real_call_per_client_and_service(client, service):
    with mock_cloud() as cloud:
        PROBES[service](cloud, client)


# ---- behaviour of each client under the mock ---------------------------------------------


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setitem(SERVICE_PACKAGES, "echo", "tests.intercept.echo_service")
    with mock_cloud(services=["echo", "licensemanager"]) as cloud:
        yield cloud


@by_name
def test_unclaimed_host_raises_the_clients_own_error(client):
    with mock_cloud(), pytest.raises(client.blocked) as exc:
        client.call("GET", "http://unclaimed.example.org/some/path")
    error = exc.value
    chain = [error, getattr(error, "reason", None), error.__cause__, error.__context__]
    assert any(isinstance(e, UnmockedRequestError) for e in chain)
    assert "unclaimed.example.org" in str(error) and "passthrough" in str(error)


@by_name
def test_passthrough_reaches_the_real_loopback_server(client, loopback_server):
    with mock_cloud(passthrough=["127.0.0.1"]):
        result = client.call("GET", loopback_server)
    assert (result.status, result.body) == (200, b"real loopback")


@by_name
def test_no_patch_is_left_behind(client, loopback_server):
    with mock_cloud(), pytest.raises(client.blocked):
        client.call("GET", loopback_server)
    result = client.call("GET", loopback_server)
    assert (result.status, result.body) == (200, b"real loopback")


def test_every_patch_point_is_restored():
    import importlib

    from mockcloud.intercept import INTERCEPTORS
    from mockcloud.intercept.chain import Interceptor, resolve

    for module in INTERCEPTORS:
        importlib.import_module(module)
    points = [resolve(path) for interceptor in Interceptor.registry.values() for path in interceptor.patches]
    assert len(points) == len({(id(o), n) for o, n in points}) >= 14
    before = [vars(owner).get(name) for owner, name in points]
    with mock_cloud():
        during = [vars(owner).get(name) for owner, name in points]
    after = [vars(owner).get(name) for owner, name in points]
    assert all(d is not b and d is not None for d, b in zip(during, before, strict=True))
    assert after == before


@by_name
def test_echo_sees_what_the_client_sent(client, echo):
    result = client.call("POST", f"{ECHO}/echo?x=1", {"X-Test": "yes", "Content-Type": "text/plain"}, b"hello body")
    assert result.status == 200
    sent = json.loads(result.body)
    assert (sent["method"], sent["path"], sent["query"], sent["body"]) == ("POST", "/echo", {"x": "1"}, "hello body")
    assert sent["headers"]["x-test"] == "yes"


@by_name
def test_streaming_a_large_body(client, echo):
    chunks = client.stream(f"{ECHO}/bytes?n=300000")
    body = b"".join(chunks)
    assert body == bytes(i % 251 for i in range(300000))


@by_name
def test_redirects_as_the_client_handles_them(client, echo):
    result = client.call("GET", f"{ECHO}/redirect?to={ECHO}/echo")
    if client.follows_redirects:
        assert result.status == 200 and b'"path": "/echo"' in result.body
    else:
        assert result.status == 302 and result.headers["location"] == f"{ECHO}/echo"


@by_name
def test_injected_latency_and_client_timeouts(client, echo):
    echo.faults.add("echo", latency=DEADLINE, count=1)  # only the client's timeout can end this one in time
    started = time.perf_counter()
    with pytest.raises(client.timed_out):
        client.call("GET", f"{ECHO}/echo", timeout=0.2)
    assert 0.15 <= time.perf_counter() - started < DEADLINE  # cut short by the client's timeout
    echo.faults.add("echo", latency=0.6, count=1)
    started = time.perf_counter()
    assert client.call("GET", f"{ECHO}/echo", timeout=DEADLINE).status == 200
    assert time.perf_counter() - started >= 0.6
    assert [record.delay for record in echo.requests] == [DEADLINE, 0.6]


@by_name
def test_session_reuse(client, echo):
    results = client.session_calls([f"{ECHO}/echo?n={i}" for i in range(3)])
    assert [r.status for r in results] == [200, 200, 200]
    assert [json.loads(r.body)["query"]["n"] for r in results] == ["0", "1", "2"]
    assert len(echo.requests) == 3


# ---- aiobotocore -------------------------------------------------------------------------


def test_aiobotocore_license_manager_in_process():
    async def go():
        session = get_session()
        async with session.create_client(
            "license-manager", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        ) as lm:
            token = await lm.create_token(
                LicenseArn="arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef",
                ClientToken="a",
            )
            access = await lm.get_access_token(Token=token["Token"])
            listed = await lm.list_tokens()
            try:
                await lm.delete_token(TokenId="nope")
            except lm.exceptions.ResourceNotFoundException as err:
                code = err.response["Error"]["Code"]
            return access["AccessToken"], listed["Tokens"], code

    with mock_cloud() as cloud:
        access, tokens, code = asyncio.run(go())
    assert access.count(".") == 2 and len(tokens) == 1 and code == "ResourceNotFoundException"
    assert [r.operation for r in cloud.requests] == ["CreateToken", "GetAccessToken", "ListTokens", "DeleteToken"]


def test_aiobotocore_unclaimed_host_fails_loudly():
    async def go():
        async with get_session().create_client(
            "sns", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        ) as sns:
            await sns.list_topics()  # an AWS service mockcloud does not emulate

    with mock_cloud(), pytest.raises(UnmockedRequestError, match="sns"):
        asyncio.run(go())


def test_libraries_are_patched_when_imported_not_before():
    """Starting a mock imports no client library; one first imported inside the mock is caught all the same."""
    import subprocess
    import sys

    code = """
import sys
from mockcloud import mock_cloud
with mock_cloud():
    assert not {"aiohttp", "httpx", "aiobotocore", "aliyunsdkcore"} & set(sys.modules), sorted(sys.modules)
    import httpx
    try:
        httpx.get("http://late.example.org/")
    except httpx.ConnectError as err:
        assert "late.example.org" in str(err)
    else:
        raise SystemExit("not intercepted")
import httpx
assert httpx.HTTPTransport.handle_request.__module__ == "httpx._transports.default"
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
