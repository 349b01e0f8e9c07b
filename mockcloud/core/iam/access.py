"""The access check of every AWS call: who signed it, what its policies say of the action on the resource.

A mock has one :class:`AccessControl` (``ServiceContext.access``), shared by
its services. The service that keeps the identities (STS: roles, users,
their policies, the sessions it issued) registers itself as the
:class:`Authority`; the AWS front door asks :meth:`AccessControl.check` on
every signed call, after validation and before the operation.

A key that names no principal (``AwsKey.arn`` is None: an account's root
keys, such as the default test keys) is never limited, as AWS never limits
an account's root with identity policies; neither is a key the authority
does not know. For any other caller the decision is IAM's, within one
account: an explicit Deny in any identity-based or session policy wins;
otherwise an identity-based policy must allow, and, when the session has
session policies, one of those must allow too.

The authority keeps no copy of what it knows: each question reads its
records as they are, inside the request's transaction when the state is
shared, so a policy changed through one worker holds at once in every other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Protocol

from .policy import Context, Policy, Request, evaluate

if TYPE_CHECKING:
    from ..credentials import AwsKey

IDENTITY_POLICY = "identity-based policy"
SESSION_POLICY = "session policy"


@dataclass(frozen=True)
class Principal:
    """A caller as IAM evaluates it: its policies, and the condition keys it brings to every request."""

    arn: str  # as denials name it: "User: <arn> is not authorized ..."
    account_id: str
    identity: tuple[Policy, ...] | None  # its identity-based policies; None: not limited by any (an account's root)
    session: tuple[Policy, ...] | None = None  # the session policies it was issued with; None: none
    context: Mapping[str, tuple[str, ...]] = ()  # type: ignore[assignment]  # lowercase key -> values
    user_id: str = ""  # aws:userid: for the encoded message

    def keys(self) -> Mapping[str, tuple[str, ...]]:
        return self.context or {}


class Authority(Protocol):
    """What the identity-keeping service gives the front door."""

    def principal(self, access_key_id: str) -> Principal | None:
        """The principal behind a key (None: an account's root, or a key it did not issue)."""

    def encode_denial(self, denial: Denial) -> str:
        """The denial as an encoded authorization message (what DecodeAuthorizationMessage decodes)."""

    def encodes_messages(self) -> bool:
        """Whether every denial carries AWS's "Encoded authorization failure message" (a setting it keeps)."""


@dataclass(frozen=True)
class Denial:
    """An authorization failure, worded as AWS words it."""

    principal: Principal
    action: str
    resource: str
    explicit: bool
    policy_type: str  # IDENTITY_POLICY or SESSION_POLICY
    context: Mapping[str, Sequence[str]]
    denied_by: str = ""

    def message(self) -> str:
        head = f"User: {self.principal.arn} is not authorized to perform: {self.action} on resource: {self.resource}"
        if self.explicit:
            article = "an" if self.policy_type[0] in "aeiou" else "a"
            return f"{head} with an explicit deny in {article} {self.policy_type}"
        return f"{head} because no {self.policy_type} allows the {self.action} action"

    def document(self) -> dict[str, object]:
        """The decoded form of the encoded message: AWS's fields, from what this decision looked at."""
        conditions = [
            {"key": key, "values": {"items": [{"value": value} for value in values]}}
            for key, values in sorted(self.context.items())
        ]
        return {
            "allowed": False,
            "explicitDeny": self.explicit,
            "matchedStatements": {"items": []},
            "failures": {"items": []},
            "context": {
                "principal": {"id": self.principal.user_id, "arn": self.principal.arn},
                "action": self.action,
                "resource": self.resource,
                "conditions": {"items": conditions},
            },
        }


def decide(principal: Principal, action: str, resource: str, context: Context) -> Denial | None:
    """IAM's decision for one principal within its account: None when allowed, else why not."""
    request = Request(action, resource, context)
    identity = principal.identity
    session = principal.session
    checked: list[tuple[str, tuple[Policy, ...]]] = []
    if identity is not None:
        checked.append((IDENTITY_POLICY, identity))
    if session is not None:
        checked.append((SESSION_POLICY, session))
    verdicts = []
    for kind, policies in checked:
        verdict = evaluate(policies, request)
        if verdict.denied:
            return Denial(principal, action, resource, True, kind, context, verdict.denied_by)
        verdicts.append((kind, verdict))
    for kind, verdict in verdicts:
        if not verdict.allowed:
            return Denial(principal, action, resource, False, kind, context)
    return None


class AccessControl:
    """The mock's one access check, and the authority it asks about principals."""

    def __init__(self) -> None:
        self.authority: Authority | None = None
        self._resolve: Callable[[], object] | None = None  # builds the authority's service, when not yet built
        self._lock = threading.Lock()

    def register(self, authority: Authority) -> None:
        """Make ``authority`` the keeper of principals (the identity service does, when it is built)."""
        self.authority = authority

    def resolve_with(self, build: Callable[[], object]) -> None:
        """How to build the authority's service on first need (the registry sets it: services build lazily)."""
        self._resolve = build

    def resolve(self) -> Authority | None:
        """The authority, its service built first if it was not yet (None when the mock has no identity service)."""
        if self.authority is None and self._resolve is not None:
            with self._lock:
                if self.authority is None and self._resolve is not None:
                    self._resolve()
        return self.authority

    def principal_of(self, key: AwsKey) -> Principal | None:
        """The principal of a key that signed a call; None when nothing limits it."""
        if key.arn is None:  # an account's root keys: the fast path of every default test key
            return None
        authority = self.resolve()
        if authority is None:
            return None
        return authority.principal(key.access_key_id)

    def check(
        self, key: AwsKey, action: str, resources: Sequence[str], context: dict[str, tuple[str, ...]]
    ) -> Denial | None:
        """The first resource the call may not touch, as a :class:`Denial`; None when every one is allowed.

        ``context`` is the request's condition keys (lowercase); the principal's are added to it.
        """
        principal = self.principal_of(key)
        if principal is None:
            return None
        merged: dict[str, tuple[str, ...]] = {**principal.keys(), **context}
        for resource in resources or ("*",):
            denial = decide(principal, action, resource, merged)
            if denial is not None:
                return denial
        return None

    def message_of(self, denial: Denial) -> str:
        """The denial's message, with the encoded authorization message when the authority is set to add it."""
        text = denial.message()
        authority = self.authority
        if authority is not None and authority.encodes_messages():
            text += f". Encoded authorization failure message: {authority.encode_denial(denial)}"
        return text


def request_context(
    now: float, *, region: str | None, secure: bool, source_ip: str | None
) -> dict[str, tuple[str, ...]]:
    """The global condition keys every request carries, from the mock clock and the wire."""
    moment = datetime.fromtimestamp(now, timezone.utc)
    keys: dict[str, tuple[str, ...]] = {
        "aws:currenttime": (moment.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:epochtime": (str(int(now)),),
        "aws:securetransport": ("true" if secure else "false",),
        "aws:viaawsservice": ("false",),
    }
    if region:
        keys["aws:requestedregion"] = (region,)
    if source_ip:
        keys["aws:sourceip"] = (source_ip,)
    return keys
