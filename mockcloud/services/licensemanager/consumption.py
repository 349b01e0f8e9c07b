"""License consumption: CheckoutLicense, ExtendLicenseConsumption, CheckInLicense, GetLicenseUsage and
CheckoutBorrowLicense.

Capacity is counted per license across every consumer: a checkout takes
units of an entitlement's ``MaxCount`` (``NoEntitlementsAllowedException``
when they would run out, unless the entitlement allows ``Overage``), a
check-in gives them back, and a provisional or borrowed checkout gives them
back by itself when it expires on the mock clock (its license's
``MaxTimeToLiveInMinutes``, 60 by default) unless it was extended. Nothing
runs in the background: expiry is read from the clock when capacity is
counted, so moving the clock is all it takes.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from ...core.errors import MockCloudError
from .errors import ERRORS

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from ...core.clock import Clock
    from ...core.entropy import Entropy
    from .model import License

R = TypeVar("R")

DEFAULT_TTL_MINUTES = 60  # "the entitlement is checked back into the pool automatically after 60 minutes"


def lm_time(ts: float) -> str:
    """License Manager's consumption time stamps: ISO 8601 without a zone, as its signed tokens show them."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Consumption:
    """One checkout: what it holds of which license, for whom, until when."""

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

    def live(self, now: float) -> bool:
        """Whether its token still answers (not checked in; not expired, unless consumed for good)."""
        if self.checked_in:
            return False
        return self.checkout_type == "PERPETUAL" or now < self.expires

    def holding(self, now: float) -> dict[str, int]:
        return self.held if self.live(now) else {}


_CONSUMPTION_FIELDS = tuple(Consumption.__dataclass_fields__)


