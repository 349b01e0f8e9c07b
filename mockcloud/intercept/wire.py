"""Raw HTTP/1.1 in memory, for clients caught below their own API (http.client, aiohttp).

Those clients serialize the request themselves and parse the response
themselves; we only assemble what they wrote into one request, answer it
through the application, and hand back the bytes a server would have sent.
"""

from __future__ import annotations

from .. import intercept
from ..core.errors import UnmockedRequestError
from ..core.request import Reply, header_value


class RequestAssembler:
    """Collects written bytes until one whole request is there (Content-Length or chunked)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.method = self.target = ""
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self._head_end = -1

    def feed(self, data: bytes) -> bool:
        """Add bytes; True once the request is complete."""
        self._buffer += data
        if self._head_end < 0:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            self._head_end = end + 4
            lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
            self.method, self.target, _ = [*lines[0].split(" ", 2), "", ""][:3]
            for line in lines[1:]:
                name, _, value = line.partition(":")
                self.headers.append((name.strip(), value.strip()))
        return self._body_complete()

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def _body_complete(self) -> bool:
        rest = bytes(self._buffer[self._head_end :])
        if (self.header("transfer-encoding") or "").lower() == "chunked":
            body, done = _dechunk(rest)
            if done:
                self.body = body
                self.headers = [(k, v) for k, v in self.headers if k.lower() != "transfer-encoding"]
            return done
        length = int(self.header("content-length") or 0)
        if len(rest) >= length:
            self.body = rest[:length]
            return True
        return False


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    body, position = bytearray(), 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return b"", False
        size = int(data[position:line_end].split(b";")[0] or b"0", 16)
        start = line_end + 2
        if size == 0:
            return bytes(body), True
        if len(data) < start + size + 2:
            return b"", False
        body += data[start : start + size]
        position = start + size + 2


def answer_raw(
    scheme: str,
    host: str,
    port: int,
    request: RequestAssembler,
    blocked: type[UnmockedRequestError],
    *,
    wait: bool = True,
) -> Reply | None:
    """Answer an assembled request, as ``intercept.answer`` does for client-level interceptors."""
    default_port = 443 if scheme == "https" else 80
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    target = request.target
    url = target if target.startswith(("http://", "https://")) else f"{scheme}://{netloc}{target}"
    return intercept.answer(request.method, url, request.headers, request.body, blocked, wait=wait)
