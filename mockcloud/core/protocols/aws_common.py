"""What every AWS (coral) protocol does the same way: validation messages, request ids, the IAM check of a call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ServiceError
from ..request import http_date  # every reply is dated by the application (Reply.dated); still importable here
from ..validation import Violation

if TYPE_CHECKING:
    from ..service import Exchange, ServiceContext


class AwsAuthorization:
    """IAM at the AWS front door: every signed call of a principal with policies is evaluated.

    The action is ``<iam_prefix>:<Operation>``; the resources are the
    operation's (:meth:`iam_resources`: ``*`` unless a protocol says which
    ARNs an operation touches); the condition keys are the request's global
    ones (``aws:CurrentTime``, ``aws:RequestedRegion``, ``aws:SecureTransport``,
    ``aws:SourceIp``), the principal's (``aws:PrincipalArn``, its tags, its
    source identity, MFA), and the operation's own (:meth:`iam_condition_keys`).
    A call the policies do not allow gets :meth:`access_denied_error`, worded as
    AWS words it. The mock's identity authority (STS) knows the principals; an
    account's root keys are never limited.
    """

    context: ServiceContext
    iam_prefix: ClassVar[str] = ""  # the service prefix of IAM actions; "" leaves the service unchecked
    access_denied_code: ClassVar[str] = "AccessDeniedException"
    access_denied_status: ClassVar[int] = 400

    def iam_resources(self, exchange: Any) -> Sequence[str] | None:
        """The ARNs the operation acts on (every one must be allowed), or None: the operation is exempt."""
        return ("*",)

    def iam_condition_keys(self, exchange: Any) -> dict[str, tuple[str, ...]]:
        """The operation's own condition keys (lowercase names), e.g. ``aws:requesttag/team``."""
        return {}

    def access_denied_error(self, message: str) -> ServiceError:
        """The service's own refusal of an unauthorized call."""
        return ServiceError(self.access_denied_code, message, self.access_denied_status)

    def authorize(self, exchange: Exchange) -> None:
        prefix = self.iam_prefix
        caller = exchange.caller
        key_id = getattr(caller, "access_key_id", None) if prefix and caller is not None else None
        if not key_id:  # an unsigned call, or one signed otherwise (a certificate)
            return
        context = self.context
        key = context.credentials.aws(key_id)
        if key is None or key.arn is None:  # an account's root keys: never limited
            return
        resources = self.iam_resources(exchange)
        if resources is None:
            return
        from ..iam.access import request_context

        environ = exchange.request.environ
        keys = request_context(
            context.clock.time(),
            region=getattr(caller, "region", None),
            secure=environ.get("wsgi.url_scheme") == "https",
            source_ip=None if exchange.in_process else environ.get("REMOTE_ADDR"),
        )
        keys.update(self.iam_condition_keys(exchange))
        access = context.access
        denial = access.check(key, f"{prefix}:{exchange.operation}", resources, keys)
        if denial is not None:
            raise self.access_denied_error(access.message_of(denial))


__all__ = ["AwsAuthorization", "describe", "http_date", "raise_for_violations", "validation_error"]

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
    if violation.sensitive:  # a secret's value is left out, as AWS leaves it out
        return f"Value at '{at}' failed to satisfy constraint: {constraint}"
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
