"""AWS Signature Version 4, in an Authorization header or in the query string (presigned), checked as AWS checks it.

Errors carry the code, message and status that AWS's JSON protocols return,
so botocore raises the same ``ClientError`` a real endpoint would cause.

The payload hash is always the SHA-256 of the body received: these are not
S3, so a client's ``X-Amz-Content-Sha256`` (or ``UNSIGNED-PAYLOAD``) never
stands in for the body. AWS computes the hash itself for such services, so a
client that signed any other value gets the signature mismatch; a header that
disagrees with the body is refused with that same error before the signature
is compared.
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
from . import fresh

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from ..request import Request
    from ..service import ServiceContext

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


def presigned_scope_of(query: str) -> list[str] | None:
    """The credential scope's parts of a presigned request's ``X-Amz-Credential``, for routing."""
    start = query.find("X-Amz-Credential=")
    if start < 0:
        return None
    end = query.find("&", start)
    parts = unquote(query[start + 17 : end if end > 0 else None]).split("/")
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


def _canonical_query(query: str, skip: str | None = None) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        key = unquote(key)
        if key == skip:
            continue
        pairs.append((quote(key, safe="-_.~"), quote(unquote(value), safe="-_.~")))
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


def payload_hash(body: bytes) -> str:
    """The hex SHA-256 of the body received: the payload line of every canonical request here."""
    return hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256


def canonical_request(request: Request, signed_headers: list[str], body: bytes, *, presigned: bool = False) -> str:
    """The canonical request AWS computes; a presigned one's query leaves out ``X-Amz-Signature``."""
    environ = request.environ
    lines = []
    known = _ENVIRON_NAMES.get
    for name in signed_headers:
        value = environ.get(known(name) or _environ_name(name)) or ""
        lines.append(f"{name}:{' '.join(value.split())}")
    return "\n".join(
        (
            request.method,
            _canonical_path(raw_path(request)),
            _canonical_query(environ.get("QUERY_STRING", ""), skip=_SIGNATURE if presigned else None),
            "\n".join(lines) + "\n",
            ";".join(signed_headers),
            payload_hash(body),
        )
    )


@lru_cache(maxsize=64)  # a burst of requests shares a handful of time stamps
def _parse_amz_date(value: str) -> tuple[float, str] | None:
    """Epoch seconds and the ISO-8601 basic stamp of an X-Amz-Date (or RFC 1123 Date) value."""
    if len(value) == 16 and value[8] == "T" and value[15] == "Z":  # the form SDKs send
        digits = value[:8] + value[9:15]
        if not is_ascii_digits(digits):
            return None
        epoch = utc_epoch(
            int(digits[:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12]), int(digits[12:])
        )
        return None if epoch is None else (epoch, value)
    try:
        parsed = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return parsed.timestamp(), _stamp(parsed)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


_SIGNATURE = "X-Amz-Signature"
_QUERY_PARAMETERS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)
MAX_PRESIGNED_SECONDS = 604800  # "The maximum expiration time for presigned URLs is one week from time of creation."
_INVALID_TOKEN = "The security token included in the request is invalid."


class _Presented(NamedTuple):
    """What a request presents to be checked, from its Authorization header or its query string."""

    credential: str
    signed_headers: str
    signature: str
    date: str
    token: str | None
    declared_payload: str | None  # X-Amz-Content-Sha256
    expires: int | None  # X-Amz-Expires of a presigned request; None for the header form


def _from_header(environ: WSGIEnvironment, header: str) -> _Presented:
    parts = parse_authorization(header)
    date = environ.get("HTTP_X_AMZ_DATE") or environ.get("HTTP_DATE")
    if not date:
        raise _error(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            f"Authorization={header}",
        )
    return _Presented(
        parts["Credential"],
        parts["SignedHeaders"],
        parts["Signature"],
        date,
        environ.get("HTTP_X_AMZ_SECURITY_TOKEN"),
        environ.get("HTTP_X_AMZ_CONTENT_SHA256"),
        None,
    )


