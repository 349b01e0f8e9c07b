"""httpx: the default sync and async transports answer from the application.

The client above the transport (redirects, auth, cookies, streaming reads)
is httpx's own; custom transports a test passes in are left alone.
"""
from __future__ import annotations

import httpx

from ..core.errors import UnmockedRequestError
from . import answer, async_wait_for

_originals: dict = {}


class HttpxUnmockedRequest(UnmockedRequestError, httpx.ConnectError):
    """httpx's own ConnectError, naming the host."""

    def __init__(self, method: str, url: str, host: str) -> None:
        UnmockedRequestError.__init__(self, method, url, host)
        self._request = None


def _response(request: httpx.Request, reply) -> httpx.Response:
    return httpx.Response(
        reply.status, headers=reply.headers, content=reply.body, request=request, extensions={"http_version": b"HTTP/1.1"}
    )


def _read_timeout(request: httpx.Request):
    timeout = (request.extensions.get("timeout") or {}).get("read")
    return timeout, (lambda: httpx.ReadTimeout("timed out", request=request))


def handle_request(transport, request: httpx.Request) -> httpx.Response:
    timeout, timed_out = _read_timeout(request)
    reply = answer(
        request.method, str(request.url), request.headers.raw, request.read(), HttpxUnmockedRequest,
        timeout=timeout, timed_out=timed_out,
    )
    if reply is None:
        return _originals["sync"](transport, request)
    return _response(request, reply)


async def handle_async_request(transport, request: httpx.Request) -> httpx.Response:
    body = await request.aread()
    reply = answer(request.method, str(request.url), request.headers.raw, body, HttpxUnmockedRequest, wait=False)
    if reply is None:
        return await _originals["async"](transport, request)
    if reply.delay:
        await async_wait_for(reply, *_read_timeout(request))
    return _response(request, reply)


def install() -> None:
    if not _originals:
        _originals["sync"] = httpx.HTTPTransport.handle_request
        _originals["async"] = httpx.AsyncHTTPTransport.handle_async_request
        httpx.HTTPTransport.handle_request = handle_request
        httpx.AsyncHTTPTransport.handle_async_request = handle_async_request


def uninstall() -> None:
    if _originals:
        httpx.HTTPTransport.handle_request = _originals.pop("sync")
        httpx.AsyncHTTPTransport.handle_async_request = _originals.pop("async")
