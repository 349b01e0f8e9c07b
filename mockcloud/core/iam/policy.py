"""IAM policy documents: parsed once, evaluated against a request's action, resource, principal and context.

The grammar is IAM's: ``Version``, ``Id`` and ``Statement``; each statement
has ``Sid``, ``Effect``, one of ``Action``/``NotAction``, one of
``Resource``/``NotResource`` (identity and session policies) or one of
``Principal``/``NotPrincipal`` (trust and resource policies), and
``Condition``. Conditions take every operator family IAM documents (String,
Numeric, Date, Bool, Binary, IP address, ARN, ``Null``), with ``IfExists``
and the ``ForAnyValue:``/``ForAllValues:`` set qualifiers; policy variables
(``${aws:username}``, ``${aws:PrincipalTag/team}``, ``${*}``, defaults) are
substituted in ``Resource`` and in String and ARN condition values of
``2012-10-17`` policies. A document outside the grammar is refused with
:class:`MalformedPolicy`, never evaluated loosely.

Condition keys are matched case-insensitively, as IAM matches them; the
request context is a mapping of lowercase key to its values (a multivalued
key has several).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from ..errors import MockCloudError

if TYPE_CHECKING:
    import ipaddress

Context = Mapping[str, Sequence[str]]  # lowercase condition key -> its values
PolicyKind = Literal["identity", "trust", "resource"]
CURRENT_VERSION = "2012-10-17"
VERSIONS = (CURRENT_VERSION, "2008-10-17")

_STRING = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"}
_STRING_LIKE = {"StringLike", "StringNotLike"}
_NUMERIC = {
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
}
_DATE = {
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
}
_ARN = {"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}
_OTHER = {"Bool", "BinaryEquals", "IpAddress", "NotIpAddress"}
OPERATORS = frozenset(_STRING | _STRING_LIKE | _NUMERIC | _DATE | _ARN | _OTHER | {"Null"})
_SUBSTITUTED = frozenset(_STRING | _STRING_LIKE | _ARN)  # the operators whose values may hold policy variables
_NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "ArnNotEquals",
        "ArnNotLike",
        "NotIpAddress",
    }
)
_PRINCIPAL_TYPES = ("AWS", "Federated", "Service", "CanonicalUser")


class MalformedPolicy(MockCloudError):
    """A document outside IAM's policy grammar (IAM's and STS's ``MalformedPolicyDocument``)."""


@dataclass(frozen=True)
class Condition:
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"
    operator: str  # one of OPERATORS
    if_exists: bool
    key: str  # lowercase
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    allow: bool
    sid: str | None
    actions: tuple[str, ...]  # lowercase patterns
    not_action: bool  # the patterns are NotAction's
    resources: tuple[str, ...] | None  # None: the statement has no Resource element (trust policies)
    not_resource: bool
    principals: tuple[tuple[str, str], ...] | None  # (type, value); ("*", "*") for "*"; None: no Principal element
    not_principal: bool
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Policy:
    """One parsed document, with its source (a dict, or the JSON text it came as)."""

    statements: tuple[Statement, ...]
    version: str | None
    source: dict[str, Any] | str = field(compare=False)
    name: str = field(default="", compare=False)  # a managed policy's ARN or an inline policy's name, for messages

    @property
    def variables(self) -> bool:
        """Whether ``${...}`` policy variables are substituted (only in 2012-10-17 documents)."""
        return self.version == CURRENT_VERSION


@dataclass(frozen=True)
class Request:
    """What one authorization decision looks at."""

    action: str  # service:Operation
    resource: str  # an ARN, or "*"
    context: Context  # lowercase keys
    principal: tuple[str, ...] = ()  # for trust/resource policies: the ARNs (and account ids) the caller is known by
    federated: tuple[str, ...] = ()  # a federated caller's provider (name or ARN)
    service_principal: str | None = None


def compact(document: dict[str, Any] | str) -> str:
    """The document as minified JSON (what IAM measures for its size limits)."""
    if isinstance(document, str):
        try:
            return json.dumps(json.loads(document), separators=(",", ":"))
        except ValueError:
            return document
    return json.dumps(document, separators=(",", ":"))


