"""One-time passwords: TOTP (RFC 6238) over HOTP (RFC 4226), read against the mock clock.

Small enough to keep here rather than add a dependency; the unit tests run
the RFC's own test vectors.
"""

from __future__ import annotations

import base64
import hmac
import os
import struct
from collections.abc import Callable
from urllib.parse import quote, urlencode

from .text import is_ascii_digits

PERIOD = 30
DIGITS = 6


def random_secret(random_bytes: Callable[[int], bytes] = os.urandom, length: int = 20) -> str:
    """A base32 secret (160 random bits by default, as RFC 4226 recommends), without padding."""
    return base64.b32encode(random_bytes(length)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: dynamic truncation of HMAC(key, counter)."""
    mac = hmac.digest(key, struct.pack(">Q", counter), digest)
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def time_step(timestamp: float, period: int = PERIOD) -> int:
    return int(timestamp // period)


def totp(secret: str, timestamp: float, *, digits: int = DIGITS, period: int = PERIOD, digest: str = "sha1") -> str:
    """The code of a base32 ``secret`` at ``timestamp`` (epoch seconds)."""
    return hotp(_key(secret), time_step(timestamp, period), digits, digest)


def matching_step(secret: str, code: str, timestamp: float, *, window: int = 1, period: int = PERIOD) -> int | None:
    """The time step (within ``window`` steps of now) whose code is ``code``, compared in constant time."""
    if not is_ascii_digits(code) or len(code) != DIGITS:
        return None
    key = _key(secret)
    now = time_step(timestamp, period)
    found = None
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(hotp(key, step).encode(), code.encode()) and found is None:
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI authenticator apps read from a QR code."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": PERIOD})
    return f"otpauth://totp/{label}?{query}"
