"""IAM's records as STS reads them: managed policies, roles, users, MFA devices, SAML providers, accounts, sessions.

Each record is a dataclass with a stable id, kept in a dict per kind (see
:class:`Records`), referring to others by id (an ARN, a key id). The parsed
policies are a cache that is rebuilt from the documents, never state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core.iam.policy import Policy

Document = dict[str, Any] | str  # a policy document, or the JSON text it was given as


@dataclass
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


@dataclass
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


@dataclass
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


@dataclass
class MfaDevice:
    """A virtual MFA device: a TOTP secret, enabled for a user (or for the account's root)."""

    serial: str  # arn:aws:iam::ACCOUNT:mfa/NAME
    account_id: str
    secret: str  # base32: the test computes the codes from it (over HTTP too)
    user_arn: str | None = None  # None: the account's root
    last_step: int | None = None  # the last TOTP step used: a code works once


@dataclass
class SamlProvider:
    name: str
    account_id: str
    metadata: str  # the IdP's SAML metadata document (XML), with its signing certificate(s) and entityID
    arn: str = field(init=False)

    def __post_init__(self) -> None:
        self.arn = f"arn:aws:iam::{self.account_id}:saml-provider/{self.name}"


@dataclass
class Account:
    """What the emulator keeps per account: its disabled STS Regions and its outbound identity issuer."""

    account_id: str
    disabled_regions: list[str] = field(default_factory=list)
    outbound_federation: bool = True  # GetWebIdentityToken enabled (AWS: EnableOutboundWebIdentityFederation)
    issuer_id: str | None = None  # the host label of the account's token issuer, made on first use
    signing_keys: dict[str, str] = field(default_factory=dict, repr=False)  # algorithm -> PEM private key


@dataclass
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


@dataclass
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


@dataclass
class Records:
    """The state: a dict per kind, keyed by each record's id."""

    policies: dict[str, ManagedPolicy] = field(default_factory=dict)  # arn ->
    roles: dict[str, Role] = field(default_factory=dict)  # arn ->
    users: dict[str, User] = field(default_factory=dict)  # arn ->
    mfa_devices: dict[str, MfaDevice] = field(default_factory=dict)  # serial ->
    saml_providers: dict[str, SamlProvider] = field(default_factory=dict)  # arn ->
    accounts: dict[str, Account] = field(default_factory=dict)  # account id ->
    sessions: dict[str, Session] = field(default_factory=dict)  # access key id ->
    delegations: dict[str, Delegation] = field(default_factory=dict)  # delegation id ->


@dataclass
class Parsed:
    """Parsed documents, by what they belong to: a cache rebuilt from the records' documents."""

    by_key: dict[tuple[str, ...], Policy] = field(default_factory=dict)
