"""The web-identity token issuers a mock trusts, and the check of their tokens against their published keys.

A service that issues OIDC-style tokens (License Manager's access tokens)
registers itself here through its ``ServiceContext``; a service that accepts
such tokens (STS's AssumeRoleWithWebIdentity) verifies them here. Neither
imports the other: this registry, in core, is all they share.

A token is accepted when its ``iss`` names a registered issuer, its JWS
signature verifies with a key of that issuer's JWKS (found by ``kid``), its
``exp``/``nbf`` hold on the mock clock, and its ``aud`` is one the issuer
vouches for. Each refusal carries a ``reason`` that the accepting service
words in its own errors.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import TypeAlias

    from jwt.algorithms import AllowedPublicKeys

    VerifyingKey: TypeAlias = AllowedPublicKeys | bytes  # a published public key, or an HS256 shared secret

JsonObject = dict[str, Any]  # a JWKS, a JWT's header or claims: decoded JSON


@dataclass(frozen=True)
class TrustedIssuer:
    """One token issuer: its ``iss``, the provider name trust policies use, and its published keys."""

    issuer: str  # the tokens' ``iss`` claim
    provider: str  # the Federated principal of trust policies, and the prefix of condition keys ("provider:amr")
    jwks: Callable[[], JsonObject]  # the issuer's published keys, read when a token names a kid not seen yet
    accepts_audience: Callable[[str], bool] | None = None  # None: any audience
    roles_claim: str | None = None  # the claim that lists the roles a token may assume, if the issuer embeds them


class TokenRejected(Exception):
    """Why a token was refused: ``reason`` is malformed, unknown_issuer, no_key, signature, expired,
    not_yet_valid, missing_claim or audience; ``details`` holds what the message needs."""

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details


@dataclass
class VerifiedToken:
    issuer: TrustedIssuer
    claims: JsonObject
    header: JsonObject


@dataclass
class _Keys:
    # kid -> (algorithm name, key object)
    by_kid: dict[str | None, tuple[str | None, VerifyingKey]] = field(default_factory=dict)


def _b64json(segment: str) -> JsonObject:
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class TrustedIssuers:
    """The registry of one mock: reset with it, shared by its services through their contexts."""

    def __init__(self) -> None:
        self._issuers: dict[str, TrustedIssuer] = {}
        self._keys: dict[str, _Keys] = {}
        self._lock = threading.Lock()

    def register(
        self,
        issuer: str,
        *,
        provider: str,
        jwks: Callable[[], JsonObject],
        accepts_audience: Callable[[str], bool] | None = None,
        roles_claim: str | None = None,
    ) -> TrustedIssuer:
        """Trust tokens whose ``iss`` is ``issuer``, verified with the keys ``jwks()`` publishes."""
        entry = TrustedIssuer(issuer, provider, jwks, accepts_audience, roles_claim)
        with self._lock:
            self._issuers[issuer] = entry
            self._keys[issuer] = _Keys()
        return entry

    def get(self, issuer: str) -> TrustedIssuer | None:
        return self._issuers.get(issuer)

    def named_by(self, token: str) -> TrustedIssuer | None:
        """The trusted issuer a token claims to come from, unverified: which mock should judge it."""
        parts = token.split(".")
        try:
            iss = _b64json(parts[1]).get("iss") if len(parts) == 3 else None
        except (ValueError, UnicodeDecodeError):
            return None
        return self._issuers.get(iss) if isinstance(iss, str) else None

    def __iter__(self) -> Iterator[TrustedIssuer]:
        return iter(list(self._issuers.values()))

    def _key(self, entry: TrustedIssuer, kid: str | None, alg: str) -> VerifyingKey:
        keys = self._keys[entry.issuer]
        found = keys.by_kid.get(kid)
        if found is None:
            from jwt import PyJWK

            fresh: dict[str | None, tuple[str | None, VerifyingKey]] = {}
            for jwk in entry.jwks().get("keys", ()):
                try:
                    fresh[jwk.get("kid")] = (jwk.get("alg"), PyJWK(jwk).key)
                except Exception:  # a key pyjwt cannot load is a key no verifier can use
                    continue
            keys.by_kid = fresh
            found = fresh.get(kid)
            if found is None and kid is None and len(fresh) == 1:
                found = next(iter(fresh.values()))
        if found is None or (found[0] and found[0] != alg):
            raise TokenRejected("no_key", "no published key matches the token's kid and alg", kid=kid, alg=alg)
        return found[1]

    def verify(self, token: str, now: float) -> VerifiedToken:
        """The token's issuer and claims, or :class:`TokenRejected`; times are checked on ``now`` (the mock clock)."""
        parts = token.split(".")
        try:
            if len(parts) != 3:
                raise ValueError("not three segments")
            header, claims = _b64json(parts[0]), _b64json(parts[1])
        except (ValueError, UnicodeDecodeError):
            raise TokenRejected("malformed", "the token is not a JWT") from None
        iss = claims.get("iss")
        entry = self._issuers.get(iss) if isinstance(iss, str) else None
        if entry is None:
            raise TokenRejected("unknown_issuer", "no trusted issuer", iss=iss)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise TokenRejected("malformed", "the token names no signing algorithm")
        key = self._key(entry, header.get("kid"), alg)
        import jwt

        try:
            jwt.decode(
                token,
                key,
                algorithms=[alg],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenRejected("signature", "the token's signature does not verify with the issuer's keys") from None
        except jwt.PyJWTError:
            raise TokenRejected("malformed", "the token is not a valid JWS") from None
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool):
            raise TokenRejected("missing_claim", "Missing a required claim: exp", claim="exp")
        if now >= exp:
            raise TokenRejected("expired", "the token has expired", exp=exp, now=now)
        nbf = claims.get("nbf")
        if isinstance(nbf, (int, float)) and not isinstance(nbf, bool) and now < nbf:
            raise TokenRejected("not_yet_valid", "the token is not valid yet", nbf=nbf, now=now)
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
        if not audiences:
            raise TokenRejected("missing_claim", "Missing a required claim: aud", claim="aud")
        if entry.accepts_audience is not None and not any(
            isinstance(a, str) and entry.accepts_audience(a) for a in audiences
        ):
            raise TokenRejected("audience", "Incorrect token audience", aud=aud)
        return VerifiedToken(entry, claims, header)
