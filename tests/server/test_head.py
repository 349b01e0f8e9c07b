"""A reply to HEAD has the headers a GET would get and no body (RFC 9110 §9.3.2), on every path.

A body there is read, on a keep-alive connection, as the start of the next
reply: ``http.client`` raised ``BadStatusLine`` on it. So the server test
alternates HEAD and GET on one ``http.client`` connection over every service
and every admin endpoint, and in-process every client family gets an empty
body with the length a GET would get.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.request

import aiohttp
import httpx
import pytest
import requests
import urllib3

from mockcloud import mock_cloud
from mockcloud.server import LiveServer
from mockcloud.server.app import AdminApp, create_app
from tests.helpers import aws_signed_headers

pytestmark = pytest.mark.server

DEVPAY = "https://ls.amazonaws.com/?Action=ActivateHostedProduct&Version=2008-04-28"

# a request each service claims: (service, target, headers)
SERVICE_REQUESTS = [
    ("licensemanager", "/", {"X-Amz-Target": "AWSLicenseManager.ListTokens"}),
    ("sts", "/?Action=GetCallerIdentity&Version=2011-06-15", {}),
    ("devpay", "/?Action=ActivateHostedProduct&Version=2008-04-28", {}),
    ("devpay", "/devpay/", {}),
    ("wuying", "/?Action=GetLoginToken&Version=2020-10-02&RegionId=cn-hangzhou", {}),
    ("amplifyuibuilder", "/v1/me", {"Authorization": "Bearer figu_nothing"}),
    ("amplifyuibuilder", "/tokens/figma", "sigv4"),
    ("userapi", "/User/Me", {"Version": "2.0"}),
]
UNCLAIMED = ["/nothing/claims/this", "/?Action=Nope"]
STEADY = {
    "/_mockcloud/",
    "/_mockcloud/dashboard/dashboard.js",
    "/_mockcloud/health",
    "/_mockcloud/operations",
    "/_mockcloud/jwks",
    "/_mockcloud/services",
    "/_mockcloud/no-such-endpoint",
}


def admin_paths(server: LiveServer) -> list[str]:
    """Every admin endpoint a GET reaches (and so a HEAD), with arguments where the rule takes them."""
    seq = server.cloud.requests.last
    return [
        "/_mockcloud/",
        "/_mockcloud/dashboard/dashboard.css",
        "/_mockcloud/dashboard/dashboard.js",
        "/_mockcloud/dashboard/missing.js",
        "/_mockcloud/health",
        "/_mockcloud/clock",
        "/_mockcloud/faults",
        "/_mockcloud/requests",
        f"/_mockcloud/requests/{seq}",
        "/_mockcloud/requests/1",
        "/_mockcloud/inventory",
        "/_mockcloud/operations",
        "/_mockcloud/credentials",
        "/_mockcloud/jwks",
        "/_mockcloud/jwks/licensemanager",
        "/_mockcloud/state",
        "/_mockcloud/services",
        "/_mockcloud/services/wuying",
        "/_mockcloud/services/wuying/totp_code",
        "/_mockcloud/services/licensemanager/signing_key",
        "/_mockcloud/reset",  # POST only: the 405 too
        "/_mockcloud/no-such-endpoint",
    ]


@pytest.fixture(scope="module")
def server():
    with LiveServer(threads=2) as live:
        yield live


def _headers(server: LiveServer, method: str, target: str, headers: dict[str, str] | str) -> dict[str, str]:
    if headers == "sigv4":
        return aws_signed_headers(method, f"{server.url}{target}", b"", "amplifyuibuilder")
    assert isinstance(headers, dict)
    return headers


def _exchange(connection: http.client.HTTPConnection, method: str, target: str, headers: dict[str, str]):
    connection.request(method, target, headers=headers)
    response = connection.getresponse()
    return response, response.read()


def test_head_and_get_alternate_on_one_keep_alive_connection_for_every_service(server):
    """Each HEAD: the GET's status, its Content-Length, and no byte of body: the next reply parses."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for _ in range(2):
            for service, target, headers in SERVICE_REQUESTS:
                before = server.cloud.requests.last
                head, head_body = _exchange(connection, "HEAD", target, _headers(server, "HEAD", target, headers))
                get, get_body = _exchange(connection, "GET", target, _headers(server, "GET", target, headers))
                assert head_body == b"" and get_body, (service, target)
                assert int(head.getheader("Content-Length")) > 0, (service, target)
                assert head.getheader("Content-Type") == get.getheader("Content-Type"), (service, target)
                logged = [(r.service, r.method) for r in server.cloud.requests.since(before)]
                assert logged == [(service, "HEAD"), (service, "GET")], (target, logged)
            for target in UNCLAIMED:
                head, head_body = _exchange(connection, "HEAD", target, {})
                get, get_body = _exchange(connection, "GET", target, {})
                assert head.status == get.status == 404 and head_body == b"" and get_body
                assert head.getheader("Content-Length") == str(len(get_body.replace(b"GET", b"HEAD")))
    finally:
        connection.close()


