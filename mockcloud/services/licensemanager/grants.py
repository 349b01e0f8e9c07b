"""Grants: CreateGrant, CreateGrantVersion, GetGrant, DeleteGrant, AcceptGrant, RejectGrant, the lists of
distributed and received grants and licenses, and their ForOrganization forms.

The lifecycle is the user guide's ("Grant acceptance and activation"): a new
grant is PENDING_ACCEPT; AcceptGrant makes it DISABLED; CreateGrantVersion
with ``Status: ACTIVE`` activates it, and only an ACTIVE grant lets its
grantee use the license, for its ``AllowedOperations``. RejectGrant and
DeleteGrant end it; the grantor's CreateGrantVersion with ``Status:
DISABLED`` deactivates it until the grantor activates it again. "You can't
activate two licenses for the same product from AWS Marketplace at the same
time": activating a second one is refused unless
``Options.ActivationOverrideBehavior`` is ``ALL_GRANTS_PERMITTED_BY_ISSUER``,
which disables the others. Every change makes a new version; GetGrant with
``Version`` reads an earlier one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .account import tags_of
from .base import LicenseManagerBase
from .errors import ERRORS
from .records import (
    ENDED_GRANT_STATUSES,
    MARKETPLACE_ACCOUNT,
    Grant,
    GrantVersion,
    License,
    Organization,
    version_id,
)

_ORGANIZATION = re.compile(r"arn:aws:organizations::\d{12}:organization/o-[a-z0-9]{10,32}\Z")
_UNIT = re.compile(r"arn:aws:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}\Z")
_RECEIVED_ORDER = {"ACTIVE": 0, "DISABLED": 1, "PENDING_ACCEPT": 2}  # which of an account's grants it shows
GrantFilters = dict[str, Callable[[Grant, float], object]]


class GrantsMixin(LicenseManagerBase):
    """The grant operations of :class:`~.model.LicenseManagerModel`."""

    # ---- looking grants up -------------------------------------------------
    def _grant_for(self, account_id: str, arn: str) -> Grant:
        """A grant the account gave or received, or the answer for one it did not (the same as for none)."""
        grant = self._grants.get(arn)
        if grant is None or (grant.account_id != account_id and account_id not in self._receivers(grant)):
            raise ERRORS.error("InvalidParameterValueException", f"Grant is not found: {arn}")
        return grant

    def _describe_grant(self, grant: Grant, now: float) -> dict[str, Any]:
        return grant.describe(self._grant_status(grant, now))

    def _next_grant_version(self, grant: Grant, now: float) -> None:
        """Keep the grant as it is now as an earlier version, and number the next."""
        earlier = GrantVersion(grant.arn, grant.version, self._describe_grant(grant, now))
        self._grant_versions[earlier.id] = earlier
        grant.version = str(int(grant.version) + 1)

    @staticmethod
    def _answer(grant: Grant, status: str) -> dict[str, str]:
        return {"GrantArn": grant.arn, "Status": status, "Version": grant.version}

    # ---- CreateGrant -------------------------------------------------------
    def create_grant(
        self,
        *,
        account_id: str,
        client_token: str,
        grant_name: str,
        license_arn: str,
        principals: list[str],
        home_region: str,
        allowed_operations: list[str],
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, str]:
        """CreateGrant: a PENDING_ACCEPT grant of a license the account issued or received with ``CreateGrant``."""
        operations = list(dict.fromkeys(allowed_operations))
        params = {"n": grant_name, "l": license_arn, "p": principals, "h": home_region, "o": operations, "t": tags}
        tagged = tags_of(tags)  # refused before anything is made
        with self._lock:

            def create() -> dict[str, str]:
                grant = self._new_grant(account_id, license_arn, principals[0], grant_name, home_region, operations)
                if tagged:
                    self._tags[grant.arn] = tagged
                return self._answer(grant, grant.status)

            return self._idempotent(("CreateGrant", account_id, client_token), params, create)

    def _new_grant(
        self, account_id: str, license_arn: str, principal: str, name: str, home_region: str, operations: list[str]
    ) -> Grant:
        now = self.clock.time()
        lic = self._licenses.get(license_arn)
        if lic is None or not self._sees(account_id, lic):
            raise ERRORS.error("InvalidParameterValueException", f"License is not found: {license_arn}")
        if lic.deletion_date is not None:
            raise ERRORS.error("InvalidParameterValueException", f"License {license_arn} is {lic.status_at(now)}.")
        parent = self._use(account_id, lic, "CreateGrant", now, inactive="AuthorizationException")
        self._within(parent, operations)
        self._check_principal(account_id, principal)
        grant = Grant(
            arn=f"arn:aws:license-manager::{account_id}:grant:g-{self.entropy.uuid4().hex}",
            account_id=account_id,
            name=name,
            license_arn=license_arn,
            parent_arn=parent.arn if parent is not None else license_arn,
            grantee=principal,
            home_region=home_region,
            operations=operations,
            created=now,
        )
        receivers = self._receivers(grant)
        organization = self._managed_organization(account_id)
        if organization is not None and receivers and receivers <= set(organization.accounts):
            # "If the management account for an organization ... distributes licenses to member accounts, the
            # licenses are automatically accepted in the member accounts" (it has linked the organization)
            grant.status = "DISABLED"
        self._put_new_grant(grant)
        return grant

    @staticmethod
    def _within(parent: Grant | None, operations: list[str]) -> None:
        """A grant of a received license allows no more than the grant its grantor received it through."""
        beyond = [op for op in operations if parent is not None and op not in parent.operations]
        if parent is not None and beyond:
            raise ERRORS.error(
                "InvalidParameterValueException",
                f"AllowedOperations {beyond} are not allowed by the grant its grantor received ({parent.arn}).",
            )

    def _check_principal(self, account_id: str, principal: str) -> None:
        grantee = self._account_of(principal)
        if grantee is None and not (_ORGANIZATION.match(principal) or _UNIT.match(principal)):
            raise ERRORS.error(
                "InvalidParameterValueException",
                f"Principal {principal} is not an account (arn:aws:iam::<account>:root), organization or "
                "organizational unit ARN.",
            )
        if grantee == account_id:
            raise ERRORS.error(
                "InvalidParameterValueException", "A license cannot be granted to its grantor's account."
            )

    def _managed_organization(self, account_id: str) -> Organization | None:
        """The organization this account manages, if it has linked it to License Manager (UpdateServiceSettings)."""
        if not any(s.account_id == account_id and s.organization_integration for s in self._service_settings.values()):
            return None
        return self._organization_of_manager(account_id)

    def _organization_of_manager(self, account_id: str) -> Organization | None:
        return next((o for o in self._organizations.values() if o.management_account_id == account_id), None)

    # ---- GetGrant ----------------------------------------------------------
    def get_grant(self, account_id: str, arn: str, version: str | None = None) -> dict[str, Any]:
        with self._lock:
            grant = self._grant_for(account_id, arn)
            if version is None or version == grant.version:
                return self._describe_grant(grant, self.clock.time())
            earlier = self._grant_versions.get(version_id(arn, version))
            if earlier is None:
                raise ERRORS.error("InvalidParameterValueException", f"Grant version {version} is not found for {arn}")
            return dict(earlier.description)

    # ---- AcceptGrant, RejectGrant, DeleteGrant ------------------------------
    def accept_grant(self, *, account_id: str, grant_arn: str) -> dict[str, str]:
        """AcceptGrant: PENDING_ACCEPT becomes DISABLED (accepted, not yet active)."""
        return self._answer_received(account_id, grant_arn, "accepted", "DISABLED")

    def reject_grant(self, *, account_id: str, grant_arn: str) -> dict[str, str]:
        """RejectGrant: PENDING_ACCEPT becomes REJECTED, for good."""
        return self._answer_received(account_id, grant_arn, "rejected", "REJECTED")

    def _answer_received(self, account_id: str, grant_arn: str, verb: str, status: str) -> dict[str, str]:
        with self._lock:
            now = self.clock.time()
            grant = self._grants.get(grant_arn)
            if grant is None or account_id not in self._receivers(grant):
                raise ERRORS.error("InvalidParameterValueException", f"Grant is not found: {grant_arn}")
            current = self._grant_status(grant, now)
            if current != "PENDING_ACCEPT":
                raise ERRORS.error(
                    "ValidationException", f"Grant {grant_arn} is {current}: only a PENDING_ACCEPT grant can be {verb}."
                )
            self._next_grant_version(grant, now)
            grant.status = status
            self._grants[grant.arn] = grant
            return self._answer(grant, status)

    def delete_grant(
        self, *, account_id: str, grant_arn: str, version: str, status_reason: str | None = None
    ) -> dict[str, str]:
        """DeleteGrant (its grantor): the grant ends; its grantee can no longer use the license through it."""
        with self._lock:
            now = self.clock.time()
            grant = self._grant_for(account_id, grant_arn)
            if grant.account_id != account_id:
                raise ERRORS.error("AuthorizationException", f"Only the grantor can delete grant {grant_arn}.")
            if version != grant.version:
                raise ERRORS.error(
                    "InvalidParameterValueException",
                    f"Version {version} is not the current version of the grant ({grant.version}).",
                )
            current = self._grant_status(grant, now)
            if current in ("DELETED", "PENDING_DELETE"):
                raise ERRORS.error("ValidationException", f"Grant {grant_arn} is already {current}.")
            self._next_grant_version(grant, now)
            grant.status, grant.status_reason = "DELETED", status_reason or grant.status_reason
            self._grants[grant.arn] = grant
            return self._answer(grant, "DELETED")

    # ---- CreateGrantVersion ------------------------------------------------
    def create_grant_version(
        self,
        *,
        account_id: str,
        client_token: str,
        grant_arn: str,
        grant_name: str | None = None,
        allowed_operations: list[str] | None = None,
        status: str | None = None,
        status_reason: str | None = None,
        source_version: str | None = None,
        options: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """CreateGrantVersion: the grantor renames or changes the operations; either side activates or deactivates."""
        params = {
            "a": grant_arn,
            "n": grant_name,
            "o": allowed_operations,
            "s": status,
            "r": status_reason,
            "v": source_version,
            "p": options,
        }
        with self._lock:
            return self._idempotent(
                ("CreateGrantVersion", account_id, client_token),
                params,
                lambda: self._grant_version(
                    account_id,
                    grant_arn,
                    grant_name,
                    allowed_operations,
                    status,
                    status_reason,
                    source_version,
                    options,
                ),
            )

    def _grant_version(
        self,
        account_id: str,
        grant_arn: str,
        name: str | None,
        operations: list[str] | None,
        status: str | None,
        reason: str | None,
        source_version: str | None,
        options: dict[str, str] | None,
    ) -> dict[str, str]:
        now = self.clock.time()
        grant = self._grant_for(account_id, grant_arn)
        grantor = grant.account_id == account_id
        if source_version is not None and source_version != grant.version:
            raise ERRORS.error(
                "InvalidParameterValueException",
                f"SourceVersion {source_version} is not the current version of the grant ({grant.version}).",
            )
        if not grantor and (name is not None or operations is not None):
            raise ERRORS.error("AuthorizationException", "Only the grantor can change GrantName and AllowedOperations.")
        current = self._grant_status(grant, now)
        if current in ENDED_GRANT_STATUSES:
            raise ERRORS.error("ValidationException", f"Grant {grant_arn} is {current}: it cannot change any more.")
        lic = self._licenses[grant.license_arn]
        if options:
            if lic.account_id != MARKETPLACE_ACCOUNT:
                raise ERRORS.error(
                    "ValidationException",
                    "Options can only be used with granted licenses sourced from AWS Marketplace.",
                )
            if status != "ACTIVE":
                raise ERRORS.error("ValidationException", "Options need Status ACTIVE: they say how a grant activates.")
        if status is not None and status != current:
            self._check_transition(grant, current, status, grantor)
        if operations is not None:
            operations = list(dict.fromkeys(operations))
            self._within(self._grants.get(grant.parent_arn), operations)
        if status == "ACTIVE" and current != "ACTIVE" and lic.account_id == MARKETPLACE_ACCOUNT:
            self._one_active_per_product(grant, lic, options or grant.options or {}, now)
        self._next_grant_version(grant, now)
        if name is not None:
            grant.name = name
        if operations is not None:
            grant.operations = operations
        if reason is not None:
            grant.status_reason = reason
        if options:
            grant.options = dict(options)
        if status is not None and status != current:
            grant.status = status
            grant.disabled_by_grantor = grantor and status == "DISABLED"
        self._grants[grant.arn] = grant
        return self._answer(grant, grant.status)

    @staticmethod
    def _check_transition(grant: Grant, current: str, status: str, grantor: bool) -> None:
        if status not in ("ACTIVE", "DISABLED"):
            raise ERRORS.error(
                "ValidationException",
                f"Status {status} cannot be set by CreateGrantVersion: ACTIVE activates a grant, DISABLED "
                "deactivates it (AcceptGrant, RejectGrant and DeleteGrant do the rest).",
            )
        if current == "PENDING_ACCEPT":
            raise ERRORS.error(
                "ValidationException", f"Grant {grant.arn} is PENDING_ACCEPT: its grantee must accept it first."
            )
        if status == "ACTIVE" and grant.disabled_by_grantor and not grantor:
            raise ERRORS.error(
                "AuthorizationException",
                f"The grantor deactivated grant {grant.arn}: only the grantor can activate it.",
            )

    def _one_active_per_product(self, grant: Grant, lic: License, options: dict[str, str], now: float) -> None:
        """ "You can't activate two licenses for the same product from AWS Marketplace at the same time"."""
        receivers = self._receivers(grant)
        others = [
            g
            for g in self._grants.values()
            if g.arn != grant.arn
            and self._grant_status(g, now) == "ACTIVE"
            and self._receivers(g) & receivers
            and (other := self._licenses.get(g.license_arn)) is not None
            and other.account_id == MARKETPLACE_ACCOUNT
            and other.product_sku == lic.product_sku
        ]
        if not others:
            return
        if options.get("ActivationOverrideBehavior") != "ALL_GRANTS_PERMITTED_BY_ISSUER":
            raise ERRORS.error(
                "ValidationException",
                f"Grant {others[0].arn} for product {lic.product_sku} from AWS Marketplace is already active: "
                "deactivate it first, or activate this one with Options.ActivationOverrideBehavior "
                "ALL_GRANTS_PERMITTED_BY_ISSUER to replace it.",
            )
        for other_grant in others:
            self._next_grant_version(other_grant, now)
            other_grant.status = "DISABLED"
            other_grant.status_reason = f"Replaced by grant {grant.arn}"
            self._grants[other_grant.arn] = other_grant

    # ---- lists -------------------------------------------------------------
    def _grant_filters(self, *names: str) -> GrantFilters:
        licenses = self._licenses

        def of_license(field: Callable[[License], object]) -> Callable[[Grant, float], object]:
            return lambda g, now: field(licenses[g.license_arn])

        every: GrantFilters = {
            "LicenseArn": lambda g, now: g.license_arn,
            "GrantStatus": self._grant_status,
            "GranteePrincipalARN": lambda g, now: g.grantee,
            "GranteePrincipalArn": lambda g, now: g.grantee,
            "ProductSKU": of_license(lambda lic: lic.product_sku),
            "LicenseIssuerName": of_license(lambda lic: lic.issuer["Name"]),
            "GranterAccountId": lambda g, now: g.account_id,
            "ParentArn": lambda g, now: g.parent_arn,
        }
        return {name: every[name] for name in names}

    def _grants_listed(
        self, grants: list[Grant], arns: list[str] | None, filters: list[dict[str, Any]] | None, getters: GrantFilters
    ) -> list[dict[str, Any]]:
        from .licenses import filtered

        now = self.clock.time()
        if arns:
            wanted = set(arns)
            grants = [g for g in grants if g.arn in wanted]
        return [self._describe_grant(g, now) for g in filtered(grants, filters, getters, now)]

    def list_distributed_grants(
        self, account_id: str, grant_arns: list[str] | None = None, filters: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """ListDistributedGrants: the grants this account gave."""
        getters = self._grant_filters(
            "LicenseArn", "GrantStatus", "GranteePrincipalARN", "ProductSKU", "LicenseIssuerName"
        )
        with self._lock:
            mine = [g for g in self._grants.values() if g.account_id == account_id]
            return self._grants_listed(mine, grant_arns, filters, getters)

    def list_received_grants(
        self, account_id: str, grant_arns: list[str] | None = None, filters: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """ListReceivedGrants: the grants to this account, its organization or its organizational unit."""
        getters = self._grant_filters(
            "ProductSKU", "LicenseIssuerName", "LicenseArn", "GrantStatus", "GranterAccountId"
        )
        with self._lock:
            return self._grants_listed(self._received_grants(account_id), grant_arns, filters, getters)

    def list_received_licenses(
        self, account_id: str, license_arns: list[str] | None = None, filters: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """ListReceivedLicenses: the licenses granted to this account, each with how it received it (in every Region:
        License Manager replicates granted licenses)."""
        with self._lock:
            return self._received_licenses({account_id}, license_arns, filters, _RECEIVED_LICENSE_FILTERS)

    def _received_licenses(
        self,
        accounts: set[str],
        license_arns: list[str] | None,
        filters: list[dict[str, Any]] | None,
        getters: dict[str, Callable[[License, float], object]],
    ) -> list[dict[str, Any]]:
        from .licenses import filtered

        now = self.clock.time()
        best: dict[str, Grant] = {}  # license ARN -> the grant the license is shown through
        for grant in self._grants.values():
            if not (self._receivers(grant) & accounts) or (license_arns and grant.license_arn not in license_arns):
                continue
            shown = best.get(grant.license_arn)
            if shown is None or self._rank(grant, now) < self._rank(shown, now):
                best[grant.license_arn] = grant
        licenses = filtered([self._licenses[arn] for arn in best], filters, getters, now)
        out = []
        for lic in licenses:
            grant = best[lic.arn]
            received = self._grant_status(grant, now)
            metadata: dict[str, Any] = {
                "ReceivedStatus": "DELETED" if received == "PENDING_DELETE" else received,
                "AllowedOperations": list(grant.operations),
            }
            if grant.status_reason:
                metadata["ReceivedStatusReason"] = grant.status_reason
            out.append({**lic.describe(now), "ReceivedMetadata": metadata})
        return out

    def _rank(self, grant: Grant, now: float) -> tuple[int, float]:
        return _RECEIVED_ORDER.get(self._grant_status(grant, now), 3), -grant.created

    # ---- for an organization ------------------------------------------------
    def _organization_managed_by(self, account_id: str, operation: str) -> Organization:
        organization = self._organization_of_manager(account_id)
        if organization is None:
            raise ERRORS.error(
                "AuthorizationException",
                f"{operation} is for the management account of an organization; account {account_id} manages none.",
            )
        return organization

    def list_received_grants_for_organization(
        self, account_id: str, license_arn: str, filters: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """ListReceivedGrantsForOrganization: the grants of a license to the accounts of the caller's organization."""
        with self._lock:
            members = set(self._organization_managed_by(account_id, "ListReceivedGrantsForOrganization").accounts)
            grants = [g for g in self._grants.values() if g.license_arn == license_arn and self._receivers(g) & members]
            return self._grants_listed(grants, None, filters, self._grant_filters("ParentArn", "GranteePrincipalArn"))

    def list_received_licenses_for_organization(
        self, account_id: str, filters: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """ListReceivedLicensesForOrganization: the licenses granted to any account of the caller's organization."""
        with self._lock:
            members = set(self._organization_managed_by(account_id, "ListReceivedLicensesForOrganization").accounts)
            getters = {k: _RECEIVED_LICENSE_FILTERS[k] for k in ("Beneficiary", "ProductSKU")}
            return self._received_licenses(members, None, filters, getters)

    # ---- organizations (test-side) ------------------------------------------
    def set_organization(
        self,
        organization_id: str,
        management_account_id: str,
        accounts: list[str],
        units: dict[str, list[str]] | None = None,
    ) -> Organization:
        """Declare an AWS Organizations organization: its management account, its member accounts, and its OUs'.

        Grants to ``arn:aws:organizations::<management>:organization/<id>`` (or ``.../ou/<id>/<ou>``) then reach
        those accounts, and the management account can list them with the ForOrganization operations.
        """
        organization = Organization(
            organization_id,
            management_account_id,
            list(dict.fromkeys([management_account_id, *accounts])),
            {unit: list(members) for unit, members in (units or {}).items()},
        )
        if not re.fullmatch(r"o-[a-z0-9]{10,32}", organization_id):
            raise ValueError(
                f"an organization id is o- and 10 to 32 lower-case letters or digits, not {organization_id!r}"
            )
        with self._lock:
            self._organizations[organization_id] = organization
        return organization

    @property
    def grants(self) -> list[Grant]:
        return list(self._grants.values())


_RECEIVED_LICENSE_FILTERS: dict[str, Callable[[License, float], object]] = {
    "ProductSKU": lambda lic, now: lic.product_sku,
    "Status": lambda lic, now: lic.status_at(now),
    "Fingerprint": lambda lic, now: lic.fingerprint,
    "IssuerName": lambda lic, now: lic.issuer["Name"],
    "Beneficiary": lambda lic, now: lic.beneficiary,
}
