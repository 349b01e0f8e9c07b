"""httpx: the default sync and async transports answer from the application.

The client above the transport (redirects, auth, cookies, streaming reads)
is httpx's own; custom transports a test passes in are left alone. respx
patches below the transport (httpcore), so what the emulator does not claim
goes on to respx when it is active, and is refused when only httpcore's own
code, and so the network, lies beyond.
"""
from __future__ import annotations

from typing import Any

from . import answer, async_wait_for
from .chain import Interceptor, blocked_error


def _response(request: Any, reply: Any) -> Any:
    import httpx

    return httpx.Response(
        reply.status, headers=reply.headers, content=reply.body, request=request, extensions={"http_version": b"HTTP/1.1"}
    )


def _read_timeout(request: Any) -> tuple[Any, Any]:
    import httpx

    timeout = (request.extensions.get("timeout") or {}).get("read")
    return timeout, (lambda: httpx.ReadTimeout("timed out", request=request))


def _blocked() -> type:
    import httpx

    return blocked_error(httpx.ConnectError, _request=None)


class HttpxInterceptor(Interceptor):
    library = "httpx"
    patches = {
        "httpx:HTTPTransport.handle_request": "handle_request",
        "httpx:AsyncHTTPTransport.handle_async_request": "handle_async_request",
    }

    @staticmethod
    def handle_request(nxt: Any, transport: Any, request: Any) -> Any:
        from httpcore import ConnectionPool

        timeout, timed_out = _read_timeout(request)
        reply = answer(
            request.method, str(request.url), request.headers.raw, request.read(), _blocked(),
            next_link=ConnectionPool.handle_request, library="httpcore", timeout=timeout, timed_out=timed_out,
        )
        if reply is None:
            return nxt(transport, request)
        return _response(request, reply)

    @staticmethod
    async def handle_async_request(nxt: Any, transport: Any, request: Any) -> Any:
        from httpcore import AsyncConnectionPool

        body = await request.aread()
        reply = answer(
            request.method, str(request.url), request.headers.raw, body, _blocked(),
            next_link=AsyncConnectionPool.handle_async_request, library="httpcore", wait=False,
        )
        if reply is None:
            return await nxt(transport, request)
        if reply.delay:
            await async_wait_for(reply, *_read_timeout(request))
        return _response(request, reply)
