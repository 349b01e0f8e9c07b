"""License consumption: CheckoutLicense, ExtendLicenseConsumption, CheckInLicense, GetLicenseUsage and
CheckoutBorrowLicense, by the license's issuer and by the accounts it was granted to.

CheckoutLicense finds the license by ``KeyFingerprint`` and ``ProductSKU``.
With a ``Beneficiary`` it looks at the licenses the caller's account created
(a SaaS ISV checking out for its customer: "License Manager limits the call
to the repository of licenses created in the SaaS ISV account"); without
one, at the licenses granted to it (a buyer's product checking its own
entitlement), and the account that created a license must name a
beneficiary. A grantee uses a license only through an ACTIVE grant, for the
operations it allows.

Capacity is counted per license across every consumer: a checkout takes
units of an entitlement's ``MaxCount`` (``NoEntitlementsAllowedException``
when they would run out, unless the entitlement allows ``Overage``), a
check-in gives them back, and a provisional or borrowed checkout gives them
back by itself when it expires on the mock clock (its license's
``MaxTimeToLiveInMinutes``, 60 by default) unless it was extended, or when
its license is deleted or the grant it was made through stops being active.
Nothing runs in the background: all of it is read from the clock and the
records when capacity is counted, so moving the clock is all it takes.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from ...core.errors import MockCloudError, ServiceError
from .errors import ERRORS
from .issuers import IssuerKeysMixin
from .records import ENDED_GRANT_STATUSES, Consumption, Grant, License, Usage, iso

DEFAULT_TTL_MINUTES = 60  # "the entitlement is checked back into the pool automatically after 60 minutes"


def payload_time(ts: float) -> str:
    """The times inside a SignedToken's payload, as the user guide's example shows them: without a zone."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def expiry(now: float, ttl: int) -> float:
    """When a checkout made or extended at ``now`` ends: its time to live on, to the whole second its Expiration
    shows (so its license's usage counts it by the second)."""
    return float(math.ceil(now + ttl))


