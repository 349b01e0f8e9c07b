"""License Manager's records: one dataclass per kind of entity, each with a stable key, referring to others by key.

Each kind is a :class:`~mockcloud.core.entities.Kind` (at the end of this
module): the model reads and writes them through its tables
(``context.table(LICENSE)``), and writes back every record it changes. The
indexes (an issuer's licenses, the grants to a principal, a license's grants)
are kinds of their own, written with the records they index; a license's
usage is a record too, so counting capacity reads one record, not every
checkout. A snapshot writes every record in the fixtures' form (``state()``)
and reads it back (``from_state``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ...core.entities import KEPT_SECONDS, Kind
from ...core.sections import record
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
class Token:
    """A refresh token (CreateToken): the JWT itself is kept, since a retried CreateToken answers it again."""

    token_id: str
    account_id: str
    license_arn: str
    home_region: str
    role_arns: list[str]
    token_properties: list[str]
    created: float
    expires: float
    jwt: str
    deleted: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "TokenId": self.token_id,
            "TokenType": "REFRESH_TOKEN",
            "LicenseArn": self.license_arn,
            "ExpirationTime": iso(self.expires),
            "TokenProperties": list(self.token_properties),
            "RoleArns": list(self.role_arns),
            "Status": "AVAILABLE",
        }

    def state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _TOKEN_FIELDS}

    @classmethod
    def from_state(cls, item: dict[str, Any]) -> Token:
        fields = {name: item[name] for name in _TOKEN_FIELDS}
        fields.update(role_arns=list(item["role_arns"]), token_properties=list(item["token_properties"]))
        return cls(**fields)


_TOKEN_FIELDS = tuple(Token.__dataclass_fields__)

PERPETUAL = "perpetual"  # the usage bucket of checkouts that do not expire


@dataclass(slots=True)
class Consumption:
    """One checkout: what it holds of which license, for whom, until when, and through which grant."""

    token: str
    license_arn: str
    account_id: str
    checkout_type: str  # PROVISIONAL, PERPETUAL or BORROW
    entitlements: list[dict[str, Any]]  # EntitlementsAllowed as answered
    held: dict[str, int]  # entitlement name -> units given back on check-in or expiry
    permanent: dict[str, int]  # entitlement name -> units consumed for good (PERPETUAL, no AllowCheckIn)
    ttl: int  # seconds a checkout lives, and an extension adds from now
    issued: float
    expires: float
    beneficiary: str | None = None
    node_id: str | None = None
    early_check_in: bool = True
    checked_in: bool = False
    metadata: list[dict[str, str]] = field(default_factory=list)  # CheckoutMetadata: [{"Name": ..., "Value": ...}]
    grant_arn: str | None = None  # the grant a grantee checked out through; None for the license's issuer

    def live(self, now: float) -> bool:
        """Whether its token still answers (not checked in; not expired, unless consumed for good)."""
        if self.checked_in:
            return False
        return self.checkout_type == "PERPETUAL" or now < self.expires

    @property
    def bucket(self) -> str:
        """Where its held units are counted in its license's :class:`Usage`: the whole second it expires at."""
        return PERPETUAL if self.checkout_type == "PERPETUAL" else str(math.ceil(self.expires))

    def state(self) -> dict[str, Any]:
        return record(self)

    @classmethod
    def from_state(cls, item: dict[str, Any]) -> Consumption:
        fields: dict[str, Any] = {name: item.get(name) for name in _CONSUMPTION_FIELDS}
        fields.update(
            entitlements=list(item["entitlements"]),
            held=dict(item["held"]),
            permanent=dict(item["permanent"]),
            metadata=list(item.get("metadata", ())),
            early_check_in=item.get("early_check_in", True),
            checked_in=item.get("checked_in", False),
        )
        return cls(**fields)


_CONSUMPTION_FIELDS = tuple(Consumption.__dataclass_fields__)


@dataclass(slots=True)
class Usage:
    """What a license's checkouts take of its entitlements: CheckoutLicense counts capacity from this one record.

    ``permanent`` is what PERPETUAL checkouts consumed for good; ``held`` what
    the others hold, by the grant they came through ("" for the issuer) and the
    whole second they expire at (``PERPETUAL``: never), so that expired
    buckets stop counting on the mock clock and a grant that stops being
    active stops its checkouts counting, as each checkout alone would.
    """

    permanent: dict[str, int] = field(default_factory=dict)
    held: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # grant -> bucket -> name -> units

    def add(self, c: Consumption, sign: int = 1) -> None:
        """Count a checkout's held units in (or, with ``sign`` -1, out of) its bucket."""
        if not c.held:
            return
        buckets = self.held.setdefault(c.grant_arn or "", {})
        units = buckets.setdefault(c.bucket, {})
        for name, count in c.held.items():
            units[name] = units.get(name, 0) + sign * count
            if units[name] <= 0:
                del units[name]
        if not units:
            del buckets[c.bucket]
        if not buckets:
            del self.held[c.grant_arn or ""]

    def drop_expired(self, now: float) -> None:
        """Forget the buckets the clock has passed (they count for nothing any more)."""
        for grant in list(self.held):
            buckets = self.held[grant]
            for bucket in [b for b in buckets if b != PERPETUAL and now >= int(b)]:
                del buckets[bucket]
            if not buckets:
                del self.held[grant]


