"""IAM's records as STS reads them: managed policies, roles, users, MFA devices, SAML providers, accounts, sessions.

Each record is a dataclass with a stable key, kept in a table of its kind
(see :class:`Records`), referring to others by key (an ARN, a key id).
What is looked up by something else than its key (a role by its name, a
user by one of its keys, an account by its issuer, a delegation by its
trade-in token) has an index kind of its own, written with the record. The
parsed policies are a cache rebuilt from the documents, never state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...core.entities import KEPT_SECONDS, Kind, Table, Tables
from ...core.sections import record

T = TypeVar("T")

Document = dict[str, Any] | str  # a policy document, or the JSON text it was given as


@dataclass(slots=True)
class ManagedPolicy:
    name: str
    account_id: str  # "aws" for an AWS managed policy
    policy_id: str  # ANPA…
    document: Document
    path: str = "/"
    description: str = ""
    arn: str = field(init=False)  # a field, not a property: the remote handle (jsonform) carries it too

    def __post_init__(self) -> None:
        self.arn = f"arn:aws:iam::{self.account_id}:policy{self.path}{self.name}"


@dataclass(slots=True)
class Role:
    name: str
    account_id: str
    role_id: str  # AROA…, as IAM gives every role
    trust_policy: Document
    max_session_duration: int = 3600
    path: str = "/"
    description: str = ""
    managed_policies: list[str] = field(default_factory=list)  # attached managed policies' ARNs
    inline_policies: dict[str, Document] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    arn: str = field(init=False)

    def __post_init__(self) -> None:
        self.arn = f"arn:aws:iam::{self.account_id}:role{self.path}{self.name}"


@dataclass(slots=True)
class User:
    name: str
    account_id: str
    user_id: str  # AIDA…
    path: str = "/"
    managed_policies: list[str] = field(default_factory=list)
    inline_policies: dict[str, Document] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    access_keys: list[str] = field(default_factory=list)  # key ids: the keys themselves are the mock's credentials
    arn: str = field(init=False)

    def __post_init__(self) -> None:
        self.arn = f"arn:aws:iam::{self.account_id}:user{self.path}{self.name}"


@dataclass(slots=True)
class MfaDevice:
    """A virtual MFA device: a TOTP secret, enabled for a user (or for the account's root)."""

    serial: str  # arn:aws:iam::ACCOUNT:mfa/NAME
    account_id: str
    secret: str  # base32: the test computes the codes from it (over HTTP too)
    user_arn: str | None = None  # None: the account's root
    last_step: int | None = None  # the last TOTP step used: a code works once


@dataclass(slots=True)
class SamlProvider:
    name: str
    account_id: str
    metadata: str  # the IdP's SAML metadata document (XML), with its signing certificate(s) and entityID
    arn: str = field(init=False)

    def __post_init__(self) -> None:
        self.arn = f"arn:aws:iam::{self.account_id}:saml-provider/{self.name}"


@dataclass(slots=True)
class Account:
    """What the emulator keeps per account: its disabled STS Regions and its outbound identity issuer."""

    account_id: str
    disabled_regions: list[str] = field(default_factory=list)
    outbound_federation: bool = True  # GetWebIdentityToken enabled (AWS: EnableOutboundWebIdentityFederation)
    issuer_id: str | None = None  # the host label of the account's token issuer, made on first use
    signing_keys: dict[str, str] = field(default_factory=dict, repr=False)  # algorithm -> PEM private key


@dataclass(slots=True)
class Session:
    """Temporary credentials an STS operation issued: who they stand for, with what policies, until when."""

    access_key_id: str  # the credentials' key (ASIA…), in the mock's key store
    kind: str  # assumed-role, federated-user, session-token, root, delegated
    account_id: str
    arn: str  # the caller's ARN (GetCallerIdentity)
    user_id: str
    principal_arn: str  # the role, user or root the session stands for
    operation: str  # the STS operation that issued it
    issued: float
    expires: float
    session_name: str | None = None
    policy: Document | None = None  # the inline session policy
    policy_arns: list[str] = field(default_factory=list)  # managed session policies
    tags: dict[str, str] = field(default_factory=dict)  # session tags (aws:PrincipalTag/...)
    transitive_tag_keys: list[str] = field(default_factory=list)
    source_identity: str | None = None
    mfa: bool = False  # authenticated with MFA
    chained: bool = False  # a role assumed with a role session's credentials
    subject: str | None = None  # a web identity's or SAML assertion's subject
    provider: str | None = None  # the identity provider that vouched for it
    audience: str | None = None

    @property
    def has_session_policies(self) -> bool:
        return self.policy is not None or bool(self.policy_arns)


@dataclass(slots=True)
class Delegation:
    """An IAM temporary-delegation request: a partner asks, the owner approves, STS trades the token."""

    delegation_id: str
    owner_account_id: str
    partner_account_id: str
    permissions: Document  # the policy the delegated session gets
    session_duration: int
    description: str = ""
    state: str = "PENDING"  # PENDING, FINALIZED (token sent), REDEEMED
    approver_arn: str | None = None
    token_digest: str | None = field(default=None, repr=False)  # SHA-256 of the trade-in token (never the token)
    token_expires: float | None = None


def _of(cls: type[T], omit: tuple[str, ...] = ()) -> tuple[Callable[[T], Any], Callable[[Any], T]]:
    """How a record of ``cls`` is written as JSON (its fields, None and ``omit`` left out) and read back."""

    def dump(item: T) -> Any:
        return record(item, omit=omit)

    def load(data: Any) -> T:
        return cls(**data)

    return dump, load


def _text(data: Any) -> str:
    return str(data)


def _settings(data: Any) -> dict[str, Any]:
    return dict(data)


def _session_dead_at(session: Session) -> float:
    return session.expires + KEPT_SECONDS


def _delegation_dead_at(delegation: Delegation) -> float | None:
    """A delegation whose trade-in token expired is past use (a pending one waits for its owner)."""
    return None if delegation.token_expires is None else delegation.token_expires + KEPT_SECONDS


def _trade_in_dead_at(entry: list[Any]) -> float | None:
    return None if entry[1] is None else float(entry[1]) + KEPT_SECONDS


def _entry(data: Any) -> list[Any]:
    return list(data)


# the records, by key: the settings (""), the key that seals encoded authorization messages (""), a
# managed policy, a role, a user, a SAML provider (their ARNs), a role's or user's ARN by its name in its
# account (compound(account, name)), a user's ARN by one of its access keys, an MFA device (its serial),
# an account (its id) and an account by its issuer id, a session (its temporary access key id), a delegation
# request (its id), and a delegation's [id, token expiry] by the SHA-256 of its trade-in token
SETTINGS: Kind[dict[str, Any]] = Kind("settings", dict, _settings, whole=True)
MESSAGE_KEY: Kind[str] = Kind("message_key", str, _text, whole=True)
POLICY: Kind[ManagedPolicy] = Kind("policy", *_of(ManagedPolicy, ("arn",)))
ROLE: Kind[Role] = Kind("role", *_of(Role, ("arn",)))
ROLE_NAMED: Kind[str] = Kind("role_named", str, _text)
USER: Kind[User] = Kind("user", *_of(User, ("arn",)))
USER_NAMED: Kind[str] = Kind("user_named", str, _text)
USER_OF_KEY: Kind[str] = Kind("user_of_key", str, _text)
MFA_DEVICE: Kind[MfaDevice] = Kind("mfa_device", *_of(MfaDevice))
SAML_PROVIDER: Kind[SamlProvider] = Kind("saml_provider", *_of(SamlProvider, ("arn",)))
ACCOUNT: Kind[Account] = Kind("account", *_of(Account))
ISSUER: Kind[str] = Kind("issuer", str, _text)
SESSION: Kind[Session] = Kind("session", *_of(Session), _session_dead_at)
DELEGATION: Kind[Delegation] = Kind("delegation", *_of(Delegation), _delegation_dead_at)
TRADE_IN: Kind[list[Any]] = Kind("trade_in", list, _entry, _trade_in_dead_at)


class Records:
    """The model's tables, one per kind, from its context: nothing is kept here but where they are."""

    __slots__ = (
        "accounts",
        "delegations",
        "issuers",
        "message_key",
        "mfa_devices",
        "policies",
        "role_named",
        "roles",
        "saml_providers",
        "sessions",
        "settings",
        "trade_ins",
        "user_named",
        "user_of_key",
        "users",
    )

    def __init__(self, tables: Tables) -> None:
        self.settings: Table[dict[str, Any]] = tables.table(SETTINGS)
        self.message_key: Table[str] = tables.table(MESSAGE_KEY)
        self.policies: Table[ManagedPolicy] = tables.table(POLICY)  # arn ->
        self.roles: Table[Role] = tables.table(ROLE)  # arn ->
        self.role_named: Table[str] = tables.table(ROLE_NAMED)  # compound(account, name) -> arn
        self.users: Table[User] = tables.table(USER)  # arn ->
        self.user_named: Table[str] = tables.table(USER_NAMED)  # compound(account, name) -> arn
        self.user_of_key: Table[str] = tables.table(USER_OF_KEY)  # access key id -> user arn
        self.mfa_devices: Table[MfaDevice] = tables.table(MFA_DEVICE)  # serial ->
        self.saml_providers: Table[SamlProvider] = tables.table(SAML_PROVIDER)  # arn ->
        self.accounts: Table[Account] = tables.table(ACCOUNT)  # account id ->
        self.issuers: Table[str] = tables.table(ISSUER)  # issuer id -> account id
        self.sessions: Table[Session] = tables.table(SESSION)  # access key id ->
        self.delegations: Table[Delegation] = tables.table(DELEGATION)  # delegation id ->
        self.trade_ins: Table[list[Any]] = tables.table(TRADE_IN)  # token digest -> [delegation id, expiry]
