"""aiobotocore: replace ``AioEndpoint._send`` while a mock is active (as for botocore)."""
from __future__ import annotations

import io

from . import answer, async_wait_for
from .botocore_send import _header_pairs

_original = None


class _AsyncContent:
    """The ``content`` stream aiobotocore's streaming body reads from."""

    def __init__(self, body: bytes) -> None:
        self._stream = io.BytesIO(body)

    async def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def at_eof(self) -> bool:
        return self._stream.tell() >= len(self._stream.getbuffer())


class AsyncRawBody:
    """The raw response aiobotocore reads (``await read()``, ``content.read(n)``)."""

    def __init__(self, url: str, body: bytes) -> None:
        self.url = url
        self._body = body
        self.content = _AsyncContent(body)

    async def read(self) -> bytes:
        return self._body

    def close(self) -> None:
        pass

    def release(self) -> None:
        pass


async def _send(endpoint, request):
    reply = answer(request.method, request.url, _header_pairs(request.headers), request.body, wait=False)
    if reply is None:
        return await _original(endpoint, request)
    if reply.delay:
        await async_wait_for(reply, None, None)
    from aiobotocore.awsrequest import AioAWSResponse
    from botocore.awsrequest import HeadersDict

    return AioAWSResponse(request.url, reply.status, HeadersDict(reply.headers), AsyncRawBody(request.url, reply.body))


def install() -> None:
    global _original
    from aiobotocore.endpoint import AioEndpoint

    if _original is None:
        _original = AioEndpoint._send
        AioEndpoint._send = _send


def uninstall() -> None:
    global _original
    from aiobotocore.endpoint import AioEndpoint

    if _original is not None:
        AioEndpoint._send = _original
        _original = None