def _from_query(environ: WSGIEnvironment, query: str) -> _Presented:
    """The X-Amz-* parameters of a presigned request (the first of a repeated one), checked for form."""
    params: dict[str, str] = {}
    for item in query.split("&"):
        key, _, value = item.partition("=")
        key = unquote(key)
        if key.startswith("X-Amz-") and key not in params:
            params[key] = unquote(value)
    missing = [name for name in _QUERY_PARAMETERS if not params.get(name)]
    if missing:
        raise _error(
            "IncompleteSignatureException",
            "AWS query-string parameters must include "
            + ", ".join(f"'{name}'" for name in missing)
            + ". Re-examine the query-string parameters.",
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _error("IncompleteSignatureException", f"Unsupported AWS 'algorithm': '{params['X-Amz-Algorithm']}'")
    expires = params["X-Amz-Expires"]
    if not is_ascii_digits(expires) or len(expires) > 12:
        reason = (
            "must be non-negative" if expires.startswith("-") and is_ascii_digits(expires[1:]) else "should be a number"
        )
        raise _error("IncompleteSignatureException", f"X-Amz-Expires {reason}")
    seconds = int(expires)
    if seconds > MAX_PRESIGNED_SECONDS:
        raise _error(
            "IncompleteSignatureException",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )
    if seconds < 1:
        raise _error("IncompleteSignatureException", "X-Amz-Expires must be at least 1 second")
    return _Presented(
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
        params.get("X-Amz-Security-Token"),
        params.get("X-Amz-Content-Sha256") or environ.get("HTTP_X_AMZ_CONTENT_SHA256"),
        seconds,
    )


def is_presigned(query: str) -> bool:
    """Whether a query string carries SigV4 query authentication (cheap: a substring test first)."""
    return "X-Amz-" in query and (
        "X-Amz-Algorithm=" in query or "X-Amz-Credential=" in query or "X-Amz-Signature=" in query
    )


def verify(
    request: Request,
    credentials: Credentials,
    now: float,
    *,
    service: str,
    body: bytes,
    max_skew: int = MAX_SKEW_SECONDS,
    host_now: float | None = None,
) -> AwsPrincipal:
    """Check the request's SigV4 signature (header or presigned query); return who signed it or raise the AWS error.

    ``now`` is the emulator's time; a header signature may also be fresh at ``host_now`` (:func:`.fresh`),
    while a presigned URL lives its ``X-Amz-Expires`` on the emulator's clock alone.
    """
    environ = request.environ
    header = environ.get("HTTP_AUTHORIZATION")
    presigned = is_presigned(environ.get("QUERY_STRING", ""))
    if presigned and header:
        raise _error(
            "IncompleteSignatureException",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header "
            "should be specified",
        )
    if presigned:
        presented = _from_query(environ, environ["QUERY_STRING"])
    elif header:
        presented = _from_header(environ, header)
    else:
        raise missing_token()
    scope = presented.credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _error(
            "IncompleteSignatureException",
            f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{presented.credential}'",
        )
    key_id, scope_date, region, scope_service, _ = scope
    parsed = _parse_amz_date(presented.date)
    if parsed is None:
        raise _error(
            "IncompleteSignatureException",
            f"Date must be in ISO-8601 'basic format'. Got '{presented.date}'. See http://en.wikipedia.org/wiki/ISO_8601",
        )
    key = credentials.aws(key_id)
    if key is None:
        raise _error("UnrecognizedClientException", _INVALID_TOKEN + _real_key_hint(key_id))
    if key.session_token is not None:
        if presented.token is None or not same_secret(key.session_token, presented.token):
            raise _error("UnrecognizedClientException", _INVALID_TOKEN)
    elif presented.token is not None:  # a long-term key never comes with a session token
        raise _error("UnrecognizedClientException", _INVALID_TOKEN)
    if key.expires is not None and now >= key.expires:  # temporary credentials past their Expiration
        raise _error("ExpiredTokenException", "The security token included in the request is expired", 403)
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
    # a presigned URL is a credential handed on: its X-Amz-Expires runs on the emulator's clock alone
    fresh(
        lambda at: _check_time(signed_at, stamp, at, max_skew, presented.expires), now, None if presigned else host_now
    )
    signed_headers = presented.signed_headers.split(";")
    if "host" not in signed_headers and ":authority" not in signed_headers:
        raise _error(
            "IncompleteSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    canonical = canonical_request(request, signed_headers, body, presigned=presigned)
    string_to_sign = "\n".join(
        (
            ALGORITHM,
            stamp,
            f"{scope_date}/{region}/{scope_service}/aws4_request",
            hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest(),
        )
    )
    expected = hmac.digest(
        _signing_key(key.secret_access_key, scope_date, region, scope_service),
        string_to_sign.encode(),
        "sha256",
    ).hex()
    declared = presented.declared_payload
    if (declared is not None and declared != payload_hash(body)) or not same_secret(expected, presented.signature):
        raise _error(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
            f"\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign}'\n",
        )
    return AwsPrincipal(key_id, key.account_id, region, scope_service)


def _check_time(signed_at: float, stamp: str, now: float, max_skew: int, expires: int | None) -> None:
    """Within the skew either way (header form); from the signing time until it plus X-Amz-Expires (presigned)."""
    skew = signed_at - now
    if skew > max_skew:
        raise _error(
            "InvalidSignatureException",
            f"Signature not yet current: {stamp} is still later than {_at(now + max_skew)} "
            f"({_at(now)} + {max_skew // 60} min.)",
        )
    if expires is not None:
        if now > signed_at + expires:
            raise _error(
                "InvalidSignatureException",
                f"Signature expired: {stamp} is now earlier than {_at(now - expires)} ({_at(now)} - {expires} sec.)",
            )
    elif -skew > max_skew:
        raise _error(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is now earlier than {_at(now - max_skew)} "
            f"({_at(now)} - {max_skew // 60} min.)",
        )


def _at(seconds: float) -> str:
    return _stamp(datetime.fromtimestamp(seconds, timezone.utc))


def authenticate(request: Request, context: ServiceContext, service: str) -> AwsPrincipal:
    """``verify`` with a service's own keys and clock (its ``ServiceContext``)."""
    clock = context.clock
    return verify(
        request,
        context.credentials,
        clock.time(),
        service=service,
        body=request_body(request),
        host_now=clock.host_time(),
    )


def _real_key_hint(key_id: str) -> str:
    """A word for the developer whose real keys reached the mock (AKIA… long-term, ASIA… temporary)."""
    if len(key_id) != 20 or not key_id.startswith(("AKIA", "ASIA")) or not key_id.isalnum() or not key_id.isupper():
        return ""
    return (
        f" (mockcloud: {key_id} looks like a real AWS access key, and this mock does not know it. Real keys are never "
        "needed: mock_cloud() puts fake keys in the environment unless fake_credentials=False; or register this key "
        "with cloud.credentials.add_aws(access_key_id, secret_access_key).)"
    )
