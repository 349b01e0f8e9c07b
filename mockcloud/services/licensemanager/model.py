"""License Manager's state and rules: licenses, grants, consumption, tokens, tags and settings. No HTTP here.

The model is put together from one part per subject (``licenses``,
``grants``, ``marketplace``, ``consumption``, ``issuers``, ``tokens``,
``account``), which share its records and rules (``base``). Here: the
service's own signing key (refresh and access tokens), snapshots, and the
dashboard's inventory.
"""

from __future__ import annotations

import base64
import copy
from typing import TYPE_CHECKING, Any

from ...core.credentials import DEFAULT_ACCOUNT_ID
from ...core.errors import MockCloudError
from ...core.helpers import reads_only
from ...core.service import ServiceContext
from .account import AccountMixin
from .base import Idempotent
from .consumption import ConsumptionMixin
from .grants import GrantsMixin
from .issuers import CA_NAME, IssuerKey
from .marketplace import MARKETPLACE_FINGERPRINT, MarketplaceMixin
from .records import (
    DEFAULT_REGION,
    Grant,
    GrantVersion,
    License,
    LicenseVersion,
    Organization,
    ServiceSettings,
)
from .tokens import ACCESS_TOKEN_ISSUER, PROVIDER, Token, TokensMixin

if TYPE_CHECKING:
    from typing import TypeAlias

    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey, EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
    from jwt.algorithms import Algorithm
    from jwt.types import Options
    from typing_extensions import Unpack

    from ...core.jwt_signing import JwtSigner

    # what signs the refresh and access tokens: an ES256 or RS256 private key, or the HS256 secret
    SigningKey: TypeAlias = EllipticCurvePrivateKey | RSAPrivateKey | bytes
    VerifyingKey: TypeAlias = EllipticCurvePublicKey | RSAPublicKey | bytes

__all__ = ["MARKETPLACE_FINGERPRINT", "LicenseManagerModel"]

DEFAULTS = {
    "access_token_seconds": 3600,  # "Access tokens are valid for one hour."
    "default_expiration_days": 365,  # CreateToken ExpirationInDays default
    "client_token_seconds": 600,  # "Idempotency token, valid for 10 minutes."
    "jwt_algorithm": "ES256",  # or RS256 (slow to sign) or HS256 (fastest; the JWKS then carries the secret)
    "license_deletion_seconds": 3600,  # how long a deleted license with grants in use stays PENDING_DELETE
}


def _pem(key: EllipticCurvePrivateKey | RSAPrivateKey) -> str:
    """A private key as unencrypted PKCS#8 PEM text."""
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode("ascii")


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


def _idempotent_state(scope: tuple[str, ...], record: Idempotent) -> dict[str, Any]:
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


