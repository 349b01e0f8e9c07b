"""Signing our own JWTs on the per-request path.

pyjwt's ``encode`` spends more time preparing than the key spends signing;
a signer with the header segment and key fixed once does only the signing.
Decoding, and JWKs, stay with pyjwt.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from typing import TypeAlias

    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    # ES256: an EC key on P-256; RS256: an RSA key; HS256: the shared secret
    SigningKey: TypeAlias = EllipticCurvePrivateKey | RSAPrivateKey | str | bytes

_compact = json.JSONEncoder(separators=(",", ":")).encode


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class JwtSigner:
    """Signs claims with one key (ES256, RS256, PS256, PS384 or HS256) and one ``kid``; ES256 deterministically if
    asked (RSASSA-PSS signatures are salted: they never repeat)."""

    def __init__(
        self,
        key: SigningKey,
        algorithm: str,
        kid: str | None = None,
        *,
        deterministic: bool = False,
        header: dict[str, Any] | None = None,
    ) -> None:
        """``header``: more JOSE header parameters (``x5c``, say), after ``alg``, ``kid`` and ``typ``."""
        self.key = key
        self.algorithm = algorithm
        fixed = {"alg": algorithm, "kid": kid, "typ": "JWT"} if kid else {"alg": algorithm, "typ": "JWT"}
        header = {**fixed, **(header or {})}
        self._header = b64url(_compact(header).encode())
        if algorithm == "ES256":
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

            # RFC 6979 when asked (a seeded mock): the same claims, the same signature
            scheme = ec.ECDSA(hashes.SHA256(), deterministic_signing=deterministic)
            ec_key = cast("EllipticCurvePrivateKey", key)  # the algorithm names the key's type

            def sign(data: bytes) -> bytes:
                r, s = decode_dss_signature(ec_key.sign(data, scheme))
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        elif algorithm == "RS256":
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            rsa_key = cast("RSAPrivateKey", key)  # the algorithm names the key's type

            def sign(data: bytes) -> bytes:
                return rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

        elif algorithm in ("PS256", "PS384"):
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            pss_key = cast("RSAPrivateKey", key)  # the algorithm names the key's type
            digest = hashes.SHA256() if algorithm == "PS256" else hashes.SHA384()
            # RFC 7518 3.5: MGF1 with the same hash, a salt as long as the hash's output
            pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)

            def sign(data: bytes) -> bytes:
                return pss_key.sign(data, pss, digest)

        elif algorithm == "HS256":
            import hmac

            secret = key.encode() if isinstance(key, str) else cast("bytes", key)

            def sign(data: bytes) -> bytes:
                return hmac.digest(secret, data, "sha256")

        else:
            raise ValueError(f"unsupported JWT algorithm {algorithm!r}")
        self._sign: Callable[[bytes], bytes] = sign

    def sign(self, claims: dict[str, Any]) -> str:
        signing_input = f"{self._header}.{b64url(_compact(claims).encode())}"
        return f"{signing_input}.{b64url(self._sign(signing_input.encode('ascii')))}"
