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
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ...core.errors import MockCloudError
from .base import LicenseManagerBase
from .records import IssuerKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.x509 import Certificate

    from ...core.jwt_signing import JwtSigner
    from .records import License

BORROW_SUFFIX = "#PS384"  # the kid of an issuer key's PS384 entry: CheckoutBorrowLicense's signatures
CA_NAME = "mockcloud AWS License Manager issuer CA"
CERTIFICATE_YEARS = 10


class KeyMaterial:
    """An :class:`IssuerKey`'s PEM read once in this process: the key, the certificate and what comes of them."""

    __slots__ = ("certificate", "certificate_pem", "private_key", "thumbprint", "x5c")

    def __init__(self, key: IssuerKey) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        try:
            private = serialization.load_pem_private_key(key.private_key.encode("ascii"), password=None)
            certificate = x509.load_pem_x509_certificate(key.certificate.encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError):
            private = None
        if not isinstance(private, rsa.RSAPrivateKey) or certificate.public_key() != private.public_key():
            raise MockCloudError(
                f"licensemanager: issuer key {key.kid!r} is not an unencrypted RSA PEM key with its certificate"
            )
        self.certificate_pem = key.certificate
        self.private_key: RSAPrivateKey = private
        self.certificate: Certificate = certificate
        self.x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")
        digest = certificate.fingerprint(hashes.SHA256())  # x5t#S256 (RFC 7515 4.1.8)
        self.thumbprint = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def jwks(self, kid: str, chain: list[str]) -> list[dict[str, Any]]:
        from jwt.algorithms import RSAAlgorithm

        public = {**RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True), "use": "sig", "x5c": chain}
        return [
            {**public, "kid": kid, "alg": "PS256"},
            {**public, "kid": kid + BORROW_SUFFIX, "alg": "PS384"},
        ]


def pem_of(private_key: RSAPrivateKey, certificate: Certificate) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization

    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode("ascii"), certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def issuer_kid(lic: License) -> str:
    return lic.issuer.get("SignKey") or lic.fingerprint


class IssuerKeysMixin(LicenseManagerBase):
    """Issuer keys on :class:`~.model.LicenseManagerModel`: records of PEM text; read once per process
    (``_material``) and a signer per kid (``_issuer_signers``), each checked against the record it came of."""

    _material: dict[str, KeyMaterial]  # kid (CA_NAME for the CA) -> what its record's PEM gives
    _issuer_signers: dict[str, tuple[str, JwtSigner]]  # kid -> (the certificate it signs under, the signer)

    def _material_of(self, key: IssuerKey) -> KeyMaterial:
        material = self._material.get(key.kid)
        if material is None or material.certificate_pem != key.certificate:  # another worker's key won a race
            material = self._material[key.kid] = KeyMaterial(key)
        return material

    def _authority(self) -> IssuerKey:
        """The CA that certifies issuer keys (made on first use)."""
        ca = self._authority_keys.get("")
        if ca is None:
            key = self.entropy.rsa_private_key(2048)
            pem, certificate = pem_of(key, self._certificate(key.public_key(), CA_NAME, False, key))
            ca = IssuerKey(CA_NAME, "", pem, certificate)
            self._authority_keys[""] = ca
        return ca

    def _certificate(self, public_key: Any, subject: str, certified: bool, signer: RSAPrivateKey) -> Certificate:
        """An issuer key's certificate from the CA (``certified``), or the CA's own, self-signed."""
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
            .issuer_name(name(CA_NAME) if certified else name(subject))
            .public_key(public_key)
            .serial_number(1 + self.entropy.randbelow(2**63))
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * CERTIFICATE_YEARS))
            .add_extension(x509.BasicConstraints(ca=not certified, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=certified,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=not certified,
                    crl_sign=not certified,
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
                    ca = self._material_of(self._authority())
                    private = self.entropy.rsa_private_key(2048)
                    certificate = self._certificate(private.public_key(), kid, True, ca.private_key)
                    key = IssuerKey(kid, lic.account_id, *pem_of(private, certificate))
                    self._issuer_keys[kid] = key
        return key

    def _issuer_sign(self, lic: License, claims: dict[str, Any], *, borrow: bool = False) -> str:
        """A compact JWS of ``claims`` by the license's issuer: PS256, or PS384 for a borrow; ``x5c`` its chain."""
        key = self._issuer_key(lic)
        kid = key.kid + BORROW_SUFFIX if borrow else key.kid
        cached = self._issuer_signers.get(kid)
        if cached is None or cached[0] != key.certificate:
            from ...core.jwt_signing import JwtSigner

            material = self._material_of(key)
            chain = [material.x5c, self._material_of(self._authority()).x5c]
            algorithm = "PS384" if borrow else "PS256"
            header = {"x5c": chain, "x5t#S256": material.thumbprint}
            cached = self._issuer_signers[kid] = (
                key.certificate,
                JwtSigner(material.private_key, algorithm, kid, header=header),
            )
        return cached[1].sign(claims)

    def _issuer_jwks(self) -> list[dict[str, Any]]:
        ca = self._authority_keys.get("")
        if ca is None:
            return []
        authority = self._material_of(ca).x5c
        found = []
        for key in self._issuer_keys.values():
            material = self._material_of(key)
            found.extend(material.jwks(key.kid, [material.x5c, authority]))
        return found

    def issuer_public_key(self, key_fingerprint: str, sign_key: str | None = None) -> Any:
        """The public key that verifies an issuer's SignedTokens (its SignKey's when it names one), once it has
        signed; None before."""
        key = self._issuer_keys.get(sign_key or key_fingerprint)
        return None if key is None else self._material_of(key).private_key.public_key()

    def issuer_certificate_authority(self) -> Any:
        """The certificate that issuer certificates chain to (the last of a SignedToken's ``x5c``), once one has
        signed; None before. Pin it to verify a SignedToken offline."""
        ca = self._authority_keys.get("")
        return None if ca is None else self._material_of(ca).certificate
