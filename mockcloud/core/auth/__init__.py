"""Signature schemes the emulated front doors verify, and the one rule of a signature's freshness.

A signature is fresh when it is fresh at a time its client can know. In-process the client reads the
mock's clock (``time.time()`` is the mock's), so that is the only time. A server's clients live in other
processes, whose clocks the mock cannot move: they sign with the host's real time, or with the emulator's
(a client that follows the server's ``Date`` header, as the AWS SDK for JavaScript v3 corrects clock skew).
So in server mode a signature fresh at either is accepted, and a refusal speaks of the emulator's time.
What the emulator issues (tokens, credentials, codes) expires on the mock clock alone, and so does a
presigned URL: a credential handed on, whose ``X-Amz-Expires`` a test travels past.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..errors import ServiceError

T = TypeVar("T")


def fresh(check: Callable[[float], T], now: float, host_now: float | None) -> T:
    """``check(now)`` (it raises the service's error when the request is stale or early); where it refuses and
    ``host_now``, the host's real time, is given (server mode), ``check(host_now)``. The first refusal stands."""
    try:
        return check(now)
    except ServiceError as refusal:
        if host_now is None:
            raise
        try:
            return check(host_now)
        except ServiceError:
            raise refusal from None
