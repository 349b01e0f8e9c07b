"""Outbound identity federation: GetWebIdentityToken's JWTs, signed by each account's issuer, and its published keys.

Each account that uses it gets an issuer ``https://<id>.tokens.sts.global.api.aws``
(as EnableOutboundWebIdentityFederation makes one) with a signing key per
algorithm the API offers (RS256, ES384). The issuer publishes the OIDC
discovery document and its JWKS under ``/.well-known/``; the emulator
answers both on the issuer's host, and ``/_mockcloud/jwks/sts`` on the server
lists every issuer's keys.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...core.entropy import Entropy

ISSUER_DOMAIN = "tokens.sts.global.api.aws"
ALGORITHMS = ("RS256", "ES384")
CLAIMS_NAMESPACE = "https://sts.amazonaws.com/"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"


def issuer_url(issuer_id: str) -> str:
    return f"https://{issuer_id}.{ISSUER_DOMAIN}"


def new_key(algorithm: str, entropy: Entropy) -> str:
    """A new private key for ``algorithm``, as PEM (what the account's record keeps)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = entropy.rsa_private_key(2048) if algorithm == "RS256" else entropy.ec_private_key(ec.SECP384R1())
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode("ascii")


def _load(pem: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem.encode("ascii"), password=None)


def key_id(pem: str) -> str:
    """A stable ``kid``: the SHA-256 of the public key's DER, shortened."""
    from cryptography.hazmat.primitives import serialization

    der = (
        _load(pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return hashlib.sha256(der).hexdigest()[:32]


def jwk(pem: str, algorithm: str) -> dict[str, Any]:
    """The public key as a JWK, with its ``kid``, ``alg`` and ``use``."""
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    public = _load(pem).public_key()
    found: dict[str, Any] = (
        RSAAlgorithm.to_jwk(public, as_dict=True) if algorithm == "RS256" else ECAlgorithm.to_jwk(public, as_dict=True)
    )
    found.update({"kid": key_id(pem), "alg": algorithm, "use": "sig"})
    return found


def sign(claims: dict[str, Any], pem: str, algorithm: str) -> str:
    import jwt

    return jwt.encode(claims, _load(pem), algorithm=algorithm, headers={"kid": key_id(pem), "typ": "JWT"})


def discovery(issuer: str) -> dict[str, Any]:
    """The issuer's OIDC discovery document."""
    return {
        "issuer": issuer,
        "jwks_uri": issuer + JWKS_PATH,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "jti", CLAIMS_NAMESPACE],
    }
