"""STS's state and rules: roles with trust policies, web-identity sessions, caller identities. No HTTP here.

The web-identity tokens it accepts are those of the issuers registered with
the mock (``context.issuers``, see :mod:`mockcloud.core.oidc`), checked by
signature against their published keys; the credentials it issues are
registered in the mock's key store, so every AWS service of the mock accepts
them until they expire on the mock clock.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ...core.credentials import DEFAULT_ACCOUNT_ID, AwsKey
from ...core.errors import MockCloudError, ServiceError
from ...core.helpers import reads_only
from ...core.oidc import TokenRejected
from ...core.service import ServiceContext
from . import trust as policies
from .errors import ERRORS
from .trust import Statement

DEFAULTS = {
    "default_duration_seconds": 3600,  # DurationSeconds when the request has none
}
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Role:
    name: str
    account_id: str
    role_id: str  # AROA…, as IAM gives every role
    trust_policy: dict[str, Any] | str
    statements: tuple[Statement, ...]
    max_session_duration: int = 3600
    path: str = "/"
    description: str = ""

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role{self.path}{self.name}"


@dataclass
class Session:
    """One AssumeRoleWithWebIdentity answer: who assumed what, with which credentials, until when."""

    role: Role
    session_name: str
    key: AwsKey
    subject: str
    provider: str
    audience: str
    issued: float
    expires: float

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.role.account_id}:assumed-role/{self.role.name}/{self.session_name}"

    @property
    def assumed_role_id(self) -> str:
        return f"{self.role.role_id}:{self.session_name}"


@dataclass
class _State:
    roles: dict[str, Role] = field(default_factory=dict)  # arn -> Role
    sessions: list[Session] = field(default_factory=list)


class StsModel:
    """``cloud.sts``: roles, sessions, and the helpers tests use to set them up."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.clock = context.clock
        self.credentials = context.credentials
        self.issuers = context.issuers
        self.settings = context.merged_settings(DEFAULTS)
        self._lock = context.lock
        self._state = _State()
        for item in context.fixtures.get("roles", ()):
            self._add_role(
                item["name"],
                item["trust_policy"],
                max_session_duration=item.get("max_session_duration", 3600),
                account_id=item.get("account_id", DEFAULT_ACCOUNT_ID),
                path=item.get("path", "/"),
                description=item.get("description", ""),
                role_id=item.get("role_id"),  # a snapshot's: the id IAM gave it, not a new one
            )
        for item in context.fixtures.get("sessions", ()):
            self._load_session(item)

    # ---- roles --------------------------------------------------------------------
    def create_role(
        self,
        name: str,
        trust: dict[str, Any] | str,
        *,
        max_session_duration: int = 3600,
        account_id: str = DEFAULT_ACCOUNT_ID,
        path: str = "/",
        description: str = "",
    ) -> Role:
        """Add a role whose trust policy (a dict or its JSON) STS evaluates on every AssumeRoleWithWebIdentity.

        ``max_session_duration`` is IAM's MaxSessionDuration: 3600 to 43200 seconds.
        """
        return self._add_role(
            name,
            trust,
            max_session_duration=max_session_duration,
            account_id=account_id,
            path=path,
            description=description,
        )

    def _add_role(
        self,
        name: str,
        trust: dict[str, Any] | str,
        *,
        max_session_duration: int,
        account_id: str,
        path: str,
        description: str,
        role_id: str | None = None,
    ) -> Role:
        if not isinstance(max_session_duration, int) or not 3600 <= max_session_duration <= 43200:
            raise MockCloudError(
                "max_session_duration must be an integer from 3600 to 43200 seconds (IAM's MaxSessionDuration)"
            )
        if not path.startswith("/") or not path.endswith("/"):
            raise MockCloudError("a role path begins and ends with '/'")
        statements = policies.parse(trust)
        if role_id is None:
            role_id = "AROA" + "".join(self.entropy.choice(_ID_ALPHABET) for _ in range(17))
        role = Role(name, account_id, role_id, trust, statements, max_session_duration, path, description)
        with self._lock:
            if any(r.name == name and r.account_id == account_id for r in self._state.roles.values()):
                raise MockCloudError(f"role {name!r} already exists in account {account_id}")
            self._state.roles[role.arn] = role
        return role

    @reads_only
    def role(self, arn: str) -> Role | None:
        return self._state.roles.get(arn)

    @property
    def roles(self) -> list[Role]:
        return list(self._state.roles.values())

    @property
    def sessions(self) -> list[Session]:
        return list(self._state.sessions)

    # ---- snapshots -------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Roles (with the ids IAM gave them) and sessions, as this service's fixtures section.

        A session names its temporary key by id: the key itself, secret and session
        token, is the mock's (the snapshot's ``credentials``), and STS reads it back from there.
        """
        with self._lock:
            section = {
                "settings": dict(self.settings),
                "roles": [
                    {
                        "name": role.name,
                        "account_id": role.account_id,
                        "path": role.path,
                        "description": role.description,
                        "max_session_duration": role.max_session_duration,
                        "trust_policy": role.trust_policy,
                        "role_id": role.role_id,
                    }
                    for role in self._state.roles.values()
                ],
                "sessions": [
                    {
                        "role_arn": session.role.arn,
                        "session_name": session.session_name,
                        "access_key_id": session.key.access_key_id,
                        "subject": session.subject,
                        "provider": session.provider,
                        "audience": session.audience,
                        "issued": session.issued,
                        "expires": session.expires,
                    }
                    for session in self._state.sessions
                ],
            }
            return copy.deepcopy(section)

    def _load_session(self, item: dict[str, Any]) -> None:
        role = self.role(item["role_arn"])
        if role is None:
            raise MockCloudError(f"sts: a session of an unknown role {item['role_arn']}")
        name = item["session_name"]
        # a key since dropped from the mock's key store keeps its id only: no request is accepted with it anyway
        key = self.credentials.aws(item["access_key_id"]) or AwsKey(
            item["access_key_id"],
            "",
            role.account_id,
            None,
            item["expires"],
            f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{name}",
            f"{role.role_id}:{name}",
        )
        session = Session(
            role, name, key, item["subject"], item["provider"], item["audience"], item["issued"], item["expires"]
        )
        self._state.sessions.append(session)

    # ---- AssumeRoleWithWebIdentity ----------------------------------------------------
    def assume_role_with_web_identity(
        self, *, role_arn: str, session_name: str, token: str, duration: int | None = None
    ) -> Session:
        """Verify the token, evaluate the role's trust, and issue temporary credentials for the session."""
        now = self.clock.time()
        try:
            verified = self.issuers.verify(token, now)
        except TokenRejected as rejected:
            raise self._token_error(rejected) from None
        claims = verified.claims
        role = self.role(role_arn)
        if role is None:  # AWS does not tell a missing role from a refused one
            raise ERRORS.error("AccessDenied", NOT_AUTHORIZED)
        roles_claim = verified.issuer.roles_claim
        embedded = claims.get(roles_claim) if roles_claim else None
        if isinstance(embedded, list) and embedded and role_arn not in embedded:
            raise ERRORS.error(
                "IDPRejectedClaim",
                f"The web identity token does not allow role {role_arn}: "
                f"the token was issued for {', '.join(map(str, embedded))}.",
            )
        if not policies.allows(role.statements, verified.issuer.provider, claims):
            raise ERRORS.error("AccessDenied", NOT_AUTHORIZED)
        seconds = self.settings["default_duration_seconds"] if duration is None else duration
        if seconds > role.max_session_duration:
            raise ERRORS.error(
                "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        expires = float(int(now) + seconds)
        arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session_name}"
        key = self.credentials.issue_temporary(
            account_id=role.account_id, expires=expires, arn=arn, user_id=f"{role.role_id}:{session_name}"
        )
        aud = claims["aud"]
        session = Session(
            role,
            session_name,
            key,
            str(claims.get("sub", "")),
            verified.issuer.provider,
            aud if isinstance(aud, str) else str(aud[0]),
            now,
            expires,
        )
        with self._lock:
            self._state.sessions.append(session)
        return session

    @staticmethod
    def _token_error(rejected: TokenRejected) -> ServiceError:
        reason, details = rejected.reason, rejected.details
        if reason == "expired":
            return ERRORS.error(
                "ExpiredTokenException",
                f"Token expired: current date/time {int(details['now'])} "
                f"must be before the expiration date/time {int(details['exp'])}",
            )
        if reason == "unknown_issuer":
            return ERRORS.error(
                "InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {details.get('iss')}"
            )
        if reason == "no_key":
            return ERRORS.error(
                "InvalidIdentityToken",
                "Couldn't retrieve verification key from your identity provider,  please reference "
                "AssumeRoleWithWebIdentity documentation for requirements",
            )
        if reason == "signature":
            return ERRORS.error(
                "InvalidIdentityToken",
                "The web identity token's signature could not be verified with the identity provider's keys.",
            )
        if reason == "not_yet_valid":
            return ERRORS.error(
                "InvalidIdentityToken",
                f"Token is not yet valid: current date/time {int(details['now'])} "
                f"is before the not-before date/time {int(details['nbf'])}",
            )
        if reason in ("missing_claim", "audience"):
            return ERRORS.error("InvalidIdentityToken", rejected.message)
        return ERRORS.error(
            "InvalidIdentityToken",
            "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)",
        )

    # ---- GetCallerIdentity ------------------------------------------------------------
    @reads_only
    def caller_identity(self, access_key_id: str) -> tuple[str, str, str]:
        """(UserId, Account, Arn) of the key that signed the request."""
        key = self.credentials.aws(access_key_id)
        if key is None:  # authentication already refused unknown keys; a key removed since is unknown too
            raise ERRORS.error("InvalidClientTokenId", "The security token included in the request is invalid.")
        return key.caller_user_id, key.account_id, key.caller_arn

    def inventory(self) -> list[dict[str, object]]:
        """The role sessions it issued (temporary credentials, by their non-secret access key id), for the dashboard.

        A session whose key is no longer in the mock's key store (cleared since) shows as revoked.
        """
        from ...core.inventory import entry, state_of

        now = self.clock.time()
        with self._lock:
            sessions = list(self._state.sessions)
        return [
            entry(
                "sts",
                "role_session",
                s.key.access_key_id,
                f"{s.subject} as {s.role.name}/{s.session_name}",
                s.issued,
                s.expires,
                state_of(now, s.expires, revoked=self.credentials.aws(s.key.access_key_id) is not s.key),
            )
            for s in sessions
        ]
