"""License Manager's state and rules: licenses, refresh tokens, access tokens. No HTTP here."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypedDict, TypeVar, cast, overload

from ...core import jsonbody
from ...core.credentials import DEFAULT_ACCOUNT_ID, same_secret
from ...core.errors import MockCloudError
from ...core.helpers import reads_only
from ...core.service import ServiceContext
from ...core.timestamps import utc_iso
from .consumption import ConsumptionMixin
from .errors import ERRORS

if TYPE_CHECKING:
    from typing import TypeAlias

    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey, EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
    from jwt.algorithms import Algorithm
    from jwt.types import Options
    from typing_extensions import Unpack

    from ...core.jwt_signing import JwtSigner

    # what signs the tokens: an ES256 or RS256 private key, or the HS256 secret
    SigningKey: TypeAlias = EllipticCurvePrivateKey | RSAPrivateKey | bytes
    VerifyingKey: TypeAlias = EllipticCurvePublicKey | RSAPublicKey | bytes

R = TypeVar("R")

DEFAULT_REGION = "us-east-1"
DEFAULTS = {
    "access_token_seconds": 3600,  # "Access tokens are valid for one hour."
    "default_expiration_days": 365,  # CreateToken ExpirationInDays default
    "client_token_seconds": 600,  # "Idempotency token, valid for 10 minutes."
    "jwt_algorithm": "ES256",  # or RS256 (slow to sign) or HS256 (fastest; the JWKS then carries the secret)
}
# Access tokens are web-identity tokens for STS: their issuer is the federated provider that the consumption
# role's trust policy names, and their amr claim carries the token issuer's account, which that policy checks.
ACCESS_TOKEN_ISSUER = "https://openid-license-manager.amazonaws.com"
PROVIDER = "openid-license-manager.amazonaws.com"
ISSUER_ACCOUNT_AMR = "aws:license-manager:token-issuer-account-id:{}"


def iso(ts: float) -> str:
    """ISO8601DateTime, whose pattern allows years past 9999 (an ExpirationInDays of millions reaches them)."""
    return utc_iso(ts)


def _pem(key: EllipticCurvePrivateKey | RSAPrivateKey) -> str:
    """A private key as unencrypted PKCS#8 PEM text."""
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode("ascii")


