"""Role trust policies for web identities: parsed once, evaluated against a verified token's claims.

What IAM evaluates for ``sts:AssumeRoleWithWebIdentity``: a statement
applies when its Principal names the token's federated provider (by name, or
as an ``arn:aws:iam::ACCOUNT:oidc-provider/NAME``), its Action covers the
action, and every Condition holds; an applying Deny wins, else an applying
Allow allows. Condition keys are ``PROVIDER:CLAIM`` (``openid-license-
manager.amazonaws.com:amr``); operators are the String family, with
``IfExists`` and the ``ForAnyValue:``/``ForAllValues:`` set qualifiers, and
``Null``. A policy that uses anything else is refused when the role is
created, never silently allowed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ...core.errors import MockCloudError

ACTION = "sts:AssumeRoleWithWebIdentity"
_STRING_OPS = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
}


class MalformedPolicy(MockCloudError):
    """A trust policy mockcloud cannot evaluate faithfully (IAM's MalformedPolicyDocument)."""


@dataclass(frozen=True)
class Condition:
    qualifier: str  # "", "ForAnyValue", "ForAllValues"
    operator: str  # StringEquals, ..., Null
    if_exists: bool
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    allow: bool
    principals: tuple[str, ...]  # federated providers (names or provider ARNs), or "*"
    actions: tuple[str, ...]
    conditions: tuple[Condition, ...]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, (str, bool, int)) and not isinstance(v, float) for v in items):
        raise MalformedPolicy(f"{where} must be a string or a list of strings")
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in items)


def parse(document: dict[str, Any] | str) -> tuple[Statement, ...]:
    """A trust policy document (a dict or its JSON text) as statements, or :class:`MalformedPolicy`."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise MalformedPolicy(f"the trust policy is not JSON: {exc}") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise MalformedPolicy("a trust policy is an object with a Statement")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise MalformedPolicy(f"unsupported policy element(s) {sorted(unknown)}")
    raw = document["Statement"]
    statements = []
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict):
            raise MalformedPolicy("each Statement is an object")
        unsupported = set(item) - {"Sid", "Effect", "Principal", "Action", "Condition"}
        if unsupported:
            raise MalformedPolicy(
                f"unsupported statement element(s) {sorted(unsupported)} "
                "(mockcloud evaluates Effect, Principal, Action, Condition)"
            )
        if item.get("Effect") not in ("Allow", "Deny"):
            raise MalformedPolicy("Effect must be Allow or Deny")
        principal = item.get("Principal")
        if principal == "*":
            principals: tuple[str, ...] = ("*",)
        elif isinstance(principal, dict):
            principals = _strings(principal["Federated"], "Principal.Federated") if "Federated" in principal else ()
        else:
            raise MalformedPolicy('Principal must be "*" or an object')
        actions = _strings(item.get("Action"), "Action")
        conditions = []
        for operator_text, block in (item.get("Condition") or {}).items():
            if not isinstance(block, dict):
                raise MalformedPolicy(f"Condition {operator_text} must map keys to values")
            qualifier, _, operator = operator_text.rpartition(":")
            if qualifier not in ("", "ForAnyValue", "ForAllValues"):
                raise MalformedPolicy(f"unsupported condition qualifier {qualifier!r}")
            if_exists = operator.endswith("IfExists")
            base = operator[: -len("IfExists")] if if_exists else operator
            if base not in _STRING_OPS and base != "Null":
                raise MalformedPolicy(
                    f"unsupported condition operator {operator_text!r}; "
                    "mockcloud evaluates the String operators and Null"
                )
            for key, values in block.items():
                conditions.append(
                    Condition(qualifier, base, if_exists, key, _strings(values, f"Condition {operator_text} {key}"))
                )
        statements.append(Statement(item["Effect"] == "Allow", principals, actions, tuple(conditions)))
    return tuple(statements)


@lru_cache(maxsize=256)
def _like(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z", re.S)


def _matches(operator: str, value: str, wanted: str) -> bool:
    if operator in ("StringEquals", "StringNotEquals"):
        return value == wanted
    if operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return value.lower() == wanted.lower()
    return _like(wanted).match(value) is not None


def _holds(condition: Condition, context: dict[str, list[str]]) -> bool:
    values = context.get(condition.key.lower())
    if condition.operator == "Null":
        return (values is None) == (condition.values[0].lower() == "true")
    negated = "Not" in condition.operator
    if not values:
        if condition.qualifier == "ForAllValues":
            return True
        if condition.qualifier == "ForAnyValue":
            return False
        return condition.if_exists or negated

    def one(value: str) -> bool:
        hit = any(_matches(condition.operator, value, wanted) for wanted in condition.values)
        return not hit if negated else hit

    if condition.qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if condition.qualifier == "ForAnyValue" or not negated:
        return any(one(v) for v in values)
    return all(one(v) for v in values)  # a negated operator on a multivalued key: none may match


def _covers(pattern: str, text: str) -> bool:
    return _like(pattern.lower()).match(text.lower()) is not None


def allows(statements: tuple[Statement, ...], provider: str, claims: dict[str, Any]) -> bool:
    """Whether the policy lets a web identity of ``provider`` with these ``claims`` assume the role."""
    context: dict[str, list[str]] = {}
    for name, value in claims.items():
        items = value if isinstance(value, list) else [value]
        context[f"{provider}:{name}".lower()] = [
            str(v) for v in items if isinstance(v, (str, int)) and not isinstance(v, bool)
        ]
    allowed = False
    for statement in statements:
        names = statement.principals
        if "*" not in names and not any(p == provider or p.endswith(f":oidc-provider/{provider}") for p in names):
            continue
        if not any(_covers(action, ACTION) for action in statement.actions):
            continue
        if not all(_holds(c, context) for c in statement.conditions):
            continue
        if not statement.allow:
            return False
        allowed = True
    return allowed
