"""What every part of License Manager's model shares: its records, idempotency, and who may see and use a license.

An account sees a license it created, and a license granted to it (any grant,
whatever its status: ListReceivedLicenses shows a rejected or deleted one
with that status). It uses a license it created, or one it received through
a grant that is ACTIVE, whose parent grants are ACTIVE too, and that allows
the operation (``AllowedOperations``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ...core.entities import Table, compound
from .errors import ERRORS
from .records import (
    Consumption,
    Grant,
    GrantVersion,
    Idempotent,
    IssuerKey,
    License,
    LicenseVersion,
    Organization,
    ServiceSettings,
    Token,
    Usage,
    account_root,
)

if TYPE_CHECKING:
    from ...core.clock import Clock
    from ...core.entropy import Entropy
    from ...core.service import ServiceContext

R = TypeVar("R")

DEFAULTS = {
    "access_token_seconds": 3600,  # "Access tokens are valid for one hour."
    "default_expiration_days": 365,  # CreateToken ExpirationInDays default
    "client_token_seconds": 600,  # "Idempotency token, valid for 10 minutes."
    "jwt_algorithm": "ES256",  # or RS256 (slow to sign) or HS256 (fastest; the JWKS then carries the secret)
    "license_deletion_seconds": 3600,  # how long a deleted license with grants in use stays PENDING_DELETE
}


def added(index: Table[list[str]], key: str, value: str) -> None:
    """Add ``value`` to the index record ``key`` (a list of keys), written back."""
    values = index.get(key) or []
    if value not in values:
        index[key] = [*values, value]


class LicenseManagerBase:
    """The model's tables, one per kind of record (see :mod:`.records`), and the rules every part applies."""

    clock: Clock
    entropy: Entropy
    context: ServiceContext
    _lock: threading.RLock
    _settings: Table[dict[str, Any]]
    _signing_keys: Table[dict[str, str]]
    _authority_keys: Table[IssuerKey]
    _licenses: Table[License]  # by ARN
    _license_versions: Table[LicenseVersion]  # by "<ARN>#<version>": the versions before the current one
    _issuer_licenses: Table[list[str]]  # key fingerprint -> the ARNs of its licenses
    _usage: Table[Usage]  # by license ARN
    _grants: Table[Grant]  # by ARN
    _grant_versions: Table[GrantVersion]  # by "<ARN>#<version>"
    _grants_to: Table[list[str]]  # grantee principal ARN -> the ARNs of the grants to it
    _license_grants: Table[list[str]]  # license ARN -> the ARNs of its grants
    _consumptions: Table[Consumption]  # by LicenseConsumptionToken
    _tokens: Table[Token]  # by TokenId
    _client_tokens: Table[Idempotent]  # by ["<operation>","<account id>","<ClientToken>"]
    _issuer_keys: Table[IssuerKey]  # by kid
    _tags: Table[dict[str, str]]  # resource ARN -> its tags, in the order they were set
    _service_settings: Table[ServiceSettings]  # by "<account>/<region>"
    _organizations: Table[Organization]  # by organization id

    @property
    def settings(self) -> dict[str, Any]:
        """The service's settings: its defaults, the fixtures' and the mock's (see ``DEFAULTS``)."""
        return self._settings.get("") or self.context.merged_settings(DEFAULTS, {})

    # ---- idempotency ------------------------------------------------------
    def _idempotent(self, scope: tuple[str, str, str], fingerprint: dict[str, Any], create: Callable[[], R]) -> R:
        """Return the earlier result for a reused client token within its window, else create."""
        key = compound(*scope)
        digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
        earlier = self._client_tokens.get(key)
        now = self.clock.time()  # after the record it is compared with
        if earlier is not None and now - earlier.at < earlier.window:
            if not hmac.compare_digest(earlier.fingerprint, digest):
                raise ERRORS.error(
                    "ValidationException",
                    "ClientToken was already used with different parameters within the last 10 minutes.",
                )
            return cast("R", self._earlier_result(earlier))  # the same operation (it is in the scope) made it
        result = create()
        used = Idempotent(now, digest, window=float(self.settings["client_token_seconds"]))
        if isinstance(result, License):
            used.license_arn = result.arn
        elif isinstance(result, Token):
            used.token_id = result.token_id
        else:
            used.response = result
        self._client_tokens[key] = used
        return result

    def _earlier_result(self, used: Idempotent) -> Any:
        """What a retried call answers again: the license or token it made (as they are now), or its response."""
        if used.license_arn is not None:
            return self._licenses[used.license_arn]
        if used.token_id is not None:
            return self._tokens[used.token_id]
        return used.response

    # ---- Regions ----------------------------------------------------------
    @staticmethod
    def _in_home_region(home_region: str, region: str, operation: str) -> None:
        """RedirectException, with the home Region's endpoint as ``Location``, outside a resource's home Region."""
        if home_region != region:
            raise ERRORS.error(
                "RedirectException",
                f"This is not the correct Region for the resource. Call {operation} in {home_region}.",
                fields={"Location": f"https://license-manager.{home_region}.amazonaws.com"},
            )

    # ---- who receives a grant ---------------------------------------------
    def _receivers(self, grant: Grant) -> frozenset[str]:
        """The accounts a grant reaches: its account, or every account of its organization or OU but the grantor's."""
        principal = grant.grantee
        if principal.startswith("arn:aws:iam::"):
            return frozenset({principal.split(":")[4]})
        for org in self._organizations.values():
            if principal == org.arn:
                return frozenset(org.accounts) - {grant.account_id}
            for unit_id, members in org.units.items():
                if principal == org.unit_arn(unit_id):
                    return frozenset(members) - {grant.account_id}
        return frozenset()

    def _principals_of(self, account_id: str) -> list[str]:
        """What a grant to this account names: the account, or an organization or OU the account belongs to."""
        found = [account_root(account_id)]
        for org in self._organizations.values():
            if account_id in org.accounts:
                found.append(org.arn)
            found.extend(org.unit_arn(unit) for unit, members in org.units.items() if account_id in members)
        return found

    def _received_grants(self, account_id: str, license_arn: str | None = None) -> list[Grant]:
        """The grants that reach this account (of one license, or of any), found through the grants-to index."""
        arns = dict.fromkeys(arn for p in self._principals_of(account_id) for arn in self._grants_to.get(p) or ())
        found = []
        for arn in arns:
            grant = self._grants.get(arn)
            if (
                grant is not None
                and (license_arn is None or grant.license_arn == license_arn)
                and account_id in self._receivers(grant)
            ):
                found.append(grant)
        return found

    def _put_new_grant(self, grant: Grant) -> None:
        """Keep a new grant, and its entries in the indexes of grants by grantee and by license."""
        self._grants[grant.arn] = grant
        added(self._grants_to, grant.grantee, grant.arn)
        added(self._license_grants, grant.license_arn, grant.arn)

    def _grants_of(self, license_arn: str) -> list[Grant]:
        return [g for arn in self._license_grants.get(license_arn) or () if (g := self._grants.get(arn)) is not None]

    def _grant_status(self, grant: Grant, now: float) -> str:
        """The status a caller sees: a grant of a license being deleted is PENDING_DELETE, then DELETED with it."""
        lic = self._licenses.get(grant.license_arn)
        if lic is not None and lic.deletion_date is not None and grant.status not in ("REJECTED", "DELETED"):
            return lic.status_at(now)
        return grant.status

    def _grant_active(self, grant: Grant, now: float, seen: frozenset[str] = frozenset()) -> bool:
        """ACTIVE, and so is every grant above it (a grant of a grant needs its parent's use)."""
        if self._grant_status(grant, now) != "ACTIVE" or grant.arn in seen:
            return False
        if grant.parent_arn == grant.license_arn:
            return True
        parent = self._grants.get(grant.parent_arn)
        return parent is not None and self._grant_active(parent, now, seen | {grant.arn})

    def _sees(self, account_id: str, lic: License) -> bool:
        """Whether GetLicense and the like answer this account about this license."""
        return lic.account_id == account_id or bool(self._received_grants(account_id, lic.arn))

    def _use(
        self,
        account_id: str,
        lic: License,
        operation: str,
        now: float,
        inactive: str = "NoEntitlementsAllowedException",
    ) -> Grant | None:
        """How the account may use the license for ``operation`` (an AllowedOperation name).

        None as its issuer; else the ACTIVE grant that allows it. A license
        received only through grants that are not active gives ``inactive``
        (the error of the operation's own list); through active grants that
        do not allow the operation, AuthorizationException.
        """
        if lic.account_id == account_id:
            return None
        received = self._received_grants(account_id, lic.arn)
        active = [g for g in received if self._grant_active(g, now)]
        if not active:
            states = sorted({self._grant_status(g, now) for g in received} - {"ACTIVE"})
            why = f"is {', '.join(states)}, not ACTIVE" if states else "was received through a grant that is not ACTIVE"
            prefix = "No Entitlements Allowed: " if inactive == "NoEntitlementsAllowedException" else ""
            raise ERRORS.error(inactive, f"{prefix}the grant of license {lic.arn} to this account {why}.")
        for grant in sorted(active, key=lambda g: g.created, reverse=True):
            if operation in grant.operations:
                return grant
        raise ERRORS.error(
            "AuthorizationException",
            f"The grant of license {lic.arn} to this account does not allow {operation}.",
        )

    @staticmethod
    def _account_of(principal: str) -> str | None:
        """The account of an account principal (``arn:aws:iam::<account>:root``), else None."""
        parts = principal.split(":")
        if len(parts) == 6 and principal == account_root(parts[4]) and parts[4].isdigit() and len(parts[4]) == 12:
            return parts[4]
        return None
