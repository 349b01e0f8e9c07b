"""Alibaba Cloud API signatures, checked as Alibaba's API gateway (POP) checks them.

Two schemes reach RPC-style APIs:

- **RPC signature v1** (``aliyunsdkcore``, tea ``do_rpcrequest`` when signed):
  ``AccessKeyId``, ``SignatureMethod=HMAC-SHA1``, ``SignatureVersion=1.0``,
  ``SignatureNonce``, ``Timestamp`` and ``Signature`` among the parameters;
  the string to sign is ``METHOD&%2F&`` + the percent-encoded, sorted
  ``k=v&...`` of every parameter of the query and the form body (blank values
  included), and the key is ``secret + "&"``.
- **ACS3-HMAC-SHA256** (tea ``do_request``, the generic ``call_api``):
  an ``Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…``
  header over a canonical request of method, path, sorted query, the headers
  the client lists as signed, and the SHA-256 of the body; the key is the secret.

Errors carry the gateway's codes, statuses and messages, so both SDKs raise
what a real endpoint would make them raise (aliyunsdkcore even parses the
server's string to sign out of ``SignatureDoesNotMatch``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote

from ..credentials import Credentials, same_secret
from ..errors import ServiceError
from ..request import Request, raw_path
from ..text import is_ascii_digits
from ..timestamps import utc_epoch
from . import fresh

TIME_WINDOW_SECONDS = 900  # "the time stamp is valid for 15 minutes"
RPC_METHOD = "HMAC-SHA1"
RPC_VERSION = "1.0"
ACS3 = "ACS3-HMAC-SHA256"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class AlibabaPrincipal(NamedTuple):
    """Who signed a request, and how."""

    access_key_id: str
    scheme: str  # "v1" (RPC HMAC-SHA1) or "ACS3-HMAC-SHA256"


def _error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(code, message, status, common=True)


def missing(name: str) -> ServiceError:
    """The gateway's ``Missing<Param>``."""
    return _error(f"Missing{name}", f"{name} is mandatory for this action.")


