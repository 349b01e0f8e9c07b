"""The DevPay License Service's state and rules. No HTTP here.

Developers are AWS access keys; each product belongs to one of them. A
customer subscribes to products; an activation key (28 characters, one hour
on the mock clock) ties one customer to one product. Activating it gives a
user token (``{UserToken}…``) and, for web products, the persistent
identifier (PID) of the customer at that developer; for desktop products, a
key pair of the customer's, which then signs VerifyProductSubscriptionByTokens
and RefreshUserToken. Secrets and tokens are random; presented ones are
compared in constant time.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ...core.credentials import same_secret
from ...core.entities import KEPT_SECONDS, Kind, compound
from ...core.entropy import Entropy
from ...core.errors import MockCloudError
from ...core.helpers import reads_only
from ...core.sections import keyed, record
from ...core.service import ServiceContext, ServiceModel
from ...core.text import is_ascii_digits
from .errors import ERRORS

if TYPE_CHECKING:
    from cryptography.x509 import Certificate as X509Certificate

DEFAULTS: dict[str, Any] = {
    "activation_key_seconds": 3600,  # "Activation keys expire one hour after creation."
    "activation_key_single_use": False,  # unknown; keys may be reused within their hour
    "default_token_expiration_seconds": None,  # user tokens without TokenExpiration never expire
    "refresh_web_requires_product_token": False,  # AdditionalTokens for a web product's RefreshUserToken
    "signature_versions": ["0", "1", "2"],
    "default_signature_version": "0",  # when SignatureVersion is absent (the Query framework's default); null: required
    "request_max_age_seconds": 900,  # Timestamp window, both ways
    "bad_signature_code": "SignatureDoesNotMatch",  # or AuthFailure (401)
    "unknown_key_code": "InvalidClientTokenId",  # or InvalidAccessKeyId (401)
    "throttling_code": "ServiceUnavailable",  # or RequestThrottled; both 503
    "soap_timestamp_seconds": 900,  # lifetime of a wsu:Timestamp without Expires
    "soap_allow_sha1": True,  # RSA-SHA1 / SHA-1 digests in WS-Security signatures
    "require_https": True,  # in-process http://ls.amazonaws.com is refused, as the real service refused HTTP
}

PRODUCT_PREFIX = "{ProductToken}"
USER_PREFIX = "{UserToken}"
CURRENT_USER_TOKEN_VERSION = 3  # decoded user tokens start 00 <version> 07 'UserTkn'
LEGACY_USER_TOKEN_VERSION = 0  # issued before 2008-05-15; RefreshUserToken upgrades them
KINDS = ("desktop", "web")
SUBSCRIPTION_STATES = ("active", "cancelled", "payment_pending")
_KEY_ALPHABET = string.ascii_uppercase + string.digits
_ACTIVATION_KEY = re.compile(r"[A-Z0-9]{1,30}\Z")
_PRODUCT_CODE = re.compile(r"[A-Z0-9]{8}\Z")
_DURATION = re.compile(
    r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?\Z", re.ASCII
)
T = TypeVar("T")
MAX_DURATION_SECONDS = 10**12  # ~31,700 years: a longer token lifetime never ends on any mock clock either


def _token(entropy: Entropy, prefix: str, kind: bytes, version: int, size: int) -> str:
    """``prefix`` + base64 of ``00 <version> <len> <kind>`` and random bytes, ``size`` bytes in all."""
    head = bytes((0, version, len(kind))) + kind
    return prefix + base64.b64encode(head + entropy.token_bytes(size - len(head))).decode("ascii")


def new_product_token(entropy: Entropy) -> str:
    return _token(entropy, PRODUCT_PREFIX, b"AppTkn", 1, 234)  # 312 base64 characters, as observed


def new_user_token(entropy: Entropy, version: int = CURRENT_USER_TOKEN_VERSION) -> str:
    return _token(entropy, USER_PREFIX, b"UserTkn", version, 300)  # 400 base64 characters, as observed


def _random_key(entropy: Entropy, length: int) -> str:
    return "".join(entropy.choice(_KEY_ALPHABET) for _ in range(length))


def new_activation_key(entropy: Entropy) -> str:
    return base64.b32encode(entropy.token_bytes(17)).decode("ascii").rstrip("=")  # 28 characters A-Z 2-7


def new_persistent_identifier(entropy: Entropy) -> str:
    return (
        "P" + base64.b32encode(entropy.token_bytes(17)).decode("ascii")[:26]
    )  # 27 characters, like PPHUXKJYQBLH753XI5BBW5DMW54


def parse_duration(text: str) -> float:
    """``xs:duration`` (PnYnMnDTnHnMnS; a year 365 days, a month 30) or bare seconds → seconds > 0.

    Any length of digits is a valid duration; past :data:`MAX_DURATION_SECONDS` it is capped there.
    """
    value = text.strip()
    if is_ascii_digits(value):
        seconds: float = _capped(value)
    else:
        match = _DURATION.match(value)
        if match is None or value in ("P", "-P") or value.endswith("T"):
            raise ERRORS.error(
                "InvalidParameterValue",
                f"Value {text} for parameter TokenExpiration is invalid. "
                "Reason: must be an xs:duration such as PT3600S.",
            )
        sign, years, months, days, hours, minutes, secs = match.groups()
        whole, _, fraction = (secs or "0").partition(".")
        units = ((years, 365 * 86400), (months, 30 * 86400), (days, 86400), (hours, 3600), (minutes, 60), (whole, 1))
        seconds = min(sum(_capped(part) * size for part, size in units if part), MAX_DURATION_SECONDS)
        seconds += float("0." + fraction) if fraction else 0.0
        if sign:
            seconds = -seconds
    if seconds <= 0:
        raise ERRORS.error(
            "InvalidParameterValue", f"Value {text} for parameter TokenExpiration is invalid. Reason: must be positive."
        )
    return float(min(seconds, MAX_DURATION_SECONDS))


def _capped(digits: str) -> int:
    """ASCII digits as an int, at most MAX_DURATION_SECONDS (no 4300-digit ``int()`` limit to trip over)."""
    digits = digits.lstrip("0") or "0"
    return MAX_DURATION_SECONDS if len(digits) > 13 else min(int(digits), MAX_DURATION_SECONDS)


_same = same_secret


def _clean(value: str | None) -> str | None:
    """Tokens and keys are base64 or alphanumeric: a space is a ``+`` that form decoding changed."""
    return None if value is None else value.strip().replace(" ", "+")


@dataclass
class Product:
    code: str
    token: str
    kind: str  # desktop | web
    owner_access_key_id: str
    name: str = ""


@dataclass
class Subscription:
    customer_id: str
    product_code: str
    status: str = "active"


class ActivationKey(str):
    """An activation key (a ``str``), with the customer and product it is tied to and its expiry."""

    customer_id: str
    product_code: str
    created: float
    expires: float
    used: bool

    def __new__(cls, key: str, customer_id: str, product_code: str, created: float, expires: float) -> ActivationKey:
        self = super().__new__(cls, key)
        self.customer_id, self.product_code, self.created, self.expires, self.used = (
            customer_id,
            product_code,
            created,
            expires,
            False,
        )
        return self


@dataclass
class UserToken:
    token: str
    customer_id: str
    product_code: str
    version: int
    issued: float
    expires: float | None = None
    upgraded_to: str | None = None


@dataclass
class DesktopKey:
    access_key_id: str
    secret_access_key: str
    customer_id: str
    product_code: str


@dataclass
class Certificate:
    fingerprint: str  # SHA-256 of the DER
    owner_access_key_id: str
    pem: str


def _activation_key_dump(key: ActivationKey) -> dict[str, Any]:
    return {
        "key": str(key),
        "product_code": key.product_code,
        "customer_id": key.customer_id,
        "created": key.created,
        "expires": key.expires,
        "used": key.used,
    }


def _activation_key_load(data: dict[str, Any]) -> ActivationKey:
    key = ActivationKey(data["key"], data["customer_id"], data["product_code"], data["created"], data["expires"])
    key.used = bool(data.get("used", False))
    return key


def _activation_key_dead_at(key: ActivationKey) -> float:
    return key.expires + KEPT_SECONDS


def _user_token_dead_at(user: UserToken) -> float | None:
    return None if user.expires is None else user.expires + KEPT_SECONDS


def _of(cls: type[T]) -> Callable[[Any], T]:
    def load(data: Any) -> T:
        return cls(**data)

    return load


def _text(data: Any) -> str:
    return str(data)


def _number(data: Any) -> int:
    return int(data)


def _pair(code: str, customer_id: str) -> str:
    """The key of what one customer has of one product (the code has no spaces: it comes first)."""
    return f"{code} {customer_id}"


# the records, by key: the settings (""), the customer counter (""), a product (its code), a product by
# its token (-> code), a subscription ("<code> <customer>"), an activation key, a user token, a desktop key
# pair (its access key id), a customer's pair ("<code> <customer>" -> access key id), a certificate (its
# fingerprint), a PID (-> [owner, customer]) and a customer's PID at a developer ([owner, customer] -> PID)
SETTINGS: Kind[dict[str, Any]] = Kind("settings", dict, dict, whole=True)
CUSTOMERS: Kind[int] = Kind("customers", int, _number)
PRODUCT: Kind[Product] = Kind("product", record, _of(Product), whole=True)
PRODUCT_TOKEN: Kind[str] = Kind("product_token", str, _text)
SUBSCRIPTION: Kind[Subscription] = Kind("subscription", record, _of(Subscription))
ACTIVATION_KEY: Kind[ActivationKey] = Kind(
    "activation_key", _activation_key_dump, _activation_key_load, _activation_key_dead_at
)
USER_TOKEN: Kind[UserToken] = Kind("user_token", record, _of(UserToken), _user_token_dead_at)
DESKTOP_KEY: Kind[DesktopKey] = Kind("desktop_key", record, _of(DesktopKey))
DESKTOP_OF: Kind[str] = Kind("desktop_of", str, _text)
CERTIFICATE: Kind[Certificate] = Kind("certificate", record, _of(Certificate))
PID: Kind[list[str]] = Kind("pid", list, list)
PID_OF: Kind[str] = Kind("pid_of", str, _text)


@dataclass
class Activation:
    user_token: str
    persistent_identifier: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


class DevpayModel(ServiceModel):
    """``cloud.devpay``: the License Service's state, and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.clock = context.clock
        self.credentials = context.credentials
        self.context = context
        self._lock = context.lock
        self._settings = context.table(SETTINGS)
        self._customers = context.table(CUSTOMERS)
        self._products = context.table(PRODUCT)
        self._by_product_token = context.table(PRODUCT_TOKEN)
        self._subscriptions = context.table(SUBSCRIPTION)
        self._activation_keys = context.table(ACTIVATION_KEY)
        self._user_tokens = context.table(USER_TOKEN)
        self._desktop_keys = context.table(DESKTOP_KEY)
        self._desktop_by_customer = context.table(DESKTOP_OF)
        self._certificates = context.table(CERTIFICATE)
        self._pid_owner = context.table(PID)
        self._pids = context.table(PID_OF)

    @property
    def settings(self) -> dict[str, Any]:
        """The service's settings: its defaults, the fixtures' and the mock's (see ``DEFAULTS``)."""
        return self._settings.get("") or dict(DEFAULTS)

    def load(self, section: dict[str, Any]) -> None:
        """Products, activation keys and certificates of the fixtures; what else a snapshot holds."""
        with self._lock:
            self._settings[""] = self.context.merged_settings(DEFAULTS, section)
            for item in section.get("products", ()):
                self.create_product(
                    item["kind"],
                    item.get("owner_access_key_id", "testing"),
                    code=item["code"],
                    token=item["token"],
                    name=item.get("name", ""),
                )
            for item in section.get("activation_keys", ()):
                key = self.create_activation_key(
                    item["product_code"],
                    item.get("customer_id"),
                    key=item["key"],
                    payment_pending=item.get("status") == "payment_pending",
                )
                key.created = item.get("created", key.created)
                key.expires = item.get("expires", key.created + self.settings["activation_key_seconds"])
                key.used = item.get("used", False)
                self._activation_keys[str(key)] = key
            for item in section.get("certificates", ()):
                self.register_certificate(item["pem"], item.get("owner_access_key_id", "testing"))
            self._load_state(section)

    # ---- snapshots ------------------------------------------------------------------
    @reads_only
    def snapshot(self) -> dict[str, Any]:
        """The whole state as this service's fixtures section: what a mock built from it goes on with.

        Tokens, keys and secrets are kept in the clear here, as the model keeps
        them (the secrets sign requests; the tokens are looked up as given).
        """
        with self._lock:
            return {
                "settings": copy.deepcopy(self.settings),
                "products": [record(p) for p in self._products.values()],
                "activation_keys": [_activation_key_dump(k) for k in self._activation_keys.values()],
                "certificates": [
                    {"pem": c.pem, "owner_access_key_id": c.owner_access_key_id} for c in self._certificates.values()
                ],
                "subscriptions": [record(s) for s in self._subscriptions.values()],
                "user_tokens": [record(u) for u in self._user_tokens.values()],
                "desktop_keys": [record(k) for k in self._desktop_keys.values()],
                "persistent_identifiers": [
                    {"persistent_identifier": pid, "owner_access_key_id": owner, "customer_id": customer}
                    for pid, (owner, customer) in self._pid_owner.items()
                ],
                "customer_counter": self._customers.get("", 0),
            }

    def _load_state(self, section: dict[str, Any]) -> None:
        """What only a snapshot holds: statuses, user tokens, key pairs, PIDs and the customer counter.

        Each record names a product that must exist and a key no other record has.
        """
        if "subscriptions" in section:  # the statuses now, over the ones the activation keys implied
            subscriptions = [Subscription(**item) for item in section["subscriptions"]]
            given = keyed(subscriptions, lambda s: _pair(s.product_code, s.customer_id), "subscriptions")
            for key in list(self._subscriptions):
                del self._subscriptions[key]
            for key, subscription in given.items():
                self._subscriptions[key] = subscription
        tokens = keyed((UserToken(**item) for item in section.get("user_tokens", ())), lambda u: u.token, "user tokens")
        pairs = keyed(
            (DesktopKey(**item) for item in section.get("desktop_keys", ())), lambda k: k.access_key_id, "desktop keys"
        )
        named = [s.product_code for s in self._subscriptions.values()] + [u.product_code for u in tokens.values()]
        for code in dict.fromkeys(named + [k.product_code for k in pairs.values()]):
            self.product(code)
        for user in tokens.values():
            if user.upgraded_to is not None and user.upgraded_to not in tokens:
                raise MockCloudError(f"user token {user.token[:24]}... was upgraded to one the section does not have")
        by_customer = keyed(pairs.values(), lambda k: _pair(k.product_code, k.customer_id), "key pairs of one customer")
        identifiers = section.get("persistent_identifiers", ())
        owners = keyed(identifiers, lambda i: i["persistent_identifier"], "persistent identifiers")
        customers = keyed(
            identifiers,
            lambda i: compound(i["owner_access_key_id"], i["customer_id"]),
            "PIDs of one customer at one developer",
        )
        for token, user in tokens.items():
            self._user_tokens[token] = user
        for access_key_id, pair in pairs.items():
            self._desktop_keys[access_key_id] = pair
        for at, pair in by_customer.items():
            self._desktop_by_customer[at] = pair.access_key_id
        for pid, item in owners.items():
            self._pid_owner[pid] = [item["owner_access_key_id"], item["customer_id"]]
        for at, item in customers.items():
            self._pids[at] = item["persistent_identifier"]
        if "customer_counter" in section:
            self._customers[""] = section["customer_counter"]

    # ---- test-side helpers ------------------------------------------------------------
    def create_product(
        self,
        kind: str = "desktop",
        owner_access_key_id: str = "testing",
        *,
        code: str | None = None,
        token: str | None = None,
        name: str = "",
    ) -> Product:
        """A DevPay product of a developer's (its access key): ``.code`` (8 characters) and ``.token``."""
        if kind not in KINDS:
            raise MockCloudError(f"kind must be 'desktop' or 'web', not {kind!r}")
        with self._lock:
            if code is None:
                code = self.entropy.token_hex(4).upper()
                while code in self._products:
                    code = self.entropy.token_hex(4).upper()
            elif not _PRODUCT_CODE.match(code) or code in self._products:
                raise MockCloudError(f"product code {code!r} is not 8 characters A-Z 0-9, or is taken")
            token = token or new_product_token(self.entropy)
            if not token.startswith(PRODUCT_PREFIX) or token in self._by_product_token:
                raise MockCloudError("a product token starts with {ProductToken} and is unique")
            product = Product(code, token, kind, owner_access_key_id, name)
            self._products[code] = product
            self._by_product_token[token] = code
            return product

    def create_activation_key(
        self,
        product_code: str,
        customer_id: str | None = None,
        *,
        key: str | None = None,
        payment_pending: bool = False,
    ) -> ActivationKey:
        """A customer's sign-up: subscribes them (a new customer when None) and returns the one-hour key.

        The key is a ``str`` with ``.customer_id``, ``.product_code`` and ``.expires``.
        ``payment_pending=True`` makes the subscription one whose payment failed (UserNotSubscribed).
        """
        with self._lock:
            self.product(product_code)
            if customer_id is None:
                counter = self._customers.get("", 0) + 1
                self._customers[""] = counter
                customer_id = f"customer-{counter:04d}-{self.entropy.token_hex(3)}"
            key = key or new_activation_key(self.entropy)
            if not _ACTIVATION_KEY.match(key) or key in self._activation_keys:
                raise MockCloudError(f"activation key {key!r} is not 1-30 characters A-Z 0-9, or is taken")
            now = self.clock.time()
            created = ActivationKey(key, customer_id, product_code, now, now + self.settings["activation_key_seconds"])
            self._activation_keys[key] = created
            status = "payment_pending" if payment_pending else "active"
            at = _pair(product_code, customer_id)
            subscription = self._subscriptions.get(at)
            if subscription is None:
                subscription = Subscription(customer_id, product_code, status)
            subscription.status = status
            self._subscriptions[at] = subscription
            return created

    def cancel_subscription(self, product_code: str, customer_id: str) -> None:
        """The customer cancels: VerifyProductSubscription* answer Subscribed=false from now on."""
        self.set_subscription_status(product_code, customer_id, "cancelled")

    def set_subscription_status(self, product_code: str, customer_id: str, status: str) -> None:
        """``active``, ``cancelled`` or ``payment_pending`` (a failed sign-up payment)."""
        if status not in SUBSCRIPTION_STATES:
            raise MockCloudError(f"status must be one of {SUBSCRIPTION_STATES}, not {status!r}")
        with self._lock:
            at = _pair(product_code, customer_id)
            subscription = self._subscriptions.get(at)
            if subscription is None:
                raise MockCloudError(f"customer {customer_id!r} has no subscription to product {product_code!r}")
            subscription.status = status
            self._subscriptions[at] = subscription

    def issue_legacy_user_token(self, product_code: str, customer_id: str) -> str:
        """A user token of the old version (before 2008-05-15), which RefreshUserToken upgrades."""
        with self._lock:
            self.product(product_code)
            if _pair(product_code, customer_id) not in self._subscriptions:
                raise MockCloudError(f"customer {customer_id!r} has no subscription to product {product_code!r}")
            return self._issue_user_token(customer_id, product_code, None, LEGACY_USER_TOKEN_VERSION).token

    def register_certificate(self, certificate: Any, owner_access_key_id: str = "testing") -> str:
        """Register a developer's X.509 certificate (PEM text or bytes, or a ``cryptography`` certificate)
        for WS-Security SOAP requests; returns its SHA-256 fingerprint."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        if isinstance(certificate, (str, bytes)):
            data = certificate.encode() if isinstance(certificate, str) else certificate
            try:
                certificate = x509.load_pem_x509_certificate(data)
            except ValueError:
                raise MockCloudError("not a PEM X.509 certificate") from None
        fingerprint = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
        with self._lock:
            self._certificates[fingerprint] = Certificate(
                fingerprint, owner_access_key_id, certificate.public_bytes(Encoding.PEM).decode("ascii")
            )
        return fingerprint

    @reads_only
    def product(self, code: str) -> Product:
        product = self._products.get(code)
        if product is None:
            raise MockCloudError(f"no DevPay product {code!r}")
        return product

    @property
    def products(self) -> list[Product]:
        return list(self._products.values())

    @reads_only
    def subscription(self, product_code: str, customer_id: str) -> Subscription | None:
        return self._subscriptions.get(_pair(product_code, customer_id))

    @reads_only
    def user_token(self, token: str) -> UserToken | None:
        return self._user_tokens.get(token)

    @reads_only
    def desktop_key(self, access_key_id: str) -> DesktopKey | None:
        return self._desktop_keys.get(access_key_id)

    @reads_only
    def persistent_identifier(self, owner_access_key_id: str, customer_id: str) -> str | None:
        return self._pids.get(compound(owner_access_key_id, customer_id))

    # ---- what the protocol asks ---------------------------------------------------------
    @reads_only
    def desktop_secret(self, access_key_id: str) -> str | None:
        pair = self._desktop_keys.get(access_key_id)
        return pair.secret_access_key if pair is not None else None

    def certificate_owner(self, certificate: X509Certificate) -> str | None:
        from cryptography.hazmat.primitives.serialization import Encoding

        found = self._certificates.get(hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest())
        return found.owner_access_key_id if found is not None else None

    # ---- the actions -------------------------------------------------------------------
    def activate_desktop_product(
        self, activation_key: str | None, product_token: str | None, token_expiration: str | None
    ) -> Activation:
        """Unsigned: a desktop customer's user token and DevPay-only key pair."""
        with self._lock:
            key, product, lifetime = self._activation(activation_key, product_token, token_expiration, signer=None)
            at = _pair(product.code, key.customer_id)
            pair = self._desktop_pair(at)
            if pair is None:
                access_key_id = _random_key(self.entropy, 20)
                while access_key_id in self._desktop_keys or self.credentials.aws(access_key_id) is not None:
                    access_key_id = _random_key(self.entropy, 20)
                secret = base64.b64encode(self.entropy.token_bytes(30)).decode("ascii")
                pair = DesktopKey(access_key_id, secret, key.customer_id, product.code)
                self._desktop_keys[access_key_id] = pair
                self._desktop_by_customer[at] = access_key_id
            self._use(key)
            user = self._issue_user_token(key.customer_id, product.code, lifetime)
            return Activation(user.token, access_key_id=pair.access_key_id, secret_access_key=pair.secret_access_key)

    def activate_hosted_product(
        self, signer: str, activation_key: str | None, product_token: str | None, token_expiration: str | None
    ) -> Activation:
        """Signed by the product's owner: the customer's user token and persistent identifier."""
        with self._lock:
            key, product, lifetime = self._activation(activation_key, product_token, token_expiration, signer=signer)
            at = compound(signer, key.customer_id)
            pid = self._pids.get(at)
            if pid is None:
                pid = new_persistent_identifier(self.entropy)
                while pid in self._pid_owner:
                    pid = new_persistent_identifier(self.entropy)
                self._pids[at] = pid
                self._pid_owner[pid] = [signer, key.customer_id]
            self._use(key)
            user = self._issue_user_token(key.customer_id, product.code, lifetime)
            return Activation(user.token, persistent_identifier=pid)

    def get_active_subscriptions_by_pid(self, signer: str, persistent_identifier: str | None) -> list[str]:
        """Codes of the signer's products the customer is subscribed to now."""
        with self._lock:
            customer = self._customer_of_pid(signer, persistent_identifier)
            return [
                p.code
                for p in self._products.values()
                if p.owner_access_key_id == signer and self._active(customer, p.code)
            ]

    def verify_product_subscription_by_pid(
        self, signer: str, persistent_identifier: str | None, product_code: str | None
    ) -> bool:
        with self._lock:
            if not persistent_identifier:
                raise ERRORS.error("MissingPersistentIdentifier")
            if not product_code:
                raise ERRORS.error("MissingParameter", "The request must contain the parameter ProductCode")
            customer = self._customer_of_pid(signer, persistent_identifier)
            if not _PRODUCT_CODE.match(product_code):
                raise ERRORS.error(
                    "InvalidParameterValue",
                    f"Value {product_code} for parameter ProductCode is invalid. "
                    "Reason: a product code is 8 characters A-Z 0-9.",
                )
            product = self._products.get(product_code)
            if product is None or product.owner_access_key_id != signer:
                raise ERRORS.error("InvalidProductToken", f"The product code {product_code} is invalid for the signer.")
            return self._active(customer, product.code)

    def verify_product_subscription_by_tokens(
        self, signer: str, product_token: str | None, user_token: str | None
    ) -> bool:
        """Signed with the customer's desktop key pair, which must be the one of that user token."""
        with self._lock:
            product_token, user_token = _clean(product_token), _clean(user_token)
            if not product_token:
                raise ERRORS.error("MissingProductToken")
            if not user_token:
                raise ERRORS.error("MissingUserToken")
            user = self._user(user_token)
            product = self._product_by_token(product_token)
            if product.code != user.product_code:
                raise ERRORS.error("InvalidProductToken", "The product token does not correspond to the user token.")
            self._check_desktop_signer(signer, user)
            return self._active(user.customer_id, product.code)

    def refresh_user_token(
        self, signer: str, user_token: str | None, additional_tokens: Iterable[str] | None, *, via_soap: bool = False
    ) -> str:
        """The current version of a user token: itself when it is current, an upgraded one when it is old."""
        with self._lock:
            user_token = _clean(user_token)
            if not user_token:
                raise ERRORS.error("MissingUserToken")
            given = []
            for presented in additional_tokens or ():
                item = _clean(presented)
                if not item:
                    continue
                if not item.startswith(PRODUCT_PREFIX):
                    raise ERRORS.error(
                        "InvalidParameterValue",
                        f"Value {item[:24]}... for parameter AdditionalTokens is invalid. "
                        "Reason: only a product token is accepted.",
                    )
                given.append(item)
            user = self._user(user_token)
            product = self._products[user.product_code]
            if product.kind == "desktop":
                if via_soap:
                    raise ERRORS.error("InvalidRequest", "RefreshUserToken over SOAP is allowed for web products only.")
                self._check_desktop_signer(signer, user)
            elif signer != product.owner_access_key_id:
                raise ERRORS.error("InvalidUserToken", "The user token is invalid for the signer.")
            if not given and (product.kind == "desktop" or self.settings["refresh_web_requires_product_token"]):
                raise ERRORS.error("MissingProductToken")
            for item in given:
                if not _same(product.token, item):
                    raise ERRORS.error("InvalidProductToken")
            if user.version == CURRENT_USER_TOKEN_VERSION:
                return user.token
            if user.upgraded_to is None:
                upgraded = self._issue_user_token(user.customer_id, user.product_code, None, expires=user.expires)
                user.upgraded_to = upgraded.token
                self._user_tokens[user.token] = user
            return user.upgraded_to

    # ---- rules -----------------------------------------------------------------------
    def _activation(
        self, activation_key: str | None, product_token: str | None, token_expiration: str | None, *, signer: str | None
    ) -> tuple[ActivationKey, Product, float | None]:
        """The checks both activations make, in order: missing, malformed, product, key, subscription."""
        activation_key, product_token = _clean(activation_key), _clean(product_token)
        if not activation_key:
            raise ERRORS.error("MissingParameter", "The request must contain the parameter ActivationKey")
        if not product_token:
            raise ERRORS.error("MissingProductToken")
        lifetime: float | None = (
            parse_duration(token_expiration) if token_expiration else self.settings["default_token_expiration_seconds"]
        )
        if not _ACTIVATION_KEY.match(activation_key):
            raise ERRORS.error("InvalidActivationKey")
        product = self._product_by_token(product_token)
        if signer is None and product.kind != "desktop":
            raise ERRORS.error("InvalidProductToken", "The product token is not that of a desktop product.")
        if signer is not None and product.owner_access_key_id != signer:
            raise ERRORS.error("InvalidProductToken")
        key = self._activation_keys.get(activation_key)
        if key is None or not _same(key, activation_key):
            raise ERRORS.error("InvalidActivationKey")
        if key.product_code != product.code:
            raise ERRORS.error("IncorrectActivationKey")
        if self.clock.time() >= key.expires:
            raise ERRORS.error("ExpiredActivationKey")
        if key.used and self.settings["activation_key_single_use"]:
            raise ERRORS.error("InvalidActivationKey", "The activation key has already been used.")
        if not self._active(key.customer_id, product.code):
            raise ERRORS.error("UserNotSubscribed")
        return key, product, lifetime

    def _product_by_token(self, token: str) -> Product:
        code = self._by_product_token.get(token)
        product = None if code is None else self._products.get(code)
        if product is None or not _same(product.token, token):
            raise ERRORS.error("InvalidProductToken")
        return product

    def _user(self, token: str) -> UserToken:
        user = self._user_tokens.get(token)
        if user is None or not _same(user.token, token):
            raise ERRORS.error("InvalidUserToken")
        if user.expires is not None and self.clock.time() >= user.expires:
            raise ERRORS.error("InvalidUserToken", "The user token has expired.")
        return user

    def _desktop_pair(self, at: str) -> DesktopKey | None:
        """A customer's key pair for a product (``_pair(code, customer)``), if it has one."""
        access_key_id = self._desktop_by_customer.get(at)
        return None if access_key_id is None else self._desktop_keys.get(access_key_id)

    def _use(self, key: ActivationKey) -> None:
        if not key.used:
            key.used = True
            self._activation_keys[str(key)] = key

    def _check_desktop_signer(self, signer: str, user: UserToken) -> None:
        pair = self._desktop_pair(_pair(user.product_code, user.customer_id))
        if pair is None or not _same(pair.access_key_id, signer):
            raise ERRORS.error(
                "InvalidUserToken", "The user token is invalid for the signer: sign with the customer's key pair."
            )

    def _customer_of_pid(self, signer: str, pid: str | None) -> str:
        pid = _clean(pid)
        if not pid:
            raise ERRORS.error("MissingPersistentIdentifier")
        owner = self._pid_owner.get(pid)
        if owner is None or owner[0] != signer:
            raise ERRORS.error("InvalidPersistentIdentifier")
        return owner[1]

    def _active(self, customer_id: str, product_code: str) -> bool:
        subscription = self._subscriptions.get(_pair(product_code, customer_id))
        return subscription is not None and subscription.status == "active"

    def _issue_user_token(
        self,
        customer_id: str,
        product_code: str,
        lifetime: float | None,
        version: int = CURRENT_USER_TOKEN_VERSION,
        *,
        expires: float | None = None,
    ) -> UserToken:
        now = self.clock.time()
        token = new_user_token(self.entropy, version)
        if lifetime is not None:
            expires = now + lifetime
        user = UserToken(token, customer_id, product_code, version, now, expires)
        self._user_tokens[token] = user
        return user

    def inventory(self) -> list[dict[str, object]]:
        """The activation keys and user tokens it holds, for the dashboard (no secrets).

        A key counts as used only where keys are single-use (``activation_key_single_use``); an old
        user token that RefreshUserToken upgraded is replaced, with the chain old → new.
        """
        from ...core.inventory import entry, short_id, state_of

        now = self.clock.time()
        single_use = self.settings["activation_key_single_use"]
        with self._lock:
            keys = list(self._activation_keys.values())
            users = list(self._user_tokens.values())
        found = [
            entry(
                "devpay",
                "activation_key",
                short_id(str(k)),
                k.customer_id,
                k.created,
                k.expires,
                state_of(now, k.expires, used=k.used and single_use),
            )
            for k in keys
        ]
        for u in users:
            chain = None if u.upgraded_to is None else [short_id(u.token), short_id(u.upgraded_to)]
            found.append(
                entry(
                    "devpay",
                    "user_token",
                    short_id(u.token),
                    u.customer_id,
                    u.issued,
                    u.expires,
                    state_of(now, u.expires, replaced=u.upgraded_to is not None),
                    chain,
                )
            )
        return found
