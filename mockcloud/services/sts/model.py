"""STS's state and rules, and IAM's identities it issues credentials for. No HTTP here.

The records (:mod:`.identities`) are IAM's: managed policies, roles with
their trust and permission policies, users with access keys and MFA
devices, SAML providers, per-account settings; and STS's own: the sessions
it issued, by their temporary key, and temporary-delegation requests. This
model is the mock's identity authority (:class:`~mockcloud.core.iam.access.Authority`):
the AWS front door asks it who signed a call and what policies apply, and
evaluates them with :mod:`mockcloud.core.iam.policy`.

Web-identity tokens are those of the issuers registered with the mock
(``context.issuers``), checked by signature against their published keys;
SAML responses are verified against the certificate registered with the
SAML provider (:mod:`.saml`); every credential it issues is registered in
the mock's key store, so every AWS service of the mock accepts it until it
expires on the mock clock.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ...core.credentials import AwsKey, account_of_key_id
from ...core.errors import MockCloudError, ServiceError
from ...core.helpers import reads_only
from ...core.iam import policy as iam
from ...core.iam.access import Denial, Principal, decide
from ...core.oidc import TokenRejected
from ...core.sections import keyed, record, unb64
from ...core.service import ServiceContext, ServiceModel
from . import outbound, saml
from .directory import DEFAULTS, Directory
from .errors import ERRORS
from .identities import (
    Account,
    Delegation,
    ManagedPolicy,
    MfaDevice,
    Records,
    Role,
    SamlProvider,
    Session,
    User,
)
from .managed import ROOT_TASK_POLICIES

NOT_AUTHORIZED = "Not authorized to perform sts:{}"
PACKED_LIMIT = 1024  # bytes of packed (compressed) session policies and tags: 100 %
POLICY_PLAINTEXT_LIMIT = 2048  # "can't exceed 2,048 characters"
MAX_POLICY_ARNS = 10
CHAINED_MAX_SECONDS = 3600  # role chaining limits a session to one hour
ROOT_SESSION_MAX_SECONDS = 3600  # GetSessionToken/GetFederationToken for an account's root
JWT_PAYLOAD_LIMIT = 8192  # bytes of GetWebIdentityToken's claims
WEB_IDENTITY_DEFAULT_SECONDS = 300
SAML_ATTRIBUTE = saml.ATTRIBUTE
WEB_TAGS_CLAIM = "https://aws.amazon.com/tags"
WEB_SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"
# what temporary credentials of each kind may call of STS (the front door checks IAM; these are STS's own rules)
_SESSION_MAY_CALL: dict[str, frozenset[str] | None] = {
    "federated-user": frozenset({"GetCallerIdentity"}),
    "session-token": frozenset({"AssumeRole", "GetCallerIdentity"}),
    "root-session": None,  # an AssumeRoot session: its task policy decides
    "delegated": None,
}
_ROLE_SESSION_MAY_NOT = frozenset({"GetSessionToken", "GetFederationToken"})


@dataclass(frozen=True)
class Caller:
    """Who signed a call, as STS's rules see it."""

    kind: str  # root (long-term root keys), user, or the session's kind
    account_id: str
    arn: str
    key: AwsKey
    session: Session | None = None
    user: User | None = None

    @property
    def is_session(self) -> bool:
        return self.session is not None

    def principal_arns(self) -> tuple[str, ...]:
        """The ARNs a trust policy may name this caller by, its account's root first."""
        root = f"arn:aws:iam::{self.account_id}:root"
        if self.kind == "root":
            return (root,)
        session = self.session
        if session is not None and session.kind == "assumed-role":
            return (root, session.principal_arn, session.arn)
        if self.user is not None:
            return (root, self.user.arn)
        return (root, self.arn)


@dataclass
class Issued:
    """Credentials an operation issued, and what its answer reports of them."""

    session: Session
    key: AwsKey
    packed_size: int | None = None  # percent of the packed-policy space the session policies and tags use
    extra: dict[str, Any] = field(default_factory=dict)


class _Authority:
    """The model as the front door's identity authority (not on the handle: its methods are no helpers)."""

    def __init__(self, model: StsModel) -> None:
        self.model = model

    def principal(self, access_key_id: str) -> Principal | None:
        return self.model._principal(access_key_id)

    def encode_denial(self, denial: Denial) -> str:
        return self.model._encode_message(denial.document(), denial.principal.account_id)

    def encodes_messages(self) -> bool:
        return bool(self.model.settings["encode_authorization_messages"])


