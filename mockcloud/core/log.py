"""``cloud.requests``: what the mock answered, for assertions.

A bounded ring buffer (a long-running server must not grow without end), and
secrets in query strings (passwords, tokens, signatures) are redacted when a
request is recorded, so that neither the admin API nor a test's failure output
shows them. What a secret is, each service declares beside its model
(``services/<name>/sensitive.py``, read through :mod:`.redaction`): a record
is redacted by its service's list and the protocols' own.

Each record also keeps what the dashboard shows of an exchange: the client,
the time spent, the request's headers and body and the reply, bodies cut at
``body_limit`` bytes. Recording only takes references (and one copy of the
header list): redacting and formatting them happens when someone reads a
record's :meth:`RequestRecord.detail`, so a request the log keeps costs a few
microseconds, and one nobody looks at costs nothing more.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, overload

from . import redaction

DEFAULT_SIZE = 1000
BODY_LIMIT = 4096  # bytes of each request and reply body a record keeps
REDACTED = "REDACTED"
# One sequence for every log of the process: a number is never reused, not even after a reset, so a
# reader that asks for what came after the last one it saw never mistakes a new request for an old one.
next_seq = itertools.count(1).__next__
_PARAM = re.compile(r"(^|[?&;])([^=&;]*)=([^&;]*)")


class RequestRecord(NamedTuple):
    service: str | None
    operation: str | None
    status: int
    error_code: str | None
    method: str
    scheme: str
    host: str
    target: str  # path and query as sent
    time: float  # mock-clock epoch seconds
    fault: str | None = None  # the network fault this attempt met, if any
    seq: int = 0  # this record's number (increasing; see next_seq)
    client: str | None = None  # the client's address (server mode), or "in-process"
    latency: float | None = None  # seconds the emulator took to answer (real time, injected delay apart)
    delay: float = 0.0  # injected latency the reply was held for
    capture: Capture | None = None  # the exchange itself, formatted only when read (detail())

    @property
    def url(self) -> str:
        # Built when read, not on every request.
        return (
            self.target
            if self.target.startswith(("http://", "https://"))
            else f"{self.scheme}://{self.host}{self.target}"
        )

    @property
    def ok(self) -> bool:
        return self.error_code is None and self.status < 400

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "service": self.service,
            "operation": self.operation,
            "status": self.status,
            "error_code": self.error_code,
            "method": self.method,
            "url": self.url,
            "time": self.time,
            "fault": self.fault,
            "client": self.client,
            "latency": self.latency,
            "delay": self.delay,
        }

    def detail(self) -> dict[str, Any]:
        """:meth:`as_dict` and the exchange: headers and bodies of request and reply, secrets redacted."""
        found = self.as_dict()
        capture = self.capture
        if capture is not None:
            rules = redaction.rules(self.service)
            found["request"] = _message(_environ_headers(capture.headers), capture.body, capture.body_size, rules)
            found["response"] = {
                "status": self.status,
                **_message(list(capture.reply_headers), capture.reply_body, capture.reply_size, rules, reply=True),
            }
        return found

    def __repr__(self) -> str:
        return (
            f"RequestRecord(service={self.service!r}, operation={self.operation!r}, status={self.status}, "
            f"error_code={self.error_code!r}, method={self.method!r}, url={self.url!r}"
            + (f", fault={self.fault!r})" if self.fault else ")")
        )


class Capture:
    """What a record keeps of the exchange, as taken: references, and bodies cut at the log's limit."""

    __slots__ = ("body", "body_size", "headers", "reply_body", "reply_headers", "reply_size")

    def __init__(
        self,
        headers: dict[str, Any] | list[tuple[str, str]],
        body: bytes | None,
        body_size: int | None,
        reply_headers: list[tuple[str, str]],
        reply_body: bytes,
        reply_size: int,
    ) -> None:
        self.headers = headers  # by environ key (HTTP_X_AMZ_DATE, CONTENT_TYPE): a trimmed environ, or its header items
        self.body = body  # None: the emulator never read it (refused before it needed the body)
        self.body_size = body_size
        self.reply_headers = reply_headers
        self.reply_body = reply_body
        self.reply_size = reply_size

    def to_json(self) -> list[Any]:
        """A JSON form (a shared log's record travels through a store): headers as pairs, bytes as latin-1 text."""
        headers = self.headers.items() if isinstance(self.headers, dict) else self.headers
        return [
            [[k, v] for k, v in headers if k[:5] == "HTTP_" or k == "CONTENT_TYPE"],
            None if self.body is None else self.body.decode("latin-1"),
            self.body_size,
            [list(pair) for pair in self.reply_headers],
            self.reply_body.decode("latin-1"),
            self.reply_size,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> Capture:
        headers, body, body_size, reply_headers, reply_body, reply_size = data
        return cls(
            [tuple(pair) for pair in headers],
            None if body is None else body.encode("latin-1"),
            body_size,
            [tuple(pair) for pair in reply_headers],
            reply_body.encode("latin-1"),
            reply_size,
        )


def capture(
    environ: dict[str, Any], status_headers: list[tuple[str, str]], reply_body: bytes, limit: int = BODY_LIMIT
) -> Capture:
    """The exchange as a record keeps it: its request headers, bodies cut at ``limit``."""
    body: bytes | None = environ.get("mockcloud.body")
    size = None
    if body is not None:
        size = len(body)
        if size > limit:
            body = body[:limit]
    reply_size = len(reply_body)
    if reply_size > limit:
        reply_body = reply_body[:limit]
    headers: dict[str, Any] | list[tuple[str, str]]
    if "mockcloud.in_process" in environ:
        # An interceptor's environ (build_environ) is short strings but for the body and the werkzeug Request
        # that points back at it: a copy without those is a tenth of the cost of picking the headers out.
        headers = environ.copy()
        for key in _HEAVY:
            headers.pop(key, None)
    else:  # a server's environ may hold its connection's objects: keep the headers only
        headers = [(k, v) for k, v in environ.items() if k[:5] == "HTTP_" or k == "CONTENT_TYPE"]
    return Capture(headers, body, size, status_headers, reply_body, reply_size)


_HEAVY = ("wsgi.input", "mockcloud.body", "werkzeug.request")


def _secret_in(rules: redaction.Rules) -> Callable[[str], bool]:
    keys = rules.keys
    return lambda name: redaction.field_key(name) in keys


def _secret_in_reply(rules: redaction.Rules) -> Callable[[str], bool]:
    """A secret name in a reply: the same, except a bare ``Code``, which there is an error's code."""
    keys = rules.keys

    def is_secret(name: str) -> bool:
        key = redaction.field_key(name)
        return key in keys and key != "code"

    return is_secret


def _param_redactor(is_secret: Callable[[str], bool]) -> Callable[[re.Match[str]], str]:
    def redact(match: re.Match[str]) -> str:
        sep, name, value = match.groups()
        return f"{sep}{name}={REDACTED}" if value and is_secret(name) else match.group(0)

    return redact


def redact_target(target: str, service: str | None = None) -> str:
    """``target`` (path and query) with the values of secret query parameters replaced.

    ``service``: the service that answered (its declared fields and the protocols'); None: any service's.
    """
    path, mark, query = target.partition("?")
    if not mark:
        return target
    return path + mark + _PARAM.sub(_param_redactor(_secret_in(redaction.rules(service))), query)


# ---- redaction of what a record shows: the same rules as for query strings, over headers and bodies ----
# "name": "value" (or a number), also a string cut short by truncation; <name attrs>text</name> or text to the end
_JSON_PAIR = re.compile(r'"([^"\\]{1,128})"(\s*:\s*)("(?:[^"\\]|\\.)*(?:"|\Z)|-?\d[\d.eE+-]*)')
_XML_TEXT = re.compile(r"<((?:[\w.-]+:)?([\w.-]+))(\s[^<>]*)?>([^<]+)(?=</\1>|\Z)")
_COOKIE = re.compile(r"(^|;\s*)([^=;\s]+)=([^;]*)")


def _redact_shapes(text: str, rules: redaction.Rules) -> str:
    """The declared shapes of secrets (a JWT, DevPay's tokens), wherever they stand."""
    for pattern in rules.patterns:
        text = pattern.sub(_shape_redactor, text)
    return text


def _shape_redactor(match: re.Match[str]) -> str:
    if "secret" not in match.re.groupindex:
        return REDACTED
    start, end = match.span("secret")
    whole = match.group(0)
    offset = match.start()
    return whole[: start - offset] + REDACTED + whole[end - offset :]


def _redact_json_value(
    value: Any, is_secret: Callable[[str], bool], rules: redaction.Rules, secret: bool = False
) -> Any:
    if isinstance(value, dict):
        return {
            k: _redact_json_value(v, is_secret, rules, isinstance(k, str) and is_secret(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json_value(v, is_secret, rules, secret) for v in value]
    if secret and value is not None and not isinstance(value, bool):
        return REDACTED
    return _redact_shapes(value, rules) if isinstance(value, str) else value


def redact_text(text: str, content_type: str = "", *, reply: bool = False, service: str | None = None) -> str:
    """A body's text with its secrets replaced: JSON members, form and query parameters and XML
    elements of the declared fields of ``service`` (None: any service's), and the declared shapes
    of secrets (JWTs) anywhere.

    Whole JSON is parsed and shown indented; a body cut short is redacted by pattern. In a
    ``reply``, a member or element named ``Code`` is the error's code and stays.
    """
    return _redact_text(text, content_type, redaction.rules(service), reply=reply)


def _redact_text(text: str, content_type: str, rules: redaction.Rules, *, reply: bool = False) -> str:
    is_secret = _secret_in_reply(rules) if reply else _secret_in(rules)
    kind = content_type.split(";", 1)[0].strip().lower()
    stripped = text.lstrip()
    if "json" in kind or stripped[:1] in ("{", "["):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            return json.dumps(_redact_json_value(parsed, is_secret, rules), indent=2, ensure_ascii=False)
    if kind == "application/x-www-form-urlencoded" or (
        stripped[:1] not in ("{", "[", "<") and "=" in text and not any(c.isspace() for c in stripped)
    ):
        text = _PARAM.sub(_param_redactor(is_secret), text)
    if '"' in text:
        text = _JSON_PAIR.sub(
            lambda m: f'"{m.group(1)}"{m.group(2)}"{REDACTED}"' if is_secret(m.group(1)) else m.group(0), text
        )
    if "<" in text:
        text = _XML_TEXT.sub(
            lambda m: f"<{m.group(1)}{m.group(3) or ''}>{REDACTED}" if is_secret(m.group(2)) else m.group(0), text
        )
    return _redact_shapes(text, rules)


def redact_header(name: str, value: str, service: str | None = None) -> str:
    """A header's value with its secrets replaced: a signature but not the key id or scope of an
    ``Authorization``, a bearer token, cookie values, a header of a declared field."""
    return _redact_header(name, value, redaction.rules(service))


def _redact_header(name: str, value: str, rules: redaction.Rules) -> str:
    is_secret = _secret_in(rules)
    lower = name.lower()
    if lower in ("authorization", "proxy-authorization"):
        scheme, space, rest = value.strip().partition(" ")
        if not space:
            return REDACTED
        if "=" not in rest:
            return f"{scheme} {REDACTED}"
        parts = []
        for part in rest.split(","):
            key, equals, _ = part.strip().partition("=")
            secret = not equals or (is_secret(key) and key.lower() != "credential")  # the key id and scope stay
            parts.append(f"{key}={REDACTED}" if secret else part.strip())
        return f"{scheme} {', '.join(parts)}"
    if lower in ("cookie", "set-cookie"):
        return _COOKIE.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}", value)
    if is_secret(name):
        return REDACTED if value else value
    return _redact_shapes(value, rules)


def _header_name(key: str) -> str:
    """``HTTP_X_AMZ_DATE`` → ``X-Amz-Date``; a reply's names are kept as they are."""
    if key.startswith("HTTP_"):
        key = key[5:]
    elif key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return key
    return "-".join(part.capitalize() for part in key.split("_"))


def _environ_headers(captured: dict[str, Any] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = captured.items() if isinstance(captured, dict) else captured
    return [(_header_name(key), value) for key, value in pairs if key[:5] == "HTTP_" or key == "CONTENT_TYPE"]


def _decoded(body: bytes, truncated: bool) -> str | None:
    """The body as text, or None when it is no UTF-8 text (binary bodies are not shown)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        # cut in the middle of a character by the limit: the whole characters before it
        if truncated and error.start >= len(body) - 3:
            return body[: error.start].decode("utf-8", "replace")
        return None


def _message(
    headers: list[tuple[str, str]],
    body: bytes | None,
    size: int | None,
    rules: redaction.Rules,
    *,
    reply: bool = False,
) -> dict[str, Any]:
    """One side of an exchange, redacted, for the dashboard."""
    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    shown: dict[str, Any] = {"headers": [[name, _redact_header(name, value, rules)] for name, value in headers]}
    if body is None:
        shown.update(body=None, body_size=None, truncated=False, note="the emulator did not read the body")
        return shown
    truncated = size is not None and size > len(body)
    text = _decoded(body, truncated)
    note = None
    if text is None:
        note = f"{size} bytes of binary data (not shown)"
    elif truncated:
        note = f"the first {len(body)} of {size} bytes"
    shown.update(
        body=None if text is None else _redact_text(text, content_type, rules, reply=reply),
        body_size=size,
        truncated=truncated,
        note=note,
    )
    return shown


class RequestLog:
    """The last ``size`` requests. Appends to a deque are atomic under the GIL; ``lock`` only keeps numbering
    and keeping one record a single step, for readers that page by number."""

    def __init__(self, size: int = DEFAULT_SIZE, body_limit: int = BODY_LIMIT) -> None:
        if size < 1:
            raise ValueError(f"the request log keeps at least one request, not {size}")
        if body_limit < 0:
            raise ValueError(f"body_limit is a number of bytes, not {body_limit}")
        self.size = size
        self.body_limit = body_limit
        self._records: deque[RequestRecord] = deque(maxlen=size)
        self._append = self._records.append
        self.last = 0  # the number of the newest record ever kept, even once cleared (where a reader's since= goes on)
        # Held by the recorder while it numbers a record and keeps it, so records are kept in the order of their
        # numbers: a reader that asks for those after the last number it saw never skips one a slower thread kept.
        self.lock = threading.Lock()

    def record(self, record: RequestRecord) -> None:
        if "?" in record.target:  # the common POST to "/" costs one test
            record = record._replace(target=redact_target(record.target, record.service))
        self._append(record)
        self.last = record.seq

    def filter(
        self, service: str | None = None, operation: str | None = None, error_code: str | None = None
    ) -> list[RequestRecord]:
        return [
            r
            for r in list(self._records)
            if (service is None or r.service == service)
            and (operation is None or r.operation == operation)
            and (error_code is None or r.error_code == error_code)
        ]

    def clear(self) -> None:
        self._records.clear()

    def since(self, seq: int = 0, limit: int | None = None) -> list[RequestRecord]:
        """The records after number ``seq``, oldest first; with ``limit``, the newest ``limit`` of them."""
        found = [r for r in list(self._records) if r.seq > seq]
        return found[-limit:] if limit is not None and limit < len(found) else found

    def find(self, seq: int) -> RequestRecord | None:
        """The record numbered ``seq``, if the log still keeps it."""
        for record in list(self._records):
            if record.seq == seq:
                return record
        return None

    @property
    def first(self) -> int | None:
        """The number of the oldest record kept (a reader drops what it holds before it), or None."""
        try:
            return self._records[0].seq
        except IndexError:
            return None

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> RequestRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[RequestRecord]: ...

    def __getitem__(self, index: int | slice) -> RequestRecord | list[RequestRecord]:
        if isinstance(index, slice):
            return list(self._records)[index]
        return self._records[index]

    def __repr__(self) -> str:
        return f"<RequestLog {len(self._records)} of at most {self.size} requests>"
