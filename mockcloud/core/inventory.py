"""What a service holds of tokens, codes and sessions: the entries of each model's ``inventory()``.

The dashboard's Tokens panel (``GET /_mockcloud/inventory``) lists them, so
an entry must never carry a secret: its ``id`` is a non-secret identifier the
service itself shows (a token id, an access key id) or, for a secret, the
first hex digits of its SHA-256 (a test holding the token can compute it with
:func:`short_id`).
"""

from __future__ import annotations

import hashlib
from typing import Any

STATES = ("active", "expired", "used", "revoked", "replaced")
ID_DIGITS = 12


def short_id(secret: str | bytes) -> str:
    """A handle for a secret that does not reveal it: the first 12 hex digits of its SHA-256."""
    data = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
    return hashlib.sha256(data).hexdigest()[:ID_DIGITS]


def state_of(
    now: float, expires: float | None, *, revoked: bool = False, replaced: bool = False, used: bool = False
) -> str:
    """One state for a token, the strongest first: revoked, replaced, used, expired, else active.

    Expiry is ``now >= expires``, as every service checks it.
    """
    if revoked:
        return "revoked"
    if replaced:
        return "replaced"
    if used:
        return "used"
    if expires is not None and now >= expires:
        return "expired"
    return "active"


def entry(
    service: str,
    kind: str,
    id: str,  # the entry's field name (shadowing the builtin on purpose)
    subject: str | None,
    issued: float | None,
    expires: float | None,
    state: str,
    chain: list[str] | None = None,
) -> dict[str, Any]:
    """One inventory entry; ``chain`` (ids, oldest first) only for a token family."""
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, not {state!r}")
    found: dict[str, Any] = {
        "service": service,
        "kind": kind,
        "id": id,
        "subject": subject,
        "issued": issued,
        "expires": expires,
        "state": state,
    }
    if chain is not None:
        found["chain"] = chain
    return found
