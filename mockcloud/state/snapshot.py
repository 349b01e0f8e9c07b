"""Snapshots: the whole emulator as one JSON document, which is also a fixtures document.

A snapshot is the fixtures format (``fixtures/schema.json`` with each
service's ``fixtures/<service>.schema.json``) carrying the running state —
tokens with their expiry and revocation, sessions, codes, signing keys,
temporary credentials — plus the ``clock``, the ``faults`` and the
``entropy`` of the mock: a section per part (:mod:`.parts`). So a saved
state can be shipped as fixtures, and restoring one is building the
services from it as from fixtures. A snapshot moves between stores: every
store's contents are the same parts.

A document is checked in one pass over it before anything is built from it
(nesting, numbers, text), then against the schema, so a hostile or broken
one costs time and memory in proportion to its size and fails with one
:class:`~mockcloud.core.errors.MockCloudError` saying why.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from ..core.errors import MockCloudError
from .parts import CORE_PARTS, parts_of

if TYPE_CHECKING:
    from .world import World

FORMAT = "mockcloud-state"
VERSION = 1
MAX_DEPTH = 64  # as client JSON (core.jsonbody): deeper is no snapshot mockcloud writes
MAX_INT_BITS = 1330  # ~400 decimal digits, as client JSON
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def take(world: World) -> dict[str, Any]:
    """The document of ``world``'s state now."""
    # every service built first (parts_of): building one may draw from the entropy (a role's id), and
    # the document must hold where the seeded sequence stands after that, not before
    parts = parts_of(world)
    document: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    for part in parts:
        document[part.name] = part.snapshot(world)
    return document


def restore(world: World, document: dict[str, Any]) -> None:
    """Bring ``world`` (built for ``document``: its sections, its seed) to where the document stands."""
    for part in CORE_PARTS:
        part.restore(world, document.get(part.name, {}))
    world.build_services()  # every service built now, from its section: a bad one fails here


def check(document: Any) -> dict[str, Any]:
    """``document`` if it is a snapshot this version can restore; else :class:`MockCloudError` saying why."""
    if not isinstance(document, dict):
        raise MockCloudError("a snapshot is a JSON object")
    if document.get("format") != FORMAT:
        shown = repr(document.get("format"))[:60]
        raise MockCloudError(f"not a mockcloud snapshot (its format is {shown}, not {FORMAT!r})")
    if document.get("version") != VERSION or isinstance(document.get("version"), bool):
        shown = repr(document.get("version"))[:60]
        raise MockCloudError(f"a snapshot of version {shown}; this mockcloud reads version {VERSION}")
    missing = [name for name in ("clock", "entropy") if name not in document]
    if missing:
        raise MockCloudError(f"the snapshot has no {' and no '.join(missing)}")
    values = inspect(document, "the snapshot")
    from ..core import fixtures

    fixtures.validate(document, "the snapshot", values=values)
    return document


def inspect(value: Any, what: str) -> int:
    """Refuse, in one pass and without recursion, what JSON cannot hold or mockcloud never writes; count values.

    Nesting deeper than :data:`MAX_DEPTH`, numbers that are not finite or
    have more than ~400 digits, keys that are not text, text with lone
    surrogates, values of other types.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        kind = type(item)
        if kind is str:
            if _LONE_SURROGATE.search(item):
                raise MockCloudError(f"{what} holds text with a lone surrogate")
        elif kind is dict:
            if depth > MAX_DEPTH:
                raise MockCloudError(f"{what} is nested more than {MAX_DEPTH} levels deep")
            for key, member in item.items():
                if type(key) is not str:
                    raise MockCloudError(f"{what} has a key that is not text: {key!r:.40}")
                if _LONE_SURROGATE.search(key):
                    raise MockCloudError(f"{what} holds text with a lone surrogate")
                stack.append((member, depth + 1))
        elif kind is list:
            if depth > MAX_DEPTH:
                raise MockCloudError(f"{what} is nested more than {MAX_DEPTH} levels deep")
            stack.extend((member, depth + 1) for member in item)
        elif kind is float:
            if not math.isfinite(item):
                raise MockCloudError(f"{what} holds a number that is not finite ({item!r})")
        elif kind is int:
            if item.bit_length() > MAX_INT_BITS:
                raise MockCloudError(f"{what} holds a number of more than 400 digits")
        elif item is not None and kind is not bool:
            raise MockCloudError(f"{what} holds a {kind.__name__}, which JSON has not")
    return count
