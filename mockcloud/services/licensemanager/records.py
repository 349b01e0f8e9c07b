"""License Manager's records: one dataclass per kind of entity, each with a stable id, referring to others by id.

The model keeps each kind in a dict by id (``LicenseManagerModel._licenses``
and so on) and changes them only under its lock; a snapshot writes every
record in its own form (``state()``) and reads it back (``from_state``), so a
restored mock holds the very same records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ...core.timestamps import utc_iso

DEFAULT_REGION = "us-east-1"

# AWS Marketplace issues the licenses of the products it sells, from its own account
MARKETPLACE_ACCOUNT = "294406891311"
MARKETPLACE_ISSUER = "AWS/Marketplace"

# a grant in one of these can never be used again; the license it names is no longer received through it
ENDED_GRANT_STATUSES = frozenset({"REJECTED", "DELETED", "PENDING_DELETE", "FAILED_WORKFLOW"})

# AllowedOperation names of the operations a grant may allow (the enum spells ExtendLicenseConsumption so)
GRANT_OPERATIONS = (
    "CreateGrant",
    "CheckoutLicense",
    "CheckoutBorrowLicense",
    "CheckInLicense",
    "ExtendConsumptionLicense",
    "ListPurchasedLicenses",
    "CreateToken",
)


def iso(ts: float) -> str:
    """ISO8601DateTime with its ``Z`` (years past 9999 too: an ExpirationInDays of millions reaches them)."""
    return utc_iso(ts)


def moment(text: str) -> float:
    """Epoch seconds of an ISO 8601 time; a time without a zone is UTC (ValueError when it is no time)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    seconds = (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
    if not math.isfinite(seconds):
        raise ValueError(text)
    return seconds


def fingerprint_of(account_id: str, issuer_name: str) -> str:
    """The issuer's key fingerprint, as License Manager shows it (``aws:<account>:<issuer>:issuer-fingerprint``)."""
    return f"aws:{account_id}:{issuer_name}:issuer-fingerprint"


def account_root(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


@dataclass
class License:
    """A license as its current version has it (earlier versions are :class:`LicenseVersion` records)."""

    arn: str
    account_id: str
    name: str
    product_name: str
    product_sku: str
    issuer: dict[str, str]  # Name, KeyFingerprint, and SignKey when one was given
    home_region: str
    validity: dict[str, str]  # Begin, and End when the license ends
    entitlements: list[dict[str, Any]]
    beneficiary: str
    consumption_configuration: dict[str, Any]
    metadata: list[dict[str, str]] = field(default_factory=list)
    created: float = 0.0
    status: str = "AVAILABLE"  # as CreateLicense or CreateLicenseVersion set it
    version: str = "1"
    deletion_date: float | None = None  # DeleteLicense: PENDING_DELETE until then, DELETED from then on

    @property
    def fingerprint(self) -> str:
        return self.issuer["KeyFingerprint"]

    def status_at(self, now: float) -> str:
        """The status a caller sees now: deletion and the end of validity move it on the mock clock."""
        if self.deletion_date is not None:
            return "DELETED" if now >= self.deletion_date else "PENDING_DELETE"
        end = self.validity.get("End")
        if self.status == "AVAILABLE" and end and now >= moment(end):
            return "EXPIRED"
        return self.status

    def usable_at(self, now: float) -> bool:
        """Whether it can be checked out now: AVAILABLE, and within its Validity."""
        return self.status_at(now) == "AVAILABLE" and moment(self.validity["Begin"]) <= now

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "LicenseArn": self.arn,
            "LicenseName": self.name,
            "ProductName": self.product_name,
            "ProductSKU": self.product_sku,
            "Issuer": dict(self.issuer),
            "HomeRegion": self.home_region,
            "Status": self.status_at(now),
            "Validity": dict(self.validity),
            "Beneficiary": self.beneficiary,
            "Entitlements": [dict(e) for e in self.entitlements],
            "ConsumptionConfiguration": self.consumption_configuration,
            "LicenseMetadata": [dict(m) for m in self.metadata],
            "CreateTime": iso(self.created),
            "Version": self.version,
        }

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "license_arn": self.arn,
            "account_id": self.account_id,
            "home_region": self.home_region,
            "license_name": self.name,
            "product_name": self.product_name,
            "product_sku": self.product_sku,
            "issuer": self.issuer["Name"],
            "beneficiary": self.beneficiary,
            "validity": self.validity,
            "entitlements": self.entitlements,
            "consumption_configuration": self.consumption_configuration,
            "license_metadata": self.metadata,
            "created": self.created,
            "status": self.status,
            "version": self.version,
        }
        if "SignKey" in self.issuer:
            state["issuer_sign_key"] = self.issuer["SignKey"]
        if self.deletion_date is not None:
            state["deletion_date"] = self.deletion_date
        return state


