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
import json
from typing import TYPE_CHECKING, Any

from ...core.credentials import DEFAULT_ACCOUNT_ID
from ...core.entities import Table, compound
from ...core.errors import MockCloudError
from ...core.helpers import reads_only
from ...core.service import ServiceContext, ServiceModel
from .account import AccountMixin
from .base import DEFAULTS
from .consumption import ConsumptionMixin
from .grants import GrantsMixin
from .issuers import CA_NAME, KeyMaterial
from .marketplace import MARKETPLACE_FINGERPRINT, MarketplaceMixin
from .records import (
    AUTHORITY,
    CHECKOUT,
    CLIENT_TOKEN,
    DEFAULT_REGION,
    GRANT,
    GRANT_VERSION,
    GRANTS_TO,
    ISSUER_KEY,
    ISSUER_LICENSES,
    LICENSE,
    LICENSE_GRANTS,
    LICENSE_VERSION,
    ORGANIZATION,
    SERVICE_SETTINGS,
    SETTINGS,
    SIGNING_KEY,
    TAGS,
    TOKEN,
    USAGE,
    Grant,
    GrantVersion,
    Idempotent,
    IssuerKey,
    License,
    LicenseVersion,
    Organization,
    ServiceSettings,
    Token,
)
from .tokens import ACCESS_TOKEN_ISSUER, PROVIDER, TokensMixin

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


def _stored_key(stored: dict[str, Any], algorithm: str) -> SigningKey:
    """The key of a signing-key record (or a snapshot's ``signing_key``)."""
    return _load_secret(stored["secret"]) if algorithm == "HS256" else _load_pem(stored["private_key"], algorithm)


def _key_state(key: SigningKey) -> dict[str, str]:
    return {"secret": base64.b64encode(key).decode("ascii")} if isinstance(key, bytes) else {"private_key": _pem(key)}