def test_head_and_get_alternate_on_one_keep_alive_connection_for_every_admin_endpoint(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for path in admin_paths(server):
            head, head_body = _exchange(connection, "HEAD", path, {})
            get, get_body = _exchange(connection, "GET", path, {})
            assert head_body == b"" and get_body, path
            assert head.status == get.status, path
            if path in STEADY:  # what does not change between the two: the very length of the GET
                assert head.getheader("Content-Length") == str(len(get_body)), path
            assert head.getheader("X-Content-Type-Options") == "nosniff", path
    finally:
        connection.close()


def test_a_head_that_the_server_refuses_itself_has_no_body_either(server):
    """waitress's own answers (a malformed request) go through the same gate: nothing after the headers."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"HEAD /_mockcloud/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # the server closes after an error
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and rest == b""


def test_head_on_the_admin_api_runs_only_what_a_get_would(server):
    """HEAD is GET without the body: never the POST half of an endpoint (a helper that changes state)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        keys = _exchange(connection, "GET", "/_mockcloud/credentials", {})[1]
        issued = len(server.cloud.amplifyuibuilder.inventory())
        for path in ("/_mockcloud/credentials", "/_mockcloud/services/amplifyuibuilder/create_authorization_code"):
            head, _ = _exchange(connection, "HEAD", path, {})
            get, _ = _exchange(connection, "GET", path, {})
            assert head.status == get.status, path
        assert head.status == 405 and head.getheader("Allow") == "POST"
        assert _exchange(connection, "GET", "/_mockcloud/credentials", {})[1] == keys  # not emptied by a HEAD
        assert len(server.cloud.amplifyuibuilder.inventory()) == issued  # no code made by a HEAD
    finally:
        connection.close()


def test_head_through_the_wsgi_app_has_no_body_on_any_path():
    """The one application, mounted in any WSGI server: service paths, unclaimed paths, the admin API."""
    from mockcloud.core.request import build_environ

    app: AdminApp = create_app()
    for url in (DEVPAY, "http://127.0.0.1/nothing", "http://127.0.0.1/_mockcloud/health"):
        for method in ("HEAD", "GET"):
            environ = build_environ(method, url, {}, b"")
            del environ["mockcloud.in_process"]
            started: list[list[tuple[str, str]]] = []

            def start_response(status, headers, exc_info=None, started=started):
                started.append(headers)

            body = b"".join(app(environ, start_response))
            length = dict(started[0])["Content-Length"]
            if method == "HEAD":
                assert body == b"" and int(length) > 0, url
            else:
                assert len(body) == int(length) > 0, url


def test_head_in_process_has_no_body_for_every_client_family():
    """Each client gets the headers and an empty body, as from a real server (urllib3 used to raise IncompleteRead)."""

    async def with_aiohttp() -> tuple[int, str | None, bytes]:
        async with aiohttp.ClientSession() as session, session.head(DEVPAY) as response:
            return response.status, response.headers.get("Content-Length"), await response.read()

    def with_urllib() -> tuple[int, str | None, bytes]:
        try:
            with urllib.request.urlopen(urllib.request.Request(DEVPAY, method="HEAD"), timeout=5) as response:
                return response.status, response.headers.get("Content-Length"), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Length"), error.read()

    def with_http_client() -> tuple[int, str | None, bytes]:
        connection = http.client.HTTPSConnection("ls.amazonaws.com", timeout=5)
        connection.request("HEAD", DEVPAY.split(".com", 1)[1])
        response = connection.getresponse()
        return response.status, response.getheader("Content-Length"), response.read()

    with mock_cloud() as cloud:
        response = requests.head(DEVPAY, timeout=5)
        seen = {"requests": (response.status_code, response.headers.get("Content-Length"), response.content)}
        response = httpx.head(DEVPAY)
        seen["httpx"] = (response.status_code, response.headers.get("Content-Length"), response.content)
        pooled = urllib3.PoolManager().request("HEAD", DEVPAY)
        seen["urllib3"] = (pooled.status, pooled.headers.get("Content-Length"), pooled.data)
        seen["urllib"] = with_urllib()
        seen["http.client"] = with_http_client()
        seen["aiohttp"] = asyncio.run(with_aiohttp())
        logged = [(r.method, r.service, r.status, r.capture.reply_size) for r in cloud.requests]
    assert len(logged) == len(seen) and len(set(logged)) == 1
    _, service, status, rendered = logged[0]
    assert service == "devpay" and status == 405 and rendered > 0  # DevPay's own answer to a method it refuses
    for client, answer in seen.items():
        assert answer == (status, str(rendered), b""), client


def test_the_log_keeps_what_a_head_was_answered():
    """The client gets no body; the log (and the dashboard) still shows the reply the service rendered."""
    with mock_cloud() as cloud:
        requests.head(DEVPAY, timeout=5)
        detail = cloud.requests[-1].detail()
    assert detail["method"] == "HEAD" and json.dumps(detail["response"]["body"]).count("Error") >= 1


def test_every_admin_refusal_is_nosniff_json_too():
    """401, 403 (Host, Origin), 413, 415, 404, 405: each JSON reply of the admin API says nosniff."""
    with LiveServer(admin_token="s3cret", max_body_size=64) as live:
        url = live.url + "/_mockcloud/"
        token = {"Authorization": "Bearer s3cret"}
        answers = {
            401: requests.get(url + "state", timeout=5),
            403: requests.get(url + "health", headers={"Host": "evil.example"}, timeout=5),
            4030: requests.get(url + "health", headers={"Origin": "http://evil.example", **token}, timeout=5),
            413: requests.post(
                url + "reset", data=b" " * 100, headers={**token, "Content-Type": "application/json"}, timeout=5
            ),
            415: requests.post(url + "reset", data=b"{}", headers={**token, "Content-Type": "text/plain"}, timeout=5),
            404: requests.get(url + "nowhere", headers=token, timeout=5),
            405: requests.delete(url + "health", headers={**token, "Content-Type": "application/json"}, timeout=5),
            200: requests.get(url + "health", headers=token, timeout=5),
        }
    for status, response in answers.items():
        assert response.status_code == (403 if status == 4030 else status), (status, response.text)
        assert response.headers["Content-Type"] == "application/json", status
        assert response.headers["X-Content-Type-Options"] == "nosniff", status
