"""OAuth 2.0 bearer tokens on the wire (RFC 6750): read the credentials, word the challenge.

Service-neutral: which tokens are good is the service's business; this
module only knows the syntax of ``Authorization: Bearer <b64token>`` and of
the ``WWW-Authenticate`` challenge a 401 must carry.
"""

from __future__ import annotations

import re

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E (no '"' nor '\')
_NOT_DESCRIPTION_CHARS = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class MalformedBearer(ValueError):
    """``Authorization: Bearer`` is there but its token is not a b64token."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of a ``Bearer`` Authorization header; None when there is none (or another scheme).

    The scheme is case-insensitive (RFC 9110 §11.1); a Bearer header whose
    token is empty or not b64token syntax raises :class:`MalformedBearer`.
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip(" ")
    if not token or _B64TOKEN.fullmatch(token) is None:
        raise MalformedBearer("the Bearer credentials are not a b64token")
    return token


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(realm: str | None = None, error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate: Bearer ...`` value with ``realm``, ``error`` and ``error_description``."""
    params = []
    if realm is not None:
        params.append(f"realm={_quoted(realm)}")
    if error is not None:
        params.append(f'error="{error}"')
    if description:
        params.append(f'error_description="{_NOT_DESCRIPTION_CHARS.sub("", description)}"')
    return "Bearer " + ", ".join(params) if params else "Bearer"
