"""Request validation from each operation's JSON Schema.

Schemas live with their service; this module only loads them (lazily, once
per operation). A request that passes costs one call of a fastjsonschema-
compiled function (a few microseconds); one that fails is walked again by
jsonschema, which lists every violation, and those become neutral
violations that each protocol words in its service's own style.

A member whose schema says ``"x-aws-sensitive": true`` (a token, a secret:
what botocore's models mark ``sensitive``) is a violation without its
value, so no message ever quotes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


@dataclass(frozen=True)
class Violation:
    path: tuple[str | int, ...]  # member names and list indexes, outermost first
    kind: str  # required, maxLength, minLength, maxItems, minItems, maximum, minimum, pattern, enum, type
    limit: Any
    value: Any
    sensitive: bool = False  # the member holds a secret: its value is never quoted


class SchemaSet:
    """The input schemas of one service's operations, one ``<Operation>.json`` each."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._schemas: dict[str, dict[str, Any]] = {}
        self._fast: dict[str, Callable[[Any], object]] = {}
        self._lock = threading.Lock()

    def has(self, operation: str) -> bool:
        """Whether the operation has a schema file (protocols check it when their class is defined)."""
        return (self.directory / f"{operation}.json").is_file()

    def schema(self, operation: str) -> dict[str, Any]:
        schema = self._schemas.get(operation)
        if schema is None:
            path = self.directory / f"{operation}.json"
            schema = json.loads(path.read_text()) if path.exists() else {"type": "object"}
            self._schemas[operation] = schema
        return schema

    def _compiled(self, operation: str) -> Callable[[Any], object]:
        check = self._fast.get(operation)
        if check is None:
            with self._lock:
                check = self._fast.get(operation)
                if check is None:
                    import fastjsonschema

                    check = fastjsonschema.compile(self.schema(operation))
                    self._fast[operation] = check
        return check

    def violations(self, operation: str, params: Any) -> list[Violation]:
        try:
            self._compiled(operation)(params)
            return []
        except ValueError:  # fastjsonschema.JsonSchemaException
            pass
        from jsonschema import Draft7Validator

        found: dict[tuple[tuple[str | int, ...], str], Violation] = {}
        for error in Draft7Validator(self.schema(operation)).iter_errors(params):
            for violation in _from_error(error):
                found.setdefault((violation.path, violation.kind), violation)
        return sorted(found.values(), key=lambda v: tuple(str(p) for p in v.path))


def _from_error(error: ValidationError) -> list[Violation]:
    path: tuple[str | int, ...] = tuple(error.absolute_path)
    kind = error.validator
    if kind == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        return [
            Violation((*path, name), "required", None, None) for name in error.validator_value if name not in instance
        ]
    schema = error.schema if isinstance(error.schema, dict) else {}
    sensitive = bool(schema.get("x-aws-sensitive"))
    value = None if sensitive else error.instance
    limit = schema.get("x-aws-pattern", error.validator_value) if kind == "pattern" else error.validator_value
    if kind not in {"maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum", "pattern", "enum", "type"}:
        kind = "type"
    elif kind in ("maximum", "minimum") and error.schema.get("x-aws-java") in _JAVA_BITS:
        java = error.schema["x-aws-java"]
        bits = _JAVA_BITS[java]
        if not -(2 ** (bits - 1)) <= error.instance < 2 ** (bits - 1):  # cannot even become a Java number
            kind, limit = "type", java
    return [Violation(path, kind, limit, value, sensitive)]


_JAVA_BITS = {"integer": 32, "long": 64}  # ``x-aws-java``: what an AWS member deserializes into
