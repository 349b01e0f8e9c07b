"""requests: ``Session.get_adapter`` hands out an adapter that asks the emulator first.

The patch point is the session's choice of adapter, not ``HTTPAdapter.send``:
that is where ``responses`` (and moto, through it) patch, so mockcloud and
they never overwrite each other, whatever order they start and stop in.
What the emulator does not claim goes to the adapter requests chose, and so
to an outer ``responses`` mock when one is active, else (for a passthrough
host) to the network.
"""

from __future__ import annotations

import io
from http.client import responses as reasons
from types import ModuleType
from typing import Any, ClassVar

from . import answer, misbehave, read_timeout
from .chain import Interceptor, blocked_error


class AnsweringAdapter:
    """Wraps the adapter requests chose: the emulator answers first, the adapter gets the rest."""

    __slots__ = ("adapter", "interceptor")

    def __init__(self, adapter: Any, interceptor: type[RequestsInterceptor]) -> None:
        self.adapter, self.interceptor = adapter, interceptor

    def send(
        self,
        request: Any,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> Any:
        interceptor = self.interceptor
        exceptions = interceptor.requests.exceptions
        limit = read_timeout(timeout)
        reply = answer(
            request.method,
            request.url,
            request.headers,
            request.body,
            interceptor.blocked(),
            next_link=type(self.adapter).send,
            library=interceptor.library,
            timeout=limit,
            timed_out=lambda: exceptions.ReadTimeout(f"Read timed out. (read timeout={limit})", request=request),
        )
        if reply is None:
            return self.adapter.send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        if reply.fault is not None:  # the adapter's own urllib3 meets the fault on a real socket
            with misbehave.faulting(reply):
                return self.adapter.send(
                    request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
                )
        return self.adapter.build_response(request, interceptor.raw_response(reply, request.method))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.adapter, name)


class RequestsInterceptor(Interceptor):
    library = "requests"
    patches: ClassVar[dict[str, str]] = {"requests.sessions:Session.get_adapter": "get_adapter"}
    requests: ClassVar[ModuleType]
    urllib3: ClassVar[ModuleType]

    @classmethod
    def install(cls) -> None:
        import requests
        import urllib3

        cls.requests, cls.urllib3 = requests, urllib3
        super().install()

    @classmethod
    def blocked(cls) -> type:
        return blocked_error(cls.requests.exceptions.ConnectionError, request=None, response=None)

    @classmethod
    def get_adapter(cls, nxt: Any, session: Any, url: str) -> Any:
        adapter = nxt(session, url)
        from . import current

        if current() is None:
            return adapter
        return AnsweringAdapter(adapter, cls)

    @classmethod
    def raw_response(cls, reply: Any, method: str) -> Any:
        """The urllib3 response requests builds its own from (cookies read ``_original_response.msg``)."""
        urllib3 = cls.urllib3
        headers = urllib3._collections.HTTPHeaderDict(reply.headers)
        original = urllib3.HTTPResponse(body=io.BytesIO(), headers=headers, preload_content=False)
        original.msg = headers
        return urllib3.HTTPResponse(
            body=io.BytesIO(reply.body),
            headers=headers,
            status=reply.status,
            reason=reasons.get(reply.status),
            preload_content=False,
            original_response=original,
            request_method=method,
        )
