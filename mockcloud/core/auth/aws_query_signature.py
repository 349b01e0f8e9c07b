"""AWS Query request signatures, versions 0, 1 and 2, checked as the AWS Query framework checked them.

- Version 0: HMAC-SHA1 over ``Action + Timestamp``.
- Version 1: HMAC-SHA1 over every parameter but ``Signature``, sorted by name
  case-insensitively, concatenated as ``name + value`` with no separators and
  no URL encoding.
- Version 2: HMAC-SHA256 or HMAC-SHA1 (``SignatureMethod``) over
  ``VERB\\nhost\\npath\\ncanonical query``, the query sorted by name in byte
  order and percent-encoded per RFC 3986.

Parameters are the decoded values. Query strings are decoded here from what
the client actually sent (:class:`QueryParams`), so a token's ``+`` that a
client left unencoded is tried both as a space (form decoding) and as a plus:
the signature tells which one the client meant.

The error codes and messages are the framework's; the service supplies which
code it uses for an unknown key and for a wrong signature.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, unquote_plus

from ..errors import ServiceError
from ..text import is_ascii_digits
from ..timestamps import utc_iso, valid_offset
from . import fresh

Pairs = Sequence[tuple[str, str]]

if TYPE_CHECKING:
    from typing import Protocol

    class _Unquote(Protocol):
        """``unquote`` or ``unquote_plus``."""

        def __call__(self, string: str, encoding: str = ..., errors: str = ...) -> str: ...


SIGNATURE_METHODS = {"HmacSHA256": "sha256", "HmacSHA1": "sha1"}
MAX_REQUEST_AGE_SECONDS = 900  # "AWS does not process a request if the time stamp is more than 15 minutes earlier"


# ---- decoding what the client sent ------------------------------------------------


class QueryParams:
    """The parameters of an AWS Query request, from its query string and form body, as sent.

    ``pairs`` is the standard form decoding (``+`` is a space). When the raw
    text holds a literal ``+``, :meth:`decodings` also yields the decoding
    that keeps it a plus, for signature checks and token look-ups.
    """

    __slots__ = ("_literal", "has_plus", "pairs", "raw_pairs")

    def __init__(self, *raw_parts: str) -> None:
        raw_pairs: list[tuple[str, str]] = []
        for raw in raw_parts:
            if not raw:
                continue
            for item in raw.split("&"):
                if item:
                    name, _, value = item.partition("=")
                    raw_pairs.append((name, value))
        self.raw_pairs = raw_pairs
        self.has_plus = any("+" in n or "+" in v for n, v in raw_pairs)
        self.pairs = _decode(raw_pairs, unquote_plus)
        self._literal: list[tuple[str, str]] | None = None

    @property
    def literal_plus_pairs(self) -> list[tuple[str, str]]:
        """The decoding that keeps a raw ``+`` a plus (what a client that never encodes ``+`` meant)."""
        if not self.has_plus:
            return self.pairs
        if self._literal is None:
            self._literal = _decode(self.raw_pairs, unquote)
        return self._literal

    def decodings(self) -> Iterable[list[tuple[str, str]]]:
        yield self.pairs
        if self.has_plus:
            yield self.literal_plus_pairs

    def first(self, name: str, pairs: Pairs | None = None) -> str | None:
        for key, value in self.pairs if pairs is None else pairs:
            if key == name:
                return value
        return None


def _decode(raw_pairs: list[tuple[str, str]], unquote_fn: _Unquote) -> list[tuple[str, str]]:
    try:
        return [(unquote_fn(n, errors="strict"), unquote_fn(v, errors="strict")) for n, v in raw_pairs]
    except UnicodeDecodeError:
        bad = next(n for n, v in raw_pairs if not _decodes(n, unquote_fn) or not _decodes(v, unquote_fn))
        raise ServiceError(
            "InvalidQueryParameter",
            f"The query parameter {bad} is invalid. Please see service documentation for correct syntax.",
            400,
        ) from None


def _decodes(text: str, unquote_fn: _Unquote) -> bool:
    try:
        unquote_fn(text, errors="strict")
        return True
    except UnicodeDecodeError:
        return False


# ---- strings to sign and signatures -------------------------------------------------


def string_to_sign_v0(params: dict[str, str]) -> str:
    """``Action`` + ``Timestamp`` (or ``Expires`` when the request carries no ``Timestamp``)."""
    return params.get("Action", "") + (params.get("Timestamp") or params.get("Expires") or "")


def string_to_sign_v1(pairs: Pairs) -> str:
    """Every parameter but ``Signature``, sorted by lower-cased name, as ``name + value``."""
    kept = sorted((p for p in pairs if p[0] != "Signature"), key=lambda p: p[0].lower())
    return "".join(name + value for name, value in kept)


def _rfc3986(text: str) -> str:
    return quote(text.encode("utf-8"), safe="-_.~")


def canonical_query_v2(pairs: Pairs) -> str:
    encoded = sorted((_rfc3986(n), _rfc3986(v)) for n, v in pairs if n != "Signature")
    return "&".join(f"{n}={v}" for n, v in encoded)


def string_to_sign_v2(method: str, host: str, path: str, pairs: Pairs) -> str:
    return "\n".join((method.upper(), host.lower(), path or "/", canonical_query_v2(pairs)))


def sign(secret: str, string_to_sign: str, signature_method: str = "HmacSHA1") -> str:
    """Base64 of the HMAC of ``string_to_sign`` with the secret key, as the client puts in ``Signature``."""
    digest = hmac.new(
        secret.encode("utf-8"), string_to_sign.encode("utf-8"), SIGNATURE_METHODS[signature_method]
    ).digest()
    return base64.b64encode(digest).decode("ascii")


# ---- time stamps -----------------------------------------------------------------


def parse_timestamp(value: str) -> datetime | None:
    """An XML Schema ``dateTime`` (ISO 8601): offsets, ``Z`` and fractions accepted; no zone means UTC."""
    text = value.strip().replace(" ", "+")  # a "+hh:mm" offset the client left unencoded
    if len(text) < 19 or text[10] not in "Tt":
        return None
    zone = timezone.utc
    if text[-1] in "Zz":
        text = text[:-1]
    elif len(text) > 19 and text[-6] in "+-" and text[-3] == ":":
        if not is_ascii_digits(text[-5:-3] + text[-2:]):
            return None
        hours, minutes = int(text[-5:-3]), int(text[-2:])
        if not valid_offset(hours, minutes):
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-offset if text[-6] == "-" else offset)
        text = text[:-6]
    main, dot, fraction = text.partition(".")
    if dot and not (is_ascii_digits(fraction) and len(fraction) <= 9):
        return None
    try:
        moment = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    micros = int((fraction + "000000")[:6]) if dot else 0
    return moment.replace(microsecond=micros, tzinfo=zone)


def iso(moment: datetime) -> str:
    """The moment in UTC (``timestamp()`` works at both ends of the calendar, ``astimezone`` does not)."""
    return utc_iso(moment.timestamp())


# ---- verification ----------------------------------------------------------------


@dataclass(frozen=True)
class QuerySigner:
    """Who signed a request, and the decoding of its parameters that the signature covered."""

    access_key_id: str
    signature_version: str
    params: dict[str, str]
    pairs: list[tuple[str, str]]


@dataclass(frozen=True)
class QueryAuthRules:
    """What a service accepts; the defaults are the AWS Query framework's of 2008."""

    versions: tuple[str, ...] = ("0", "1", "2")
    default_version: str | None = "0"  # when SignatureVersion is absent; None: MissingParameter
    max_age: float = MAX_REQUEST_AGE_SECONDS  # Timestamp window, both ways
    unknown_key_code: str = "InvalidClientTokenId"
    unknown_key_status: int = 403
    bad_signature_code: str = "SignatureDoesNotMatch"
    bad_signature_status: int = 403


