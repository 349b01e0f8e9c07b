"""The request and reply that travel the one path.

A request is a werkzeug ``Request`` over a WSGI environ; every interceptor
builds that environ with :func:`build_environ` and every server hands over its
own. A reply is a small triple, rendered by the service's protocol.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from typing import TypeAlias

    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.wrappers import Request

    from .coverage import NotEmulated

    # a client's request headers: a mapping, or (name, value) pairs, text or latin-1 bytes
    RequestHeaders: TypeAlias = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes]]

__all__ = [
    "Reply",
    "Request",
    "build_environ",
    "framing_problem",
    "http_date",
    "json_reply",
    "raw_path",
    "request_body",
    "request_host",
    "request_target",
]

_REASONS = {s.value: s.phrase for s in HTTPStatus}


class Reply:
    """A rendered answer. ``delay`` is injected latency and ``fault`` an injected network fault,
    both delivered by whoever holds the connection (the server on its socket; an interceptor as
    its client would meet them, honouring the client's own timeout)."""

    __slots__ = ("body", "delay", "fault", "headers", "not_emulated", "status", "unclaimed")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes, unclaimed: bool = False):
        self.status = status
        self.headers = headers
        self.body = body
        self.unclaimed = unclaimed
        self.delay = 0.0
        self.fault: str | None = None
        self.not_emulated: NotEmulated | None = None  # the 501 of an operation the model has and mockcloud lacks

    @property
    def status_line(self) -> str:
        return f"{self.status} {_REASONS.get(self.status, 'Unknown')}"

    @property
    def reason(self) -> str:
        return _REASONS.get(self.status, "Unknown")

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def dated(self, now: float) -> Reply:
        """The reply with a ``Date`` header (RFC 7231 IMF-fixdate) for ``now``, unless it has one already.

        Every service's replies carry one, as AWS's and Alibaba's front doors send it: SDKs that
        correct clock skew (the AWS SDK for JavaScript, botocore's retries) then follow the mock clock.
        """
        if header_value(self.headers, "Date") is None:
            self.headers.append(("Date", http_date(now)))
        return self

    def without_content(self) -> Reply:
        """This reply as the answer to HEAD (RFC 9110 §9.3.2): the same status and headers, the length a GET
        would get, and no content (on a keep-alive connection any would be read as the next reply)."""
        if not self.body:
            return self
        headers = self.headers
        if self.header("Content-Length") is None:
            headers = [*headers, ("Content-Length", str(len(self.body)))]
        reply = Reply(self.status, headers, b"", self.unclaimed)
        reply.delay, reply.fault = self.delay, self.fault
        return reply

    def http_bytes(self, *, close: bool = True) -> bytes:
        """The bytes a server sends for this reply (with Content-Length; Connection: close when asked)."""
        lines = [f"HTTP/1.1 {self.status} {self.reason}"]
        has_length = False
        for name, value in self.headers:
            if name.lower() == "content-length":
                has_length = True
            lines.append(f"{name}: {value}")
        if not has_length:
            lines.append(f"Content-Length: {len(self.body)}")
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


_date_cache: tuple[int | None, str] = (None, "")  # (second, its HTTP date), replaced whole: one second shares it


def http_date(timestamp: float) -> str:
    """``Date`` header text (RFC 7231 IMF-fixdate, ``Sun, 06 Nov 1994 08:49:37 GMT``) for an epoch time."""
    global _date_cache
    second = int(timestamp)
    cached = _date_cache
    if cached[0] != second:
        from email.utils import formatdate

        cached = _date_cache = (second, formatdate(second, usegmt=True))
    return cached[1]


_ASCII_JSON = json.JSONEncoder(separators=(",", ":")).encode
_UTF8_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_reply(
    status: int, payload: Any, content_type: str, headers: Iterable[tuple[str, str]] = (), *, ascii_only: bool = True
) -> Reply:
    """A JSON answer as every JSON family sends it: compact, its type and length first, then the family's headers.

    ``ascii_only`` escapes non-ASCII text (AWS's encoders do); otherwise text is
    UTF-8 and a lone surrogate from client text becomes ``?`` rather than a crash.
    """
    body = _ASCII_JSON(payload).encode() if ascii_only else _UTF8_JSON(payload).encode("utf-8", "replace")
    reply_headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    reply_headers.extend(headers)
    return Reply(status, reply_headers, body)