class LicenseManagerModel(MarketplaceMixin, GrantsMixin, ConsumptionMixin, TokensMixin, AccountMixin, ServiceModel):
    """``cloud.licensemanager``: the service's state, and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.clock = context.clock
        self.context = context
        self._lock = context.lock
        self._settings = context.table(SETTINGS)
        self._signing_keys = context.table(SIGNING_KEY)
        self._authority_keys = context.table(AUTHORITY)
        self._licenses = context.table(LICENSE)
        self._license_versions = context.table(LICENSE_VERSION)
        self._issuer_licenses = context.table(ISSUER_LICENSES)
        self._usage = context.table(USAGE)
        self._grants = context.table(GRANT)
        self._grant_versions = context.table(GRANT_VERSION)
        self._grants_to = context.table(GRANTS_TO)
        self._license_grants = context.table(LICENSE_GRANTS)
        self._consumptions = context.table(CHECKOUT)
        self._tokens = context.table(TOKEN)
        self._client_tokens = context.table(CLIENT_TOKEN)
        self._issuer_keys = context.table(ISSUER_KEY)
        self._tags = context.table(TAGS)
        self._service_settings = context.table(SERVICE_SETTINGS)
        self._organizations = context.table(ORGANIZATION)
        # what this process made of the records' keys (read once, checked against the record each use)
        self._material = {}
        self._issuer_signers = {}
        self._signer: tuple[str, SigningKey, JwtSigner | None] | None = None  # (key id, key, signer)
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
        return self._key()[1]

    @property
    def key_id(self) -> str:
        return self._key()[0]

    def _key(self) -> tuple[str, SigningKey]:
        """The signing key's id and the key, made on first use (its record then holds it, as PEM or base64)."""
        stored = self._signing_keys.get("")
        if stored is None:
            with self._lock:
                stored = self._signing_keys.get("")
                if stored is None:
                    stored = self._signing_keys[""] = self._new_key()
        cached = self._signer
        if cached is None or cached[0] != stored["key_id"]:  # another worker's key may have won a race
            cached = self._signer = (stored["key_id"], _stored_key(stored, self.algorithm), None)
        return cached[0], cached[1]

    def _new_key(self) -> dict[str, str]:
        key: SigningKey
        if self.algorithm == "RS256":
            key = self.entropy.rsa_private_key(2048)
        elif self.algorithm == "ES256":
            from cryptography.hazmat.primitives.asymmetric import ec

            key = self.entropy.ec_private_key(ec.SECP256R1())
        elif self.algorithm == "HS256":
            key = self.entropy.token_bytes(32)
        else:
            raise ValueError(f"unsupported jwt_algorithm {self.algorithm!r}; use ES256, RS256 or HS256")
        return {"algorithm": self.algorithm, "key_id": self.entropy.uuid4().hex, **_key_state(key)}

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
        key_id, key = self._key()
        cached = self._signer
        assert cached is not None
        signer = cached[2]
        if signer is None:
            from ...core.jwt_signing import JwtSigner

            signer = JwtSigner(key, self.algorithm, key_id, deterministic=self.entropy.seeded)
            self._signer = (key_id, key, signer)
        return signer.sign(claims)

    # ---- snapshots --------------------------------------------------------
    @reads_only
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to go on exactly, as this service's fixtures section (``load`` reads it back).

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
                "client_tokens": [used.state(json.loads(key)) for key, used in self._client_tokens.items()],
                "consumptions": self._consumptions_state(),
                "issuer_keys": [key.state() for key in self._issuer_keys.values()],
                "tags": [
                    {"resource_arn": arn, "tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
                    for arn, tags in self._tags.items()
                ],
                "service_settings": [s.state() for s in self._service_settings.values()],
                "organizations": [o.state() for o in self._organizations.values()],
            }
            ca = self._authority_keys.get("")
            if ca is not None:
                section["certificate_authority"] = {"private_key": ca.private_key, "certificate": ca.certificate}
            key = self._signing_keys.get("")
            if key is not None:
                section["signing_key"] = dict(key)
            return copy.deepcopy(section)

    def load(self, section: dict[str, Any]) -> None:
        """The fixtures' licenses and settings; what else a snapshot holds (each part absent in a hand-written
        file). Each record must name records that are there, under a key no other record of its kind has."""
        with self._lock:
            self._settings[""] = self.context.merged_settings(DEFAULTS, section)
            for item in section.get("licenses", ()):
                self._add_license_from_fixture(item)
            self._load_state(section)

    def _load_state(self, section: dict[str, Any]) -> None:
        self._load_signing_key(section.get("signing_key"))
        for item in section.get("license_versions", ()):
            version = LicenseVersion.from_state(item)
            self._unique(self._license_versions, version.id, version, item["license_arn"])
        for item in section.get("organizations", ()):
            organization = Organization.from_state(item)
            if organization.organization_id in self._organizations:
                raise MockCloudError(f"licensemanager: organization {organization.organization_id} appears twice")
            self._organizations[organization.organization_id] = organization
        for item in section.get("grants", ()):
            grant = Grant.from_state(item)
            self._unique(self._grants, grant.arn, grant, item["license_arn"])
            self._put_new_grant(grant)
        for item in section.get("grant_versions", ()):
            if item["grant_arn"] not in self._grants:
                raise MockCloudError(f"licensemanager: a version of an unknown grant {item['grant_arn']}")
            grant_version = GrantVersion.from_state(item)
            self._grant_versions[grant_version.id] = grant_version
        for item in section.get("tokens", ()):
            token = Token.from_state(item)
            self._unique(self._tokens, token.token_id, token, item["license_arn"])
        self._load_consumptions(section.get("consumptions", ()))
        if "certificate_authority" in section:
            ca = IssuerKey(CA_NAME, "", **section["certificate_authority"])
            KeyMaterial(ca)  # refused here if it is no key with its certificate
            self._authority_keys[""] = ca
        for item in section.get("issuer_keys", ()):
            key = IssuerKey(item["kid"], item["account_id"], item["private_key"], item["certificate"])
            KeyMaterial(key)
            self._issuer_keys[key.kid] = key
        for item in section.get("tags", ()):
            arn = item["resource_arn"]
            if arn not in self._licenses and arn not in self._grants:
                raise MockCloudError(f"licensemanager: tags of an unknown resource {arn}")
            self._tags[arn] = {t["Key"]: t["Value"] for t in item["tags"]}
        for item in section.get("service_settings", ()):
            settings = ServiceSettings.from_state(item)
            self._service_settings[settings.id] = settings
        window = float(self.settings["client_token_seconds"])
        for item in section.get("client_tokens", ()):
            used = Idempotent(
                item["at"],
                item["fingerprint"],
                item.get("license_arn"),
                item.get("token_id"),
                item.get("response"),
                window,
            )
            if "response" not in item:
                found: object = (
                    self._licenses.get(used.license_arn) if used.license_arn else self._tokens.get(used.token_id or "")
                )
                if found is None:
                    what = used.license_arn or used.token_id
                    raise MockCloudError(
                        f"licensemanager: client token {item['client_token']!r} refers to an unknown {what}"
                    )
            self._client_tokens[compound(item["operation"], item["account_id"], item["client_token"])] = used

    def _load_signing_key(self, key: dict[str, Any] | None) -> None:
        if key is None:
            return
        if key["algorithm"] != self.algorithm:
            raise MockCloudError(
                f"licensemanager: the snapshot's signing key is {key['algorithm']}, "
                f"but jwt_algorithm is {self.algorithm}"
            )
        _stored_key(key, self.algorithm)  # refused here if it is no key of that algorithm
        self._signing_keys[""] = dict(key)

    def _unique(self, records: Table[Any], key: str, record: Any, license_arn: str) -> None:
        """Add a snapshot's record of a license, refusing one of an unknown license or one seen twice."""
        if license_arn not in self._licenses:
            raise MockCloudError(f"licensemanager: {key} belongs to an unknown license {license_arn}")
        if key in records:
            raise MockCloudError(f"licensemanager: {key} appears twice")
        records[key] = record

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
        self._licenses[lic.arn] = lic

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
