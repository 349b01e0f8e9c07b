"""Snapshots: the whole emulator as one JSON document, which is also a fixtures document.

A snapshot is the fixtures format (``fixtures/schema.json`` with each
service's ``fixtures/<service>.schema.json``) carrying the running state —
tokens with their expiry and revocation, sessions, codes, signing keys,
temporary credentials — plus the ``clock``, the ``faults`` and the
``entropy`` of the mock. So a saved state can be shipped as fixtures, and
restoring one is building the services from it as from fixtures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import MockCloudError

if TYPE_CHECKING:
    from ..mock import MockCloud

FORMAT = "mockcloud-state"
VERSION = 1


def take(cloud: MockCloud) -> dict[str, Any]:
    """The document of ``cloud``'s state now."""
    # every service built first: building one may draw from the entropy (a role's id), and the
    # document must hold where the seeded sequence stands after that, not before
    models = {name: cloud.protocol(name).model for name in cloud.service_names}
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "clock": {"now": cloud.clock.time(), "frozen": cloud.clock.frozen},
        "entropy": cloud.entropy.export(),
        "faults": cloud.faults.export(),
        "credentials": cloud.credentials.export(),
    }
    for name, model in models.items():
        export = getattr(model, "snapshot", None)
        if export is None:
            raise MockCloudError(f"the {name} service cannot be snapshotted")
        document[name] = export()
    return document


def check(document: Any) -> dict[str, Any]:
    """``document`` if it is a snapshot this version can restore; else :class:`MockCloudError` saying why."""
    if not isinstance(document, dict):
        raise MockCloudError("a snapshot is a JSON object")
    if document.get("format") != FORMAT:
        raise MockCloudError(f"not a mockcloud snapshot (its format is {document.get('format')!r}, not {FORMAT!r})")
    if document.get("version") != VERSION:
        raise MockCloudError(
            f"a snapshot of version {document.get('version')!r}; this mockcloud reads version {VERSION}"
        )
    from . import fixtures

    fixtures.validate(document, "the snapshot")
    return document
