"""What a service model uses to write its state as its fixtures section, and to read it back.

A snapshot holds each service's state in that service's fixtures section
(see :mod:`.snapshot`), so the section is JSON: bytes go as base64 text,
absent values are left out. The schema has checked a section's shape before
a model reads it; what it cannot check (a token of a product that does not
exist, two records under one key) the model checks with these, and refuses
with :class:`MockCloudError`, so a bad document never builds half a service.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from .errors import MockCloudError

T = TypeVar("T")


def record(item: Any, *, omit: Iterable[str] = ()) -> dict[str, Any]:
    """A dataclass's fields as a section's entry: None-valued ones left out, as fixtures leave them out."""
    skipped = set(omit)
    return {
        f.name: getattr(item, f.name)
        for f in dataclasses.fields(item)
        if f.name not in skipped and getattr(item, f.name) is not None
    }


def b64(data: bytes) -> str:
    """Bytes as the text a section holds them in (standard base64, padded)."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str, *, size: int | None = None) -> bytes:
    """A section's base64 text as bytes, of exactly ``size`` bytes when given; :class:`MockCloudError` if not."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MockCloudError(f"{what} is not base64: {text[:40]!r}") from None
    if size is not None and len(data) != size:
        raise MockCloudError(f"{what} must be {size} bytes, not {len(data)}")
    return data


def user_record(user: Any, *, omit: Iterable[str] = ()) -> dict[str, Any]:
    """A user's entry: its fields, and its password as the model keeps it, a salted hash and the salt, in base64."""
    fields = record(user, omit=("password_hash", "salt", *omit))
    return {**fields, "password_hash": b64(user.password_hash), "salt": b64(user.salt)}


def password_of(entry: dict[str, Any], who: str) -> tuple[bytes, bytes]:
    """The ``(salt, 32-byte hash)`` of a snapshot's user entry."""
    salt = unb64(entry["salt"], f"the salt of {who}")
    return salt, unb64(entry["password_hash"], f"the password hash of {who}", size=32)


def keyed(items: Iterable[T], key: Callable[[T], Hashable], what: str) -> dict[Any, T]:
    """``items`` by ``key``, in their order; two under one key is a broken section, not a last-one-wins.

    The message shows the key's start only: a key may be a token.
    """
    found: dict[Any, T] = {}
    for item in items:
        k = key(item)
        if k in found:
            shown = repr(k)
            raise MockCloudError(f"two {what} with the same key {shown[:40]}{'...' if len(shown) > 40 else ''}")
        found[k] = item
    return found
