"""The standard library: ``http.client`` connections (and so ``urllib.request``) get an in-memory socket.

http.client writes the request to the socket and parses the response from
``sock.makefile()``, so everything above it (headers, chunked bodies,
redirects in urllib, ``HTTPResponse``) is the standard library's own.
urllib3's connection classes override ``connect`` and are caught at their
pool instead.
"""

from __future__ import annotations

import http.client
import io
from typing import Any, ClassVar

from .. import intercept
from ..core.errors import UnmockedRequestError
from ..core.request import Reply
from . import misbehave
from .chain import Interceptor
from .wire import RequestAssembler, answer_raw


class StdlibUnmockedRequest(UnmockedRequestError):
    """A ConnectionError (an OSError), as a refused connection is; urllib wraps it in URLError."""


class SlowResponse(io.BytesIO):
    """The response bytes, held back by injected latency until the client first reads them.

    http.client reads the status line in ``getresponse``: that is where a slow
    server is felt, and where a socket timeout fires (``TimeoutError``).
    """

    def __init__(self, data: bytes, delay_reply: Reply | None, timeout: float | None) -> None:
        super().__init__(data)
        self._pending, self._timeout = delay_reply, timeout

    def _wait(self) -> None:
        if self._pending is not None:
            reply, self._pending = self._pending, None
            intercept.wait_for(reply, self._timeout, lambda: TimeoutError("timed out"))

    def readline(self, *args: Any) -> bytes:
        self._wait()
        return super().readline(*args)

    def read(self, *args: Any) -> bytes:
        self._wait()
        return super().read(*args)

    def readinto(self, buffer: Any) -> int:
        self._wait()
        return super().readinto(buffer)


class FaultyResponse(misbehave.FaultStream):
    """The read side of a faulted connection, after the injected latency (as a slow server's)."""

    def __init__(self, reply: Reply, timeout: float | None) -> None:
        super().__init__(reply, timeout)
        self._pending: Reply | None = reply if reply.delay else None

    def readinto(self, buffer: Any) -> int:
        if self._pending is not None:
            reply, self._pending = self._pending, None
            intercept.wait_for(reply, self.timeout, lambda: TimeoutError("timed out"))
        return super().readinto(buffer)


class MemorySocket:
    """Takes the request bytes, answers them once complete, serves the response to ``makefile``."""

    def __init__(self, scheme: str, host: str, port: int, timeout: Any = None) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self._request = RequestAssembler()
        self._response: io.BytesIO | io.BufferedReader[FaultyResponse] = io.BytesIO()
        self._timeout = timeout if isinstance(timeout, (int, float)) else None

    def sendall(self, data: Any) -> None:
        if not isinstance(data, (bytes, bytearray)):
            data = bytes(data)
        if self._request.feed(bytes(data)):
            reply = answer_raw(self.scheme, self.host, self.port, self._request, StdlibUnmockedRequest, wait=False)
            if reply is None:  # passthrough was decided at connect(); a mock change since is a misuse
                raise StdlibUnmockedRequest(self._request.method, self._request.target, self.host)
            if reply.fault is not None:
                self._response = io.BufferedReader(FaultyResponse(reply, self._timeout))
            else:
                self._response = SlowResponse(reply.http_bytes(), reply if reply.delay else None, self._timeout)
            self._request = RequestAssembler()

    send = sendall

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BytesIO | io.BufferedReader[FaultyResponse]:
        return self._response

    def settimeout(self, timeout: Any) -> None:
        self._timeout = timeout if isinstance(timeout, (int, float)) else None
        if isinstance(self._response, SlowResponse):
            self._response._timeout = self._timeout
        elif isinstance(self._response, io.BufferedReader):
            self._response.raw.timeout = self._timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def setsockopt(self, *args: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def fileno(self) -> int:
        return -1


class StdlibInterceptor(Interceptor):
    library = "http.client"
    patches: ClassVar[dict[str, str]] = {
        "http.client:HTTPConnection.connect": "connect",
        "http.client:HTTPSConnection.connect": "connect",
    }

    @staticmethod
    def connect(nxt: Any, connection: http.client.HTTPConnection) -> object:  # None, or what the next link returns
        mock = intercept.current()
        if mock is None or mock.allows_passthrough(connection.host):
            return nxt(connection)
        scheme = "https" if isinstance(connection, http.client.HTTPSConnection) else "http"
        connection.sock = MemorySocket(scheme, connection.host, connection.port, connection.timeout)
        return None