# ---- the algorithms (pure functions; the unit tests use the docs' vectors) ----


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba signs: unreserved ``A-Za-z0-9-_.~`` kept, space ``%20``, ``*`` ``%2A``."""
    return quote(value, safe="~")


def rpc_canonical_query(params: Mapping[str, str]) -> str:
    """Sorted ``k=v`` pairs of every parameter but ``Signature``, blank values included."""
    return "&".join(
        f"{percent_encode(key)}={percent_encode(value)}" for key, value in sorted(params.items()) if key != "Signature"
    )


def rpc_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&%2F&{percent_encode(rpc_canonical_query(params))}"


def rpc_signature(secret: str, string_to_sign: str) -> str:
    """Base64 of HMAC-SHA1 keyed with ``secret + "&"``."""
    return base64.b64encode(hmac.digest((secret + "&").encode(), string_to_sign.encode(), "sha1")).decode()


def acs3_canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    header: Callable[[str], str],
    signed_headers: list[str],
    payload_sha256: str,
) -> str:
    """Method, path, sorted query, ``name:value`` of the signed headers, their names, the payload hash."""
    canonical_query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(query))
    headers = "".join(f"{name}:{header(name).strip()}\n" for name in signed_headers)
    return "\n".join((method.upper(), path or "/", canonical_query, headers, ";".join(signed_headers), payload_sha256))


def acs3_string_to_sign(canonical_request: str) -> str:
    return f"{ACS3}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"


def acs3_signature(secret: str, string_to_sign: str) -> str:
    """Hex of HMAC-SHA256 keyed with the secret itself (no ``&``)."""
    return hmac.digest(secret.encode(), string_to_sign.encode(), "sha256").hex()


# ---- replay protection ----------------------------------------------------------


class NonceCache:
    """Nonces seen per AccessKey while their time stamp could still be accepted.

    A nonce is remembered only once its request verified, so a forged request
    cannot burn the nonce of a genuine one.
    """

    def __init__(self, window: float = TIME_WINDOW_SECONDS) -> None:
        self.window = window
        self._until: dict[tuple[str, str], float] = {}
        self._order: deque[tuple[float, tuple[str, str]]] = deque()
        self._lock = threading.Lock()

    def use(self, access_key_id: str, nonce: str, signed_at: float, now: float) -> bool:
        """Record the nonce; False when it was already used within the window."""
        key = (access_key_id, nonce)
        until = max(signed_at, now) + self.window
        with self._lock:
            order = self._order
            while order and order[0][0] <= now:
                expiry, old = order.popleft()
                if self._until.get(old) == expiry:
                    del self._until[old]
            seen = self._until.get(key)
            if seen is not None and seen > now:
                return False
            self._until[key] = until
            order.append((until, key))
            return True

    def __len__(self) -> int:
        return len(self._until)


# ---- verification ----------------------------------------------------------------


@lru_cache(maxsize=64)
def parse_timestamp(value: str) -> float | None:
    """Epoch seconds of an ISO 8601 UTC time stamp (``2016-02-23T12:46:24Z``, optionally with fractions)."""
    text = value.strip()
    if len(text) < 20 or text[-1] not in "Zz" or text[10] not in "Tt" or text[4] != "-" or text[7] != "-":
        return None
    if text[13] != ":" or text[16] != ":":
        return None
    digits = text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
    rest = text[19:-1]
    if not is_ascii_digits(digits) or (rest and not (rest[0] == "." and is_ascii_digits(rest[1:]))):
        return None
    epoch = utc_epoch(
        int(digits[:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12]), int(digits[12:])
    )
    if epoch is None:
        return None
    return epoch + (float("0" + rest) if rest else 0.0)


def _check_time(value: str, now: float, window: float) -> float:
    signed_at = parse_timestamp(value)
    if signed_at is None:
        raise _error("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
    if abs(signed_at - now) > window:
        raise _error("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    return signed_at


def _secret(credentials: Credentials, access_key_id: str) -> str:
    secret = credentials.alibaba(access_key_id)
    if secret is None:
        raise _error("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
    return secret


def is_signed(request: Request, params: Mapping[str, str]) -> bool:
    return bool(request.environ.get("HTTP_AUTHORIZATION")) or "Signature" in params or "AccessKeyId" in params


def verify(
    request: Request,
    params: Mapping[str, str],
    credentials: Credentials,
    now: float,
    nonces: NonceCache,
    *,
    body: bytes,
    query: Iterable[tuple[str, str]] = (),
    window: float = TIME_WINDOW_SECONDS,
    host_now: float | None = None,
) -> AlibabaPrincipal | None:
    """Check the request's signature, if it carries one; None for an anonymous request.

    The time stamp may be current at ``now`` (the emulator's) or at ``host_now`` (:func:`.fresh`).

    ``params`` are the query and form parameters together (for v1); ``query``
    the query's pairs alone (for ACS3, where the body counts by its hash).
    """
    header = request.environ.get("HTTP_AUTHORIZATION")
    if header:
        return _verify_acs3(
            request, header, credentials, now, nonces, body=body, query=query, window=window, host_now=host_now
        )
    if "Signature" in params or "AccessKeyId" in params:
        return _verify_rpc(request.method, params, credentials, now, nonces, window=window, host_now=host_now)
    return None


def _verify_rpc(
    method: str,
    params: Mapping[str, str],
    credentials: Credentials,
    now: float,
    nonces: NonceCache,
    *,
    window: float,
    host_now: float | None = None,
) -> AlibabaPrincipal:
    for name in ("AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"):
        if not params.get(name):
            raise missing(name)
    if params["SignatureMethod"] != RPC_METHOD:
        raise _error("InvalidSignatureMethod", "Specified signature method is not valid.")
    if params["SignatureVersion"] != RPC_VERSION:
        raise _error("InvalidSignatureVersion", "Specified signature version is not valid.")
    signed_at = fresh(lambda at: _check_time(params["Timestamp"], at, window), now, host_now)
    key_id = params["AccessKeyId"]
    secret = _secret(credentials, key_id)
    string_to_sign = rpc_string_to_sign(method, params)
    if not same_secret(rpc_signature(secret, string_to_sign), params["Signature"]):
        raise _error(
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. server string to sign is:" + string_to_sign,
        )
    if not nonces.use(key_id, params["SignatureNonce"], signed_at, now):
        raise _error("SignatureNonceUsed", "Specified signature nonce was used already.")
    return AlibabaPrincipal(key_id, "v1")


def parse_acs3_authorization(header: str) -> tuple[str, dict[str, str]]:
    """``ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`` → the algorithm and its parts."""
    algorithm, _, rest = header.strip().partition(" ")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key] = value.strip()
    return algorithm, parts


def _verify_acs3(
    request: Request,
    header: str,
    credentials: Credentials,
    now: float,
    nonces: NonceCache,
    *,
    body: bytes,
    query: Iterable[tuple[str, str]],
    window: float,
    host_now: float | None = None,
) -> AlibabaPrincipal:
    algorithm, parts = parse_acs3_authorization(header)
    if not algorithm.startswith("ACS3-"):
        raise _error("IncompleteSignature", "The request signature does not conform to Aliyun standards.")
    if algorithm != ACS3:
        raise _error("InvalidSignatureMethod", "Specified signature method is not valid.")
    if not (parts.get("Credential") and parts.get("SignedHeaders") and parts.get("Signature")):
        raise _error("IncompleteSignature", "The request signature does not conform to Aliyun standards.")
    environ = request.environ
    date = environ.get("HTTP_X_ACS_DATE")
    if not date:
        raise missing("Timestamp")
    nonce = environ.get("HTTP_X_ACS_SIGNATURE_NONCE")
    if not nonce:
        raise missing("SignatureNonce")
    signed_headers = [name.strip().lower() for name in parts["SignedHeaders"].split(";") if name.strip()]
    signed_at = fresh(lambda at: _check_time(date, at, window), now, host_now)
    key_id = parts["Credential"]
    secret = _secret(credentials, key_id)

    def value(name: str) -> str:
        if name == "content-type":
            key = "CONTENT_TYPE"
        elif name == "content-length":
            key = "CONTENT_LENGTH"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        found: str = environ.get(key, "")
        return found

    payload = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
    canonical = acs3_canonical_request(request.method, raw_path(request), query, value, signed_headers, payload)
    string_to_sign = acs3_string_to_sign(canonical)
    if not same_secret(acs3_signature(secret, string_to_sign), parts["Signature"].lower()):
        raise _error(
            "SignatureDoesNotMatch",
            f"Specified signature does not match our calculation. server StringToSign is [{string_to_sign}]",
        )
    if not nonces.use(key_id, nonce, signed_at, now):
        raise _error("SignatureNonceUsed", "Specified signature nonce was used already.")
    return AlibabaPrincipal(key_id, ACS3)