class StsModel(Directory, ServiceModel):
    """``cloud.sts``: IAM's roles, users, policies and providers, STS's sessions, and the helpers tests use."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.clock = context.clock
        self.credentials = context.credentials
        self.issuers = context.issuers
        self.context = context
        self._lock = context.lock
        self._state = Records(context)
        self._parsed: dict[tuple[str, ...], iam.Policy] = {}  # a cache of parsed documents, rebuilt on demand
        self.authority = _Authority(self)
        context.access.register(self.authority)

    # ---- encoded authorization messages ----------------------------------------------------------------
    def encode_authorization_messages(self, enabled: bool = True) -> None:
        """Make every denial of the IAM check carry AWS's "Encoded authorization failure message: ...".

        The same as the setting ``encode_authorization_messages``; DecodeAuthorizationMessage decodes them.
        """
        with self._lock:
            settings = self.settings
            settings["encode_authorization_messages"] = bool(enabled)
            self._state.settings[""] = settings

    @property
    def _message_key(self) -> bytes:
        """The key that seals encoded authorization messages: one per emulator, so any worker opens any message."""
        return base64.b64decode(self._state.message_key[""])

    def _encode_message(self, document: dict[str, Any], account_id: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = self.entropy.token_bytes(12)
        sealed = AESGCM(self._message_key).encrypt(nonce, json.dumps(document).encode(), account_id.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def decode_authorization_message(self, *, access_key_id: str, encoded: str) -> str:
        """DecodeAuthorizationMessage: the JSON of a denial's encoded message, for a caller of the same account."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        caller = self._caller(access_key_id)
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            opened = AESGCM(self._message_key).decrypt(raw[:12], raw[12:], caller.account_id.encode())
        except (ValueError, InvalidTag, TypeError):
            raise ERRORS.error(
                "InvalidAuthorizationMessageException", "The authorization message is not valid."
            ) from None
        return json.dumps(json.loads(opened), separators=(",", ":"))

    # ---- callers ----------------------------------------------------------------------------------------
    def _caller(self, access_key_id: str) -> Caller:
        key = self.credentials.aws(access_key_id)
        if key is None:  # authentication refused unknown keys; one removed since is unknown too
            raise ERRORS.error("InvalidClientTokenId", "The security token included in the request is invalid.")
        session = self._state.sessions.get(access_key_id)
        if session is not None:
            user = self._state.users.get(session.principal_arn)
            return Caller(session.kind, session.account_id, session.arn, key, session, user)
        user_arn = self._state.user_of_key.get(access_key_id)
        user = self._state.users.get(user_arn) if user_arn else None
        if user is not None:
            return Caller("user", user.account_id, user.arn, key, None, user)
        return Caller("root", key.account_id, key.caller_arn, key)

    def refuse_session_call(self, access_key_id: str, operation: str) -> None:
        """STS's own rule on what temporary credentials of each kind may call (before IAM's policies)."""
        session = self._state.sessions.get(access_key_id)
        if session is None:
            return
        if session.kind == "assumed-role":
            refused = operation in _ROLE_SESSION_MAY_NOT
        else:
            allowed = _SESSION_MAY_CALL.get(session.kind)
            refused = allowed is not None and operation not in allowed
        if refused:
            raise ERRORS.error("AccessDenied", f"Cannot call {operation} with session credentials")

    def _check_region(self, account_id: str, region: str | None) -> None:
        account = self._state.accounts.get(account_id)
        if account is not None and region and region in account.disabled_regions:
            raise ERRORS.error(
                "RegionDisabledException",
                f"STS is not activated in this region for account:{account_id}. Your account administrator can "
                "activate STS in this region using the IAM Console.",
            )

    # ---- session policies, tags, duration ----------------------------------------------------------------
    def _session_request(
        self,
        policy: str | None,
        policy_arns: Sequence[Mapping[str, str]] | None,
        tags: Sequence[Mapping[str, str]] | None = None,
        transitive: Sequence[str] | None = None,
        inherited: Session | None = None,
    ) -> tuple[str | None, list[str], dict[str, str], list[str], int | None]:
        """The session policies and tags a request asks, checked: (policy, arns, tags, transitive keys, packed %)."""
        arns = [item.get("arn", "") for item in policy_arns or ()]
        if len(arns) > MAX_POLICY_ARNS:
            raise ERRORS.error(
                "ValidationError",
                "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_POLICY_ARNS}",
            )
        if policy is not None:
            if len(policy) > POLICY_PLAINTEXT_LIMIT:
                raise ERRORS.error(
                    "ValidationError",
                    "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {POLICY_PLAINTEXT_LIMIT}",
                )
            try:
                iam.parse(policy, "identity")
            except iam.MalformedPolicy as exc:
                raise ERRORS.error("MalformedPolicyDocument", exc.args[0]) from None
        for arn in arns:
            if self._managed(arn) is None:
                raise ERRORS.error("MalformedPolicyDocument", f"Policy {arn} does not exist or is not attachable.")
        wanted = {item["Key"]: item["Value"] for item in tags or ()}
        if len({k.lower() for k in wanted}) != len(tags or ()):
            raise ERRORS.error(
                "ValidationError", "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        lowered = {k.lower() for k in wanted}
        if any(k.lower() not in lowered for k in transitive or ()):
            raise ERRORS.error(
                "ValidationError", "The specified transitive tag key must be included in the requested tags."
            )
        merged: dict[str, str] = {}
        carried: list[str] = []
        if inherited is not None:  # role chaining: the caller's transitive tags go on, and may not be replaced
            for key in inherited.transitive_tag_keys:
                if key in inherited.tags:
                    merged[key] = inherited.tags[key]
                    carried.append(key)
            clash = [k for k in wanted if k.lower() in {c.lower() for c in carried}]
            if clash:
                raise ERRORS.error(
                    "ValidationError",
                    f"The transitive session tag {clash[0]} cannot be replaced in a chained role session.",
                )
        merged.update(wanted)
        carried.extend(k for k in transitive or () if k not in carried)
        packed = None
        if policy is not None or arns or wanted:
            blob = (iam.compact(policy) if policy else "") + "".join(arns)
            blob += "".join(f"{k}={v};" for k, v in sorted(wanted.items()))
            packed = math.ceil(len(zlib.compress(blob.encode("utf-8"), 9)) * 100 / PACKED_LIMIT)
            if packed > 100:
                raise ERRORS.error(
                    "PackedPolicyTooLarge",
                    f"Packed policy consumes {packed}% of allotted space, please use smaller policy for this session.",
                )
        return policy, arns, merged, carried, packed

    def _role_duration(self, requested: int | None, role: Role, *, chained: bool = False) -> int:
        """DurationSeconds of an AssumeRole*: at most the role's maximum, and one hour when chained."""
        if chained and requested is not None and requested > CHAINED_MAX_SECONDS:
            raise ERRORS.error(
                "ValidationError",
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            )
        if requested is not None and requested > role.max_session_duration:
            raise ERRORS.error(
                "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        seconds = self.settings["default_duration_seconds"] if requested is None else requested
        seconds = min(seconds, role.max_session_duration)
        return min(seconds, CHAINED_MAX_SECONDS) if chained else seconds

    @staticmethod
    def _long_term_duration(requested: int | None, root: bool) -> int:
        """GetSessionToken's and GetFederationToken's: 12 hours by default; an account's root gets one hour at most."""
        if root:
            return ROOT_SESSION_MAX_SECONDS if requested is None else min(requested, ROOT_SESSION_MAX_SECONDS)
        return 43200 if requested is None else requested

    def _issue(
        self,
        *,
        kind: str,
        account_id: str,
        arn: str,
        user_id: str,
        principal_arn: str,
        operation: str,
        seconds: int,
        limited: bool = True,
        **extra: Any,
    ) -> tuple[Session, AwsKey]:
        """New temporary credentials and their session record; ``limited=False``: an account's root, never evaluated."""
        now = self.clock.time()
        expires = float(int(now) + seconds)
        key = self.credentials.issue_temporary(
            account_id=account_id,
            expires=expires,
            arn=arn if limited else None,
            user_id=user_id if limited else None,
        )
        session = Session(
            key.access_key_id, kind, account_id, arn, user_id, principal_arn, operation, now, expires, **extra
        )
        with self._lock:
            self._state.sessions[key.access_key_id] = session
        return session, key

    # ---- trust -------------------------------------------------------------------------------------------
    def _trust(self, role: Role) -> iam.Policy:
        return self._parse(("trust", role.role_id), role.trust_policy, "trust")

    def _assume_actions(self, action: str, *, tags: bool, source_identity: bool) -> list[str]:
        actions = [action]
        if tags:
            actions.append("sts:TagSession")
        if source_identity:
            actions.append("sts:SetSourceIdentity")
        return actions

    def _authorize_assume(
        self, caller: Caller, role: Role, actions: Sequence[str], context: dict[str, tuple[str, ...]]
    ) -> None:
        """AssumeRole's decision: the role's trust policy and the caller's own policies, as IAM combines them."""
        principal = self._principal(caller.key.access_key_id)
        merged = {**(principal.keys() if principal is not None else {}), **context}
        for action in actions:
            request = iam.Request(action, role.arn, merged, principal=caller.principal_arns())
            verdict = iam.evaluate([self._trust(role)], request)
            if verdict.denied or not verdict.allowed:
                raise ERRORS.error(
                    "AccessDenied", f"User: {caller.arn} is not authorized to perform: {action} on resource: {role.arn}"
                )
            if principal is None:
                continue
            denial = decide(principal, action, role.arn, merged)
            if denial is None:
                continue
            # within one account a trust policy that names the caller itself needs no identity-based allow
            if denial.explicit or not (verdict.direct and caller.account_id == role.account_id):
                raise ERRORS.error("AccessDenied", denial.message())

    def _verify_mfa(self, caller: Caller, serial: str | None, code: str | None) -> bool:
        if serial is None and code is None:
            return False
        if serial is None or code is None:
            raise ERRORS.error("ValidationError", "SerialNumber and TokenCode must be given together.")
        from ...core.otp import matching_step

        device = self._state.mfa_devices.get(serial)
        owner = caller.user.arn if caller.user is not None else None
        if caller.kind == "root":
            owner = None
        if device is None or device.account_id != caller.account_id or device.user_arn != owner:
            raise ERRORS.error(
                "AccessDenied",
                "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number "
                "is valid and associated with this user.",
            )
        with self._lock:
            step = matching_step(device.secret, code, self.clock.time())
            if step is None or (device.last_step is not None and step <= device.last_step):
                raise ERRORS.error(
                    "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code."
                )
            device.last_step = step
            self._state.mfa_devices[serial] = device
        return True

    def _role_for(self, role_arn: str, action: str) -> Role:
        role = self._state.roles.get(role_arn)
        if role is None:  # AWS does not tell a missing role from a refused one
            raise ERRORS.error("AccessDenied", NOT_AUTHORIZED.format(action))
        return role

    def _check_source_identity(self, wanted: str | None, inherited: Session | None) -> str | None:
        if inherited is not None and inherited.source_identity:
            if wanted is not None and wanted != inherited.source_identity:
                raise ERRORS.error(
                    "AccessDenied",
                    "The source identity of a role session cannot be changed: it is "
                    f"{inherited.source_identity} for the rest of the role chain.",
                )
            return inherited.source_identity
        return wanted

    def _role_session(
        self, role: Role, session_name: str, operation: str, seconds: int, packed: int | None, **extra: Any
    ) -> Issued:
        """A session of a role, as every AssumeRole* issues it."""
        session, key = self._issue(
            kind="assumed-role",
            account_id=role.account_id,
            arn=f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session_name}",
            user_id=f"{role.role_id}:{session_name}",
            principal_arn=role.arn,
            operation=operation,
            seconds=seconds,
            session_name=session_name,
            **extra,
        )
        return Issued(session, key, packed)

    def _federated_trust(
        self, role: Role, actions: Sequence[str], keys: dict[str, tuple[str, ...]], provider: str, operation: str
    ) -> None:
        """A federated identity's trust decision (web identity, SAML): the provider and the keys, no caller ARN."""
        for action in actions:
            verdict = iam.evaluate([self._trust(role)], iam.Request(action, role.arn, keys, federated=(provider,)))
            if verdict.denied or not verdict.allowed:
                raise ERRORS.error("AccessDenied", NOT_AUTHORIZED.format(operation))

    # ---- AssumeRole --------------------------------------------------------------------------------------
    def assume_role(
        self,
        *,
        access_key_id: str,
        role_arn: str,
        session_name: str,
        region: str | None = None,
        context: dict[str, tuple[str, ...]] | None = None,
        duration: int | None = None,
        policy: str | None = None,
        policy_arns: Sequence[Mapping[str, str]] | None = None,
        tags: Sequence[Mapping[str, str]] | None = None,
        transitive_tag_keys: Sequence[str] | None = None,
        external_id: str | None = None,
        serial_number: str | None = None,
        token_code: str | None = None,
        source_identity: str | None = None,
    ) -> Issued:
        caller = self._caller(access_key_id)
        inherited = caller.session if caller.kind == "assumed-role" else None
        chained = inherited is not None
        role = self._state.roles.get(role_arn)
        if role is None:
            raise ERRORS.error(
                "AccessDenied",
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            )
        self._check_region(role.account_id, region)
        policy, arns, session_tags, transitive, packed = self._session_request(
            policy, policy_arns, tags, transitive_tag_keys, inherited
        )
        source = self._check_source_identity(source_identity, inherited)
        mfa = self._verify_mfa(caller, serial_number, token_code) or (caller.session is not None and caller.session.mfa)
        keys = dict(context or {})
        keys["sts:rolesessionname"] = (session_name,)
        if external_id is not None:
            keys["sts:externalid"] = (external_id,)
        if source_identity is not None:
            keys["sts:sourceidentity"] = (source_identity,)
        if tags:
            keys.update(_request_tag_keys(tags))
        if transitive_tag_keys:
            keys["sts:transitivetagkeys"] = tuple(transitive_tag_keys)
        if mfa:
            keys["aws:multifactorauthpresent"] = ("true",)
            keys["aws:multifactorauthage"] = ("0",)
        actions = self._assume_actions("sts:AssumeRole", tags=bool(tags), source_identity=source_identity is not None)
        self._authorize_assume(caller, role, actions, keys)
        return self._role_session(
            role,
            session_name,
            "AssumeRole",
            self._role_duration(duration, role, chained=chained),
            packed,
            policy=policy,
            policy_arns=arns,
            tags=session_tags,
            transitive_tag_keys=transitive,
            source_identity=source,
            mfa=mfa,
            chained=chained,
        )

    # ---- AssumeRoleWithWebIdentity ------------------------------------------------------------------------
    def assume_role_with_web_identity(
        self,
        *,
        role_arn: str,
        session_name: str,
        token: str,
        duration: int | None = None,
        region: str | None = None,
        context: dict[str, tuple[str, ...]] | None = None,
        policy: str | None = None,
        policy_arns: Sequence[Mapping[str, str]] | None = None,
    ) -> Issued:
        """Verify the token, evaluate the role's trust, and issue temporary credentials for the session."""
        now = self.clock.time()
        try:
            verified = self.issuers.verify(token, now)
        except TokenRejected as rejected:
            raise self._token_error(rejected) from None
        claims = verified.claims
        role = self._role_for(role_arn, "AssumeRoleWithWebIdentity")
        self._check_region(role.account_id, region)
        roles_claim = verified.issuer.roles_claim
        embedded = claims.get(roles_claim) if roles_claim else None
        if isinstance(embedded, list) and embedded and role_arn not in embedded:
            raise ERRORS.error(
                "IDPRejectedClaim",
                f"The web identity token does not allow role {role_arn}: "
                f"the token was issued for {', '.join(map(str, embedded))}.",
            )
        provider = verified.issuer.provider
        token_tags, token_transitive = _web_identity_tags(claims.get(WEB_TAGS_CLAIM))
        source_identity = claims.get(WEB_SOURCE_IDENTITY_CLAIM)
        if source_identity is not None and not isinstance(source_identity, str):
            raise ERRORS.error("InvalidIdentityToken", "The source identity claim of the token must be a string.")
        policy, arns, session_tags, transitive, packed = self._session_request(
            policy, policy_arns, token_tags, token_transitive
        )
        keys = dict(context or {})
        for name, value in claims.items():
            items = value if isinstance(value, list) else [value]
            keys[f"{provider}:{name}".lower()] = tuple(
                str(v) for v in items if isinstance(v, (str, int)) and not isinstance(v, bool)
            )
        keys["sts:rolesessionname"] = (session_name,)
        if source_identity is not None:
            keys["sts:sourceidentity"] = (source_identity,)
        if token_tags:
            keys.update(_request_tag_keys(token_tags))
        actions = self._assume_actions(
            "sts:AssumeRoleWithWebIdentity", tags=bool(token_tags), source_identity=source_identity is not None
        )
        self._federated_trust(role, actions, keys, provider, "AssumeRoleWithWebIdentity")
        aud = claims["aud"]
        return self._role_session(
            role,
            session_name,
            "AssumeRoleWithWebIdentity",
            self._role_duration(duration, role),
            packed,
            policy=policy,
            policy_arns=arns,
            tags=session_tags,
            transitive_tag_keys=transitive,
            source_identity=source_identity,
            subject=str(claims.get("sub", "")),
            provider=provider,
            audience=aud if isinstance(aud, str) else str(aud[0]),
        )

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

    # ---- AssumeRoleWithSAML ------------------------------------------------------------------------------
    def assume_role_with_saml(
        self,
        *,
        role_arn: str,
        principal_arn: str,
        assertion: str,
        duration: int | None = None,
        region: str | None = None,
        context: dict[str, tuple[str, ...]] | None = None,
        policy: str | None = None,
        policy_arns: Sequence[Mapping[str, str]] | None = None,
    ) -> Issued:
        provider_record = self._state.saml_providers.get(principal_arn)
        if provider_record is None:
            raise ERRORS.error("InvalidIdentityToken", "Specified provider doesn't exist.")
        try:
            verified = saml.verify(assertion, saml.read_metadata(provider_record.metadata), self.clock.time())
        except saml.SamlRejected as rejected:
            raise ERRORS.error(rejected.code, rejected.message) from None
        role = self._role_for(role_arn, "AssumeRoleWithSAML")
        self._check_region(role.account_id, region)
        pairs = [{part.strip() for part in value.split(",")} for value in verified.values("Role")]
        if {role_arn, principal_arn} not in pairs:
            raise ERRORS.error("AccessDenied", NOT_AUTHORIZED.format("AssumeRoleWithSAML"))
        names = verified.values("RoleSessionName")
        if not names or not 2 <= len(names[0]) <= 64:
            raise ERRORS.error(
                "InvalidIdentityToken",
                "RoleSessionName in AuthnResponse must be 2 to 64 characters: "
                f"{SAML_ATTRIBUTE}RoleSessionName is required",
            )
        session_name = names[0]
        tags = [
            {"Key": name[len(SAML_ATTRIBUTE + "PrincipalTag:") :], "Value": values[0] if values else ""}
            for name, values in verified.attributes.items()
            if name.startswith(SAML_ATTRIBUTE + "PrincipalTag:")
        ]
        transitive = verified.values("TransitiveTagKeys")
        source_identities = verified.values("SourceIdentity")
        source_identity = source_identities[0] if source_identities else None
        policy, arns, session_tags, transitive_keys, packed = self._session_request(
            policy, policy_arns, tags, transitive
        )
        qualifier = saml.name_qualifier(verified.issuer, provider_record.account_id, provider_record.name)
        keys = dict(context or {})
        keys.update(
            {
                "saml:aud": (verified.recipient,),
                "saml:iss": (verified.issuer,),
                "saml:sub": (verified.subject,),
                "saml:sub_type": (verified.subject_type,),
                "saml:namequalifier": (qualifier,),
                "sts:rolesessionname": (session_name,),
            }
        )
        if source_identity is not None:
            keys["sts:sourceidentity"] = (source_identity,)
        if tags:
            keys.update(_request_tag_keys(tags))
        actions = self._assume_actions(
            "sts:AssumeRoleWithSAML", tags=bool(tags), source_identity=source_identity is not None
        )
        self._federated_trust(role, actions, keys, principal_arn, "AssumeRoleWithSAML")
        requested = duration
        if requested is None and verified.values("SessionDuration"):
            text = verified.values("SessionDuration")[0]
            requested = int(text) if text.isascii() and text.isdigit() and 900 <= int(text) <= 43200 else None
        seconds = self._role_duration(requested, role)
        if verified.session_not_on_or_after is not None:  # never beyond the IdP's session
            seconds = max(1, min(seconds, int(verified.session_not_on_or_after - self.clock.time())))
        issued = self._role_session(
            role,
            session_name,
            "AssumeRoleWithSAML",
            seconds,
            packed,
            policy=policy,
            policy_arns=arns,
            tags=session_tags,
            transitive_tag_keys=transitive_keys,
            source_identity=source_identity,
            subject=verified.subject,
            provider=principal_arn,
            audience=verified.recipient,
        )
        extra = {
            "Subject": verified.subject,
            "SubjectType": verified.subject_type,
            "Issuer": verified.issuer,
            "Audience": verified.recipient,
            "NameQualifier": qualifier,
        }
        issued.extra = extra
        return issued

    # ---- AssumeRoot --------------------------------------------------------------------------------------
    def assume_root(
        self,
        *,
        access_key_id: str,
        target_principal: str,
        task_policy_arn: str,
        duration: int | None = None,
        region: str | None = None,
    ) -> Issued:
        caller = self._caller(access_key_id)
        target = target_principal
        if target.startswith("arn:aws:iam::") and target.endswith(":root"):
            target = target[len("arn:aws:iam::") : -len(":root")]
        if not (len(target) == 12 and target.isascii() and target.isdigit()):
            raise ERRORS.error(
                "ValidationError", f"TargetPrincipal {target_principal} is not a member account's id or root ARN."
            )
        if task_policy_arn not in ROOT_TASK_POLICIES:
            raise ERRORS.error(
                "ValidationError",
                f"TaskPolicyArn {task_policy_arn} is not one of the root-task policies: "
                + ", ".join(sorted(arn.rsplit("/", 1)[1] for arn in ROOT_TASK_POLICIES)),
            )
        self._check_region(target, region)
        seconds = 900 if duration is None else duration
        root = f"arn:aws:iam::{target}:root"
        source = caller.session.source_identity if caller.session is not None else None
        session, key = self._issue(
            kind="root-session",
            account_id=target,
            arn=root,
            user_id=target,
            principal_arn=root,
            operation="AssumeRoot",
            seconds=seconds,
            policy_arns=[task_policy_arn],
            source_identity=source,
        )
        return Issued(session, key)

    # ---- GetSessionToken, GetFederationToken -------------------------------------------------------------
    def get_session_token(
        self,
        *,
        access_key_id: str,
        duration: int | None = None,
        serial_number: str | None = None,
        token_code: str | None = None,
        region: str | None = None,
    ) -> Issued:
        caller = self._caller(access_key_id)
        self._check_region(caller.account_id, region)
        mfa = self._verify_mfa(caller, serial_number, token_code)
        user = caller.user
        seconds = self._long_term_duration(duration, user is None)
        if user is None:
            arn, user_id = f"arn:aws:iam::{caller.account_id}:root", caller.account_id
        else:
            arn, user_id = user.arn, user.user_id
        session, key = self._issue(
            kind="session-token",
            account_id=caller.account_id,
            arn=arn,
            user_id=user_id,
            principal_arn=arn,
            operation="GetSessionToken",
            seconds=seconds,
            limited=user is not None,
            mfa=mfa,
        )
        return Issued(session, key)

    def get_federation_token(
        self,
        *,
        access_key_id: str,
        name: str,
        duration: int | None = None,
        policy: str | None = None,
        policy_arns: Sequence[Mapping[str, str]] | None = None,
        tags: Sequence[Mapping[str, str]] | None = None,
        region: str | None = None,
    ) -> Issued:
        caller = self._caller(access_key_id)
        self._check_region(caller.account_id, region)
        policy, arns, session_tags, _, packed = self._session_request(policy, policy_arns, tags)
        seconds = self._long_term_duration(duration, caller.user is None)
        parent = caller.user.arn if caller.user is not None else f"arn:aws:iam::{caller.account_id}:root"
        session, key = self._issue(
            kind="federated-user",
            account_id=caller.account_id,
            arn=f"arn:aws:sts::{caller.account_id}:federated-user/{name}",
            user_id=f"{caller.account_id}:{name}",
            principal_arn=parent,
            operation="GetFederationToken",
            seconds=seconds,
            session_name=name,
            policy=policy,
            policy_arns=arns,
            tags=session_tags,
        )
        return Issued(session, key, packed)

    # ---- GetDelegatedAccessToken ---------------------------------------------------------------------------
    def get_delegated_access_token(self, *, access_key_id: str, trade_in_token: str) -> Issued:
        caller = self._caller(access_key_id)
        digest = hashlib.sha256(trade_in_token.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            entry = self._state.trade_ins.get(digest)
            found = None if entry is None else self._state.delegations.get(entry[0])
            if found is None or found.token_digest != digest or found.partner_account_id != caller.account_id:
                raise ERRORS.error("AccessDenied", "The trade-in token is not valid for this account.")
            if found.state == "REDEEMED" or (
                found.token_expires is not None and self.clock.time() >= found.token_expires
            ):
                raise ERRORS.error(
                    "ExpiredTradeInTokenException",
                    "The trade-in token provided in the request has expired and can no longer be exchanged for "
                    "credentials.",
                )
            found.state = "REDEEMED"
            self._state.delegations[found.delegation_id] = found
        approver = found.approver_arn or f"arn:aws:iam::{found.owner_account_id}:root"
        user = self._state.users.get(approver)
        role = self._state.roles.get(approver)
        user_id = user.user_id if user is not None else (role.role_id if role is not None else found.owner_account_id)
        session, key = self._issue(
            kind="delegated",
            account_id=found.owner_account_id,
            arn=approver,
            user_id=user_id,
            principal_arn=approver,
            operation="GetDelegatedAccessToken",
            seconds=found.session_duration,
            policy=json.dumps(found.permissions) if isinstance(found.permissions, dict) else found.permissions,
        )
        return Issued(session, key)

    # ---- GetWebIdentityToken --------------------------------------------------------------------------------
    def get_web_identity_token(
        self,
        *,
        access_key_id: str,
        audience: Sequence[str],
        algorithm: str,
        duration: int | None = None,
        tags: Sequence[Mapping[str, str]] | None = None,
        region: str | None = None,
    ) -> tuple[str, float]:
        caller = self._caller(access_key_id)
        if algorithm not in outbound.ALGORITHMS:
            raise ERRORS.error(
                "ValidationError",
                f"1 validation error detected: Value '{algorithm}' at 'signingAlgorithm' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(outbound.ALGORITHMS)}]",
            )
        account = self._issuer_of(caller.account_id)
        if not account.outbound_federation:
            raise ERRORS.error(
                "OutboundWebIdentityFederationDisabledException",
                "The outbound web identity federation feature is not enabled for this account.",
            )
        now = self.clock.time()
        seconds = WEB_IDENTITY_DEFAULT_SECONDS if duration is None else duration
        expires = float(int(now) + seconds)
        session = caller.session
        if session is not None and expires > session.expires:
            raise ERRORS.error(
                "SessionDurationEscalationException",
                "The requested token duration would extend the session beyond its original expiration time.",
            )
        principal = self._principal(access_key_id)
        subject = caller.arn
        if session is not None and session.kind == "assumed-role":
            subject = session.principal_arn
        namespace: dict[str, Any] = {"aws_account": caller.account_id, "source_region": region or "us-east-1"}
        principal_tags = {
            key[len("aws:principaltag/") :]: values[0]
            for key, values in (principal.keys() if principal is not None else {}).items()
            if key.startswith("aws:principaltag/")
        }
        if principal_tags:
            namespace["principal_tags"] = principal_tags
        if tags:
            namespace["request_tags"] = {item["Key"]: item["Value"] for item in tags}
        if session is not None and session.source_identity:
            namespace["source_identity"] = session.source_identity
        claims = {
            "iss": outbound.issuer_url(account.issuer_id or ""),
            "aud": audience[0] if len(audience) == 1 else list(audience),
            "sub": subject,
            "iat": int(now),
            "exp": int(expires),
            "jti": str(self.entropy.uuid4()),
            outbound.CLAIMS_NAMESPACE: namespace,
        }
        if len(json.dumps(claims, separators=(",", ":")).encode()) > JWT_PAYLOAD_LIMIT:
            raise ERRORS.error(
                "JWTPayloadSizeExceededException",
                "The requested token payload size exceeds the maximum allowed size. Reduce the number of request "
                "tags included in the GetWebIdentityToken API call.",
            )
        return outbound.sign(claims, self._signing_key(account, algorithm), algorithm), expires

    # ---- GetAccessKeyInfo, GetCallerIdentity -------------------------------------------------------------
    @reads_only
    def access_key_account(self, access_key_id: str) -> str:
        """GetAccessKeyInfo: the account a key belongs to (a key the mock does not know: the account its id carries)."""
        key = self.credentials.aws(access_key_id)
        if key is not None:
            return key.account_id
        account = account_of_key_id(access_key_id)
        if account is None:
            raise ERRORS.error("ValidationError", f"The access key ID {access_key_id} is not valid.")
        return account

    @reads_only
    def caller_identity(self, access_key_id: str) -> tuple[str, str, str]:
        """(UserId, Account, Arn) of the key that signed the request."""
        key = self.credentials.aws(access_key_id)
        if key is None:  # authentication already refused unknown keys; a key removed since is unknown too
            raise ERRORS.error("InvalidClientTokenId", "The security token included in the request is invalid.")
        return key.caller_user_id, key.account_id, key.caller_arn

    # ---- snapshots -----------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything this model keeps, as its fixtures section (what a fresh model is built from exactly).

        Keys are the mock's (the snapshot's ``credentials``): users and sessions name theirs by id.
        """
        with self._lock:
            state = self._state
            section = {
                "settings": dict(self.settings),
                "message_key": state.message_key[""],
                "policies": [record(p, omit=("arn",)) for p in state.policies.values()],
                "roles": [record(r, omit=("arn",)) for r in state.roles.values()],
                "users": [record(u, omit=("arn",)) for u in state.users.values()],
                "mfa_devices": [record(d) for d in state.mfa_devices.values()],
                "saml_providers": [record(p, omit=("arn",)) for p in state.saml_providers.values()],
                "accounts": [record(a) for a in state.accounts.values()],
                "sessions": [record(s) for s in state.sessions.values()],
                "delegations": [record(d) for d in state.delegations.values()],
            }
            return copy.deepcopy(section)

    def load(self, section: dict[str, Any]) -> None:
        """The directory, the sessions and the delegations of a fixtures or snapshot section, into empty tables.

        A record under the key of another, or naming one the section does not have, is refused.
        """
        with self._lock:
            self._state.settings[""] = self.context.merged_settings(DEFAULTS, section)
            key = section.get("message_key")
            if key:
                unb64(key, "sts: the message_key", size=32)
            else:
                key = base64.b64encode(self.entropy.token_bytes(32)).decode()
            self._state.message_key[""] = key
            try:
                self._load(section)
            except iam.MalformedPolicy as exc:
                raise MockCloudError(f"sts: {exc}") from None

    def _load(self, section: Mapping[str, Any]) -> None:
        state = self._state
        policies = []
        for item in section.get("policies", ()):
            created = ManagedPolicy(**{**item, "policy_id": item.get("policy_id") or self._new_id("ANPA")})
            if created.account_id == "aws":
                raise MockCloudError(f"sts: {created.arn}: AWS managed policies are built in, not fixtures")
            self._check_document(created.document)
            policies.append(created)
        for arn, policy in keyed(policies, _policy_arn, "policies").items():
            state.policies[arn] = policy
        for item in section.get("roles", ()):
            self._add_role(item)
        for item in section.get("users", ()):
            self._add_user(item)
        devices = keyed((MfaDevice(**item) for item in section.get("mfa_devices", ())), _serial, "MFA devices")
        for device in devices.values():
            if device.user_arn is not None and device.user_arn not in state.users:
                raise MockCloudError(f"sts: MFA device {device.serial} of an unknown user {device.user_arn}")
        for serial, device in devices.items():
            state.mfa_devices[serial] = device
        providers = keyed((SamlProvider(**item) for item in section.get("saml_providers", ())), _arn, "SAML providers")
        for provider in providers.values():
            saml.read_metadata(provider.metadata)
        for arn, provider in providers.items():
            state.saml_providers[arn] = provider
        accounts = keyed((Account(**item) for item in section.get("accounts", ())), _account_id, "accounts")
        issued = [a for a in accounts.values() if a.issuer_id is not None]
        for issuer_id, account in keyed(issued, _issuer_id, "accounts' outbound issuers").items():
            state.issuers[issuer_id] = account.account_id
        for account_id, account in accounts.items():
            state.accounts[account_id] = account
        sessions = keyed((_session(item) for item in section.get("sessions", ())), _key_id, "sessions")
        for session in sessions.values():
            if session.kind == "assumed-role" and session.principal_arn not in state.roles:
                raise MockCloudError(f"sts: a session of an unknown role {session.principal_arn}")
            if session.kind in ("federated-user", "session-token", "delegated") and not (
                session.principal_arn in state.users
                or session.principal_arn in state.roles
                or session.principal_arn.endswith(":root")
            ):
                raise MockCloudError(f"sts: a session of an unknown principal {session.principal_arn}")
        for key_id, session in sessions.items():
            state.sessions[key_id] = session
        delegations = keyed(
            (Delegation(**item) for item in section.get("delegations", ())), _delegation_id, "delegations"
        )
        traded = [d for d in delegations.values() if d.token_digest is not None]
        for digest, delegation in keyed(traded, _token_digest, "delegations' trade-in tokens").items():
            state.trade_ins[digest] = [delegation.delegation_id, delegation.token_expires]
        for delegation_id, delegation in delegations.items():
            state.delegations[delegation_id] = delegation

    def inventory(self) -> list[dict[str, object]]:
        """The sessions it issued (temporary credentials, by their non-secret access key id), for the dashboard.

        A session whose key is no longer in the mock's key store (cleared since) shows as revoked.
        """
        from ...core.inventory import entry, state_of

        with self._lock:
            sessions = list(self._state.sessions.values())
        now = self.clock.time()  # after the records: they may be a moment newer than this worker's clock
        kinds = {
            "assumed-role": "role_session",
            "federated-user": "federated_user",
            "session-token": "session_token",
            "root-session": "root_session",
            "delegated": "delegated_session",
        }
        found = []
        for s in sessions:
            if s.kind == "assumed-role":
                role_name = s.principal_arn.rsplit("/", 1)[1]
                subject = f"{s.subject or s.operation} as {role_name}/{s.session_name}"
            else:
                subject = s.arn
            revoked = self.credentials.aws(s.access_key_id) is None
            found.append(
                entry(
                    "sts",
                    kinds[s.kind],
                    s.access_key_id,
                    subject,
                    s.issued,
                    s.expires,
                    state_of(now, s.expires, revoked=revoked),
                )
            )
        return found


# ---- the section's records --------------------------------------------------------------------------------------
def _policy_arn(policy: ManagedPolicy) -> str:
    return policy.arn


def _arn(provider: SamlProvider) -> str:
    return provider.arn


def _serial(device: MfaDevice) -> str:
    return device.serial


def _account_id(account: Account) -> str:
    return account.account_id


def _key_id(session: Session) -> str:
    return session.access_key_id


def _delegation_id(delegation: Delegation) -> str:
    return delegation.delegation_id


def _token_digest(delegation: Delegation) -> str | None:
    return delegation.token_digest


def _issuer_id(account: Account) -> str | None:
    return account.issuer_id


_SESSION_FIELDS = frozenset(f.name for f in fields(Session))


def _session(item: Mapping[str, Any]) -> Session:
    unknown = set(item) - _SESSION_FIELDS
    if unknown:
        raise MockCloudError(f"sts: a session with unknown field(s) {sorted(unknown)}")
    return Session(**item)


def _request_tag_keys(tags: Sequence[Mapping[str, str]]) -> dict[str, tuple[str, ...]]:
    keys: dict[str, tuple[str, ...]] = {f"aws:requesttag/{t['Key'].lower()}": (t["Value"],) for t in tags}
    keys["aws:tagkeys"] = tuple(t["Key"] for t in tags)
    return keys


def _web_identity_tags(claim: Any) -> tuple[list[dict[str, str]], list[str]]:
    """Session tags of a web-identity token's ``https://aws.amazon.com/tags`` claim."""
    if claim is None:
        return [], []
    if not isinstance(claim, dict) or not isinstance(claim.get("principal_tags", {}), dict):
        raise ERRORS.error("InvalidIdentityToken", "The session tags claim of the token is not valid.")
    tags = []
    for key, value in claim.get("principal_tags", {}).items():
        first = value[0] if isinstance(value, list) and value else value
        if not isinstance(first, str):
            raise ERRORS.error("InvalidIdentityToken", "The session tags claim of the token is not valid.")
        tags.append({"Key": str(key), "Value": first})
    transitive = claim.get("transitive_tag_keys", [])
    if not isinstance(transitive, list) or not all(isinstance(k, str) for k in transitive):
        raise ERRORS.error("InvalidIdentityToken", "The session tags claim of the token is not valid.")
    return tags, transitive