def _error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(code, message, status, common=True)


def missing(parameter: str) -> ServiceError:
    return _error("MissingParameter", f"The request must contain the parameter {parameter}")


def invalid_value(parameter: str, value: str, reason: str) -> ServiceError:
    return _error("InvalidParameterValue", f"Value {value} for parameter {parameter} is invalid. Reason: {reason}")


def check_time(params: dict[str, str], now: float, max_age: float = MAX_REQUEST_AGE_SECONDS) -> None:
    """Exactly one of ``Timestamp`` and ``Expires``, well formed, and current on the mock clock."""
    timestamp, expires = params.get("Timestamp"), params.get("Expires")
    if timestamp is not None and expires is not None:
        raise _error(
            "InvalidParameterCombination",
            "The parameter Timestamp cannot be used with the parameter Expires",
        )
    if timestamp is not None:
        name, value = "Timestamp", timestamp
    elif expires is not None:
        name, value = "Expires", expires
    else:
        raise missing("Timestamp or Expires")
    moment = parse_timestamp(value)
    if moment is None:
        raise invalid_value(name, value, "Must be in ISO8601 format (YYYY-MM-DDThh:mm:ssZ).")
    at = moment.timestamp()
    current = iso(datetime.fromtimestamp(now, timezone.utc))
    if name == "Expires":
        if now > at:
            raise _error("RequestExpired", f"Request has expired. Expires date is {iso(moment)}, now is {current}.")
    elif now - at > max_age:
        raise _error("RequestExpired", f"Request has expired. Timestamp date is {iso(moment)}, now is {current}.")
    elif at - now > max_age:
        raise _error(
            "RequestExpired",
            f"Request is not yet valid. Timestamp date is {iso(moment)}, now is {current} "
            f"(more than {int(max_age // 60)} minutes ahead).",
        )


