"""httpx: the default sync and async transports answer from the application.

The client above the transport (redirects, auth, cookies, streaming reads)
is httpx's own; custom transports a test passes in are left alone. respx
patches below the transport (httpcore), so what the emulator does not claim
goes on to respx when it is active, and is refused when only httpcore's own
code, and so the network, lies beyond.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..core.errors import UnmockedRequestError
from . import answer, async_wait_for, misbehave
from .chain import Interceptor, blocked_error

if TYPE_CHECKING:
    import httpx

    from ..core.request import Reply


def _response(request: httpx.Request, reply: Reply) -> httpx.Response:
    import httpx

    return httpx.Response(
        reply.status,
        headers=reply.headers,
        content=reply.body,
        request=request,
        extensions={"http_version": b"HTTP/1.1"},
    )


def _read_timeout(request: httpx.Request) -> tuple[float | None, Callable[[], Exception]]:
    import httpx

    timeout: float | None = (request.extensions.get("timeout") or {}).get("read")
    return timeout, (lambda: httpx.ReadTimeout("timed out", request=request))


class _Loopback:
    """httpcore's network backend for a faulted request: a plain connection to the loopback end that fails it.

    Duck-typed (httpcore's pool calls only ``connect_tcp`` and ``sleep``): subclassing httpcore's
    backends would import httpcore with this module.
    """

    def __init__(self, reply: Reply, backend: Any) -> None:
        self._reply, self._backend = reply, backend


class _LoopbackFault(_Loopback):
    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: Any = None, socket_options: Any = None
    ) -> Any:
        host, port = misbehave.server().address
        stream = self._backend.connect_tcp(host, port, timeout=timeout)
        misbehave.server().expect(stream.get_extra_info("socket").getsockname()[1], self._reply)
        return _NoTls(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncLoopbackFault(_Loopback):
    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: Any = None, socket_options: Any = None
    ) -> Any:
        host, port = misbehave.server().address
        stream = await self._backend.connect_tcp(host, port, timeout=timeout)
        misbehave.server().expect(stream.get_extra_info("socket").getsockname()[1], self._reply)
        return _NoTls(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _NoTls:
    """The real stream, but ``start_tls`` keeps it plain: the loopback end speaks plain HTTP."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def start_tls(self, *args: Any, **kwargs: Any) -> Any:
        return self._start_tls_async() if hasattr(self._stream, "aclose") else self

    async def _start_tls_async(self) -> Any:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _faulty_transport(reply: Reply, asynchronous: bool) -> httpx.HTTPTransport | httpx.AsyncHTTPTransport:
    """A transport of httpx's own class whose pool connects to the loopback end (httpx maps the errors)."""
    import httpcore
    import httpx

    # the backends are duck-typed (see _Loopback), hence the ignores
    if asynchronous:
        async_transport = object.__new__(httpx.AsyncHTTPTransport)
        backend = _AsyncLoopbackFault(reply, httpcore.AnyIOBackend())
        async_transport._pool = httpcore.AsyncConnectionPool(network_backend=backend)  # type: ignore[arg-type]
        return async_transport
    transport = object.__new__(httpx.HTTPTransport)
    transport._pool = httpcore.ConnectionPool(network_backend=_LoopbackFault(reply, httpcore.SyncBackend()))  # type: ignore[arg-type]
    return transport


def _blocked() -> type[UnmockedRequestError]:
    import httpx

    return blocked_error(httpx.ConnectError, _request=None)


class HttpxInterceptor(Interceptor):
    library = "httpx"
    patches: ClassVar[dict[str, str]] = {
        "httpx:HTTPTransport.handle_request": "handle_request",
        "httpx:AsyncHTTPTransport.handle_async_request": "handle_async_request",
    }

    @staticmethod
    def handle_request(nxt: Any, transport: Any, request: Any) -> Any:
        from httpcore import ConnectionPool

        timeout, timed_out = _read_timeout(request)
        reply = answer(
            request.method,
            str(request.url),
            request.headers.raw,
            request.read(),
            _blocked(),
            next_link=ConnectionPool.handle_request,
            library="httpcore",
            timeout=timeout,
            timed_out=timed_out,
        )
        if reply is None:
            return nxt(transport, request)
        if reply.fault is not None:  # the pool's connection lives as long as the response reads from it
            return nxt(_faulty_transport(reply, asynchronous=False), request)
        return _response(request, reply)

    @staticmethod
    async def handle_async_request(nxt: Any, transport: Any, request: Any) -> Any:
        from httpcore import AsyncConnectionPool

        body = await request.aread()
        reply = answer(
            request.method,
            str(request.url),
            request.headers.raw,
            body,
            _blocked(),
            next_link=AsyncConnectionPool.handle_async_request,
            library="httpcore",
            wait=False,
        )
        if reply is None:
            return await nxt(transport, request)
        if reply.delay:
            await async_wait_for(reply, *_read_timeout(request))
        if reply.fault is not None:
            return await nxt(_faulty_transport(reply, asynchronous=True), request)
        return _response(request, reply)