class LicenseManagerModel(MarketplaceMixin, GrantsMixin, ConsumptionMixin, TokensMixin, AccountMixin):
    """``cloud.licensemanager``: the service's state, and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.clock = context.clock
        self.settings = context.merged_settings(DEFAULTS)
        self._lock = context.lock
        self._licenses = {}
        self._license_versions = {}
        self._grants = {}
        self._grant_versions = {}
        self._consumptions = {}
        self._tokens = {}
        self._by_jwt = {}
        self._client_tokens = {}
        self._issuer_keys = {}
        self._issuer_signers = {}
        self._certificate_authority = None
        self._tags = {}
        self._service_settings = {}
        self._organizations = {}
        self._key: SigningKey | None = None
        self._key_id: str | None = None  # set with _key
        self._signer: JwtSigner | None = None
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

    # ---- the service's key: refresh and access tokens -----------------------
    @property
    def algorithm(self) -> str:
        algorithm: str = self.settings["jwt_algorithm"]
        return algorithm

    @property
    def signing_key(self) -> SigningKey:
        """The private key that signs refresh and access tokens (a ``cryptography`` key; for HS256 the secret)."""
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
        """The key that verifies refresh and access tokens (for HS256, the shared secret itself)."""
        key = self.signing_key
        return key if isinstance(key, bytes) else key.public_key()

    @reads_only
    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public keys as a JSON Web Key Set: the service's (refresh and access tokens), then every issuer's
        that has signed a checkout (PS256, and PS384 for borrows; ``kid`` the issuer's SignKey or fingerprint)."""
        from jwt.algorithms import ECAlgorithm, HMACAlgorithm, RSAAlgorithm

        families: dict[str, type[Algorithm]] = {"RS256": RSAAlgorithm, "HS256": HMACAlgorithm}
        algorithm = families.get(self.algorithm, ECAlgorithm)
        jwk = algorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update({"kid": self.key_id, "alg": self.algorithm, "use": "sig"})
        return {"keys": [jwk, *self._issuer_jwks()]}

    def _sign(self, claims: dict[str, Any]) -> str:
        signer = self._signer
        if signer is None:
            from ...core.jwt_signing import JwtSigner

            signer = self._signer = JwtSigner(
                self.signing_key, self.algorithm, self.key_id, deterministic=self.entropy.seeded
            )
        return signer.sign(claims)

    # ---- snapshots --------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to go on exactly, as this service's fixtures section (``__init__`` reads it back).

        Refresh tokens are kept whole: the model keeps them whole, since a CreateToken
        retried with its ClientToken answers the same token again.
        """
        with self._lock:
            section: dict[str, Any] = {
                "settings": dict(self.settings),
                "licenses": [lic.state() for lic in self._licenses.values()],
                "license_versions": [v.state() for v in self._license_versions.values()],
                "grants": [g.state() for g in self._grants.values()],
                "grant_versions": [v.state() for v in self._grant_versions.values()],
                "tokens": [token.state() for token in self._tokens.values()],
                "client_tokens": [_idempotent_state(scope, record) for scope, record in self._client_tokens.items()],
                "consumptions": self._consumptions_state(),
                "issuer_keys": [key.state() for key in self._issuer_keys.values()],
                "tags": [
                    {"resource_arn": arn, "tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
                    for arn, tags in self._tags.items()
                ],
                "service_settings": [s.state() for s in self._service_settings.values()],
                "organizations": [o.state() for o in self._organizations.values()],
            }
            if self._certificate_authority is not None:
                ca = self._certificate_authority.state()
                section["certificate_authority"] = {"private_key": ca["private_key"], "certificate": ca["certificate"]}
            if self._key is not None:
                section["signing_key"] = {"algorithm": self.algorithm, "key_id": self._key_id, **_key_state(self._key)}
            return copy.deepcopy(section)

    def _load_state(self, section: dict[str, Any]) -> None:
        """The running state a snapshot adds to the fixtures (each part absent in a hand-written file)."""
        self._load_signing_key(section.get("signing_key"))
        for item in section.get("license_versions", ()):
            version = LicenseVersion.from_state(item)
            self._unique(self._license_versions, version.id, version, item["license_arn"])
        for item in section.get("organizations", ()):
            organization = Organization.from_state(item)
            self._organizations[organization.organization_id] = organization
        for item in section.get("grants", ()):
            self._unique(self._grants, item["arn"], Grant.from_state(item), item["license_arn"])
        for item in section.get("grant_versions", ()):
            if item["grant_arn"] not in self._grants:
                raise MockCloudError(f"licensemanager: a version of an unknown grant {item['grant_arn']}")
            grant_version = GrantVersion.from_state(item)
            self._grant_versions[grant_version.id] = grant_version
        for item in section.get("tokens", ()):
            token = Token.from_state(item)
            self._unique(self._tokens, token.token_id, token, item["license_arn"])
            self._by_jwt[token.jwt] = token
        self._load_consumptions(section.get("consumptions", ()))
        if "certificate_authority" in section:
            self._certificate_authority = IssuerKey.from_state(
                {"kid": CA_NAME, "account_id": "", **section["certificate_authority"]}
            )
        for item in section.get("issuer_keys", ()):
            key = IssuerKey.from_state(item)
            self._issuer_keys[key.kid] = key
        for item in section.get("tags", ()):
            arn = item["resource_arn"]
            if arn not in self._licenses and arn not in self._grants:
                raise MockCloudError(f"licensemanager: tags of an unknown resource {arn}")
            self._tags[arn] = {t["Key"]: t["Value"] for t in item["tags"]}
        for item in section.get("service_settings", ()):
            settings = ServiceSettings.from_state(item)
            self._service_settings[settings.id] = settings
        for item in section.get("client_tokens", ()):
            scope = (item["operation"], item["account_id"], item["client_token"])
            self._client_tokens[scope] = Idempotent(item["at"], item["fingerprint"], self._idempotent_result(item))

    def _load_signing_key(self, key: dict[str, Any] | None) -> None:
        if key is None:
            return
        if key["algorithm"] != self.algorithm:
            raise MockCloudError(
                f"licensemanager: the snapshot's signing key is {key['algorithm']}, "
                f"but jwt_algorithm is {self.algorithm}"
            )
        self._key = (
            _load_secret(key["secret"]) if self.algorithm == "HS256" else _load_pem(key["private_key"], self.algorithm)
        )
        self._key_id = key["key_id"]

    def _unique(self, records: dict[str, Any], key: str, record: Any, license_arn: str) -> None:
        """Add a snapshot's record of a license, refusing one of an unknown license or one seen twice."""
        if license_arn not in self._licenses:
            raise MockCloudError(f"licensemanager: {key} belongs to an unknown license {license_arn}")
        if key in records:
            raise MockCloudError(f"licensemanager: {key} appears twice")
        records[key] = record

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

    def _add_license_from_fixture(self, item: dict[str, Any]) -> None:
        # a snapshot's license carries its Validity as CreateLicense took it, and what the API set on it
        validity = item.get("validity") or {
            "Begin": item.get("validity_begin", "2024-01-01T00:00:00Z"),
            **({"End": item["validity_end"]} if item.get("validity_end") else {}),
        }
        issuer = {"Name": item.get("issuer", "mockcloud")}
        if "issuer_sign_key" in item:
            issuer["SignKey"] = item["issuer_sign_key"]
        if item["license_arn"] in self._licenses:
            raise MockCloudError(f"licensemanager: license {item['license_arn']} appears twice")
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
        lic.deletion_date = item.get("deletion_date")

    # ---- for tests --------------------------------------------------------
    @property
    def licenses(self) -> list[License]:
        return list(self._licenses.values())

    @reads_only
    def decode(self, jwt_string: str, **options: Unpack[Options]) -> dict[str, Any]:
        """Verify one of our refresh or access tokens with the public key (as code under test would); its claims."""
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
