"""AWS Marketplace as an issuer: what a subscription leaves in License Manager.

A Marketplace product checks its buyer's entitlement with CheckoutLicense
from the buyer's account, with the key fingerprint
``aws:294406891311:AWS/Marketplace:issuer-fingerprint`` and its product id as
``ProductSKU`` (the Marketplace seller guide, "Contract pricing ... with AWS
License Manager"). The license belongs to Marketplace's account, and the
buyer holds it through a grant: "Licenses for subscriptions that you purchase
are automatically accepted and activated" (the user guide, "Manage your
granted licenses"), unless the buyer already has an active license for the
product, which must be deactivated or replaced first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .licenses import LicensesMixin
from .records import (
    DEFAULT_REGION,
    MARKETPLACE_ACCOUNT,
    MARKETPLACE_ISSUER,
    Grant,
    account_root,
    fingerprint_of,
    iso,
)

MARKETPLACE_FINGERPRINT = fingerprint_of(MARKETPLACE_ACCOUNT, MARKETPLACE_ISSUER)
BUYER_OPERATIONS = (
    "CheckoutLicense",
    "CheckoutBorrowLicense",
    "CheckInLicense",
    "ExtendConsumptionLicense",
    "ListPurchasedLicenses",
    "CreateGrant",  # a buyer distributes its subscription to the accounts of its organization
)


@dataclass
class Subscription:
    """What :meth:`MarketplaceMixin.subscribe` made: the license, the buyer's grant, and how to check it out."""

    license_arn: str
    grant_arn: str
    buyer_account_id: str
    product_sku: str
    key_fingerprint: str
    grant_status: str  # ACTIVE, or DISABLED when another license for the product was active


class MarketplaceMixin(LicensesMixin):
    """``cloud.licensemanager.subscribe``, on :class:`~.model.LicenseManagerModel`."""

    def subscribe(
        self,
        buyer_account: str,
        product_sku: str,
        entitlements: list[dict[str, Any]] | None = None,
        *,
        product_name: str | None = None,
        license_name: str | None = None,
        duration_days: int | None = 365,
        home_region: str = DEFAULT_REGION,
        consumption_configuration: dict[str, Any] | None = None,
        allowed_operations: list[str] | None = None,
        license_metadata: list[dict[str, str]] | None = None,
    ) -> Subscription:
        """A buyer's AWS Marketplace subscription to a product: a license issued by ``AWS/Marketplace`` (account
        294406891311) and a grant of it to ``buyer_account``, accepted and activated as a purchase leaves it.

        ``entitlements`` are License Manager entitlements (default: one ``Count`` dimension of 1 unit that may be
        checked in); ``duration_days`` the contract's length (None: no end).
        """
        now = self.clock.time()
        validity = {"Begin": iso(now)}
        if duration_days is not None:
            validity["End"] = iso(now + duration_days * 86400)
        with self._lock:
            lic = self.create_license(
                account_id=MARKETPLACE_ACCOUNT,
                home_region=home_region,
                license_name=license_name or f"{product_name or product_sku} subscription",
                product_name=product_name or product_sku,
                product_sku=product_sku,
                issuer={"Name": MARKETPLACE_ISSUER},
                validity=validity,
                entitlements=entitlements
                or [{"Name": "Users", "Unit": "Count", "MaxCount": 1, "Overage": False, "AllowCheckIn": True}],
                beneficiary=account_root(buyer_account),
                consumption_configuration=consumption_configuration
                or {"RenewType": "None", "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 60}},
                license_metadata=license_metadata,
            )
            grant = Grant(
                arn=f"arn:aws:license-manager::{MARKETPLACE_ACCOUNT}:grant:g-{self.entropy.uuid4().hex}",
                account_id=MARKETPLACE_ACCOUNT,
                name=f"{lic.product_name} for {buyer_account}",
                license_arn=lic.arn,
                parent_arn=lic.arn,
                grantee=account_root(buyer_account),
                home_region=home_region,
                operations=list(allowed_operations or BUYER_OPERATIONS),
                status="ACTIVE",
                created=now,
            )
            if self._active_for_product(buyer_account, product_sku, now):
                grant.status = "DISABLED"  # "You can't activate two licenses for the same product ... at the same time"
            self._put_new_grant(grant)
        return Subscription(lic.arn, grant.arn, buyer_account, product_sku, MARKETPLACE_FINGERPRINT, grant.status)

    def _active_for_product(self, account_id: str, product_sku: str, now: float) -> bool:
        for grant in self._received_grants(account_id):
            lic = self._licenses[grant.license_arn]
            if (
                lic.account_id == MARKETPLACE_ACCOUNT
                and lic.product_sku == product_sku
                and self._grant_status(grant, now) == "ACTIVE"
            ):
                return True
        return False