class ConsumptionMixin:
    """License consumption on :class:`~.model.LicenseManagerModel` (its licenses, lock, clock, keys)."""

    _lock: threading.RLock

    if TYPE_CHECKING:  # what the model brings
        clock: Clock
        entropy: Entropy
        _licenses: dict[str, License]

        @property
        def key_id(self) -> str: ...

        def license(self, arn: str, account_id: str = ...) -> License | None: ...

        def _sign(self, claims: dict[str, Any]) -> str: ...

        def _idempotent(self, scope: tuple[str, ...], fingerprint: dict[str, Any], create: Callable[[], R]) -> R: ...

    def _consumptions_init(self) -> None:
        self._consumptions: dict[str, Consumption] = {}
        self._borrow_key: RSAPrivateKey | None = None

    # ---- counting ----------------------------------------------------------------------
    def _consumed(self, license_arn: str, now: float) -> dict[str, int]:
        used: dict[str, int] = {}
        for c in self._consumptions.values():
            if c.license_arn != license_arn:
                continue
            for source in (c.holding(now), c.permanent):
                for name, units in source.items():
                    used[name] = used.get(name, 0) + units
        return used

    def _active(self, lic: License, now: float) -> bool:
        if lic.status != "AVAILABLE":
            return False
        begin = datetime.fromisoformat(lic.validity["Begin"].replace("Z", "+00:00")).timestamp()
        end = lic.validity.get("End")
        return begin <= now and (not end or now < datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp())

    def _take(
        self, lic: License, requested: list[dict[str, Any]], now: float, *, perpetual: bool, borrow: bool
    ) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, int]]:
        """The entitlements allowed and the units they take (held, permanent), or the error AWS answers."""
        by_name = {e["Name"]: e for e in lic.entitlements}
        used = self._consumed(lic.arn, now)
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
        payload = {
            "entitlementsAllowed": [{k.lower(): v for k, v in e.items()} for e in c.entitlements],
            "expiration": lm_time(c.expires),
            "issuedAt": lm_time(c.issued),
            "licenseArn": c.license_arn,
            "licenseConsumptionToken": c.token,
            **({"nodeId": c.node_id} if c.node_id else {}),
            **extra,
        }
        if not borrow:
            return self._sign(payload)
        import jwt

        key = self._borrow_signing_key()
        return jwt.encode(payload, key, algorithm="PS384", headers={"kid": self._borrow_kid()})

    def _borrow_signing_key(self) -> RSAPrivateKey:
        """The RSA key of the JWT_PS384 signatures CheckoutBorrowLicense returns (made on first use)."""
        if self._borrow_key is None:
            with self._lock:
                if self._borrow_key is None:
                    self._borrow_key = self.entropy.rsa_private_key(2048)
        return self._borrow_key

    def _borrow_kid(self) -> str:
        return f"{self.key_id}-borrow"

    def _borrow_jwk(self) -> dict[str, Any] | None:
        if self._borrow_key is None:
            return None
        from jwt.algorithms import RSAAlgorithm

        jwk = RSAAlgorithm.to_jwk(self._borrow_key.public_key(), as_dict=True)
        jwk.update({"kid": self._borrow_kid(), "alg": "PS384", "use": "sig"})
        return jwk

    # ---- operations ----------------------------------------------------------------------
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
                    account_id, product_sku, checkout_type, key_fingerprint, entitlements, beneficiary, node_id
                ),
            )

    def _checkout(
        self,
        account_id: str,
        product_sku: str,
        checkout_type: str,
        key_fingerprint: str,
        entitlements: list[dict[str, Any]],
        beneficiary: str | None,
        node_id: str | None,
    ) -> dict[str, Any]:
        now = self.clock.time()
        of_issuer = [
            lic
            for lic in self._licenses.values()
            if lic.account_id == account_id and lic.issuer.get("KeyFingerprint") == key_fingerprint
        ]
        if not of_issuer:
            raise ERRORS.error("ResourceNotFoundException", f"No license found for key fingerprint {key_fingerprint}.")
        for_sku = [lic for lic in of_issuer if lic.product_sku == product_sku]
        if not for_sku:
            raise ERRORS.error(
                "InvalidParameterValueException",
                f"No license of issuer {key_fingerprint} is for product SKU {product_sku}.",
            )
        usable = [lic for lic in for_sku if self._active(lic, now)]
        if not usable:
            raise ERRORS.error("NoEntitlementsAllowedException")
        lic = max(usable, key=lambda candidate: candidate.created)  # the newest, as AWS checks out (aws/aws-sdk#506)
        if not beneficiary:
            raise ERRORS.error(
                "ValidationException",
                "The account that created the license is performing the check out: "
                "specify the account as the beneficiary.",
            )
        allowed, held, permanent = self._take(
            lic, entitlements, now, perpetual=checkout_type == "PERPETUAL", borrow=False
        )
        provisional = (lic.consumption_configuration or {}).get("ProvisionalConfiguration") or {}
        ttl = 60 * int(provisional.get("MaxTimeToLiveInMinutes") or DEFAULT_TTL_MINUTES)
        consumption = Consumption(
            self.entropy.token_hex(16),
            lic.arn,
            account_id,
            checkout_type,
            allowed,
            held,
            permanent,
            ttl,
            now,
            now + ttl,
            beneficiary,
            node_id,
        )
        self._consumptions[consumption.token] = consumption
        signed = self._signed_token(
            consumption,
            lic,
            {
                "checkoutType": checkout_type,
                "keyFingerprint": key_fingerprint,
                "productSKU": product_sku,
                "beneficiary": beneficiary,
            },
            borrow=False,
        )
        out: dict[str, Any] = {
            "CheckoutType": checkout_type,
            "LicenseConsumptionToken": consumption.token,
            "EntitlementsAllowed": allowed,
            "SignedToken": signed,
            "IssuedAt": lm_time(now),
            "Expiration": lm_time(consumption.expires),
            "LicenseArn": lic.arn,
        }
        if node_id:
            out["NodeId"] = node_id
        return out

    def checkout_borrow_license(
        self,
        *,
        account_id: str,
        license_arn: str,
        entitlements: list[dict[str, Any]],
        client_token: str,
        node_id: str | None = None,
        checkout_metadata: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """CheckoutBorrowLicense: entitlements of a license with a BorrowConfiguration for offline use, signed PS384."""
        params = {"arn": license_arn, "ent": entitlements, "n": node_id, "m": checkout_metadata}
        with self._lock:
            return self._idempotent(
                ("CheckoutBorrowLicense", account_id, client_token),
                params,
                lambda: self._borrow(account_id, license_arn, entitlements, node_id, list(checkout_metadata or [])),
            )

    def _borrow(
        self,
        account_id: str,
        license_arn: str,
        entitlements: list[dict[str, Any]],
        node_id: str | None,
        metadata: list[dict[str, str]],
    ) -> dict[str, Any]:
        now = self.clock.time()
        lic = self.license(license_arn, account_id)
        if lic is None:
            raise ERRORS.error("ResourceNotFoundException", f"License is not found: {license_arn}")
        borrow = (lic.consumption_configuration or {}).get("BorrowConfiguration")
        if not borrow or not self._active(lic, now):
            raise ERRORS.error("NoEntitlementsAllowedException")
        allowed, held, _ = self._take(lic, entitlements, now, perpetual=False, borrow=True)
        ttl = 60 * int(borrow["MaxTimeToLiveInMinutes"])
        consumption = Consumption(
            self.entropy.token_hex(16),
            lic.arn,
            account_id,
            "BORROW",
            allowed,
            held,
            {},
            ttl,
            now,
            now + ttl,
            None,
            node_id,
            bool(borrow.get("AllowEarlyCheckIn")),
            metadata=metadata,
        )
        self._consumptions[consumption.token] = consumption
        extra = {"checkoutMetadata": {m["Name"]: m.get("Value", "") for m in metadata}} if metadata else {}
        out: dict[str, Any] = {
            "LicenseArn": lic.arn,
            "LicenseConsumptionToken": consumption.token,
            "EntitlementsAllowed": allowed,
            "SignedToken": self._signed_token(consumption, lic, extra, borrow=True),
            "IssuedAt": lm_time(now),
            "Expiration": lm_time(consumption.expires),
        }
        if node_id:
            out["NodeId"] = node_id
        if metadata:
            out["CheckoutMetadata"] = metadata
        return out

    def _consumption(self, account_id: str, token: str) -> Consumption:
        c = self._consumptions.get(token)
        if c is not None and not hmac.compare_digest(c.token.encode(), token.encode()):
            c = None
        if c is None or c.account_id != account_id or not c.live(self.clock.time()):
            raise ERRORS.error(
                "ResourceNotFoundException", "License consumption token not found, checked in, or expired."
            )
        return c

    def extend_license_consumption(self, *, account_id: str, token: str, dry_run: bool = False) -> dict[str, str]:
        """ExtendLicenseConsumption: the checkout lives its time to live again, from now."""
        with self._lock:
            c = self._consumption(account_id, token)
            if not dry_run:
                c.expires = self.clock.time() + c.ttl
            return {"LicenseConsumptionToken": c.token, "Expiration": lm_time(c.expires)}

    def check_in_license(self, *, account_id: str, token: str, beneficiary: str | None = None) -> None:
        """CheckInLicense: the units the checkout held go back to the pool."""
        with self._lock:
            c = self._consumption(account_id, token)
            if beneficiary is not None and c.beneficiary is not None and beneficiary != c.beneficiary:
                raise ERRORS.error(
                    "InvalidParameterValueException", "The beneficiary does not match the checkout's beneficiary."
                )
            if c.checkout_type == "BORROW" and not c.early_check_in:
                raise ERRORS.error(
                    "ConflictException", "The license's BorrowConfiguration does not allow early check-in."
                )
            c.checked_in = True

    def get_license_usage(self, *, account_id: str, license_arn: str) -> dict[str, list[dict[str, str]]]:
        """GetLicenseUsage: what every consumer holds of each entitlement now."""
        with self._lock:
            lic = self.license(license_arn, account_id)
            if lic is None:
                raise ERRORS.error("InvalidParameterValueException", f"License is not found: {license_arn}")
            used = self._consumed(lic.arn, self.clock.time())
            usages = []
            for e in lic.entitlements:
                usage = {"Name": e["Name"], "ConsumedValue": str(used.get(e["Name"], 0)), "Unit": e["Unit"]}
                if e.get("MaxCount") is not None:
                    usage["MaxCount"] = str(e["MaxCount"])
                usages.append(usage)
            return {"EntitlementUsages": usages}

    # ---- snapshots ------------------------------------------------------------------------
    def _consumptions_state(self) -> list[dict[str, Any]]:
        """Every checkout, checked in or expired too: they still count (PERPETUAL units) or still refuse."""
        states = []
        for c in self._consumptions.values():
            state = {name: getattr(c, name) for name in _CONSUMPTION_FIELDS}
            states.append({k: v for k, v in state.items() if v is not None})
        return states

    def _load_consumptions(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            if item["license_arn"] not in self._licenses:
                raise MockCloudError(f"licensemanager: a checkout of an unknown license {item['license_arn']}")
            if item["token"] in self._consumptions:
                raise MockCloudError("licensemanager: a license consumption token appears twice")
            fields: dict[str, Any] = {name: item.get(name) for name in _CONSUMPTION_FIELDS}
            fields.update(
                entitlements=list(item["entitlements"]),
                held=dict(item["held"]),
                permanent=dict(item["permanent"]),
                metadata=list(item.get("metadata", ())),
            )
            self._consumptions[item["token"]] = Consumption(**fields)

    # ---- for tests -------------------------------------------------------------------------
    @property
    def consumptions(self) -> list[Consumption]:
        return list(self._consumptions.values())
