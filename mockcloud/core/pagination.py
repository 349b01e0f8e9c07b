"""Opaque NextToken pagination over an ordered list."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TypeVar

from . import jsonbody

T = TypeVar("T")


class BadPageToken(ValueError):
    pass


def paginate(
    items: Sequence[T], max_results: int | None, next_token: str | None, *, default: int = 100, scope: str = ""
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token for the next, bound to ``scope`` (the query)."""
    start = 0
    if next_token:
        try:
            data = jsonbody.loads(base64.urlsafe_b64decode(next_token.encode("ascii")))
            start = data["o"]
            if type(start) is not int or start < 0 or data.get("s") != scope:
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):  # not base64, not our JSON, not our offset
            raise BadPageToken(next_token) from None
    size = max_results or default
    page = list(items[start : start + size])
    end = start + size
    token = None
    if end < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"o": end, "s": scope}).encode()).decode()
    return page, token