def _strings(value: Any, where: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if (not items and not allow_empty) or not all(
        isinstance(v, (str, bool, int, float)) and not (isinstance(v, float) and not math.isfinite(v)) for v in items
    ):
        raise MalformedPolicy(f"{where} must be a string or a list of strings")
    return tuple(("true" if v else "false") if isinstance(v, bool) else str(v) for v in items)


def parse(document: dict[str, Any] | str, kind: PolicyKind = "identity", *, name: str = "") -> Policy:
    """A policy document (a dict, or its JSON text) as a :class:`Policy`, or :class:`MalformedPolicy` saying why.

    ``kind`` says which elements statements must have: identity and session
    policies name resources and no principal; trust policies name principals
    and no resource; resource policies name both.
    """
    source = document
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise MalformedPolicy("Syntax errors in policy.") from None
    if not isinstance(document, dict):
        raise MalformedPolicy("Syntax errors in policy.")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise MalformedPolicy(f"Policy document contains unknown element(s): {', '.join(sorted(unknown))}.")
    version = document.get("Version")
    if version is not None and version not in VERSIONS:
        raise MalformedPolicy(f"The policy must contain a valid version string: {version!r} is not one.")
    if "Statement" not in document:
        raise MalformedPolicy("Policy document must contain a Statement.")
    raw = document["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise MalformedPolicy("Policy document must contain at least one Statement.")
    statements = tuple(_statement(item, kind) for item in items)
    return Policy(statements, version, source, name)


def _statement(item: Any, kind: PolicyKind) -> Statement:
    if not isinstance(item, dict):
        raise MalformedPolicy("Each Statement must be an object.")
    known = {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
    unknown = set(item) - known
    if unknown:
        raise MalformedPolicy(f"Statement contains unknown element(s): {', '.join(sorted(unknown))}.")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy("Effect must be Allow or Deny.")
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy("Sid must be a string.")
    actions, not_action = _one_of(item, "Action", "NotAction", required=True)
    assert actions is not None
    for action in actions:
        if action != "*" and ":" not in action:
            raise MalformedPolicy(f"Action vendor must be specified: {action!r}")
    resources, not_resource = _one_of(item, "Resource", "NotResource", required=kind != "trust")
    if kind == "trust" and resources is not None:
        raise MalformedPolicy("Has prohibited field Resource: a trust policy names no resource.")
    principals: tuple[tuple[str, str], ...] | None = None
    not_principal = "NotPrincipal" in item
    if "Principal" in item and not_principal:
        raise MalformedPolicy("A statement cannot have both Principal and NotPrincipal.")
    raw_principal = item.get("NotPrincipal" if not_principal else "Principal")
    if raw_principal is not None:
        if kind == "identity":
            raise MalformedPolicy("Has prohibited field Principal: an identity-based policy names no principal.")
        principals = _principals(raw_principal)
    elif kind != "identity":
        raise MalformedPolicy("Missing required field Principal.")
    conditions = _conditions(item.get("Condition"))
    return Statement(
        effect == "Allow",
        sid,
        tuple(a.lower() for a in actions),
        not_action,
        resources,
        not_resource,
        principals,
        not_principal,
        conditions,
    )


def _one_of(item: dict[str, Any], name: str, negated: str, *, required: bool) -> tuple[tuple[str, ...] | None, bool]:
    if name in item and negated in item:
        raise MalformedPolicy(f"A statement cannot have both {name} and {negated}.")
    if name in item:
        return _strings(item[name], name), False
    if negated in item:
        return _strings(item[negated], negated), True
    if required:
        raise MalformedPolicy(f"Missing required field {name}.")
    return None, False


def _principals(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw == "*":
        return (("*", "*"),)
    if not isinstance(raw, dict) or not raw:
        raise MalformedPolicy('Principal must be "*" or an object of principal types.')
    found: list[tuple[str, str]] = []
    for kind, values in raw.items():
        if kind not in _PRINCIPAL_TYPES:
            raise MalformedPolicy(f"Invalid principal type {kind!r} in policy.")
        for value in _strings(values, f"Principal {kind}"):
            account = value.isdigit() and len(value) == 12
            arn = value.startswith("arn:") and len(value.split(":", 5)) == 6
            if kind == "AWS" and value != "*" and not account and not arn:
                raise MalformedPolicy(f'Invalid principal in policy: "AWS":"{value}"')
            found.append((kind, value))
    return tuple(found)


def _conditions(raw: Any) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise MalformedPolicy("Condition must be an object of operators.")
    found = []
    for text, block in raw.items():
        if not isinstance(text, str) or not isinstance(block, dict) or not block:
            raise MalformedPolicy(f"Condition {text} must map keys to values.")
        qualifier, _, operator = text.rpartition(":")
        if qualifier not in ("", "ForAnyValue", "ForAllValues"):
            raise MalformedPolicy(f"Invalid Condition type : {text}.")
        if_exists = operator.endswith("IfExists")
        base = operator[: -len("IfExists")] if if_exists else operator
        if base not in OPERATORS or (if_exists and base == "Null"):
            raise MalformedPolicy(f"Invalid Condition type : {text}.")
        for key, values in block.items():
            parsed = _strings(values, f"Condition {text} {key}")
            for value in parsed:
                _check_value(base, value, text, key)
            found.append(Condition(qualifier, base, if_exists, key.lower(), parsed))
    return tuple(found)


def _check_value(operator: str, value: str, text: str, key: str) -> None:
    """Values that can never match their operator are a malformed policy, as IAM refuses them."""
    bad = False
    if operator in _NUMERIC:
        bad = _number(value) is None
    elif operator in _DATE:
        bad = _date(value) is None
    elif operator in ("Bool", "Null"):
        bad = value.lower() not in ("true", "false")
    elif operator in ("IpAddress", "NotIpAddress"):
        bad = _network(value) is None
    elif operator == "BinaryEquals":
        bad = _binary(value) is None
    if bad:
        raise MalformedPolicy(f"Invalid value {value!r} for Condition {text} on {key}.")


# ---- matching ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """``*`` any run, ``?`` one character, anything else literally; the whole text must match."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.S | (re.I if ignore_case else 0))


def wildcard_match(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == text.lower() if ignore_case else pattern == text
    return _wildcard(pattern, ignore_case).match(text) is not None


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def substitute(text: str, context: Context) -> str | None:
    """``text`` with its policy variables replaced from ``context``; None when one has no value and no default.

    ``${*}``, ``${?}`` and ``${$}`` stand for the literal characters; ``${key, 'default'}`` gives a default.
    """
    if "${" not in text:
        return text
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        inside = match[1].strip()
        if inside in ("*", "?", "$"):
            return inside
        key, comma, default = inside.partition(",")
        values = context.get(key.strip().lower())
        if values:
            return values[0]
        default = default.strip()
        if comma and len(default) >= 2 and default[0] == default[-1] == "'":
            return default[1:-1]
        missing = True
        return ""

    replaced = _VARIABLE.sub(replace, text)
    return None if missing else replaced


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _date(text: str) -> float | None:
    """An IAM date value: ISO 8601 (a date, or a date and time with a zone) or epoch seconds."""
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _number(text)
    candidate = text.replace("Z", "+00:00") if text.endswith("Z") else text
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    import ipaddress  # here: only IP conditions need it

    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def arn_match(pattern: str, arn: str) -> bool:
    """ARN matching: the six colon-separated parts compared each on its own, wildcards within a part."""
    if pattern == "*":
        return True
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return False
    return all(wildcard_match(w, g) for w, g in zip(wanted, given, strict=True))


def _value_matches(operator: str, value: str, wanted: str) -> bool:
    """Whether one context value matches one policy value under a (non-negated form of an) operator."""
    if operator in ("StringEquals", "StringNotEquals"):
        return value == wanted
    if operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return value.lower() == wanted.lower()
    if operator in _STRING_LIKE:
        return wildcard_match(wanted, value)
    if operator in _NUMERIC:
        a, b = _number(value), _number(wanted)
        return a is not None and b is not None and _compare(operator[len("Numeric") :], a, b)
    if operator in _DATE:
        a, b = _date(value), _date(wanted)
        return a is not None and b is not None and _compare(operator[len("Date") :], a, b)
    if operator == "Bool":
        return value.lower() == wanted.lower()
    if operator == "BinaryEquals":
        return _binary(value) == _binary(wanted) if _binary(value) is not None else value == wanted
    if operator in ("IpAddress", "NotIpAddress"):
        import ipaddress

        network = _network(wanted)
        try:
            return network is not None and ipaddress.ip_address(value) in network
        except ValueError:
            return False
    if operator in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return arn_match(wanted, value)
    return False


def _compare(relation: str, a: float, b: float) -> bool:
    if relation in ("Equals", "NotEquals"):
        return a == b
    if relation == "LessThan":
        return a < b
    if relation == "LessThanEquals":
        return a <= b
    if relation == "GreaterThan":
        return a > b
    return a >= b  # GreaterThanEquals


def condition_holds(condition: Condition, context: Context, variables: bool = True) -> bool:
    """IAM's condition semantics, including what a key missing from the request makes of each form."""
    values = context.get(condition.key)
    if condition.operator == "Null":
        return (not values) == (condition.values[0].lower() == "true")
    negated = condition.operator in _NEGATED
    if not values:
        if condition.qualifier == "ForAllValues":
            return True
        if condition.qualifier == "ForAnyValue":
            return False
        return condition.if_exists or negated
    wanted: list[str] = []
    for raw in condition.values:
        value = substitute(raw, context) if variables and condition.operator in _SUBSTITUTED else raw
        if value is not None:  # a variable without a value matches nothing
            wanted.append(value)

    def one(value: str) -> bool:
        hit = any(_value_matches(condition.operator, value, w) for w in wanted)
        return not hit if negated else hit

    if condition.qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if condition.qualifier == "ForAnyValue" or not negated:
        return any(one(v) for v in values)
    return all(one(v) for v in values)  # a negated operator on a multivalued key: none may match


def _action_covered(statement: Statement, action: str) -> bool:
    hit = any(wildcard_match(p, action, ignore_case=True) for p in statement.actions)
    return hit != statement.not_action


def _resource_covered(statement: Statement, resource: str, policy: Policy, context: Context) -> bool:
    if statement.resources is None:
        return True
    hit = False
    for raw in statement.resources:
        pattern = substitute(raw, context) if policy.variables else raw
        if pattern is not None and (pattern == "*" or (resource != "*" and wildcard_match(pattern, resource))):
            hit = True
            break
    return hit != statement.not_resource


def _principal_covered(statement: Statement, request: Request) -> tuple[bool, bool]:
    """(covered, directly): whether the statement's principals take in the caller, and whether by its own ARN.

    Naming the caller's account (its id, or ``arn:aws:iam::ID:root``) covers every principal of that account
    but not directly: the account's identity policies must then allow the action too.
    """
    if statement.principals is None:
        return True, False
    covered, direct = False, False
    for kind, value in statement.principals:
        if kind == "*" or (kind == "AWS" and value == "*"):
            covered = True
        elif kind == "AWS" and request.principal:
            account_form = f"arn:aws:iam::{value}:root" if value.isdigit() else value
            for index, known in enumerate(request.principal):
                if wildcard_match(account_form, known):
                    covered = True
                    direct = direct or index > 0 or not account_form.endswith(":root")
        elif (
            kind == "Federated" and any(value == p or value.endswith(f":oidc-provider/{p}") for p in request.federated)
        ) or (kind == "Service" and value == request.service_principal):
            covered, direct = True, True
    if statement.not_principal:
        return not covered, False
    return covered, direct


@dataclass(frozen=True)
class Verdict:
    """What a set of policies says of a request: an allow, an explicit deny, or neither (an implicit deny)."""

    allowed: bool
    denied: bool  # an applicable Deny statement
    direct: bool = False  # a trust/resource policy's allow that names the caller itself (not its account)
    denied_by: str = ""  # the name of the policy whose Deny applied


def evaluate(policies: Sequence[Policy], request: Request) -> Verdict:
    """Every statement of every policy against the request: a matching Deny wins over any Allow."""
    allowed = direct = False
    for policy in policies:
        context = request.context
        for statement in policy.statements:
            if not _action_covered(statement, request.action):
                continue
            if not _resource_covered(statement, request.resource, policy, context):
                continue
            covered, by_name = _principal_covered(statement, request)
            if not covered:
                continue
            if not all(condition_holds(c, context, policy.variables) for c in statement.conditions):
                continue
            if not statement.allow:
                return Verdict(False, True, False, policy.name)
            allowed = True
            direct = direct or by_name
    return Verdict(allowed, False, direct)
