"""Default state: the embedded fixtures, or a test's own file, checked with jsonschema on load.

The embedded defaults are one file per service (``fixtures/<service>.json``)
with its schema beside it (``fixtures/<service>.schema.json``), plus
``credentials.json``; a test's own file is one JSON object with a section per
service, and each section it has replaces the embedded one.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

from .errors import MockCloudError

EMBEDDED = Path(__file__).resolve().parent.parent / "_fixtures"
Document = dict[str, Any]  # a parsed fixtures file: JSON, a section per service
_CacheKey = tuple[None] | tuple[str, int]  # the embedded defaults alone, or a file's resolved path and mtime
_cache: dict[_CacheKey, Document] = {}
_lock = threading.Lock()


def _read(path: Path) -> Document:
    try:
        data: Document = json.loads(path.read_text())  # a non-object fails validation
        return data
    except FileNotFoundError:
        raise MockCloudError(f"fixtures file not found: {path}") from None
    except ValueError as exc:  # also bytes that are not UTF-8
        raise MockCloudError(f"fixtures file {path} is not valid JSON: {exc}") from None
    except OSError as exc:  # a directory, no permission, ...
        raise MockCloudError(f"fixtures file {path} cannot be read: {exc.strerror or exc}") from None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def schema() -> dict[str, Any]:
    """The JSON Schema every fixtures file must match: the top level and each service's section."""
    top: dict[str, Any] = json.loads((EMBEDDED / "schema.json").read_text())
    for path in sorted(EMBEDDED.glob("*.schema.json")):
        top["properties"][path.name[: -len(".schema.json")]] = json.loads(path.read_text())
    return top


def embedded() -> Document:
    data = _read(EMBEDDED / "credentials.json")
    for path in sorted(EMBEDDED.glob("*.json")):
        name = path.name[: -len(".json")]
        if name not in ("credentials", "schema") and not name.endswith(".schema"):
            data[name] = _read(path)
    return data


def load(path: str | Path | None = None) -> Document:
    """The fixtures for a mock: embedded defaults, with the sections of ``path`` replacing theirs.

    Parsed and validated once per file version; callers get their own copy.
    """
    return copy.deepcopy(shared(path))


def check(path: str | Path | None = None) -> None:
    """Raise :class:`MockCloudError` now if ``path`` is missing, not JSON or not valid fixtures.

    What a mock's start and the server's start call to fail fast; after the
    first call for a file version it costs a ``stat``, not a parse.
    """
    shared(path)


def _key(path: str | Path | None) -> _CacheKey:
    """The cache key of a fixtures file's version: its resolved path and mtime (the embedded ones: None)."""
    if path is None:
        return (None,)
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError:
        mtime = 0  # _read says what is wrong
    return (str(Path(path).resolve()), mtime)


def shared(path: str | Path | None = None) -> Document:
    """The validated fixtures, shared and read-only: for a look without paying for a copy."""
    key = _key(path)
    cached = _cache.get(key)
    if cached is None:
        with _lock:
            cached = _cache.get(key)
            if cached is None:
                # the package's own fixtures are checked by its tests, not at every start (jsonschema's import
                # and walk were a third of a server's time to its first answer)
                cached = embedded()
                if path is not None:
                    own = _validated(_read(Path(path)), Path(path), _size(Path(path)))
                    cached = {**cached, **own}
                _cache[key] = cached
    return cached


_fingerprints: dict[_CacheKey, str] = {}


def fingerprint(path: str | Path | None = None) -> str:
    """A digest of the fixtures (the embedded defaults, or a file's sections over them): the same for the same."""
    key = _key(path)
    found = _fingerprints.get(key)
    if found is None:
        import hashlib

        text = json.dumps(shared(path), sort_keys=True, separators=(",", ":"))
        found = _fingerprints[key] = hashlib.sha256(text.encode()).hexdigest()
    return found


def _validated(data: Document, origin: Path, size: int = 0) -> Document:
    validate(data, f"fixtures {origin}", values=size // 20 if size > LARGE else None)
    return data


_validator: Any = None
_compiled: Any = None
LARGE = 1 << 20  # a fixtures file of more bytes than this is checked by compiled code
DETAILED = 5000  # values up to which a refused document's faults are all listed (up to ten)


def validate(data: Any, what: str, *, values: int | None = None) -> None:
    """:class:`MockCloudError` listing where ``data`` breaks the fixtures schema (fixtures and snapshots alike).

    With ``values`` (how many JSON values the document holds: a snapshot,
    or a large file) it is checked by the schema compiled to code
    (fastjsonschema: linear in the document, a fraction of a second for
    megabytes); refused, a large one names its first fault only. A small
    one is walked by jsonschema, which lists up to ten.
    """
    global _validator, _compiled
    if values is not None:
        if _compiled is None:
            import fastjsonschema

            _compiled = fastjsonschema.compile(schema())
        try:
            _compiled(data)
            return
        except ValueError as exc:  # fastjsonschema.JsonSchemaException
            if values > DETAILED:
                where = "/".join(getattr(exc, "path", ())[1:]) or "(top)"
                message = getattr(exc, "message", str(exc)).replace(getattr(exc, "name", ""), "the value")
                raise MockCloudError(
                    f"{what} do not match the fixtures schema (fixtures/*.schema.json):\n  at {where}: {message}"
                ) from None
    if _validator is None:
        from jsonschema import Draft7Validator, FormatChecker

        _validator = Draft7Validator(schema(), format_checker=FormatChecker())
    errors = sorted(_validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
    if errors:
        lines = [f"  at {'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors[:10]]
        raise MockCloudError(f"{what} do not match the fixtures schema (fixtures/*.schema.json):\n" + "\n".join(lines))


_settings_schemas: dict[str, dict[str, Any]] = {}


def check_settings(service: str, settings: dict[str, Any], where: str = "settings") -> None:
    """Settings given in code, checked against the schema of the fixtures' settings: unknown names by name."""
    if not settings:
        return
    if not isinstance(settings, dict):
        raise MockCloudError(
            f"{service} {where} must be a dict of setting names to values, not {type(settings).__name__}"
        )
    section = _settings_schemas.get(service)
    if section is None:
        path = EMBEDDED / f"{service}.schema.json"
        section = json.loads(path.read_text())["properties"]["settings"] if path.exists() else {}
        _settings_schemas[service] = section
    known = sorted(section.get("properties", {}))
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise MockCloudError(f"unknown {service} setting(s) {unknown}; known: {known}")
    from jsonschema import Draft7Validator

    problems = sorted(Draft7Validator(section).iter_errors(settings), key=lambda e: list(e.path))
    if problems:
        details = "; ".join(f"{'/'.join(map(str, e.path)) or where}: {e.message}" for e in problems[:5])
        raise MockCloudError(f"{service} {where} are not valid: {details}")
