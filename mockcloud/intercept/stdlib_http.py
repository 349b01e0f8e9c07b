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

from .. import intercept
from ..core.request import Reply
from ..core.errors import UnmockedRequestError
from .wire import RequestAssembler, answer_raw, render

_originals: dict = {}


class StdlibUnmockedRequest(UnmockedRequestError):
    """A ConnectionError (an OSError), as a refused connection is; urllib wraps it in URLError."""


class MemorySocket:
    """Takes the request bytes, answers them once complete, serves the response to ``makefile``."""

    def __init__(self, scheme: str, host: str, port: int, timeout=None) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self._request = RequestAssembler()
        self._response = io.BytesIO()
        self._reply: Reply | None = None
        self._timeout = timeout if isinstance(timeout, (int, float)) else None

    def sendall(self, data) -> None:
        if not isinstance(data, (bytes, bytearray)):
            data = bytes(data)
        if self._request.feed(bytes(data)):
            reply = answer_raw(self.scheme, self.host, self.port, self._request, StdlibUnmockedRequest, wait=False)
            if reply is None:  # passthrough was decided at connect(); a mock change since is a misuse
                raise StdlibUnmockedRequest(self._request.method, self._request.target, self.host)
            self._reply, self._response = reply, io.BytesIO(render(reply))
            self._request = RequestAssembler()

    send = sendall

    def makefile(self, mode: str = "rb", *args, **kwargs):
        # http.client reads the response here (getresponse): where a slow server is felt
        if self._reply is not None and self._reply.delay:
            reply, self._reply = self._reply, None
            intercept.wait_for(reply, self._timeout, lambda: TimeoutError("timed out"))
        return self._response

    def settimeout(self, timeout) -> None:
        self._timeout = timeout if isinstance(timeout, (int, float)) else None

    def gettimeout(self):
        return self._timeout

    def setsockopt(self, *args) -> None:
        pass

    def close(self) -> None:
        pass

    def fileno(self) -> int:
        return -1


def _connect(self) -> None:
    mock = intercept.current()
    secure = isinstance(self, http.client.HTTPSConnection)
    if mock is None or mock.passes(self.host):
        return _originals[http.client.HTTPSConnection if secure else http.client.HTTPConnection](self)
    scheme = "https" if secure else "http"
    self.sock = MemorySocket(scheme, self.host, self.port, self.timeout)


def install() -> None:
    for cls in (http.client.HTTPConnection, http.client.HTTPSConnection):
        if cls not in _originals:
            _originals[cls] = cls.__dict__["connect"]
            cls.connect = _connect


def uninstall() -> None:
    while _originals:
        cls, original = _originals.popitem()
        cls.connect = original