@overload
def _load_pem(text: str, algorithm: Literal["RS256", "PS384"]) -> RSAPrivateKey: ...
@overload
def _load_pem(text: str, algorithm: str) -> EllipticCurvePrivateKey | RSAPrivateKey: ...
def _load_pem(text: str, algorithm: str) -> EllipticCurvePrivateKey | RSAPrivateKey:
    """The private key of PEM ``text``, which must be of the kind ``algorithm`` signs with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise MockCloudError(f"licensemanager: the {algorithm} key is not an unencrypted PEM private key") from None
    if algorithm == "ES256":
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
            return key
    elif isinstance(key, rsa.RSAPrivateKey):
        return key
    raise MockCloudError(f"licensemanager: the PEM key is not a key for {algorithm}")


def _load_secret(text: str) -> bytes:
    """The HS256 secret of base64 ``text``."""
    try:
        secret = base64.b64decode(text, validate=True)
    except ValueError:
        secret = b""
    if not secret:
        raise MockCloudError("licensemanager: the HS256 secret is not base64 of one byte or more")
    return secret


def _key_state(key: SigningKey) -> dict[str, str]:
    return {"secret": base64.b64encode(key).decode("ascii")} if isinstance(key, bytes) else {"private_key": _pem(key)}


@dataclass
class License:
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
    status: str = "AVAILABLE"
    version: str = "1"

    def describe(self) -> dict[str, Any]:
        return {
            "LicenseArn": self.arn,
            "LicenseName": self.name,
            "ProductName": self.product_name,
            "ProductSKU": self.product_sku,
            "Issuer": self.issuer,
            "HomeRegion": self.home_region,
            "Status": self.status,
            "Validity": self.validity,
            "Beneficiary": self.beneficiary,
            "Entitlements": self.entitlements,
            "ConsumptionConfiguration": self.consumption_configuration,
            "LicenseMetadata": self.metadata,
            "CreateTime": iso(self.created),
            "Version": self.version,
        }


@dataclass
class Token:
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


@dataclass
class _Idempotent:
    at: float
    fingerprint: str
    result: Any  # what the operation of its scope returned: a License, a Token, or a response


class _LicenseFields(TypedDict):
    """What CreateLicense sets on a license besides its ARN, account, issuer and time; its ClientToken fingerprint."""

    name: str
    product_name: str
    product_sku: str
    home_region: str
    validity: dict[str, str]
    entitlements: list[dict[str, Any]]
    beneficiary: str
    consumption_configuration: dict[str, Any]
    metadata: list[dict[str, str]]


def _license_state(lic: License) -> dict[str, Any]:
    state = {
        "license_arn": lic.arn,
        "account_id": lic.account_id,
        "home_region": lic.home_region,
        "license_name": lic.name,
        "product_name": lic.product_name,
        "product_sku": lic.product_sku,
        "issuer": lic.issuer["Name"],
        "beneficiary": lic.beneficiary,
        "validity": lic.validity,
        "entitlements": lic.entitlements,
        "consumption_configuration": lic.consumption_configuration,
        "license_metadata": lic.metadata,
        "created": lic.created,
        "status": lic.status,
        "version": lic.version,
    }
    if "SignKey" in lic.issuer:
        state["issuer_sign_key"] = lic.issuer["SignKey"]
    return state


def _token_state(token: Token) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "account_id": token.account_id,
        "license_arn": token.license_arn,
        "home_region": token.home_region,
        "role_arns": token.role_arns,
        "token_properties": token.token_properties,
        "created": token.created,
        "expires": token.expires,
        "jwt": token.jwt,
        "deleted": token.deleted,
    }


def _idempotent_state(scope: tuple[str, ...], record: _Idempotent) -> dict[str, Any]:
    """A ClientToken's record; its result by reference (a license, a token) or as the response it was."""
    operation, account_id, client_token = scope
    state: dict[str, Any] = {
        "operation": operation,
        "account_id": account_id,
        "client_token": client_token,
        "at": record.at,
        "fingerprint": record.fingerprint,
    }
    if isinstance(record.result, License):
        state["license_arn"] = record.result.arn
    elif isinstance(record.result, Token):
        state["token_id"] = record.result.token_id
    else:
        state["response"] = record.result
    return state


