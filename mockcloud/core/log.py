"""``cloud.requests``: what the mock answered, for assertions.

A bounded ring buffer (a long-running server must not grow without end), and
secrets in query strings (passwords, tokens, signatures) are redacted when a
request is recorded, so that neither the admin API nor a test's failure output
shows them. Bodies are not logged.
"""
from __future__ import annotations

import re
from collections import deque
from typing import Iterator, NamedTuple
from urllib.parse import unquote_plus

DEFAULT_SIZE = 1000
REDACTED = "REDACTED"
# A query parameter whose name (lower case, letters and digits only) contains one of these holds a secret:
# WUYING's Password/NewPassword/OldPassword, LoginToken, KeepAliveToken, SessionId, AuthenticationCode,
# TokenCode; DevPay's UserToken, ProductToken, ActivationKey; every Signature and security token.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "signature", "sessionid", "activationkey", "apikey")
_SECRET_NAMES = frozenset({"code", "authenticationcode", "tokencode", "mfacode", "otp"})
_NOT_SECRET = frozenset({"signaturemethod", "signatureversion", "signaturetype", "signaturenonce", "tokentype"})
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

    @property
    def url(self) -> str:
        # Built when read, not on every request.
        return self.target if self.target.startswith(("http://", "https://")) else f"{self.scheme}://{self.host}{self.target}"

    @property
    def ok(self) -> bool:
        return self.error_code is None and self.status < 400

    def as_dict(self) -> dict:
        return {
            "service": self.service,
            "operation": self.operation,
            "status": self.status,
            "error_code": self.error_code,
            "method": self.method,
            "url": self.url,
            "time": self.time,
            "fault": self.fault,
        }

    def __repr__(self) -> str:
        return (
            f"RequestRecord(service={self.service!r}, operation={self.operation!r}, status={self.status}, "
            f"error_code={self.error_code!r}, method={self.method!r}, url={self.url!r}"
            + (f", fault={self.fault!r})" if self.fault else ")")
        )


def _is_secret(name: str) -> bool:
    if "%" in name or "+" in name:
        name = unquote_plus(name)
    key = "".join(c for c in name.lower() if c.isalnum())
    if key in _SECRET_NAMES:
        return True
    return key not in _NOT_SECRET and any(word in key for word in _SECRET_WORDS)


def _redact_param(match: re.Match) -> str:
    sep, name, value = match.groups()
    return f"{sep}{name}={REDACTED}" if value and _is_secret(name) else match.group(0)


def redact_target(target: str) -> str:
    """``target`` (path and query) with the values of secret-looking query parameters replaced."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    return path + mark + _PARAM.sub(_redact_param, query)


class RequestLog:
    """The last ``size`` requests. Appends to a deque are atomic under the GIL, so recording takes no lock."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError(f"the request log keeps at least one request, not {size}")
        self.size = size
        self._records: deque[RequestRecord] = deque(maxlen=size)
        self._append = self._records.append

    def record(self, record: RequestRecord) -> None:
        if "?" in record.target:  # the common POST to "/" costs one test
            record = record._replace(target=redact_target(record.target))
        self._append(record)

    def filter(self, service: str | None = None, operation: str | None = None, error_code: str | None = None) -> list[RequestRecord]:
        return [
            r
            for r in list(self._records)
            if (service is None or r.service == service)
            and (operation is None or r.operation == operation)
            and (error_code is None or r.error_code == error_code)
        ]

    def clear(self) -> None:
        self._records.clear()

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self._records)[index]
        return self._records[index]

    def __repr__(self) -> str:
        return f"<RequestLog {len(self._records)} of at most {self.size} requests>"
