"""aiobotocore: as for botocore, answered ahead of ``before-send`` and refused at ``AioEndpoint._send``."""

from __future__ import annotations

import io
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..core.errors import UnmockedRequestError
from . import answer, async_wait_for, misbehave, refuse_unless_passed
from .botocore_send import AnsweredEmitter, AnsweredEndpoint, header_pairs, moto_answers
from .chain import Interceptor


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


class AsyncAnsweredEmitter(AnsweredEmitter):
    __slots__ = ()

    async def emit(self, event_name: str, **kwargs: Any) -> Any:
        if event_name.startswith("before-send."):
            response = self._response
            return [(None, await response() if callable(response) else response)]
        return await self._emitter.emit(event_name, **kwargs)


class AiobotocoreInterceptor(Interceptor):
    library = "aiobotocore"
    patches: ClassVar[dict[str, str]] = {
        "aiobotocore.endpoint:AioEndpoint._do_get_response": "get_response",
        "aiobotocore.endpoint:AioEndpoint._send": "send",
    }

    @staticmethod
    async def get_response(nxt: Any, endpoint: Any, request: Any, operation_model: Any, context: Any) -> Any:
        try:
            reply = answer(
                request.method,
                request.url,
                header_pairs(request.headers),
                request.body,
                None,
                others_answer=moto_answers(),
                wait=False,
            )
            if reply is not None and reply.delay:
                await async_wait_for(reply, None, None)
        except Exception as error:  # as aiobotocore's own step returns a failed send
            return None, error
        if reply is None:
            return await nxt(endpoint, request, operation_model, context)
        from aiobotocore.awsrequest import AioAWSResponse
        from botocore.awsrequest import HeadersDict

        if reply.fault is not None:  # aiobotocore's own HTTP session meets the fault

            async def response() -> Any:
                with misbehave.faulting(reply):
                    return await endpoint.http_session.send(request)

        else:
            response = AioAWSResponse(
                request.url, reply.status, HeadersDict(reply.headers), AsyncRawBody(request.url, reply.body)
            )
        answered = AnsweredEndpoint(endpoint, AsyncAnsweredEmitter(endpoint._event_emitter, response))
        return await nxt(answered, request, operation_model, context)

    @staticmethod
    async def send(nxt: Any, endpoint: Any, request: Any) -> Any:
        host = urlsplit(request.url).hostname or ""
        refuse_unless_passed(nxt, "aiobotocore", request.method, request.url, host, UnmockedRequestError)
        return await nxt(endpoint, request)
