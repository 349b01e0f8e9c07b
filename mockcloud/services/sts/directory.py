"""IAM's directory as STS keeps it: managed policies, roles, users, MFA devices, SAML providers, accounts and
their outbound issuers, temporary-delegation requests, and the principal the front door evaluates for a key.

Kept apart from STS's operations (:mod:`.model`): this is who exists and with what policies; the model is
what each STS operation does with it.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ...core.clock import Clock
from ...core.credentials import DEFAULT_ACCOUNT_ID, AwsKey, Credentials
from ...core.entities import Table, compound
from ...core.entropy import Entropy
from ...core.errors import MockCloudError
from ...core.helpers import reads_only
from ...core.iam import policy as iam
from ...core.iam.access import Principal
from ...core.timestamps import utc_iso
from . import outbound, saml
from .identities import (
    Account,
    Delegation,
    Document,
    ManagedPolicy,
    MfaDevice,
    Records,
    Role,
    SamlProvider,
    Session,
    User,
)
from .managed import AWS_MANAGED

DEFAULTS: dict[str, Any] = {
    "default_duration_seconds": 3600,  # DurationSeconds of AssumeRole* when the request has none
    "encode_authorization_messages": False,  # denials carry AWS's "Encoded authorization failure message"
    "trade_in_token_seconds": 3600,  # how long a temporary-delegation token may be exchanged
}
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
PARSED_CACHE_SIZE = 4096  # parsed policy documents kept at hand
N = TypeVar("N", Role, User)


def iso(ts: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``, as STS writes times (integer arithmetic: on the path of every evaluated call)."""
    return utc_iso(ts)


