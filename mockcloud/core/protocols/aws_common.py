"""What every AWS (coral) protocol words the same way: validation messages, request ids."""
from __future__ import annotations

import uuid

from ..errors import ServiceError
from ..validation import Violation

_CONSTRAINTS = {
    "maxLength": "Member must have length less than or equal to {}",
    "minLength": "Member must have length greater than or equal to {}",
    "maxItems": "Member must have length less than or equal to {}",
    "minItems": "Member must have length greater than or equal to {}",
    "maximum": "Member must have value less than or equal to {}",
    "minimum": "Member must have value greater than or equal to {}",
    "pattern": "Member must satisfy regular expression pattern: {}",
}


def request_id() -> str:
    return str(uuid.uuid4())


def _member_path(path: tuple) -> str:
    out = []
    for part in path:
        if isinstance(part, int):
            out.append(f"{part + 1}.member")
        else:
            out.append(part[:1].lower() + part[1:])
    return ".".join(out)


def _java_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_java_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def describe(violation: Violation) -> str:
    at = _member_path(violation.path)
    if violation.kind == "required":
        return f"Value null at '{at}' failed to satisfy constraint: Member must not be null"
    if violation.kind == "enum":
        constraint = "Member must satisfy enum value set: [" + ", ".join(map(str, violation.limit)) + "]"
    else:
        constraint = _CONSTRAINTS[violation.kind].format(violation.limit)
    return f"Value '{_java_value(violation.value)}' at '{at}' failed to satisfy constraint: {constraint}"


def validation_error(violations: list[Violation], code: str = "ValidationException") -> ServiceError:
    """Coral's "N validation error(s) detected: ..." for the constraint violations."""
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    message = f"{count} validation {noun} detected: " + "; ".join(describe(v) for v in violations)
    return ServiceError(code, message, 400)