def verify(
    query: QueryParams,
    *,
    method: str,
    hosts: Sequence[str],
    path: str,
    lookup: Callable[[str], str | None],
    now: float,
    rules: QueryAuthRules = QueryAuthRules(),
    host_now: float | None = None,
) -> QuerySigner:
    """Check a signed Query request; return who signed it, or raise the framework's error.

    ``lookup`` gives the secret key of an access key id (None when unknown).
    ``hosts`` are the Host values a version-2 signer may have used.
    """
    params = dict(reversed(query.pairs))  # the first of repeated names wins
    fresh(lambda at: check_time(params, at, rules.max_age), now, host_now)  # at either time (.fresh)
    key_id = params.get("AWSAccessKeyId")
    if not key_id:
        raise _error("MissingClientTokenId", "Request must contain AWSAccessKeyId or X.509 certificate.", 403)
    secret = lookup(key_id)
    if secret is None:
        raise _error(
            rules.unknown_key_code,
            "The AWS Access Key Id you provided does not exist in our records.",
            rules.unknown_key_status,
        )
    version = params.get("SignatureVersion")
    if version is None:
        if rules.default_version is None:
            raise missing("SignatureVersion")
        version = rules.default_version
    if version not in rules.versions:
        raise invalid_value("SignatureVersion", version, f"Valid signature versions are {', '.join(rules.versions)}.")
    signature_method = "HmacSHA1"
    if version == "2":
        signature_method = params.get("SignatureMethod") or ""
        if not signature_method:
            raise missing("SignatureMethod")
        if signature_method not in SIGNATURE_METHODS:
            raise invalid_value("SignatureMethod", signature_method, "Valid methods are HmacSHA256 and HmacSHA1.")
    provided = params.get("Signature")
    if not provided:
        raise missing("Signature")
    given = _b64(provided)
    for pairs in query.decodings():
        decoded = params if pairs is query.pairs else dict(reversed(pairs))
        for string in _strings_to_sign(version, decoded, pairs, method, hosts, path):
            expected = hmac.new(
                secret.encode("utf-8"), string.encode("utf-8"), SIGNATURE_METHODS[signature_method]
            ).digest()
            if given is not None and hmac.compare_digest(expected, given):
                return QuerySigner(key_id, version, decoded, list(pairs))
    raise _error(
        rules.bad_signature_code,
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        rules.bad_signature_status,
    )


def _strings_to_sign(
    version: str, params: dict[str, str], pairs: Pairs, method: str, hosts: Sequence[str], path: str
) -> Iterator[str]:
    if version == "0":
        yield string_to_sign_v0(params)
    elif version == "1":
        yield string_to_sign_v1(pairs)
    else:
        for host in hosts:
            yield string_to_sign_v2(method, host, path, pairs)


def _b64(text: str) -> bytes | None:
    """The signature's bytes; a raw ``+`` that form decoding turned into a space is put back."""
    try:
        # replace before stripping: a signature that begins or ends with a raw "+" arrives with a space there
        return base64.b64decode(text.replace(" ", "+").strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def host_candidates(host_header: str, scheme: str) -> tuple[str, ...]:
    """The Host header as sent, and without a default port (signers differ on that)."""
    host = host_header.lower()
    default = ":443" if scheme == "https" else ":80"
    if host.endswith(default):
        return (host, host[: -len(default)])
    return (host,)