@dataclass(slots=True)
class IssuerKey:
    """An RSA key and its certificate, as PEM: an issuer's (``kid`` its SignKey, or its fingerprint), or the CA's."""

    kid: str
    account_id: str
    private_key: str
    certificate: str

    def state(self) -> dict[str, Any]:
        return record(self)


@dataclass(slots=True)
class Idempotent:
    """A ClientToken's use: when, with what parameters, and what it made (by key) or answered."""

    at: float
    fingerprint: str
    license_arn: str | None = None
    token_id: str | None = None
    response: Any = None
    window: float = 600.0  # client_token_seconds when it was used: how long a retry answers the same

    def state(self, scope: list[str]) -> dict[str, Any]:
        operation, account_id, client_token = scope
        state: dict[str, Any] = {
            "operation": operation,
            "account_id": account_id,
            "client_token": client_token,
            "at": self.at,
            "fingerprint": self.fingerprint,
        }
        if self.license_arn is not None:
            state["license_arn"] = self.license_arn
        elif self.token_id is not None:
            state["token_id"] = self.token_id
        else:
            state["response"] = self.response
        return state


# ---- the kinds ----------------------------------------------------------------------------------------------
def _of(cls: Callable[..., Any]) -> Callable[[Any], Any]:
    def load(data: Any) -> Any:
        return cls(**data)

    return load


def _keys(data: Any) -> list[str]:
    return [str(key) for key in data]


def _token_dead_at(token: Token) -> float:
    return token.expires + KEPT_SECONDS


def _consumption_dead_at(c: Consumption) -> float | None:
    """Past use a day after it expired; a PERPETUAL checkout not checked in answers for ever."""
    if c.checkout_type == "PERPETUAL" and (not c.checked_in or c.permanent):
        return None  # its token still answers, or what it consumed for good still counts (snapshots rebuild usage)
    return c.expires + KEPT_SECONDS


def _idempotent_dead_at(used: Idempotent) -> float:
    return used.at + used.window + KEPT_SECONDS


# the records, by key: the settings (""), the service's signing key (""), the issuers' certificate authority
# (""), a license (its ARN), an earlier license version ("<ARN>#<version>"), an issuer's licenses (its key
# fingerprint -> ARNs), a license's usage (its ARN), a grant (its ARN), an earlier grant version, the grants
# to a principal (its ARN -> grant ARNs), a license's grants (its ARN -> grant ARNs), a checkout (its
# LicenseConsumptionToken), a refresh token (its TokenId), an issuer key (its kid), a ClientToken's use
# (["<operation>","<account>","<client token>"]), a resource's tags (its ARN), an account's settings in a
# Region ("<account>/<region>") and an organization (its id)
SETTINGS: Kind[dict[str, Any]] = Kind("settings", dict, dict, whole=True)
SIGNING_KEY: Kind[dict[str, str]] = Kind("signing_key", dict, dict, whole=True)
AUTHORITY: Kind[IssuerKey] = Kind("authority", record, _of(IssuerKey))
LICENSE: Kind[License] = Kind("license", record, _of(License))
LICENSE_VERSION: Kind[LicenseVersion] = Kind("license_version", record, _of(LicenseVersion))
ISSUER_LICENSES: Kind[list[str]] = Kind("issuer_licenses", list, _keys)
USAGE: Kind[Usage] = Kind("usage", record, _of(Usage))
GRANT: Kind[Grant] = Kind("grant", record, _of(Grant))
GRANT_VERSION: Kind[GrantVersion] = Kind("grant_version", record, _of(GrantVersion))
GRANTS_TO: Kind[list[str]] = Kind("grants_to", list, _keys)
LICENSE_GRANTS: Kind[list[str]] = Kind("license_grants", list, _keys)
CHECKOUT: Kind[Consumption] = Kind("checkout", record, _of(Consumption), _consumption_dead_at)
TOKEN: Kind[Token] = Kind("token", record, _of(Token), _token_dead_at)
ISSUER_KEY: Kind[IssuerKey] = Kind("issuer_key", record, _of(IssuerKey))
CLIENT_TOKEN: Kind[Idempotent] = Kind("client_token", record, _of(Idempotent), _idempotent_dead_at)
TAGS: Kind[dict[str, str]] = Kind("tags", dict, dict)
SERVICE_SETTINGS: Kind[ServiceSettings] = Kind("service_settings", record, _of(ServiceSettings))
ORGANIZATION: Kind[Organization] = Kind("organization", record, _of(Organization), whole=True)
