"""aiohttp: the connector hands out in-memory connections.

aiohttp serializes the request into our transport and parses our raw
response with its own protocol, so ``ClientSession`` and everything on it
(redirects, streaming, cookies, timeouts; the Alibaba tea SDK's async
methods) behave as over a socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, ClassVar

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.connector import BaseConnector, Connection

from .. import intercept
from ..core.faults import STALL_LIMIT, fault_bytes
from ..core.request import Reply
from . import misbehave
from .chain import Interceptor, blocked_error
from .wire import RequestAssembler, answer_raw

AiohttpUnmockedRequest = blocked_error(aiohttp.ClientConnectionError)


class MemoryTransport(asyncio.Transport):
    """An in-memory connection: aiohttp writes a request, and reads the emulator's reply.

    ``fault`` is a reply already decided (a faulted request that aiobotocore
    sends through aiohttp): the connection fails as it says, whatever is written.
    """

    def __init__(
        self, protocol: ResponseHandler, scheme: str, host: str, port: int, loop: Any, fault: Reply | None = None
    ) -> None:
        super().__init__()
        self._protocol, self._loop = protocol, loop
        self.scheme, self.host, self.port = scheme, host, port
        self._request = RequestAssembler()
        self._closing = False
        self._fault = fault

    def write(self, data: Any) -> None:
        if self._closing or not self._request.feed(bytes(data)):
            return
        request, self._request = self._request, RequestAssembler()
        if self._fault is not None:
            self._loop.call_soon(self._fail, self._fault)
            return
        try:
            reply = answer_raw(self.scheme, self.host, self.port, request, AiohttpUnmockedRequest, wait=False)
            if reply is None:
                raise AiohttpUnmockedRequest(request.method, request.target, self.host)
        except Exception as exc:  # surfaces where aiohttp waits for the response
            self._loop.call_soon(self._protocol.set_exception, exc)
            return
        # injected latency: the response arrives late, and aiohttp's own timeouts decide
        if reply.fault is not None:
            self._loop.call_later(reply.delay, self._fail, reply)
        else:
            self._loop.call_later(reply.delay, self._protocol.data_received, reply.http_bytes())

    def _fail(self, reply: Reply) -> None:
        """What asyncio's socket transport tells the protocol when the peer fails the connection so."""
        if self._closing:
            return
        data = fault_bytes(reply)
        if data:
            self._protocol.data_received(data)
        if reply.fault in ("reset", "reset_after_commit"):
            self._closing = True
            self._protocol.connection_lost(ConnectionResetError(*misbehave.RESET.args))
        elif reply.fault == "stall":
            self._loop.call_later(STALL_LIMIT, self._end_of_stream)
        else:
            self._end_of_stream()

    def _end_of_stream(self) -> None:
        protocol: asyncio.Protocol = self._protocol  # asyncio's contract: a true answer keeps the transport open
        if not self._closing and not protocol.eof_received():
            self.close()

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._loop.call_soon(self._protocol.connection_lost, None)

    abort = close

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return (self.host, self.port)
        if name == "sockname":
            return ("127.0.0.1", 0)
        return default


class AiohttpInterceptor(Interceptor):
    library = "aiohttp"
    patches: ClassVar[dict[str, str]] = {"aiohttp.connector:BaseConnector.connect": "connect"}

    @staticmethod
    async def connect(nxt: Any, connector: BaseConnector, req: Any, traces: Any, timeout: Any) -> Connection:
        mock = intercept.current()
        host = req.url.host or ""
        fault = misbehave.take()
        if fault is None and (mock is None or mock.allows_passthrough(host)):
            connection: Connection = await nxt(connector, req, traces, timeout)
            return connection
        loop = asyncio.get_running_loop()
        protocol = ResponseHandler(loop=loop)
        transport = MemoryTransport(protocol, req.url.scheme, host, req.url.port, loop, fault)
        protocol.connection_made(transport)
        protocol.force_close()  # never pooled: each request gets a fresh in-memory connection
        return Connection(connector, req.connection_key, protocol, loop)