class ConsumptionMixin(IssuerKeysMixin):
    """License consumption on :class:`~.model.LicenseManagerModel`."""

    # ---- counting ----------------------------------------------------------------------
    def _in_force(self, c: Consumption, now: float) -> bool:
        """Whether a checkout still stands: live, its license not deleted, its grant (if any) still active."""
        if not c.live(now):
            return False
        lic = self._licenses.get(c.license_arn)
        if lic is None or lic.deletion_date is not None:
            return False
        grant = self._grants.get(c.grant_arn) if c.grant_arn else None
        return c.grant_arn is None or (grant is not None and self._grant_active(grant, now))

    def _consumed(self, lic: License, now: float) -> dict[str, int]:
        """What the license's checkouts take now: for good, and held by those in force (from its usage record)."""
        usage = self._usage.get(lic.arn)
        if usage is None:
            return {}
        used = dict(usage.permanent)
        if lic.deletion_date is not None:
            return used
        for grant_arn, buckets in usage.held.items():
            if grant_arn:
                grant = self._grants.get(grant_arn)
                if grant is None or not self._grant_active(grant, now):
                    continue
            for bucket, units in buckets.items():
                if bucket.isdigit() and now >= int(bucket):
                    continue  # expired
                for name, count in units.items():
                    used[name] = used.get(name, 0) + count
        return used

    def _count(self, c: Consumption, now: float, sign: int = 1, *, new: bool = False) -> None:
        """Count a checkout's held units in (or out of) its license's usage, and a ``new`` one's permanent units,
        written back; expired buckets go on the way."""
        usage = self._usage.get(c.license_arn) or Usage()
        usage.drop_expired(now)
        if new:
            for name, units in c.permanent.items():
                usage.permanent[name] = usage.permanent.get(name, 0) + units
        usage.add(c, sign)
        self._usage[c.license_arn] = usage

    def _take(
        self, lic: License, requested: list[dict[str, Any]], now: float, *, perpetual: bool, borrow: bool
    ) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, int]]:
        """The entitlements allowed and the units they take (held, permanent), or the error AWS answers."""
        by_name = {e["Name"]: e for e in lic.entitlements}
        used = self._consumed(lic, now)
        allowed: list[dict[str, Any]] = []
        held: dict[str, int] = {}
        permanent: dict[str, int] = {}
        for want in requested:
            entitlement = by_name.get(want["Name"])
            if entitlement is None or entitlement.get("Unit") != want.get("Unit"):
                raise ERRORS.error("NoEntitlementsAllowedException")
            if borrow and not entitlement.get("AllowCheckIn"):
                raise ERRORS.error(
                    "EntitlementNotAllowedException",
                    f"Entitlement {want['Name']} does not allow check-in, so it cannot be borrowed.",
                )
            value = want.get("Value")
            if entitlement.get("MaxCount") is not None:
                try:
                    units = int(value) if value not in (None, "") else 1
                except ValueError:
                    raise ERRORS.error(
                        "InvalidParameterValueException",
                        f"Entitlement {want['Name']} counts units: Value must be a whole number, not {value!r}.",
                    ) from None
                if units < 0:
                    raise ERRORS.error(
                        "InvalidParameterValueException", f"Entitlement {want['Name']}: Value must not be negative."
                    )
                if used.get(want["Name"], 0) + units > entitlement["MaxCount"] and not entitlement.get("Overage"):
                    raise ERRORS.error("NoEntitlementsAllowedException")
                target = permanent if perpetual and not entitlement.get("AllowCheckIn") else held
                target[want["Name"]] = target.get(want["Name"], 0) + units
                used[want["Name"]] = used.get(want["Name"], 0) + units
                value = str(units)
            elif value is None:
                value = entitlement.get("Value")
            allowed.append(
                {k: v for k, v in (("Name", want["Name"]), ("Unit", want["Unit"]), ("Value", value)) if v is not None}
            )
        return allowed, held, permanent

    def _signed_token(self, c: Consumption, lic: License, extra: dict[str, Any], *, borrow: bool) -> str:
        """The license's issuer signs the checkout: the user guide's payload, and what identifies the license."""
        payload = {
            "entitlementsAllowed": [{k.lower(): v for k, v in e.items()} for e in c.entitlements],
            "expiration": payload_time(c.expires),
            "issuedAt": payload_time(c.issued),
            "licenseArn": c.license_arn,
            "licenseConsumptionToken": c.token,
            **({"nodeId": c.node_id} if c.node_id else {}),
            **extra,
            "issuer": dict(lic.issuer),
            "productName": lic.product_name,
            "productSKU": lic.product_sku,
            "licenseVersion": lic.version,
            "validity": dict(lic.validity),
            "entitlements": [dict(e) for e in lic.entitlements],
            "licenseMetadata": [dict(m) for m in lic.metadata],
        }
        return self._issuer_sign(lic, payload, borrow=borrow)

    def _new_consumption_token(self) -> str:
        return self.entropy.token_hex(16)

    # ---- CheckoutLicense --------------------------------------------------------------------
    def checkout_license(
        self,
        *,
        account_id: str,
        product_sku: str,
        checkout_type: str,
        key_fingerprint: str,
        entitlements: list[dict[str, Any]],
        client_token: str,
        beneficiary: str | None = None,
        node_id: str | None = None,
        region: str | None = None,
    ) -> dict[str, Any]:
        """CheckoutLicense: take entitlements of the newest license of that issuer and SKU (the response's fields)."""
        params = {
            "sku": product_sku,
            "type": checkout_type,
            "fp": key_fingerprint,
            "ent": entitlements,
            "b": beneficiary,
            "n": node_id,
        }
        with self._lock:
            return self._idempotent(
                ("CheckoutLicense", account_id, client_token),
                params,
                lambda: self._checkout(
                    account_id, region, product_sku, checkout_type, key_fingerprint, entitlements, beneficiary, node_id
                ),
            )

    def _checkout_candidates(
        self, account_id: str, key_fingerprint: str, beneficiary: str | None, now: float
    ) -> list[License]:
        """The licenses of that issuer a checkout may look at: created by the caller with a Beneficiary, else
        received (through a grant not rejected or deleted); DELETED licenses are gone."""
        of_issuer = [
            lic
            for arn in self._issuer_licenses.get(key_fingerprint) or ()
            if (lic := self._licenses.get(arn)) is not None
            and lic.fingerprint == key_fingerprint
            and lic.status_at(now) != "DELETED"
        ]
        if beneficiary:
            found = [lic for lic in of_issuer if lic.account_id == account_id]
            if not found:
                raise ERRORS.error(
                    "ResourceNotFoundException",
                    f"No license found for key fingerprint {key_fingerprint}: with a Beneficiary, CheckoutLicense "
                    "looks only at the licenses this account created.",
                )
            return found
        received = {
            g.license_arn
            for g in self._received_grants(account_id)
            if self._grant_status(g, now) not in ENDED_GRANT_STATUSES
        }
        found = [lic for lic in of_issuer if lic.arn in received]
        if not found:
            if any(lic.account_id == account_id for lic in of_issuer):
                raise ERRORS.error(
                    "ValidationException",
                    "The account that created the license is performing the check out: "
                    "specify the account as the beneficiary.",
                )
            raise ERRORS.error("ResourceNotFoundException", f"No license found for key fingerprint {key_fingerprint}.")
        return found

    def _checkout(
        self,
        account_id: str,
        region: str | None,
        product_sku: str,
        checkout_type: str,
        key_fingerprint: str,
        entitlements: list[dict[str, Any]],
        beneficiary: str | None,
        node_id: str | None,
    ) -> dict[str, Any]:
        now = self.clock.time()
        candidates = self._checkout_candidates(account_id, key_fingerprint, beneficiary, now)
        for_sku = [lic for lic in candidates if lic.product_sku == product_sku]
        if not for_sku:
            raise ERRORS.error(
                "InvalidParameterValueException",
                f"No license of issuer {key_fingerprint} is for product SKU {product_sku}.",
            )
        if beneficiary:  # the license made for that beneficiary, if there is one
            for_sku = [lic for lic in for_sku if lic.beneficiary == beneficiary] or for_sku
        usable: list[tuple[License, Grant | None]] = []
        refusal: ServiceError | None = None
        for lic in sorted(for_sku, key=lambda candidate: candidate.created, reverse=True):  # the newest first
            try:
                use = self._use(account_id, lic, "CheckoutLicense", now)
            except ServiceError as error:  # a grant not active, or not for checkouts: said when nothing else serves
                refusal = refusal or error
                continue
            if lic.usable_at(now):
                usable.append((lic, use))
        if not usable:
            if refusal is not None:
                raise refusal
            raise ERRORS.error("NoEntitlementsAllowedException")
        lic, grant = usable[0]  # the newest, as AWS checks out (aws/aws-sdk#506)
        if grant is None and region is not None:
            self._in_home_region(lic.home_region, region, "CheckoutLicense")
        allowed, held, permanent = self._take(
            lic, entitlements, now, perpetual=checkout_type == "PERPETUAL", borrow=False
        )
        provisional = (lic.consumption_configuration or {}).get("ProvisionalConfiguration") or {}
        ttl = 60 * int(provisional.get("MaxTimeToLiveInMinutes") or DEFAULT_TTL_MINUTES)
        consumption = Consumption(
            self._new_consumption_token(),
            lic.arn,
            account_id,
            checkout_type,
            allowed,
            held,
            permanent,
            ttl,
            now,
            expiry(now, ttl),
            beneficiary,
            node_id,
            grant_arn=grant.arn if grant is not None else None,
        )
        extra = {
            "checkoutType": checkout_type,
            "keyFingerprint": key_fingerprint,
            **({"beneficiary": beneficiary} if beneficiary else {}),
        }
        signed = self._signed_token(consumption, lic, extra, borrow=False)
        self._consumptions[consumption.token] = consumption  # kept once nothing can fail
        self._count(consumption, now, new=True)
        out: dict[str, Any] = {
            "CheckoutType": checkout_type,
            "LicenseConsumptionToken": consumption.token,
            "EntitlementsAllowed": allowed,
            "SignedToken": signed,
            "IssuedAt": iso(now),
            "Expiration": iso(consumption.expires),
            "LicenseArn": lic.arn,
        }
        if node_id:
            out["NodeId"] = node_id
        return out

    # ---- CheckoutBorrowLicense ---------------------------------------------------------------
    def checkout_borrow_license(
        self,
        *,
        account_id: str,
        license_arn: str,
        entitlements: list[dict[str, Any]],
        client_token: str,
        node_id: str | None = None,
        checkout_metadata: list[dict[str, str]] | None = None,
        region: str | None = None,
    ) -> dict[str, Any]:
        """CheckoutBorrowLicense: entitlements of a license with a BorrowConfiguration for offline use, signed PS384."""
        params = {"arn": license_arn, "ent": entitlements, "n": node_id, "m": checkout_metadata}
        with self._lock:
            return self._idempotent(
                ("CheckoutBorrowLicense", account_id, client_token),
                params,
                lambda: self._borrow(
                    account_id, region, license_arn, entitlements, node_id, list(checkout_metadata or [])
                ),
            )

    def _borrow(
        self,
        account_id: str,
        region: str | None,
        license_arn: str,
        entitlements: list[dict[str, Any]],
        node_id: str | None,
        metadata: list[dict[str, str]],
    ) -> dict[str, Any]:
        now = self.clock.time()
        lic = self._licenses.get(license_arn)
        if lic is None or not self._sees(account_id, lic) or lic.status_at(now) == "DELETED":
            raise ERRORS.error("ResourceNotFoundException", f"License is not found: {license_arn}")
        grant = self._use(account_id, lic, "CheckoutBorrowLicense", now)
        if grant is None and region is not None:
            self._in_home_region(lic.home_region, region, "CheckoutBorrowLicense")
        borrow = (lic.consumption_configuration or {}).get("BorrowConfiguration")
        if not borrow or not lic.usable_at(now):
            raise ERRORS.error("NoEntitlementsAllowedException")
        allowed, held, _ = self._take(lic, entitlements, now, perpetual=False, borrow=True)
        ttl = 60 * int(borrow["MaxTimeToLiveInMinutes"])
        consumption = Consumption(
            self._new_consumption_token(),
            lic.arn,
            account_id,
            "BORROW",
            allowed,
            held,
            {},
            ttl,
            now,
            expiry(now, ttl),
            None,
            node_id,
            bool(borrow.get("AllowEarlyCheckIn")),
            metadata=metadata,
            grant_arn=grant.arn if grant is not None else None,
        )
        extra = {"checkoutMetadata": {m.get("Name", ""): m.get("Value", "") for m in metadata}} if metadata else {}
        signed = self._signed_token(consumption, lic, extra, borrow=True)
        self._consumptions[consumption.token] = consumption  # kept once nothing can fail
        self._count(consumption, now, new=True)
        out: dict[str, Any] = {
            "LicenseArn": lic.arn,
            "LicenseConsumptionToken": consumption.token,
            "EntitlementsAllowed": allowed,
            "SignedToken": signed,
            "IssuedAt": iso(now),
            "Expiration": iso(consumption.expires),
        }
        if node_id:
            out["NodeId"] = node_id
        if metadata:
            out["CheckoutMetadata"] = metadata
        return out

    # ---- ExtendLicenseConsumption, CheckInLicense ---------------------------------------------
    def _consumption(self, account_id: str, token: str, operation: str) -> Consumption:
        """The caller's checkout of that token, still in force, through a grant that allows ``operation``."""
        c = self._consumptions.get(token)
        now = self.clock.time()  # after the checkout it is compared with
        if c is not None and not hmac.compare_digest(c.token.encode(), token.encode()):
            c = None
        if c is None or c.account_id != account_id or not self._in_force(c, now):
            raise ERRORS.error(
                "ResourceNotFoundException", "License consumption token not found, checked in, or expired."
            )
        grant = self._grants.get(c.grant_arn) if c.grant_arn else None
        if grant is not None and operation not in grant.operations:
            raise ERRORS.error(
                "AuthorizationException",
                f"The grant of license {c.license_arn} to this account does not allow {operation}.",
            )
        return c

    def extend_license_consumption(self, *, account_id: str, token: str, dry_run: bool = False) -> dict[str, str]:
        """ExtendLicenseConsumption: the checkout lives its time to live again, from now."""
        with self._lock:
            c = self._consumption(account_id, token, "ExtendConsumptionLicense")
            if not dry_run:
                now = self.clock.time()
                self._count(c, now, -1)
                c.expires = expiry(now, c.ttl)
                self._consumptions[c.token] = c
                self._count(c, now)
            return {"LicenseConsumptionToken": c.token, "Expiration": iso(c.expires)}

    def check_in_license(self, *, account_id: str, token: str, beneficiary: str | None = None) -> None:
        """CheckInLicense: the units the checkout held go back to the pool."""
        with self._lock:
            c = self._consumption(account_id, token, "CheckInLicense")
            if beneficiary is not None and c.beneficiary is not None and beneficiary != c.beneficiary:
                raise ERRORS.error(
                    "InvalidParameterValueException", "The beneficiary does not match the checkout's beneficiary."
                )
            if c.checkout_type == "BORROW" and not c.early_check_in:
                raise ERRORS.error(
                    "ConflictException", "The license's BorrowConfiguration does not allow early check-in."
                )
            self._count(c, self.clock.time(), -1)
            c.checked_in = True
            self._consumptions[c.token] = c

    # ---- GetLicenseUsage ------------------------------------------------------------------------
    def get_license_usage(self, *, account_id: str, license_arn: str) -> dict[str, list[dict[str, str]]]:
        """GetLicenseUsage: what every consumer holds of each entitlement now (its issuer, or a grantee whose
        grant is active)."""
        with self._lock:
            now = self.clock.time()
            lic = self._licenses.get(license_arn)
            if lic is None or not self._sees(account_id, lic):
                raise ERRORS.error("InvalidParameterValueException", f"License is not found: {license_arn}")
            if lic.account_id != account_id and not any(
                self._grant_active(g, now) for g in self._received_grants(account_id, lic.arn)
            ):
                raise ERRORS.error(
                    "AuthorizationException", f"The grant of license {license_arn} to this account is not active."
                )
            used = self._consumed(lic, now)
            usages = []
            for e in lic.entitlements:
                usage = {"Name": e["Name"], "ConsumedValue": str(used.get(e["Name"], 0)), "Unit": e["Unit"]}
                if e.get("MaxCount") is not None:
                    usage["MaxCount"] = str(e["MaxCount"])
                usages.append(usage)
            return {"EntitlementUsages": usages}

    # ---- snapshots ------------------------------------------------------------------------
    def _consumptions_state(self) -> list[dict[str, Any]]:
        """Every checkout not yet past use, checked in or expired too: they still count (PERPETUAL units) or still
        refuse."""
        return [c.state() for c in self._consumptions.values()]

    def _load_consumptions(self, items: Iterable[dict[str, Any]]) -> None:
        """A snapshot's checkouts, and each license's usage counted again from them."""
        for item in items:
            if item["license_arn"] not in self._licenses:
                raise MockCloudError(f"licensemanager: a checkout of an unknown license {item['license_arn']}")
            if item["token"] in self._consumptions:
                raise MockCloudError("licensemanager: a license consumption token appears twice")
            if item.get("grant_arn") and item["grant_arn"] not in self._grants:
                raise MockCloudError(f"licensemanager: a checkout through an unknown grant {item['grant_arn']}")
            c = Consumption.from_state(item)
            self._consumptions[c.token] = c
            usage = self._usage.get(c.license_arn) or Usage()
            for name, units in c.permanent.items():
                usage.permanent[name] = usage.permanent.get(name, 0) + units
            if not c.checked_in:
                usage.add(c)
            self._usage[c.license_arn] = usage

    # ---- for tests -------------------------------------------------------------------------
    @property
    def consumptions(self) -> list[Consumption]:
        return list(self._consumptions.values())
