"""urllib3 used directly: ``HTTPConnectionPool.urlopen`` answers from the application.

requests and botocore are caught above urllib3; what reaches a pool here is
either a direct urllib3 user or a passthrough request, which goes on as before.
"""
from __future__ import annotations

import io

import urllib3
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from ..core.errors import UnmockedRequestError
from . import answer, read_timeout

_original = None


class Urllib3UnmockedRequest(UnmockedRequestError, NewConnectionError):
    """urllib3's own NewConnectionError family, naming the host."""

    def __init__(self, method: str, url: str, host: str) -> None:
        UnmockedRequestError.__init__(self, method, url, host)
        self.conn = None


def _urlopen(pool: HTTPConnectionPool, method, url, body=None, headers=None, retries=None, redirect=True, assert_same_host=True, timeout=None, pool_timeout=None, release_conn=None, chunked=False, body_pos=None, preload_content=True, decode_content=True, **response_kw):
    port = pool.port or (443 if pool.scheme == "https" else 80)
    default = port == (443 if pool.scheme == "https" else 80)
    full = url if url.startswith(("http://", "https://")) else f"{pool.scheme}://{pool.host}{'' if default else f':{port}'}{url}"
    limit = read_timeout(pool.timeout if timeout is None or not isinstance(timeout, (int, float, urllib3.Timeout)) else timeout)
    reply = answer(
        method, full, dict(headers or pool.headers or {}), body, Urllib3UnmockedRequest,
        timeout=limit, timed_out=lambda: ReadTimeoutError(pool, full, f"Read timed out. (read timeout={limit})"),
    )
    if reply is None:
        return _original(pool, method, url, body, headers, retries, redirect, assert_same_host, timeout, pool_timeout, release_conn, chunked, body_pos, preload_content, decode_content, **response_kw)
    if not isinstance(retries, Retry):
        retries = Retry.from_int(retries, redirect=redirect, default=pool.retries)
    response = urllib3.HTTPResponse(
        body=io.BytesIO(reply.body),
        headers=reply.headers,
        status=reply.status,
        reason=reply.reason,
        preload_content=preload_content,
        decode_content=decode_content,
        request_method=method,
        request_url=full,
        retries=retries,
    )
    location = redirect and response.get_redirect_location()
    if location:  # same-pool redirects, as urllib3's own urlopen follows them
        retries = retries.increment(method, full, response=response, _pool=pool)
        if reply.status == 303:
            method, body = "GET", None
        return pool.urlopen(method, location, body, headers, retries=retries, redirect=redirect, preload_content=preload_content, decode_content=decode_content, **response_kw)
    return response


def install() -> None:
    global _original
    if _original is None:
        _original = HTTPConnectionPool.urlopen
        HTTPConnectionPool.urlopen = _urlopen


def uninstall() -> None:
    global _original
    if _original is not None:
        HTTPConnectionPool.urlopen = _original
        _original = None
