"""AWS Signature Version 4, Authorization-header form, checked as AWS checks it.

Errors carry the code, message and status that AWS's JSON protocols return,
so botocore raises the same ``ClientError`` a real endpoint would cause.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, unquote

from ..credentials import Credentials, same_secret
from ..errors import ServiceError
from ..request import raw_path, request_body
from ..text import is_ascii_digits
from ..timestamps import utc_epoch

if TYPE_CHECKING:
    from ..request import Request

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 300
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class AwsPrincipal(NamedTuple):
    access_key_id: str
    account_id: str
    region: str
    service: str


def _error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(code, message, status, common=True)


def missing_token() -> ServiceError:
    return _error("MissingAuthenticationTokenException", "Request is missing Authentication Token", 400)


_STANDARD_LAYOUT = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^,\s]+), ?SignedHeaders=([^,\s]+), ?Signature=([0-9a-fA-F]+)\Z"
)


def parse_authorization(header: str) -> dict[str, str]:
    """``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`` → its parts."""
    match = _STANDARD_LAYOUT.match(header)
    if match is not None:  # what every SDK sends; anything else takes the general path
        return {"Credential": match[1], "SignedHeaders": match[2], "Signature": match[3]}
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _error(
            "IncompleteSignatureException",
            f"Unsupported AWS 'algorithm': '{algorithm}'",
        )
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key] = value
    missing = [k for k in ("Credential", "Signature", "SignedHeaders") if not parts.get(k)]
    if missing:
        message = " ".join(f"Authorization header requires '{k}' parameter." for k in missing)
        raise _error("IncompleteSignatureException", f"{message} Authorization={header}")
    return parts


def scope_of(header: str) -> list[str] | None:
    """The credential scope's parts (key id, date, region, service, terminator), cheaply, for routing."""
    start = header.find("Credential=")
    if start < 0:
        return None
    end = header.find(",", start)
    credential = header[start + 11 : end if end > 0 else None].strip()
    parts = credential.split("/")
    return parts if len(parts) == 5 else None


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    key = hmac.new(key, region.encode(), hashlib.sha256).digest()
    key = hmac.new(key, service.encode(), hashlib.sha256).digest()
    return hmac.new(key, b"aws4_request", hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    return _signing_key(secret, date, region, service)


def _canonical_path(path: str) -> str:
    if path == "/":
        return path
    segments: list[str] = []
    for segment in path.split("/"):
        if segment and segment != ".":
            if segment == "..":
                if segments:
                    segments.pop()
            else:
                segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normalized += "/"
    return quote(normalized, safe="/~")


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


_ENVIRON_NAMES = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def _environ_name(name: str) -> str:
    key = _ENVIRON_NAMES.get(name)
    if key is None:
        key = "HTTP_" + name.upper().replace("-", "_")
        if len(_ENVIRON_NAMES) < 512:
            _ENVIRON_NAMES[name] = key
    return key


def canonical_request(request: Request, signed_headers: list[str], body: bytes) -> str:
    environ = request.environ
    lines = []
    for name in signed_headers:
        value = environ.get(_environ_name(name)) or ""
        lines.append(f"{name}:{' '.join(value.split())}")
    payload = request.environ.get("HTTP_X_AMZ_CONTENT_SHA256") or (
        hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
    )
    return "\n".join(
        (
            request.method,
            _canonical_path(raw_path(request)),
            _canonical_query(request.environ.get("QUERY_STRING", "")),
            "\n".join(lines) + "\n",
            ";".join(signed_headers),
            payload,
        )
    )


@lru_cache(maxsize=64)  # a burst of requests shares a handful of time stamps
def _parse_amz_date(value: str) -> tuple[float, str] | None:
    """Epoch seconds and the ISO-8601 basic stamp of an X-Amz-Date (or RFC 1123 Date) value."""
    if len(value) == 16 and value[8] == "T" and value[15] == "Z":  # the form SDKs send
        digits = value[:8] + value[9:15]
        if not is_ascii_digits(digits):
            return None
        epoch = utc_epoch(int(digits[:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12]), int(digits[12:]))
        return None if epoch is None else (epoch, value)
    try:
        parsed = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return parsed.timestamp(), _stamp(parsed)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def verify(
    request: Request,
    credentials: Credentials,
    now: float,
    *,
    service: str,
    body: bytes,
    max_skew: int = MAX_SKEW_SECONDS,
) -> AwsPrincipal:
    """Check the request's SigV4 signature; return who signed it or raise the AWS error."""
    header = request.environ.get("HTTP_AUTHORIZATION")
    if not header:
        raise missing_token()
    parts = parse_authorization(header)
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _error(
            "IncompleteSignatureException",
            f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{parts['Credential']}'",
        )
    key_id, scope_date, region, scope_service, _ = scope
    date_header = request.environ.get("HTTP_X_AMZ_DATE") or request.environ.get("HTTP_DATE")
    if not date_header:
        raise _error(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            f"Authorization={header}",
        )
    parsed = _parse_amz_date(date_header)
    if parsed is None:
        raise _error(
            "IncompleteSignatureException",
            f"Date must be in ISO-8601 'basic format'. Got '{date_header}'. See http://en.wikipedia.org/wiki/ISO_8601",
        )
    key = credentials.aws(key_id)
    if key is None:
        raise _error("UnrecognizedClientException", "The security token included in the request is invalid.")
    if key.session_token is not None:
        token = request.environ.get("HTTP_X_AMZ_SECURITY_TOKEN", "")
        if not same_secret(key.session_token, token):
            raise _error("UnrecognizedClientException", "The security token included in the request is invalid.")
    if scope_service != service:
        raise _error(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'. ",
        )
    signed_at, stamp = parsed
    if scope_date != stamp[:8]:
        raise _error(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{stamp[:8]}', from '{stamp}'.",
        )
    skew = signed_at - now
    if abs(skew) > max_skew:
        current = datetime.fromtimestamp(now, timezone.utc)
        minutes = max_skew // 60
        if skew < 0:
            bound = datetime.fromtimestamp(now - max_skew, timezone.utc)
            message = (
                f"Signature expired: {stamp} is now earlier than {_stamp(bound)} "
                f"({_stamp(current)} - {minutes} min.)"
            )
        else:
            bound = datetime.fromtimestamp(now + max_skew, timezone.utc)
            message = (
                f"Signature not yet current: {stamp} is still later than {_stamp(bound)} "
                f"({_stamp(current)} + {minutes} min.)"
            )
        raise _error("InvalidSignatureException", message)
    signed_headers = parts["SignedHeaders"].split(";")
    canonical = canonical_request(request, signed_headers, body)
    string_to_sign = "\n".join(
        (
            ALGORITHM,
            stamp,
            f"{scope_date}/{region}/{scope_service}/aws4_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        )
    )
    expected = hmac.digest(
        _signing_key(key.secret_access_key, scope_date, region, scope_service),
        string_to_sign.encode(),
        "sha256",
    ).hex()
    if not same_secret(expected, parts["Signature"]):
        raise _error(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
            f"\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign}'\n",
        )
    return AwsPrincipal(key_id, key.account_id, region, scope_service)


def authenticate(request: Request, context, service: str) -> AwsPrincipal:
    """``verify`` with a service's own keys and clock (its ``ServiceContext``)."""
    return verify(request, context.credentials, context.clock.time(), service=service, body=request_body(request))
