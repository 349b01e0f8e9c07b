"""Licenses and their versions: CreateLicense, CreateLicenseVersion, GetLicense, ListLicenses,
ListLicenseVersions and DeleteLicense.

A license's record is its current version; CreateLicenseVersion keeps the
version it replaces as a :class:`~.records.LicenseVersion` (GetLicense with
``Version`` and ListLicenseVersions read them). DeleteLicense deletes a
license nobody else holds at once; one with grants still in use is
PENDING_DELETE (and so are those grants) for ``license_deletion_seconds`` on
the mock clock, then DELETED.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypedDict

from ...core.credentials import DEFAULT_ACCOUNT_ID
from ...core.helpers import reads_only
from .account import tags_of
from .base import LicenseManagerBase, added
from .errors import ERRORS
from .records import DEFAULT_REGION, License, LicenseVersion, account_root, fingerprint_of, iso, moment, version_id

# the statuses CreateLicenseVersion may set; the others come from the clock (EXPIRED) or DeleteLicense
VERSION_STATUSES = ("AVAILABLE", "PENDING_AVAILABLE", "DEACTIVATED", "SUSPENDED")


class LicenseFields(TypedDict):
    """What CreateLicense and CreateLicenseVersion set on a license besides its ARN, account, issuer and time."""

    name: str
    product_name: str
    product_sku: str
    home_region: str
    validity: dict[str, str]
    entitlements: list[dict[str, Any]]
    beneficiary: str
    consumption_configuration: dict[str, Any]
    metadata: list[dict[str, str]]


def check_validity(validity: dict[str, Any]) -> None:
    try:
        begin = moment(validity["Begin"])
        end = moment(validity["End"]) if validity.get("End") else None
    except (KeyError, ValueError, TypeError, OverflowError):
        raise ERRORS.error("ValidationException", "Validity must be an ISO 8601 date and time range.") from None
    if end is not None and end <= begin:
        raise ERRORS.error("ValidationException", "Validity End must be later than Begin.")


def check_entitlements(entitlements: list[dict[str, Any]]) -> None:
    names = [e["Name"] for e in entitlements]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ERRORS.error("ValidationException", f"Entitlement names must be unique: {duplicate} appears twice.")
    for e in entitlements:
        if e.get("MaxCount") is not None and e["MaxCount"] < 0:
            raise ERRORS.error("ValidationException", f"Entitlement {e['Name']}: MaxCount must not be negative.")


class LicensesMixin(LicenseManagerBase):
    """The license operations of :class:`~.model.LicenseManagerModel`."""

    def _license_for(self, account_id: str, arn: str) -> License:
        """A license this account may see, or GetLicense's answer for one it may not (the same as for none)."""
        lic = self._licenses.get(arn)
        if lic is None or not self._sees(account_id, lic):
            raise ERRORS.error("InvalidParameterValueException", f"License is not found: {arn}")
        return lic

    def describe_license(self, lic: License) -> dict[str, Any]:
        """The License shape GetLicense answers, with its status now."""
        return lic.describe(self.clock.time())

    # ---- CreateLicense ----------------------------------------------------
    def create_license(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        home_region: str = DEFAULT_REGION,
        license_name: str = "Example license",
        product_name: str = "Example product",
        product_sku: str = "EXAMPLE-SKU",
        issuer: dict[str, str] | None = None,
        validity: dict[str, str] | None = None,
        entitlements: list[dict[str, Any]] | None = None,
        beneficiary: str | None = None,
        consumption_configuration: dict[str, Any] | None = None,
        license_metadata: list[dict[str, str]] | None = None,
        client_token: str | None = None,
        license_arn: str | None = None,
        region: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> License:
        """Create a license (the CreateLicense operation, and a test-side shortcut with defaults).

        ``region`` is the Region the call was made in (RedirectException when it is not ``home_region``).
        """
        if region is not None:
            self._in_home_region(home_region, region, "CreateLicense")
        issuer = dict(issuer or {"Name": "mockcloud"})
        validity = dict(validity or {"Begin": iso(self.clock.time())})
        check_validity(validity)
        entitlements = list(entitlements or [{"Name": "Seats", "Unit": "Count", "MaxCount": 10}])
        check_entitlements(entitlements)
        tagged = tags_of(tags)  # refused before anything is made
        fields: LicenseFields = {
            "name": license_name,
            "product_name": product_name,
            "product_sku": product_sku,
            "home_region": home_region,
            "validity": validity,
            "entitlements": entitlements,
            "beneficiary": beneficiary or account_root(account_id),
            "consumption_configuration": dict(consumption_configuration or {"RenewType": "None"}),
            "metadata": list(license_metadata or []),
        }

        def create() -> License:
            arn = license_arn or f"arn:aws:license-manager::{account_id}:license:l-{self.entropy.uuid4().hex}"
            lic = License(
                arn=arn,
                account_id=account_id,
                issuer=self._issuer_details(account_id, issuer),
                created=self.clock.time(),
                **fields,
            )
            self._licenses[arn] = lic
            added(self._issuer_licenses, lic.fingerprint, arn)
            if tagged:
                self._tags[arn] = tagged
            return lic

        with self._lock:
            if client_token is None:
                return create()
            fingerprint = {**fields, "issuer": issuer, "tags": tags}
            return self._idempotent(("CreateLicense", account_id, client_token), fingerprint, create)

    @staticmethod
    def _issuer_details(account_id: str, issuer: dict[str, str]) -> dict[str, str]:
        details = {"Name": issuer["Name"], "KeyFingerprint": fingerprint_of(account_id, issuer["Name"])}
        if issuer.get("SignKey"):
            details["SignKey"] = issuer["SignKey"]
        return details

    # ---- CreateLicenseVersion ---------------------------------------------
    def create_license_version(
        self,
        *,
        account_id: str,
        region: str,
        license_arn: str,
        license_name: str,
        product_name: str,
        issuer: dict[str, str],
        home_region: str,
        validity: dict[str, str],
        entitlements: list[dict[str, Any]],
        consumption_configuration: dict[str, Any],
        status: str,
        client_token: str,
        license_metadata: list[dict[str, str]] | None = None,
        source_version: str | None = None,
        reset_usage: bool = False,
    ) -> dict[str, str]:
        """CreateLicenseVersion: the license's next version; what checkout allows changes with it."""
        check_validity(validity)
        check_entitlements(entitlements)
        if status not in VERSION_STATUSES:
            raise ERRORS.error(
                "ValidationException",
                f"Status {status} cannot be set by CreateLicenseVersion; use one of {', '.join(VERSION_STATUSES)} "
                "(DeleteLicense deletes a license).",
            )
        params = {
            "arn": license_arn,
            "name": license_name,
            "product": product_name,
            "issuer": issuer,
            "home": home_region,
            "validity": validity,
            "entitlements": entitlements,
            "consumption": consumption_configuration,
            "status": status,
            "metadata": license_metadata,
            "source": source_version,
            "reset": reset_usage,
        }
        with self._lock:
            lic = self._licenses.get(license_arn)
            if lic is None or lic.account_id != account_id:
                raise ERRORS.error("ResourceNotFoundException", f"License is not found: {license_arn}")
            self._in_home_region(lic.home_region, region, "CreateLicenseVersion")

            def create() -> dict[str, str]:
                now = self.clock.time()
                if lic.deletion_date is not None:
                    raise ERRORS.error("ConflictException", f"License {license_arn} is {lic.status_at(now)}.")
                if source_version is not None and source_version != lic.version:
                    raise ERRORS.error(
                        "ConflictException",
                        f"SourceVersion {source_version} is not the current version of the license ({lic.version}).",
                    )
                if home_region != lic.home_region:
                    raise ERRORS.error(
                        "ValidationException", f"HomeRegion cannot change: the license's is {lic.home_region}."
                    )
                earlier = LicenseVersion(lic.arn, lic.version, lic.describe(now))
                self._license_versions[earlier.id] = earlier
                lic.name, lic.product_name = license_name, product_name
                earlier_fingerprint = lic.fingerprint
                lic.issuer = self._issuer_details(lic.account_id, issuer)
                if lic.fingerprint != earlier_fingerprint:
                    self._issuer_licenses[earlier_fingerprint] = [
                        arn for arn in self._issuer_licenses.get(earlier_fingerprint) or () if arn != lic.arn
                    ]
                    added(self._issuer_licenses, lic.fingerprint, lic.arn)
                lic.validity, lic.entitlements = dict(validity), list(entitlements)
                lic.consumption_configuration = dict(consumption_configuration)
                lic.metadata = list(license_metadata or [])
                lic.status, lic.version = status, str(int(lic.version) + 1)
                self._licenses[lic.arn] = lic
                if reset_usage:
                    self._reset_usage(lic.arn)
                return {"LicenseArn": lic.arn, "Version": lic.version, "Status": lic.status}

            return self._idempotent(("CreateLicenseVersion", account_id, client_token), params, create)

    def _reset_usage(self, license_arn: str) -> None:
        """ResetUsage: every checkout of the license ends, and what it consumed for good is given back."""
        if license_arn not in self._usage:
            return  # never checked out
        for c in self._consumptions.values():  # a scan of every checkout: rare, as resets are
            if c.license_arn == license_arn and (not c.checked_in or c.permanent):
                c.checked_in, c.permanent = True, {}
                self._consumptions[c.token] = c
        del self._usage[license_arn]

    # ---- GetLicense, ListLicenses, ListLicenseVersions ---------------------
    def get_license(self, account_id: str, arn: str, version: str | None = None) -> dict[str, Any]:
        """GetLicense's License: the current version, or the one ``version`` names."""
        with self._lock:
            lic = self._license_for(account_id, arn)
            if version is None or version == lic.version:
                return self.describe_license(lic)
            earlier = self._license_versions.get(version_id(arn, version))
            if earlier is None:
                raise ERRORS.error(
                    "InvalidParameterValueException", f"License version {version} is not found for {arn}"
                )
            return dict(earlier.description)

    @reads_only
    def license(self, arn: str, account_id: str = DEFAULT_ACCOUNT_ID) -> License | None:
        """The license of that ARN if the account created it."""
        lic = self._licenses.get(arn)
        return lic if lic is not None and lic.account_id == account_id else None

    _LICENSE_FILTERS: ClassVar[dict[str, Callable[[License, float], object]]] = {
        "Beneficiary": lambda lic, now: lic.beneficiary,
        "ProductSKU": lambda lic, now: lic.product_sku,
        "Fingerprint": lambda lic, now: lic.fingerprint,
        "Status": lambda lic, now: lic.status_at(now),
    }

    def list_licenses(
        self, account_id: str, region: str, arns: list[str] | None, filters: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        """ListLicenses: the licenses the account created whose home Region is the request's."""
        with self._lock:
            now = self.clock.time()
            selected = [
                lic for lic in self._licenses.values() if lic.account_id == account_id and lic.home_region == region
            ]
            if arns:
                wanted = set(arns)
                selected = [lic for lic in selected if lic.arn in wanted]
            return [lic.describe(now) for lic in filtered(selected, filters, self._LICENSE_FILTERS, now)]

    def list_license_versions(self, account_id: str, arn: str) -> list[dict[str, Any]]:
        """ListLicenseVersions: every version, the first first."""
        with self._lock:
            lic = self._license_for(account_id, arn)
            earlier = [self._license_versions.get(version_id(arn, str(n))) for n in range(1, int(lic.version))]
            return [dict(v.description) for v in earlier if v is not None] + [self.describe_license(lic)]

    # ---- DeleteLicense ----------------------------------------------------
    def delete_license(self, *, account_id: str, region: str, license_arn: str, source_version: str) -> dict[str, str]:
        """DeleteLicense: DELETED at once, or PENDING_DELETE while grants of it are in use."""
        with self._lock:
            now = self.clock.time()
            lic = self._licenses.get(license_arn)
            if lic is None or lic.account_id != account_id:
                raise ERRORS.error("InvalidParameterValueException", f"License is not found: {license_arn}")
            self._in_home_region(lic.home_region, region, "DeleteLicense")
            if source_version != lic.version:
                raise ERRORS.error(
                    "ConflictException",
                    f"SourceVersion {source_version} is not the current version of the license ({lic.version}).",
                )
            if lic.deletion_date is not None:
                raise ERRORS.error("ConflictException", f"License {license_arn} is already {lic.status_at(now)}.")
            in_use = any(g.status not in ("REJECTED", "DELETED") for g in self._grants_of(lic.arn))
            lic.deletion_date = now + self.settings["license_deletion_seconds"] if in_use else now
            self._licenses[lic.arn] = lic
            return {"Status": lic.status_at(now), "DeletionDate": iso(lic.deletion_date)}


def filtered(
    items: list[Any],
    filters: list[dict[str, Any]] | None,
    getters: dict[str, Callable[[Any, float], object]],
    now: float,
) -> list[Any]:
    """Items whose every filter's field is one of its values; an unknown filter name is refused, naming those known."""
    for flt in filters or ():
        getter = getters.get(flt.get("Name", ""))  # "": no such filter either
        if getter is None:
            raise ERRORS.error(
                "InvalidParameterValueException",
                f"Unsupported filter name: {flt.get('Name')}. Supported: {', '.join(getters)}",
            )
        values = set(flt.get("Values") or ())
        items = [item for item in items if getter(item, now) in values]
    return items
