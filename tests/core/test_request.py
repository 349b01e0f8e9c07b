"""The environ an interceptor builds is the one a server would have built."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from mockcloud.core.request import _split_url, build_environ


@pytest.mark.parametrize(
    "url",
    [
        "https://license-manager.us-east-1.amazonaws.com/",
        "http://Echo.Mockcloud.test:8080/a/b?x=1&y=http://z",
        "https://h/?q",
        "http://127.0.0.1:4566",
        "https://user@h/x",
        "http://[::1]:80/x",
        "https://h/p#frag",
        "https://h?x=1",
        "http://h:80/%41b?c=%20",
    ],
)
def test_split_url_agrees_with_urlsplit(url):
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    expected = (
        scheme,
        parts.hostname,
        parts.port or (443 if scheme == "https" else 80),
        parts.path or "/",
        parts.query,
    )
    assert _split_url(url) == expected


def test_environ_of_a_client_request():
    environ = build_environ(
        "post",
        "https://Example.COM:8443/p%20q?a=1",
        [("X-Amz-Date", "x"), ("Content-Type", "t/p"), ("Content-Length", "99")],
        b"body",
    )
    assert environ["REQUEST_METHOD"] == "POST"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"], environ["HTTP_HOST"]) == (
        "example.com",
        "8443",
        "example.com:8443",
    )
    assert (environ["PATH_INFO"], environ["RAW_URI"], environ["QUERY_STRING"]) == ("/p q", "/p%20q?a=1", "a=1")
    assert environ["HTTP_X_AMZ_DATE"] == "x" and environ["CONTENT_TYPE"] == "t/p"
    assert environ["CONTENT_LENGTH"] == "4" and environ["wsgi.input"].read() == b"body"
