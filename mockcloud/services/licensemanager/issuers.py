"""Issuers' signing keys: what signs a checkout's SignedToken, and where a verifier finds the public half.

License Manager signs with the KMS key an issuer names in ``SignKey``, whose
algorithm the API reference fixes as RSASSA-PSS SHA-256 (JWS ``PS256``);
CheckoutBorrowLicense signs with the same key as its ``DigitalSignatureMethod``
asks (``JWT_PS384``). Here every issuer has an RSA-2048 key of its own (KMS's
``RSA_2048`` supports both), made on first use: the key of its ``SignKey``
when it names one, else the key of its fingerprint.

"Signing permits vendors to validate the integrity and origin of a license
within the application itself, even in an offline environment": so each
issuer key comes with an X.509 certificate, issued by the mock's License
Manager certificate authority, and every SignedToken carries the chain in its
``x5c`` header (RFC 7515 4.1.6, with the issuer certificate's ``x5t#S256``). An application verifies offline with the
certificate, or fetches the key by ``kid`` from the JWKS (``jwks()``,
``/_mockcloud/jwks``), which lists each key twice, once per algorithm, so
that ``jwt.PyJWKClient`` finds the right one. With the chain, a SignedToken
is as large as AWS's model says AWS's are (at least 4096 characters).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ...core.errors import MockCloudError
from .base import LicenseManagerBase

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.x509 import Certificate

    from .records import License

BORROW_SUFFIX = "#PS384"  # the kid of an issuer key's PS384 entry: CheckoutBorrowLicense's signatures
CA_NAME = "mockcloud AWS License Manager issuer CA"
CERTIFICATE_YEARS = 10


@dataclass
class IssuerKey:
    """An RSA key and its certificate: an issuer's (``kid`` its SignKey, or its fingerprint), or the CA's."""

    kid: str
    account_id: str
    private_key: RSAPrivateKey
    certificate: Certificate

    def x5c(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")

    def thumbprint(self) -> str:
        """``x5t#S256``: the base64url SHA-256 of the certificate (RFC 7515 4.1.8)."""
        from cryptography.hazmat.primitives import hashes

        digest = self.certificate.fingerprint(hashes.SHA256())
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def jwks(self, chain: list[str]) -> list[dict[str, Any]]:
        from jwt.algorithms import RSAAlgorithm

        public = {**RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True), "use": "sig", "x5c": chain}
        return [
            {**public, "kid": self.kid, "alg": "PS256"},
            {**public, "kid": self.kid + BORROW_SUFFIX, "alg": "PS384"},
        ]

    def state(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives import serialization

        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        certificate = self.certificate.public_bytes(serialization.Encoding.PEM)
        return {
            "kid": self.kid,
            "account_id": self.account_id,
            "private_key": pem.decode("ascii"),
            "certificate": certificate.decode("ascii"),
        }

    @classmethod
    def from_state(cls, item: dict[str, Any]) -> IssuerKey:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        try:
            key = serialization.load_pem_private_key(item["private_key"].encode("ascii"), password=None)
            certificate = x509.load_pem_x509_certificate(item["certificate"].encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError):
            key = None
        if not isinstance(key, rsa.RSAPrivateKey) or certificate.public_key() != key.public_key():
            raise MockCloudError(
                f"licensemanager: issuer key {item['kid']!r} is not an unencrypted RSA PEM key with its certificate"
            )
        return cls(item["kid"], item["account_id"], key, certificate)


def issuer_kid(lic: License) -> str:
    return lic.issuer.get("SignKey") or lic.fingerprint


class IssuerKeysMixin(LicenseManagerBase):
    """Issuer keys on :class:`~.model.LicenseManagerModel` (``_issuer_signers``: a signer per kid, made on demand)."""

    _certificate_authority: IssuerKey | None

    def _authority(self) -> IssuerKey:
        """The CA that certifies issuer keys (made on first use, under the lock)."""
        ca = self._certificate_authority
        if ca is None:
            key = self.entropy.rsa_private_key(2048)
            ca = self._certificate_authority = IssuerKey(
                CA_NAME, "", key, self._certificate(key.public_key(), CA_NAME, None, key)
            )
        return ca

    def _certificate(
        self, public_key: Any, subject: str, issuer: IssuerKey | None, signer: RSAPrivateKey
    ) -> Certificate:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import NameOID

        def name(common_name: str) -> x509.Name:
            return x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mockcloud"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "-"),
                ]
            )

        now = datetime.fromtimestamp(self.clock.time(), timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(CA_NAME) if issuer is not None else name(subject))
            .public_key(public_key)
            .serial_number(1 + self.entropy.randbelow(2**63))
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * CERTIFICATE_YEARS))
            .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=issuer is not None,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=issuer is None,
                    crl_sign=issuer is None,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        return builder.sign(signer, hashes.SHA256())  # PKCS #1 v1.5: the same certificate for the same seed

    def _issuer_key(self, lic: License) -> IssuerKey:
        kid = issuer_kid(lic)
        key = self._issuer_keys.get(kid)
        if key is None:
            with self._lock:
                key = self._issuer_keys.get(kid)
                if key is None:
                    ca = self._authority()
                    private = self.entropy.rsa_private_key(2048)
                    certificate = self._certificate(private.public_key(), kid, ca, ca.private_key)
                    key = self._issuer_keys[kid] = IssuerKey(kid, lic.account_id, private, certificate)
        return key

    def _issuer_sign(self, lic: License, claims: dict[str, Any], *, borrow: bool = False) -> str:
        """A compact JWS of ``claims`` by the license's issuer: PS256, or PS384 for a borrow; ``x5c`` its chain."""
        key = self._issuer_key(lic)
        kid = key.kid + BORROW_SUFFIX if borrow else key.kid
        signer = self._issuer_signers.get(kid)
        if signer is None:
            from ...core.jwt_signing import JwtSigner

            chain = [key.x5c(), self._authority().x5c()]
            algorithm = "PS384" if borrow else "PS256"
            header = {"x5c": chain, "x5t#S256": key.thumbprint()}
            signer = self._issuer_signers[kid] = JwtSigner(key.private_key, algorithm, kid, header=header)
        return signer.sign(claims)

    def _issuer_jwks(self) -> list[dict[str, Any]]:
        ca = self._certificate_authority
        if ca is None:
            return []
        return [jwk for key in list(self._issuer_keys.values()) for jwk in key.jwks([key.x5c(), ca.x5c()])]

    def issuer_public_key(self, key_fingerprint: str, sign_key: str | None = None) -> Any:
        """The public key that verifies an issuer's SignedTokens (its SignKey's when it names one), once it has
        signed; None before."""
        key = self._issuer_keys.get(sign_key or key_fingerprint)
        return None if key is None else key.private_key.public_key()

    def issuer_certificate_authority(self) -> Any:
        """The certificate that issuer certificates chain to (the last of a SignedToken's ``x5c``), once one has
        signed; None before. Pin it to verify a SignedToken offline."""
        ca = self._certificate_authority
        return None if ca is None else ca.certificate