class LicenseManagerModel(ConsumptionMixin):
    """``cloud.licensemanager``: the service's state, and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.clock = context.clock
        self.settings = context.merged_settings(DEFAULTS)
        self._lock = context.lock
        self._licenses: dict[str, License] = {}
        self._tokens: dict[str, Token] = {}
        self._by_jwt: dict[str, Token] = {}
        self._client_tokens: dict[tuple[str, ...], _Idempotent] = {}  # (operation, account id, ClientToken) ->
        self._key: SigningKey | None = None
        self._key_id: str | None = None  # set with _key
        self._signer: JwtSigner | None = None
        self._consumptions_init()
        for item in context.fixtures.get("licenses", ()):
            self._add_license_from_fixture(item)
        self._load_state(context.fixtures)
        # STS verifies our access tokens with our published keys; the audience must be one of our licenses
        context.issuers.register(
            ACCESS_TOKEN_ISSUER,
            provider=PROVIDER,
            jwks=self.jwks,
            accepts_audience=self._licenses.__contains__,
            roles_claim="roles",
        )

    # ---- keys -------------------------------------------------------------
    @property
    def algorithm(self) -> str:
        algorithm: str = self.settings["jwt_algorithm"]
        return algorithm

    @property
    def signing_key(self) -> SigningKey:
        """The private key that signs every token (a ``cryptography`` key object; for HS256 the secret's bytes)."""
        key = self._key
        if key is None:
            key = self._make_key()[0]
        return key

    @property
    def key_id(self) -> str:
        key_id = self._key_id
        if key_id is None:
            key_id = self._make_key()[1]
        return key_id

    def _make_key(self) -> tuple[SigningKey, str]:
        """The signing key and its id, made on first use (once: under the lock)."""
        with self._lock:
            key, key_id = self._key, self._key_id
            if key is None or key_id is None:
                if self.algorithm == "RS256":
                    key = self.entropy.rsa_private_key(2048)
                elif self.algorithm == "ES256":
                    from cryptography.hazmat.primitives.asymmetric import ec

                    key = self.entropy.ec_private_key(ec.SECP256R1())
                elif self.algorithm == "HS256":
                    key = self.entropy.token_bytes(32)
                else:
                    raise ValueError(f"unsupported jwt_algorithm {self.algorithm!r}; use ES256, RS256 or HS256")
                key_id = self._key_id = self.entropy.uuid4().hex
                self._key = key
            return key, key_id

    @property
    def public_key(self) -> VerifyingKey:
        """The key that verifies our tokens (for HS256, the shared secret itself)."""
        key = self.signing_key
        return key if isinstance(key, bytes) else key.public_key()

    @reads_only
    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public signing key as a JSON Web Key Set, for code that verifies our tokens."""
        from jwt.algorithms import ECAlgorithm, HMACAlgorithm, RSAAlgorithm

        families: dict[str, type[Algorithm]] = {"RS256": RSAAlgorithm, "HS256": HMACAlgorithm}
        algorithm = families.get(self.algorithm, ECAlgorithm)
        jwk = algorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update({"kid": self.key_id, "alg": self.algorithm, "use": "sig"})
        borrow = self._borrow_jwk()  # CheckoutBorrowLicense's PS384 key, once it has signed
        return {"keys": [jwk, borrow] if borrow else [jwk]}

    def _sign(self, claims: dict[str, Any]) -> str:
        signer = self._signer
        if signer is None:
            from ...core.jwt_signing import JwtSigner

            signer = self._signer = JwtSigner(
                self.signing_key, self.algorithm, self.key_id, deterministic=self.entropy.seeded
            )
        return signer.sign(claims)

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
        self._client_tokens[scope] = _Idempotent(now, digest, result)
        return result

    # ---- snapshots --------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to go on exactly, as this service's fixtures section (``__init__`` reads it back).

        Refresh tokens are kept whole: the model keeps them whole, since a CreateToken
        retried with its ClientToken answers the same token again.
        """
        with self._lock:
            section: dict[str, Any] = {
                "settings": dict(self.settings),
                "licenses": [_license_state(lic) for lic in self._licenses.values()],
                "tokens": [_token_state(token) for token in self._tokens.values()],
                "client_tokens": [_idempotent_state(scope, record) for scope, record in self._client_tokens.items()],
                "consumptions": self._consumptions_state(),
            }
            if self._key is not None:
                section["signing_key"] = {"algorithm": self.algorithm, "key_id": self._key_id, **_key_state(self._key)}
            if self._borrow_key is not None:
                section["borrow_private_key"] = _pem(self._borrow_key)
            return copy.deepcopy(section)

    def _load_state(self, section: dict[str, Any]) -> None:
        """The running state a snapshot adds to the fixtures (each part absent in a hand-written file)."""
        key = section.get("signing_key")
        if key is not None:
            if key["algorithm"] != self.algorithm:
                raise MockCloudError(
                    f"licensemanager: the snapshot's signing key is {key['algorithm']}, "
                    f"but jwt_algorithm is {self.algorithm}"
                )
            if self.algorithm == "HS256":
                self._key = _load_secret(key["secret"])
            else:
                self._key = _load_pem(key["private_key"], self.algorithm)
            self._key_id = key["key_id"]
        if "borrow_private_key" in section:
            self._borrow_key = _load_pem(section["borrow_private_key"], "PS384")
        for item in section.get("tokens", ()):
            if item["license_arn"] not in self._licenses:
                raise MockCloudError(
                    f"licensemanager: token {item['token_id']} of an unknown license {item['license_arn']}"
                )
            if item["token_id"] in self._tokens:
                raise MockCloudError(f"licensemanager: token {item['token_id']} appears twice")
            token = Token(
                item["token_id"],
                item["account_id"],
                item["license_arn"],
                item["home_region"],
                list(item["role_arns"]),
                list(item["token_properties"]),
                item["created"],
                item["expires"],
                item["jwt"],
                item["deleted"],
            )
            self._tokens[token.token_id] = token
            self._by_jwt[token.jwt] = token
        self._load_consumptions(section.get("consumptions", ()))
        for item in section.get("client_tokens", ()):
            scope = (item["operation"], item["account_id"], item["client_token"])
            self._client_tokens[scope] = _Idempotent(item["at"], item["fingerprint"], self._idempotent_result(item))

    def _idempotent_result(self, item: dict[str, Any]) -> Any:
        """What a retried call answers again: the very license or token it made, or the response it gave."""
        if "response" in item:
            return item["response"]
        if "license_arn" in item:
            found: Any = self._licenses.get(item["license_arn"])
        else:
            found = self._tokens.get(item["token_id"])
        if found is None:
            what = item.get("license_arn") or item.get("token_id")
            raise MockCloudError(f"licensemanager: client token {item['client_token']!r} refers to an unknown {what}")
        return found

    # ---- licenses ---------------------------------------------------------
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
    ) -> License:
        """Create a license (the CreateLicense operation, and a test-side shortcut with defaults)."""
        issuer = dict(issuer or {"Name": "mockcloud"})
        validity = dict(validity or {"Begin": iso(self.clock.time())})
        self._check_validity(validity)
        fields: _LicenseFields = {
            "name": license_name,
            "product_name": product_name,
            "product_sku": product_sku,
            "home_region": home_region,
            "validity": validity,
            "entitlements": list(entitlements or [{"Name": "Seats", "Unit": "Count", "MaxCount": 10}]),
            "beneficiary": beneficiary or f"arn:aws:iam::{account_id}:root",
            "consumption_configuration": dict(consumption_configuration or {"RenewType": "None"}),
            "metadata": list(license_metadata or []),
        }

        def create() -> License:
            arn = license_arn or f"arn:aws:license-manager::{account_id}:license:l-{self.entropy.uuid4().hex}"
            full_issuer = {
                "Name": issuer["Name"],
                "KeyFingerprint": f"aws:{account_id}:{issuer['Name']}:issuer-fingerprint",
            }
            if issuer.get("SignKey"):
                full_issuer["SignKey"] = issuer["SignKey"]
            lic = License(arn=arn, account_id=account_id, issuer=full_issuer, created=self.clock.time(), **fields)
            self._licenses[arn] = lic
            return lic

        with self._lock:
            if client_token is None:
                return create()
            return self._idempotent(("CreateLicense", account_id, client_token), {**fields, "issuer": issuer}, create)

    @staticmethod
    def _check_validity(validity: dict[str, Any]) -> None:
        def moment(text: str) -> float:  # naive times are UTC; .timestamp() works at either end of the calendar
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()

        try:
            begin = moment(validity["Begin"])
            end = moment(validity["End"]) if validity.get("End") else None
        except (KeyError, ValueError, TypeError):
            raise ERRORS.error("ValidationException", "Validity must be an ISO 8601 date and time range.") from None
        if end is not None and end <= begin:
            raise ERRORS.error("ValidationException", "Validity End must be later than Begin.")

    def _add_license_from_fixture(self, item: dict[str, Any]) -> None:
        # a snapshot's license carries its Validity as CreateLicense took it, and what the API set on it
        validity = item.get("validity") or {
            "Begin": item.get("validity_begin", "2024-01-01T00:00:00Z"),
            **({"End": item["validity_end"]} if item.get("validity_end") else {}),
        }
        issuer = {"Name": item.get("issuer", "mockcloud")}
        if "issuer_sign_key" in item:
            issuer["SignKey"] = item["issuer_sign_key"]
        lic = self.create_license(
            account_id=item.get("account_id", DEFAULT_ACCOUNT_ID),
            home_region=item.get("home_region", DEFAULT_REGION),
            license_name=item["license_name"],
            product_name=item["product_name"],
            product_sku=item["product_sku"],
            issuer=issuer,
            validity=validity,
            entitlements=item.get("entitlements"),
            beneficiary=item.get("beneficiary"),
            consumption_configuration=item.get("consumption_configuration"),
            license_metadata=item.get("license_metadata"),
            license_arn=item["license_arn"],
        )
        lic.created = item.get("created", lic.created)
        lic.status = item.get("status", lic.status)
        lic.version = item.get("version", lic.version)

    @reads_only
    def license(self, arn: str, account_id: str = DEFAULT_ACCOUNT_ID) -> License | None:
        lic = self._licenses.get(arn)
        return lic if lic is not None and lic.account_id == account_id else None

    def get_license(self, account_id: str, arn: str, version: str | None = None) -> License:
        lic = self.license(arn, account_id)
        if lic is None:
            raise ERRORS.error("InvalidParameterValueException", f"License is not found: {arn}")
        if version is not None and version != lic.version:
            raise ERRORS.error("InvalidParameterValueException", f"License version {version} is not found for {arn}")
        return lic

    _LICENSE_FILTERS: ClassVar[dict[str, Callable[[License], object]]] = {
        "Beneficiary": lambda lic: lic.beneficiary,
        "ProductSKU": lambda lic: lic.product_sku,
        "Fingerprint": lambda lic: lic.issuer.get("KeyFingerprint"),
        "Status": lambda lic: lic.status,
    }

    def list_licenses(
        self, account_id: str, region: str, arns: list[str] | None, filters: list[dict[str, Any]] | None
    ) -> list[License]:
        selected = [
            lic for lic in self._licenses.values() if lic.account_id == account_id and lic.home_region == region
        ]
        if arns:
            wanted = set(arns)
            selected = [lic for lic in selected if lic.arn in wanted]
        for flt in filters or ():
            getter = self._LICENSE_FILTERS.get(flt.get("Name", ""))  # "": no such filter either
            if getter is None:
                raise ERRORS.error(
                    "InvalidParameterValueException",
                    f"Unsupported filter name: {flt.get('Name')}. Supported: {', '.join(self._LICENSE_FILTERS)}",
                )
            values = set(flt.get("Values") or ())
            selected = [lic for lic in selected if getter(lic) in values]
        return selected

    # ---- tokens -----------------------------------------------------------
    def create_token(
        self,
        *,
        account_id: str,
        region: str,
        license_arn: str,
        client_token: str,
        role_arns: list[str] | None = None,
        expiration_in_days: int | None = None,
        token_properties: list[str] | None = None,
    ) -> Token:
        days = self.settings["default_expiration_days"] if expiration_in_days is None else expiration_in_days
        if days < 1:
            raise ERRORS.error("ValidationException", "ExpirationInDays must be a positive number of days.")
        role_arns = list(role_arns or [])
        token_properties = list(token_properties or [])
        with self._lock:
            lic = self.license(license_arn, account_id)
            if lic is None:
                raise ERRORS.error("ResourceNotFoundException", f"License not found: {license_arn}")

            def create() -> Token:
                now = self.clock.time()
                token_id = self.entropy.uuid4().hex
                expires = now + days * 86400
                claims = {
                    "iss": f"https://license-manager.{lic.home_region}.amazonaws.com",
                    "sub": account_id,
                    "aud": license_arn,
                    "amr": token_properties,
                    "roles": role_arns,
                    "token_type": "refresh_token",
                    "iat": int(now),
                    "nbf": int(now),
                    "exp": int(expires),
                    "jti": token_id,
                }
                token = Token(
                    token_id,
                    account_id,
                    license_arn,
                    lic.home_region,
                    role_arns,
                    token_properties,
                    now,
                    expires,
                    self._sign(claims),
                )
                self._tokens[token_id] = token
                self._by_jwt[token.jwt] = token
                return token

            fingerprint = {"arn": license_arn, "roles": role_arns, "days": days, "props": token_properties}
            return self._idempotent(("CreateToken", account_id, client_token), fingerprint, create)

    def _presented(self, token_string: str) -> Token:
        """The stored token this string is, or the reason it is refused."""
        stored = self._by_jwt.get(token_string)
        if stored is not None and same_secret(stored.jwt, token_string):
            return stored
        parts = token_string.split(".")
        try:
            if len(parts) != 3:
                raise ValueError
            claims = jsonbody.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            token_id = claims["jti"]
            if not isinstance(token_id, str):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise ERRORS.error("ValidationException", "The token is not a valid JWT refresh token.") from None
        stored = self._tokens.get(token_id)
        # The exact string we issued, compared in constant time: anything else was altered or forged.
        if stored is None or not same_secret(stored.jwt, token_string):
            raise ERRORS.error("AuthorizationException", "The token signature is not valid.")
        return stored

    def get_access_token(self, *, account_id: str | None, token: str, token_properties: list[str] | None = None) -> str:
        """An access token for the refresh token.

        ``account_id`` None: an unsigned call, where the token alone authenticates.
        """
        stored = self._presented(token)
        if account_id is not None and stored.account_id != account_id:
            raise ERRORS.error(
                "AccessDeniedException", "Access to resource denied: the token belongs to another account."
            )
        if stored.deleted:
            raise ERRORS.error("AuthorizationException", "The token has been deleted.")
        now = self.clock.time()
        if now >= stored.expires:
            raise ERRORS.error("AuthorizationException", f"The token expired at {iso(stored.expires)}.")
        missing = [p for p in token_properties or () if p not in stored.token_properties]
        if missing:
            raise ERRORS.error(
                "ValidationException",
                f"Token properties {missing} are not present in the token.",
            )
        claims = {
            "iss": ACCESS_TOKEN_ISSUER,
            "sub": stored.account_id,
            "aud": stored.license_arn,
            "amr": [*stored.token_properties, ISSUER_ACCOUNT_AMR.format(stored.account_id)],
            "roles": stored.role_arns,
            "token_type": "access_token",
            "rti": stored.token_id,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + self.settings["access_token_seconds"]),
            "jti": self.entropy.token_hex(16),
        }
        return self._sign(claims)

    def list_tokens(
        self,
        *,
        account_id: str,
        region: str,
        token_ids: list[str] | None = None,
        filters: list[dict[str, Any]] | None = None,
    ) -> list[Token]:
        selected = [
            t for t in self._tokens.values() if t.account_id == account_id and t.home_region == region and not t.deleted
        ]
        if token_ids:
            wanted = set(token_ids)
            selected = [t for t in selected if t.token_id in wanted]
        for flt in filters or ():
            if flt.get("Name") != "LicenseArns":
                raise ERRORS.error(
                    "ValidationException", f"Unsupported filter name: {flt.get('Name')}. Supported: LicenseArns"
                )
            arns = set(flt.get("Values") or ())
            selected = [t for t in selected if t.license_arn in arns]
        return selected

    def delete_token(self, *, account_id: str, region: str, token_id: str) -> None:
        with self._lock:
            token = self._tokens.get(token_id)
            if token is None or token.deleted or token.account_id != account_id:
                raise ERRORS.error("ResourceNotFoundException", f"Token not found: {token_id}")
            if token.home_region != region:
                location = f"https://license-manager.{token.home_region}.amazonaws.com"
                raise ERRORS.error(
                    "RedirectException",
                    f"This is not the correct Region for the resource. Call DeleteToken in {token.home_region}.",
                    fields={"Location": location},
                )
            token.deleted = True

    # ---- for tests --------------------------------------------------------
    @property
    def licenses(self) -> list[License]:
        return list(self._licenses.values())

    @property
    def tokens(self) -> list[Token]:
        return [t for t in self._tokens.values() if not t.deleted]

    @reads_only
    def token(self, token_id: str) -> Token | None:
        return self._tokens.get(token_id)

    @reads_only
    def decode(self, jwt_string: str, **options: Unpack[Options]) -> dict[str, Any]:
        """Verify one of our JWTs with the public key (as code under test would) and return its claims."""
        import jwt

        return jwt.decode(
            jwt_string, self.public_key, algorithms=[self.algorithm], options={"verify_aud": False, **options}
        )

    def inventory(self) -> list[dict[str, object]]:
        """The refresh tokens and license consumptions it holds, for the dashboard (no secrets).

        Access tokens are stateless JWTs that the model does not keep, so they are not listed.
        """
        from ...core.inventory import entry, short_id, state_of

        now = self.clock.time()
        with self._lock:
            tokens = list(self._tokens.values())
            consumptions = list(self._consumptions.values())
        found = [
            entry(
                "licensemanager",
                "refresh_token",
                t.token_id,
                t.account_id,
                t.created,
                t.expires,
                state_of(now, t.expires, revoked=t.deleted),
            )
            for t in tokens
        ]
        for c in consumptions:
            expires = None if c.checkout_type == "PERPETUAL" else c.expires
            found.append(
                entry(
                    "licensemanager",
                    f"{c.checkout_type.lower()}_checkout",
                    short_id(c.token),
                    c.beneficiary or c.account_id,
                    c.issued,
                    expires,
                    state_of(now, expires, used=c.checked_in),
                )
            )
        return found