def header_value(pairs: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` among (name, value) pairs, case-insensitively."""
    name = name.lower()
    for key, value in pairs:
        if key.lower() == name:
            return value
    return None


_SKIP = "(content-length: computed from the body)"
_ENVIRON_KEYS: dict[str | bytes, str] = {}


def _environ_key(name: str | bytes) -> str:
    """``X-Amz-Date`` → ``HTTP_X_AMZ_DATE``, remembered: clients send the same few names."""
    text = name.decode("latin-1") if isinstance(name, bytes) else name
    lower = text.lower()
    if lower == "content-type":
        key = "CONTENT_TYPE"
    elif lower == "content-length":
        key = _SKIP
    else:
        key = "HTTP_" + lower.upper().replace("-", "_")
    if len(_ENVIRON_KEYS) < 512:
        _ENVIRON_KEYS[name] = key
    return key


def build_environ(method: str, url: str, headers: RequestHeaders, body: bytes | None) -> WSGIEnvironment:
    """A WSGI environ for a client's request, as a server would have built it.

    ``headers`` is a mapping or a list of (name, value) pairs.
    """
    scheme, host, port, path, query = _split_url(url)
    path, query = _wsgi_str(path), _wsgi_str(query)
    body = body or b""
    environ: WSGIEnvironment = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": _unquote_latin1(path),
        "RAW_URI": path + ("?" + query if query else ""),
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "mockcloud.in_process": True,
        "mockcloud.body": body,
    }
    known = _ENVIRON_KEYS.get
    for name, given in headers.items() if hasattr(headers, "items") else headers:
        key = known(name) or _environ_key(name)
        if key is _SKIP:
            continue
        if isinstance(given, bytes):
            value = given.decode("latin-1")
        elif given.isascii():
            value = given
        else:
            value = _wsgi_str(given)
        if key in environ and key[:5] == "HTTP_":  # a repeated header (no key of the base above starts so)
            environ[key] = f"{environ[key]},{value}"
        else:
            environ[key] = value
    if "HTTP_HOST" not in environ:
        default = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
        environ["HTTP_HOST"] = host if default else f"{host}:{port}"
    return environ


def _wsgi_str(text: str) -> str:
    """Text fit for a WSGI environ, whose strings are bytes one latin-1 character each.

    A client library may give a path or a header as text beyond latin-1 (even a lone surrogate),
    which werkzeug could not encode back: such text becomes its UTF-8 bytes, as it would on a wire.
    """
    if text.isascii():
        return text
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("latin-1")


def _split_url(url: str) -> tuple[str, str, int, str, str]:
    """scheme, host, port, path, query: the common ``scheme://host[:port]/path?query`` by hand, the rest by urlsplit."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, target = rest.partition("/")
    if sep and scheme in ("http", "https") and "#" not in url and not ("@" in netloc or "[" in netloc or "?" in netloc):
        host, colon, port = netloc.partition(":")
        if host and (not colon or port.isdigit()):
            path, _, query = target.partition("?")
            return (
                scheme,
                host.lower(),
                int(port) if colon else (443 if scheme == "https" else 80),
                slash + path or "/",
                query,
            )
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    return (
        scheme,
        parts.hostname or "localhost",
        parts.port or (443 if scheme == "https" else 80),
        parts.path or "/",
        parts.query,
    )


def _unquote_latin1(path: str) -> str:
    if "%" not in path:
        return path
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(path).decode("latin-1")


def raw_path(request: Request) -> str:
    """The path exactly as the client sent it (still percent-encoded)."""
    raw: str | None = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        if raw.startswith(("http://", "https://")):  # absolute-form request target
            raw = urlsplit(raw).path or "/"
        return raw.split("?", 1)[0] or "/"
    return quote(request.environ.get("PATH_INFO", "/").encode("latin-1"), safe="/~!$&'()*+,;=:@")


def request_host(request: Request) -> str:
    """Lower-case host name without port, as the client addressed it."""
    host: str = request.environ.get("HTTP_HOST") or request.environ.get("SERVER_NAME", "")
    host = host.lower()
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if ":" in host else host


def request_body(request: Request) -> bytes:
    """The body, read once (cheaper than ``get_data`` when the length is known).

    Never raises: a body that cannot be read (a ``Content-Length`` that is no
    number, a broken chunked upload) is empty, and :func:`framing_problem`
    says what was wrong so the service can answer its own 400.
    """
    environ = request.environ
    body = environ.get("mockcloud.body")
    if body is None:
        length = environ.get("CONTENT_LENGTH")
        if length and not environ.get("HTTP_TRANSFER_ENCODING"):
            size = _content_length(length)
            if size is None:
                body = b""
            else:
                try:
                    body = environ["wsgi.input"].read(size) if size > 0 else b""
                except (OSError, ValueError):  # the client went away, or the server's stream refused
                    body = b""
                if len(body) < size:
                    environ[_FRAMING] = "The request body ended before its Content-Length."
            environ["wsgi.input"] = io.BytesIO(body)  # still readable for werkzeug's form parsing
        else:
            try:
                body = request.get_data()
            except (OSError, ValueError):  # werkzeug's dechunker: "Invalid chunk header"
                body = b""
                environ[_FRAMING] = "The chunked request body is malformed."
        environ["mockcloud.body"] = body
    return body


_FRAMING = "mockcloud.framing_problem"


def _content_length(value: str) -> int | None:
    """A Content-Length as RFC 9110 §8.6 has it (1*DIGIT, here at most 18 of them), or None."""
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def framing_problem(environ: WSGIEnvironment) -> str | None:
    """Why the request's body framing is unusable (bad Content-Length, broken chunks), or None.

    Cheap for a well-formed request: one look-up and a digit test.
    """
    problem: str | None = environ.get(_FRAMING)
    if problem is not None:
        return problem
    length = environ.get("CONTENT_LENGTH")
    if length and _content_length(length) is None:
        return f"The Content-Length header {length[:40]!r} is not a number of bytes."
    return None


def request_target(request: Request) -> str:
    """Path and query as the client sent them (for logs; no IRI decoding)."""
    environ = request.environ
    raw: str | None = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is None:
        raw = quote(environ.get("PATH_INFO", "/").encode("latin-1"), safe="/~!$&'()*+,;=:@")
        if environ.get("QUERY_STRING"):
            raw += "?" + environ["QUERY_STRING"]
    return raw


_LAZY_REQUEST: type[Request] | None = None


def lazy_request_class() -> type[Request]:
    """werkzeug's ``Request``, but what its constructor works out is worked out when first read.

    The request path reads the environ itself (routing, signatures, the body); of the fields werkzeug fills in
    at once (the method, the headers, the server, the decoded path, ...) most requests read only the method,
    if any. Not put back into its environ either (werkzeug's ``populate_request``): that would make each
    request a reference cycle, garbage only the cyclic collector frees.
    """
    global _LAZY_REQUEST
    if _LAZY_REQUEST is None:
        from werkzeug.datastructures import EnvironHeaders
        from werkzeug.utils import cached_property
        from werkzeug.wrappers import Request

        class LazyRequest(Request):
            def __init__(self, environ: WSGIEnvironment) -> None:
                self.environ = environ
                self.shallow = False

            @cached_property
            def method(self) -> str:
                return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

            @cached_property
            def headers(self) -> EnvironHeaders:  # type: ignore[override]
                return EnvironHeaders(self.environ)

            def __getattr__(self, name: str) -> Any:
                # a field werkzeug's constructor fills in (scheme, server, path, ...): all of them, now
                if name in _REQUEST_FIELDS and "scheme" not in self.__dict__:
                    Request.__init__(self, self.environ, populate_request=False)
                    return getattr(self, name)
                raise AttributeError(name)

        _LAZY_REQUEST = LazyRequest
    return _LAZY_REQUEST


_REQUEST_FIELDS = frozenset({"scheme", "server", "root_path", "path", "query_string", "remote_addr"})


def __getattr__(name: str) -> object:
    # werkzeug is imported on first use, not by ``import mockcloud``
    if name == "Request":
        from werkzeug.wrappers import Request

        globals()["Request"] = Request
        return Request
    raise AttributeError(name)
