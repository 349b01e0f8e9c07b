"""Request validation from each operation's JSON Schema (jsonschema).

Schemas live with their service; this module only loads them (lazily, once
per operation) and turns jsonschema's errors into neutral violations that
each protocol words in its service's own style.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Violation:
    path: tuple  # member names and list indexes, outermost first
    kind: str  # required, maxLength, minLength, maxItems, minItems, maximum, minimum, pattern, enum, type
    limit: Any
    value: Any


class SchemaSet:
    """The input schemas of one service's operations, one ``<Operation>.json`` each."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _validator(self, operation: str):
        validator = self._validators.get(operation)
        if validator is None:
            with self._lock:
                validator = self._validators.get(operation)
                if validator is None:
                    from jsonschema import Draft7Validator

                    path = self.directory / f"{operation}.json"
                    schema = json.loads(path.read_text()) if path.exists() else {"type": "object"}
                    validator = Draft7Validator(schema)
                    self._validators[operation] = validator
        return validator

    def violations(self, operation: str, params: Any) -> list[Violation]:
        validator = self._validator(operation)
        if validator.is_valid(params):
            return []
        found: dict[tuple, Violation] = {}
        for error in validator.iter_errors(params):
            for violation in _from_error(error):
                found.setdefault((violation.path, violation.kind), violation)
        return sorted(found.values(), key=lambda v: tuple(str(p) for p in v.path))


def _from_error(error) -> list[Violation]:
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        return [Violation(path + (name,), "required", None, None) for name in error.validator_value if name not in instance]
    if kind == "pattern":
        limit = error.schema.get("x-aws-pattern", error.validator_value)
    else:
        limit = error.validator_value
    if kind not in {"maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum", "pattern", "enum", "type"}:
        kind = "type"
    return [Violation(path, kind, limit, error.instance)]
