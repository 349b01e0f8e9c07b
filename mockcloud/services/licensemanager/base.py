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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .errors import ERRORS
from .records import Grant, License, Organization, account_root

if TYPE_CHECKING:
    from ...core.clock import Clock
    from ...core.entropy import Entropy
    from ...core.jwt_signing import JwtSigner
    from .consumption import Consumption
    from .issuers import IssuerKey
    from .records import GrantVersion, LicenseVersion, ServiceSettings

R = TypeVar("R")


@dataclass
class Idempotent:
    at: float
    fingerprint: str
    result: Any  # what the operation of its scope returned: a License, a Token, or a response


class LicenseManagerBase:
    """The model's state, one dict of records per kind (see :mod:`.records`), and the rules every part applies."""

    clock: Clock
    entropy: Entropy
    settings: dict[str, Any]
    _lock: threading.RLock
    _licenses: dict[str, License]  # by ARN
    _license_versions: dict[str, LicenseVersion]  # by "<ARN>#<version>": the versions before the current one
    _grants: dict[str, Grant]  # by ARN
    _grant_versions: dict[str, GrantVersion]  # by "<ARN>#<version>"
    _consumptions: dict[str, Consumption]  # by LicenseConsumptionToken
    _client_tokens: dict[tuple[str, ...], Idempotent]  # (operation, account id, ClientToken) ->
    _issuer_keys: dict[str, IssuerKey]  # by kid
    _issuer_signers: dict[str, JwtSigner]
    _tags: dict[str, dict[str, str]]  # resource ARN -> its tags, in the order they were set
    _service_settings: dict[str, ServiceSettings]  # by "<account>/<region>"
    _organizations: dict[str, Organization]  # by organization id

    # ---- idempotency ------------------------------------------------------
    def _idempotent(self, scope: tuple[str, ...], fingerprint: dict[str, Any], create: Callable[[], R]) -> R:
        """Return the earlier result for a reused client token within its window, else create."""
        now = self.clock.time()
        digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
        earlier = self._client_tokens.get(scope)
        if earlier is not None and now - earlier.at < self.settings["client_token_seconds"]:
            if not hmac.compare_digest(earlier.fingerprint, digest):
                raise ERRORS.error(
                    "ValidationException",
                    "ClientToken was already used with different parameters within the last 10 minutes.",
                )
            return cast("R", earlier.result)  # the same operation (it is in the scope) made it
        result = create()
        self._client_tokens[scope] = Idempotent(now, digest, result)
        return result

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

    def _received_grants(self, account_id: str, license_arn: str | None = None) -> list[Grant]:
        return [
            g
            for g in self._grants.values()
            if (license_arn is None or g.license_arn == license_arn) and account_id in self._receivers(g)
        ]

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
