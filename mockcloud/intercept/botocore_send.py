"""botocore: answered ahead of the ``before-send`` handlers; refused at ``Endpoint._send``.

moto answers AWS requests from a ``before-send`` handler, so the emulator
answers what it claims before that event is emitted: the endpoint's own
``_do_get_response`` then runs on with the emulator's response as the event's
answer, and parses it as botocore always does. What the emulator does not
claim goes through ``before-send`` untouched (moto, a Stubber-like handler),
and what nothing answered is refused at ``_send``, the last step before the
network. Patching the class catches clients created before the mock started.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..core.errors import UnmockedRequestError
from . import answer, misbehave, read_timeout, refuse_unless_passed
from .chain import Interceptor

_AWSResponse: Any = None


class RawBody(io.BytesIO):
    """What botocore reads a response body from (``stream()`` and ``read()``)."""

    def stream(self, amt: int = 65536, decode_content: bool = True) -> Iterator[bytes]:
        while True:
            chunk = self.read(amt)
            if not chunk:
                return
            yield chunk


def header_pairs(headers: Any) -> list[tuple[str, str]]:
    # botocore's HeadersDict rebuilds a case-folded key on every item lookup;
    # reading its store directly costs a tenth of that.
    try:
        return [(key._key, value) for key, value in headers._dict.items()]
    except AttributeError:
        return list(headers.items())


class AnsweredEmitter:
    """The endpoint's emitter, but ``before-send`` is answered: by the emulator, and by nobody else."""

    __slots__ = ("_emitter", "_response")

    def __init__(self, emitter: Any, response: Any) -> None:
        self._emitter, self._response = emitter, response

    def emit(self, event_name: str, **kwargs: Any) -> Any:
        if event_name.startswith("before-send."):
            response = self._response
            return [(None, response() if callable(response) else response)]
        return self._emitter.emit(event_name, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._emitter, name)


class AnsweredEndpoint:
    """The endpoint as its own ``_do_get_response`` sees it for one answered request."""

    __slots__ = ("_endpoint", "_event_emitter")

    def __init__(self, endpoint: Any, emitter: Any) -> None:
        self._endpoint, self._event_emitter = endpoint, emitter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._endpoint, name)


def moto_answers() -> bool:
    """Whether moto's ``before-send`` handler, beyond ours, answers AWS requests now (``mock_aws`` runs)."""
    models = sys.modules.get("moto.core.models")
    return bool(models is not None and getattr(getattr(models, "botocore_stubber", None), "enabled", False))


def _timed_out(url: str) -> Callable[[], Exception]:
    def error() -> Exception:
        from botocore.exceptions import ReadTimeoutError

        timeout: Exception = ReadTimeoutError(endpoint_url=url)  # botocore is untyped
        return timeout

    return error


class BotocoreInterceptor(Interceptor):
    library = "botocore"
    patches: ClassVar[dict[str, str]] = {
        "botocore.endpoint:Endpoint._do_get_response": "get_response",
        "botocore.endpoint:Endpoint._send": "send",
    }

    @classmethod
    def install(cls) -> None:
        global _AWSResponse
        from botocore.awsrequest import AWSResponse

        _AWSResponse = AWSResponse
        super().install()

    @staticmethod
    def get_response(nxt: Any, endpoint: Any, request: Any, operation_model: Any, context: Any) -> Any:
        try:
            timeout = read_timeout(getattr(getattr(endpoint, "http_session", None), "_timeout", None))
            reply = answer(
                request.method,
                request.url,
                header_pairs(request.headers),
                request.body,
                None,
                others_answer=moto_answers(),
                timeout=timeout,
                timed_out=_timed_out(request.url),
            )
        except Exception as error:  # as botocore's own step returns a failed send: retry logic sees it
            return None, error
        if reply is None:
            return nxt(endpoint, request, operation_model, context)
        if reply.fault is not None:  # botocore's own HTTP session meets the fault on a real socket

            def response() -> Any:
                with misbehave.faulting(reply):
                    return endpoint.http_session.send(request)

        else:
            # the reply's header pairs as they are: AWSResponse makes its own HeadersDict of them
            response = _AWSResponse(request.url, reply.status, reply.headers, RawBody(reply.body))
        answered = AnsweredEndpoint(endpoint, AnsweredEmitter(endpoint._event_emitter, response))
        return nxt(answered, request, operation_model, context)

    @staticmethod
    def send(nxt: Any, endpoint: Any, request: Any) -> Any:
        refuse_unless_passed(
            nxt, "botocore", request.method, request.url, urlsplit(request.url).hostname or "", UnmockedRequestError
        )
        return nxt(endpoint, request)