class Directory:
    """The records, and the helpers that make and change them (``cloud.sts.create_role``, ...)."""

    entropy: Entropy
    clock: Clock
    credentials: Credentials
    _lock: threading.RLock
    _state: Records
    _parsed: dict[tuple[str, ...], iam.Policy]

    @property
    def settings(self) -> dict[str, Any]:
        """The service's settings: its defaults, the fixtures' and the mock's (see ``DEFAULTS``)."""
        return self._state.settings.get("") or dict(DEFAULTS)

    # ---- ids ------------------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return prefix + "".join(self.entropy.choice(_ID_ALPHABET) for _ in range(17))

    # ---- policies ---------------------------------------------------------------------------
    def _parse(self, key: tuple[str, ...], document: Document, kind: iam.PolicyKind = "identity") -> iam.Policy:
        """A document parsed, from the cache while it holds the same one (a shared store's copy is equal, not it)."""
        parsed = self._parsed.get(key)
        if parsed is None or (parsed.source is not document and parsed.source != document):
            parsed = iam.parse(document, kind, name=key[-1])
            if len(self._parsed) >= PARSED_CACHE_SIZE:  # a cache, not state: it never outgrows what it is worth
                self._parsed.clear()
            self._parsed[key] = parsed
        return parsed

    def _managed(self, arn: str) -> ManagedPolicy | None:
        found = self._state.policies.get(arn)
        return found if found is not None else _aws_managed(arn)

    def _managed_policy(self, arn: str) -> iam.Policy | None:
        found = self._managed(arn)
        return None if found is None else self._parse(("managed", arn), found.document)

    def _attached(self, arns: Iterable[str], inline: Mapping[str, Document], owner: str) -> tuple[iam.Policy, ...]:
        found = [p for p in (self._managed_policy(arn) for arn in arns) if p is not None]
        found.extend(self._parse(("inline", owner, name), doc) for name, doc in inline.items())
        return tuple(found)

    def _policies_of(self, arn: str) -> tuple[iam.Policy, ...] | None:
        """The identity policies of a role or user (None for an account's root: not limited)."""
        role = self._state.roles.get(arn)
        if role is not None:
            return self._attached(role.managed_policies, role.inline_policies, role.arn)
        user = self._state.users.get(arn)
        if user is not None:
            return self._attached(user.managed_policies, user.inline_policies, user.arn)
        if arn.endswith(":root"):
            return None
        return ()  # a principal since deleted: nothing is allowed

    def _session_policies(self, session: Session) -> tuple[iam.Policy, ...]:
        found = [p for p in (self._managed_policy(arn) for arn in session.policy_arns) if p is not None]
        if session.policy is not None:
            found.append(self._parse(("session", session.access_key_id), session.policy))
        return tuple(found)

    def _check_document(self, document: Document, kind: iam.PolicyKind = "identity") -> Document:
        """A helper's policy argument, checked now: a bad one is the test's mistake."""
        if not isinstance(document, (dict, str)):
            raise MockCloudError("a policy document is a dict or its JSON text")
        try:
            iam.parse(document, kind)
        except iam.MalformedPolicy as exc:
            raise MockCloudError(f"malformed policy document: {exc}") from None
        return document

    # ---- helpers: managed policies -------------------------------------------------------------
    def create_policy(
        self,
        name: str,
        document: Document,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        path: str = "/",
        description: str = "",
    ) -> ManagedPolicy:
        """A customer managed policy, ``arn:aws:iam::ACCOUNT:policy<path><name>``, to attach to roles and users."""
        _check_path(path)
        self._check_document(document)
        created = ManagedPolicy(name, account_id, self._new_id("ANPA"), document, path, description)
        with self._lock:
            if created.arn in self._state.policies:
                raise MockCloudError(f"policy {created.arn} already exists")
            self._state.policies[created.arn] = created
        return created

    @property
    def policies(self) -> list[ManagedPolicy]:
        """The customer managed policies (AWS managed ones are built in)."""
        return list(self._state.policies.values())

    @reads_only
    def policy(self, arn: str) -> ManagedPolicy | None:
        """A managed policy by ARN: a customer's, or one of the AWS managed policies the emulator knows."""
        return self._managed(arn)

    # ---- helpers: roles ------------------------------------------------------------------------
    def create_role(
        self,
        name: str,
        trust: Document,
        *,
        max_session_duration: int = 3600,
        account_id: str = DEFAULT_ACCOUNT_ID,
        path: str = "/",
        description: str = "",
        policies: dict[str, Document] | None = None,
        managed_policy_arns: Sequence[str] = (),
        tags: dict[str, str] | None = None,
    ) -> Role:
        """A role whose trust policy STS evaluates on every AssumeRole*, and whose policies limit its sessions.

        ``policies`` are inline policies by name, ``managed_policy_arns`` attached managed
        policies (AWS's or :meth:`create_policy`'s); ``max_session_duration`` is IAM's
        MaxSessionDuration, 3600 to 43200 seconds.
        """
        return self._add_role(
            {
                "name": name,
                "trust_policy": trust,
                "max_session_duration": max_session_duration,
                "account_id": account_id,
                "path": path,
                "description": description,
                "inline_policies": dict(policies or {}),
                "managed_policies": list(managed_policy_arns),
                "tags": dict(tags or {}),
            }
        )

    def _add_role(self, item: Mapping[str, Any]) -> Role:
        duration = item.get("max_session_duration", 3600)
        if not isinstance(duration, int) or isinstance(duration, bool) or not 3600 <= duration <= 43200:
            raise MockCloudError(
                "max_session_duration must be an integer from 3600 to 43200 seconds (IAM's MaxSessionDuration)"
            )
        path = item.get("path", "/")
        _check_path(path)
        trust = self._check_document(item["trust_policy"], "trust")
        inline = {name: self._check_document(doc) for name, doc in item.get("inline_policies", {}).items()}
        managed = list(item.get("managed_policies", ()))
        for arn in managed:
            if self._managed(arn) is None:
                raise MockCloudError(f"no managed policy {arn} to attach")
        role = Role(
            item["name"],
            item.get("account_id", DEFAULT_ACCOUNT_ID),
            item.get("role_id") or self._new_id("AROA"),
            trust,
            duration,
            path,
            item.get("description", ""),
            managed,
            inline,
            dict(item.get("tags", {})),
        )
        named = compound(role.account_id, role.name)
        with self._lock:
            if named in self._state.role_named:
                raise MockCloudError(f"role {role.name!r} already exists in account {role.account_id}")
            self._state.roles[role.arn] = role
            self._state.role_named[named] = role.arn
        return role

    def _role_named(self, name: str, account_id: str) -> Role:
        return _named(self._state.role_named, self._state.roles, name, account_id, "role")

    def put_role_policy(
        self, role_name: str, policy_name: str, document: Document, *, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> None:
        """Add (or replace) an inline permission policy of a role: its sessions' next calls are evaluated with it."""
        self._put_policy(self._role_named(role_name, account_id), policy_name, document)

    def delete_role_policy(self, role_name: str, policy_name: str, *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._delete_policy(self._role_named(role_name, account_id), policy_name)

    def attach_role_policy(self, role_name: str, policy_arn: str, *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        """Attach a managed policy (AWS's or a customer's) to a role."""
        self._attach(self._role_named(role_name, account_id), policy_arn)

    def detach_role_policy(self, role_name: str, policy_arn: str, *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._detach(self._role_named(role_name, account_id), policy_arn)

    # what roles and users share: inline and attached policies
    def _put_policy(self, holder: Role | User, policy_name: str, document: Document) -> None:
        self._check_document(document)
        with self._lock:
            holder.inline_policies[policy_name] = document
            self._save(holder)

    def _delete_policy(self, holder: Role | User, policy_name: str) -> None:
        with self._lock:
            if holder.inline_policies.pop(policy_name, None) is None:
                raise MockCloudError(f"{holder.arn} has no inline policy {policy_name!r}")
            self._save(holder)

    def _attach(self, holder: Role | User, policy_arn: str) -> None:
        if self._managed(policy_arn) is None:
            raise MockCloudError(f"no managed policy {policy_arn} to attach")
        with self._lock:
            if policy_arn not in holder.managed_policies:
                holder.managed_policies.append(policy_arn)
                self._save(holder)

    def _detach(self, holder: Role | User, policy_arn: str) -> None:
        with self._lock:
            if policy_arn not in holder.managed_policies:
                raise MockCloudError(f"policy {policy_arn} is not attached to {holder.arn}")
            holder.managed_policies.remove(policy_arn)
            self._save(holder)

    def _save(self, holder: Role | User) -> None:
        """Write a changed role or user back: its sessions' next calls are evaluated with what it holds now."""
        if isinstance(holder, Role):
            self._state.roles[holder.arn] = holder
        else:
            self._state.users[holder.arn] = holder

    @reads_only
    def role(self, arn: str) -> Role | None:
        return self._state.roles.get(arn)

    @property
    def roles(self) -> list[Role]:
        return list(self._state.roles.values())

    # ---- helpers: users, keys, MFA ------------------------------------------------------------
    def create_user(
        self,
        name: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        path: str = "/",
        policies: dict[str, Document] | None = None,
        managed_policy_arns: Sequence[str] = (),
        tags: dict[str, str] | None = None,
    ) -> User:
        """An IAM user: its keys (:meth:`create_access_key`) are evaluated against its policies on every call."""
        return self._add_user(
            {
                "name": name,
                "account_id": account_id,
                "path": path,
                "inline_policies": dict(policies or {}),
                "managed_policies": list(managed_policy_arns),
                "tags": dict(tags or {}),
            }
        )

    def _add_user(self, item: Mapping[str, Any]) -> User:
        path = item.get("path", "/")
        _check_path(path)
        managed = list(item.get("managed_policies", ()))
        for arn in managed:
            if self._managed(arn) is None:
                raise MockCloudError(f"no managed policy {arn} to attach")
        user = User(
            item["name"],
            item.get("account_id", DEFAULT_ACCOUNT_ID),
            item.get("user_id") or self._new_id("AIDA"),
            path,
            managed,
            {name: self._check_document(doc) for name, doc in item.get("inline_policies", {}).items()},
            dict(item.get("tags", {})),
        )
        named = compound(user.account_id, user.name)
        with self._lock:
            if named in self._state.user_named:
                raise MockCloudError(f"user {user.name!r} already exists in account {user.account_id}")
            self._state.users[user.arn] = user
            self._state.user_named[named] = user.arn
        for key in item.get("access_keys", ()):
            if isinstance(key, str):
                self._bind_key(user, key, None)
            else:
                self._bind_key(user, key["access_key_id"], key.get("secret_access_key"))
        return user

    def _user_named(self, name: str, account_id: str) -> User:
        return _named(self._state.user_named, self._state.users, name, account_id, "user")

    def create_access_key(
        self,
        user_name: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> AwsKey:
        """An access key of an IAM user: a new one, or a key the mock has (``access_key_id``) bound to the user.

        Binding the default test keys (``access_key_id="testing"``) to a user turns
        IAM enforcement on for them: their calls are evaluated against the user's policies.
        """
        user = self._user_named(user_name, account_id)
        return self._bind_key(user, access_key_id, secret_access_key)

    def _bind_key(self, user: User, access_key_id: str | None, secret: str | None) -> AwsKey:
        if access_key_id is None:
            fresh = self.credentials.new_account(user.account_id)
            access_key_id, secret = fresh.access_key_id, fresh.secret_access_key
        existing = self.credentials.aws(access_key_id)
        if secret is None:
            if existing is None:
                raise MockCloudError(f"no key {access_key_id!r} in the mock to bind to user {user.name!r}")
            if existing.session_token is not None:
                raise MockCloudError(f"{access_key_id} is a temporary key: only long-term keys belong to users")
            secret = existing.secret_access_key
        key = self.credentials.add_aws(
            access_key_id, secret, account_id=user.account_id, arn=user.arn, user_id=user.user_id
        )
        with self._lock:
            state = self._state
            before = state.user_of_key.get(access_key_id)
            other = None if before is None or before == user.arn else state.users.get(before)
            if other is not None and access_key_id in other.access_keys:  # a key belongs to one user at a time
                other.access_keys.remove(access_key_id)
                state.users[other.arn] = other
            if access_key_id not in user.access_keys:
                user.access_keys.append(access_key_id)
                state.users[user.arn] = user
            state.user_of_key[access_key_id] = user.arn
        return key

    def put_user_policy(
        self, user_name: str, policy_name: str, document: Document, *, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> None:
        """Add (or replace) an inline permission policy of a user."""
        self._put_policy(self._user_named(user_name, account_id), policy_name, document)

    def delete_user_policy(self, user_name: str, policy_name: str, *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._delete_policy(self._user_named(user_name, account_id), policy_name)

    def attach_user_policy(self, user_name: str, policy_arn: str, *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._attach(self._user_named(user_name, account_id), policy_arn)

    def detach_user_policy(self, user_name: str, policy_arn: str, *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._detach(self._user_named(user_name, account_id), policy_arn)

    @reads_only
    def user(self, arn: str) -> User | None:
        return self._state.users.get(arn)

    @property
    def users(self) -> list[User]:
        return list(self._state.users.values())

    def create_virtual_mfa_device(
        self, name: str, *, user_name: str | None = None, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> MfaDevice:
        """A virtual MFA device enabled for a user (or the account's root): its ``secret`` makes the TOTP codes.

        ``mockcloud.core.otp.totp(device.secret, cloud.clock.time())`` is the code of the moment.
        """
        from ...core.otp import random_secret

        user_arn = None if user_name is None else self._user_named(user_name, account_id).arn
        device = MfaDevice(
            f"arn:aws:iam::{account_id}:mfa/{name}", account_id, random_secret(self.entropy.token_bytes), user_arn
        )
        with self._lock:
            if device.serial in self._state.mfa_devices:
                raise MockCloudError(f"MFA device {device.serial} already exists")
            self._state.mfa_devices[device.serial] = device
        return device

    # ---- helpers: SAML providers, accounts --------------------------------------------------------
    def create_saml_provider(
        self, name: str, metadata_document: str, *, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> SamlProvider:
        """A SAML provider from the IdP's metadata: AssumeRoleWithSAML verifies responses with its certificate."""
        saml.read_metadata(metadata_document)
        provider = SamlProvider(name, account_id, metadata_document)
        with self._lock:
            if provider.arn in self._state.saml_providers:
                raise MockCloudError(f"SAML provider {provider.arn} already exists")
            self._state.saml_providers[provider.arn] = provider
        return provider

    @property
    def saml_providers(self) -> list[SamlProvider]:
        return list(self._state.saml_providers.values())

    @reads_only
    def saml_provider(self, arn: str) -> SamlProvider | None:
        return self._state.saml_providers.get(arn)

    def _account(self, account_id: str) -> Account:
        """An account's record (a new one when it has none yet: write it back once changed)."""
        found = self._state.accounts.get(account_id)
        return Account(account_id) if found is None else found

    def disable_region(self, region: str, *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        """Deactivate STS in a Region for an account: its credential requests there get RegionDisabledException."""
        with self._lock:
            account = self._account(account_id)
            if region not in account.disabled_regions:
                account.disabled_regions.append(region)
                self._state.accounts[account_id] = account

    def enable_region(self, region: str, *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        with self._lock:
            account = self._account(account_id)
            if region in account.disabled_regions:
                account.disabled_regions.remove(region)
                self._state.accounts[account_id] = account

    def set_outbound_web_identity_federation(self, enabled: bool, *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        """Enable or disable GetWebIdentityToken for an account (IAM's Enable/DisableOutboundWebIdentityFederation).

        Enabled by default in the emulator, so the API works without a set-up call.
        """
        with self._lock:
            account = self._account(account_id)
            account.outbound_federation = bool(enabled)
            self._state.accounts[account_id] = account

    # ---- outbound identity issuers ----------------------------------------------------------------
    def _issuer_of(self, account_id: str) -> Account:
        with self._lock:
            account = self._account(account_id)
            if account.issuer_id is None:
                account.issuer_id = str(self.entropy.uuid4())
                self._state.accounts[account_id] = account
                self._state.issuers[account.issuer_id] = account_id
            return account

    def _signing_key(self, account: Account, algorithm: str) -> str:
        with self._lock:
            pem = account.signing_keys.get(algorithm)
            if pem is None:
                pem = account.signing_keys[algorithm] = outbound.new_key(algorithm, self.entropy)
                self._state.accounts[account.account_id] = account
            return pem

    def outbound_issuer(self, account_id: str = DEFAULT_ACCOUNT_ID) -> str:
        """The issuer URL of an account's GetWebIdentityToken tokens (``https://<id>.tokens.sts.global.api.aws``)."""
        issuer_id = self._issuer_of(account_id).issuer_id
        assert issuer_id is not None
        return outbound.issuer_url(issuer_id)

    def openid_configuration(self, account_id: str = DEFAULT_ACCOUNT_ID) -> dict[str, Any]:
        """The OIDC discovery document of an account's token issuer."""
        return outbound.discovery(self.outbound_issuer(account_id))

    @reads_only
    def jwks(self, account_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """The public keys of one account's token issuer, or of every issuer (None): a JWKS.

        An issuer publishes a key once it has signed with it (the first GetWebIdentityToken of each algorithm).
        """
        if account_id is None:
            accounts = list(self._state.accounts.values())
        else:
            found = self._state.accounts.get(account_id)
            accounts = [] if found is None else [found]
        accounts = [a for a in accounts if a.signing_keys]
        return {
            "keys": [
                outbound.jwk(pem, algorithm) for a in accounts for algorithm, pem in sorted(a.signing_keys.items())
            ]
        }

    def issuer_document(self, host: str, path: str) -> dict[str, Any] | None:
        """What an issuer's host answers at ``path``: its discovery document or JWKS (None: nothing there)."""
        label = host.split(":", 1)[0].lower()
        issuer_id, _, domain = label.partition(".")
        if domain != outbound.ISSUER_DOMAIN:
            return None
        account_id = self._state.issuers.get(issuer_id)
        if account_id is None:
            return None
        if path == outbound.DISCOVERY_PATH:
            return self.openid_configuration(account_id)
        if path == outbound.JWKS_PATH:
            return self.jwks(account_id)
        return None

    # ---- helpers: temporary delegation ------------------------------------------------------------
    def create_delegation_request(
        self,
        partner_account_id: str,
        permissions: Document,
        *,
        owner_account_id: str = DEFAULT_ACCOUNT_ID,
        session_duration: int = 3600,
        description: str = "",
    ) -> Delegation:
        """A partner's request for temporary access to ``owner_account_id`` (IAM's CreateDelegationRequest)."""
        self._check_document(permissions)
        if not isinstance(session_duration, int) or not 900 <= session_duration <= 43200:
            raise MockCloudError("session_duration is 900 to 43200 seconds")
        delegation = Delegation(
            str(self.entropy.uuid4()), owner_account_id, partner_account_id, permissions, session_duration, description
        )
        with self._lock:
            self._state.delegations[delegation.delegation_id] = delegation
        return delegation

    def approve_delegation_request(self, delegation_id: str, *, approver_arn: str | None = None) -> str:
        """The owner approves and IAM sends the exchange token (AcceptDelegationRequest, SendDelegationToken).

        Returns the trade-in token the partner exchanges with GetDelegatedAccessToken. The
        session acts as ``approver_arn`` (a user or role of the owner; default its root) within
        the request's permissions.
        """
        with self._lock:
            delegation = self._state.delegations.get(delegation_id)
            if delegation is None:
                raise MockCloudError(f"no delegation request {delegation_id!r}")
            if delegation.state != "PENDING":
                raise MockCloudError(f"delegation request {delegation_id} is {delegation.state}, not PENDING")
            approver = approver_arn or f"arn:aws:iam::{delegation.owner_account_id}:root"
            if (
                approver not in self._state.users
                and approver not in self._state.roles
                and not approver.endswith(f"::{delegation.owner_account_id}:root")
            ):
                raise MockCloudError(f"{approver} is no user, role or root of account {delegation.owner_account_id}")
            token = "dt-" + self.entropy.token_urlsafe(48)
            delegation.state = "FINALIZED"
            delegation.approver_arn = approver
            delegation.token_digest = hashlib.sha256(token.encode()).hexdigest()
            delegation.token_expires = self.clock.time() + self.settings["trade_in_token_seconds"]
            self._state.delegations[delegation_id] = delegation
            self._state.trade_ins[delegation.token_digest] = [delegation_id, delegation.token_expires]
        return token

    @property
    def delegations(self) -> list[Delegation]:
        return list(self._state.delegations.values())

    @property
    def sessions(self) -> list[Session]:
        return list(self._state.sessions.values())

    # ---- the authority -------------------------------------------------------------------------------
    def _principal(self, access_key_id: str) -> Principal | None:
        state = self._state
        session = state.sessions.get(access_key_id)
        if session is None:
            user_arn = state.user_of_key.get(access_key_id)
            user = state.users.get(user_arn) if user_arn else None
            if user is None:
                return None
            keys = {
                "aws:principalarn": (user.arn,),
                "aws:principalaccount": (user.account_id,),
                "aws:principaltype": ("User",),
                "aws:userid": (user.user_id,),
                "aws:username": (user.name,),
                **_tag_keys(user.tags),
            }
            return Principal(user.arn, user.account_id, self._policies_of(user.arn), None, keys, user.user_id)
        kind = session.kind
        keys = {
            "aws:principalaccount": (session.account_id,),
            "aws:userid": (session.user_id,),
            "aws:tokenissuetime": (iso(session.issued),),
            "aws:multifactorauthpresent": ("true" if session.mfa else "false",),
        }
        if session.mfa:  # the clock read after the session: another worker's may be a moment behind
            keys["aws:multifactorauthage"] = (str(max(0, int(self.clock.time() - session.issued))),)
        if session.source_identity:
            keys["aws:sourceidentity"] = (session.source_identity,)
        if session.provider:
            keys["aws:federatedprovider"] = (session.provider,)
        identity = self._policies_of(session.principal_arn)
        session_policies: tuple[iam.Policy, ...] | None = (
            self._session_policies(session) if session.has_session_policies else None
        )
        tags: dict[str, str] = {}
        if kind == "assumed-role":
            role = state.roles.get(session.principal_arn)
            tags = dict(role.tags) if role is not None else {}
            keys.update({"aws:principalarn": (session.principal_arn,), "aws:principaltype": ("AssumedRole",)})
        elif kind == "federated-user":
            session_policies = self._session_policies(session)  # none passed: the session may do nothing
            keys.update({"aws:principalarn": (session.arn,), "aws:principaltype": ("FederatedUser",)})
        elif kind in ("session-token", "delegated"):
            user = state.users.get(session.principal_arn)
            if user is not None:
                tags = dict(user.tags)
                keys["aws:username"] = (user.name,)
            principal_type = "User" if user is not None else "Account"
            keys.update({"aws:principalarn": (session.principal_arn,), "aws:principaltype": (principal_type,)})
        else:  # an AssumeRoot session: the task policy alone
            keys.update({"aws:principalarn": (session.arn,), "aws:principaltype": ("Account",)})
        tags.update(session.tags)
        keys.update(_tag_keys(tags))
        return Principal(session.arn, session.account_id, identity, session_policies, keys, session.user_id)


@functools.cache
def _aws_managed(arn: str) -> ManagedPolicy | None:
    """An AWS managed policy the emulator knows, as a record (the same object every time: it never changes)."""
    if arn not in AWS_MANAGED:
        return None
    description, document = AWS_MANAGED[arn]
    name = arn.rsplit("/", 1)[1]
    path = arn[len("arn:aws:iam::aws:policy") : -len(name)]
    policy_id = "ANPA" + hashlib.sha256(arn.encode()).hexdigest()[:17].upper()
    return ManagedPolicy(name, "aws", policy_id, document, path, description)


def _named(named: Table[str], records: Table[N], name: str, account_id: str, what: str) -> N:
    arn = named.get(compound(account_id, name))
    found = None if arn is None else records.get(arn)
    if found is None:
        raise MockCloudError(f"no {what} {name!r} in account {account_id}")
    return found


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not path.startswith("/") or not path.endswith("/"):
        raise MockCloudError("a path begins and ends with '/'")


def _tag_keys(tags: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    return {f"aws:principaltag/{k.lower()}": (v,) for k, v in tags.items()}