@dataclass
class LicenseVersion:
    """An earlier version of a license, as GetLicense described it while it was current."""

    license_arn: str
    version: str
    description: dict[str, Any]

    @property
    def id(self) -> str:
        return version_id(self.license_arn, self.version)

    def state(self) -> dict[str, Any]:
        return {"license_arn": self.license_arn, "version": self.version, "description": self.description}

    @classmethod
    def from_state(cls, item: dict[str, Any]) -> LicenseVersion:
        return cls(item["license_arn"], item["version"], dict(item["description"]))


def version_id(arn: str, version: str) -> str:
    return f"{arn}#{version}"


@dataclass
class Grant:
    """A grant of a license's use to an account, an organization or an organizational unit."""

    arn: str
    account_id: str  # the grantor's
    name: str
    license_arn: str
    parent_arn: str  # the license, or the grant its grantor received the license through
    grantee: str  # GranteePrincipalArn
    home_region: str
    operations: list[str]
    status: str = "PENDING_ACCEPT"
    status_reason: str | None = None
    version: str = "1"
    options: dict[str, str] | None = None
    created: float = 0.0
    disabled_by_grantor: bool = False  # the grantor's deactivation: only the grantor activates it again

    def describe(self, status: str) -> dict[str, Any]:
        """GetGrant's Grant, with the status a caller sees now (the model works it out)."""
        out: dict[str, Any] = {
            "GrantArn": self.arn,
            "GrantName": self.name,
            "ParentArn": self.parent_arn,
            "LicenseArn": self.license_arn,
            "GranteePrincipalArn": self.grantee,
            "HomeRegion": self.home_region,
            "GrantStatus": status,
            "Version": self.version,
            "GrantedOperations": list(self.operations),
        }
        if self.status_reason:
            out["StatusReason"] = self.status_reason
        if self.options:
            out["Options"] = dict(self.options)
        return out

    def state(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in _GRANT_FIELDS}
        return {k: v for k, v in state.items() if v is not None}

    @classmethod
    def from_state(cls, item: dict[str, Any]) -> Grant:
        fields = {name: item[name] for name in _GRANT_FIELDS if name in item}
        fields["operations"] = list(item["operations"])
        return cls(**fields)


_GRANT_FIELDS = tuple(Grant.__dataclass_fields__)


@dataclass
class GrantVersion:
    """An earlier version of a grant, as GetGrant described it while it was current."""

    grant_arn: str
    version: str
    description: dict[str, Any]

    @property
    def id(self) -> str:
        return version_id(self.grant_arn, self.version)

    def state(self) -> dict[str, Any]:
        return {"grant_arn": self.grant_arn, "version": self.version, "description": self.description}

    @classmethod
    def from_state(cls, item: dict[str, Any]) -> GrantVersion:
        return cls(item["grant_arn"], item["version"], dict(item["description"]))


@dataclass
class Organization:
    """An AWS Organizations organization, as far as License Manager sees one: who belongs where.

    mockcloud emulates no Organizations API; tests declare organizations with
    ``cloud.licensemanager.set_organization(...)``.
    """

    organization_id: str  # o-...
    management_account_id: str
    accounts: list[str]  # every member account, the management account too
    units: dict[str, list[str]] = field(default_factory=dict)  # OU id (ou-...) -> its member accounts

    @property
    def arn(self) -> str:
        return f"arn:aws:organizations::{self.management_account_id}:organization/{self.organization_id}"

    def unit_arn(self, unit_id: str) -> str:
        return f"arn:aws:organizations::{self.management_account_id}:ou/{self.organization_id}/{unit_id}"

    def state(self) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "management_account_id": self.management_account_id,
            "accounts": list(self.accounts),
            "units": {k: list(v) for k, v in self.units.items()},
        }

    @classmethod
    def from_state(cls, item: dict[str, Any]) -> Organization:
        units = {k: list(v) for k, v in item.get("units", {}).items()}
        return cls(item["organization_id"], item["management_account_id"], list(item["accounts"]), units)


@dataclass
class ServiceSettings:
    """One account's License Manager settings in one Region (GetServiceSettings, UpdateServiceSettings)."""

    account_id: str
    region: str
    s3_bucket_arn: str | None = None
    sns_topic_arn: str | None = None
    organization_integration: bool = False
    cross_account_discovery: bool = False
    resource_share_arn: str | None = None
    discovery_source_regions: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return settings_id(self.account_id, self.region)

    def state(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in _SETTINGS_FIELDS}
        return {k: v for k, v in state.items() if v is not None}

    @classmethod
    def from_state(cls, item: dict[str, Any]) -> ServiceSettings:
        fields = {name: item[name] for name in _SETTINGS_FIELDS if name in item}
        fields["discovery_source_regions"] = list(item.get("discovery_source_regions", ()))
        return cls(**fields)


_SETTINGS_FIELDS = tuple(ServiceSettings.__dataclass_fields__)


def settings_id(account_id: str, region: str) -> str:
    return f"{account_id}/{region}"
