"""What every AWS (coral) protocol words the same way: validation messages, request ids."""

from __future__ import annotations

from ..errors import ServiceError
from ..request import http_date  # every reply is dated by the application (Reply.dated); still importable here
from ..validation import Violation

__all__ = ["describe", "http_date", "raise_for_violations", "validation_error"]

_CONSTRAINTS = {
    "maxLength": "Member must have length less than or equal to {}",
    "minLength": "Member must have length greater than or equal to {}",
    "maxItems": "Member must have length less than or equal to {}",
    "minItems": "Member must have length greater than or equal to {}",
    "maximum": "Member must have value less than or equal to {}",
    "minimum": "Member must have value greater than or equal to {}",
    "pattern": "Member must satisfy regular expression pattern: {}",
}


def _member_path(path: tuple[str | int, ...]) -> str:
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"{part + 1}.member")
        else:
            out.append(part[:1].lower() + part[1:])
    return ".".join(out)


def _java_value(value: object) -> str:
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


def raise_for_violations(
    violations: list[Violation],
    *,
    validation_code: str = "ValidationException",
    serialization_code: str = "SerializationException",
    common: bool = True,
) -> None:
    """Coral's answer to invalid input: a wrong type fails to deserialize, anything else fails validation."""
    if not violations:
        return
    wrong_types = [v for v in violations if v.kind == "type"]
    if wrong_types:
        bad = wrong_types[0]
        raise ServiceError(
            serialization_code,
            f"Unexpected value type for {'.'.join(map(str, bad.path)) or 'the request'}: expected {bad.limit}",
            400,
            common=common,
        )
    raise validation_error(violations, validation_code)
