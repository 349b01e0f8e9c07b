"""Refresh and access tokens: CreateToken, GetAccessToken, ListTokens, DeleteToken.

"A refresh token is a JWT token used to get an access token. With an access
token, you can call AssumeRoleWithWebIdentity to get role credentials"; "The
API calls must be made in the home Region" (RedirectException elsewhere).
The license's issuer makes tokens of it, and so does an account it was
granted to through an active grant that allows ``CreateToken``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from ...core import jsonbody
from ...core.credentials import same_secret
from ...core.helpers import reads_only
from .base import LicenseManagerBase
from .errors import ERRORS
from .records import Token, iso

# Access tokens are web-identity tokens for STS: their issuer is the federated provider that the consumption
# role's trust policy names, and their amr claim carries the token issuer's account, which that policy checks.
ACCESS_TOKEN_ISSUER = "https://openid-license-manager.amazonaws.com"
PROVIDER = "openid-license-manager.amazonaws.com"
ISSUER_ACCOUNT_AMR = "aws:license-manager:token-issuer-account-id:{}"


class TokensMixin(LicenseManagerBase):
    """The token operations of :class:`~.model.LicenseManagerModel`."""

    if TYPE_CHECKING:  # what the model brings

        def _sign(self, claims: dict[str, Any]) -> str: ...

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
            now = self.clock.time()
            lic = self._licenses.get(license_arn)
            if lic is None or not self._sees(account_id, lic):
                raise ERRORS.error("ResourceNotFoundException", f"License not found: {license_arn}")
            self._in_home_region(lic.home_region, region, "CreateToken")
            if lic.account_id != account_id and not any(
                self._grant_active(g, now) and "CreateToken" in g.operations
                for g in self._received_grants(account_id, lic.arn)
            ):
                raise ERRORS.error(
                    "AuthorizationException",
                    f"No active grant of license {license_arn} to this account allows CreateToken.",
                )

            def create() -> Token:
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
                return token

            fingerprint = {"arn": license_arn, "roles": role_arns, "days": days, "props": token_properties}
            return self._idempotent(("CreateToken", account_id, client_token), fingerprint, create)

    def _presented(self, token_string: str) -> Token:
        """The stored token this string is, or the reason it is refused."""
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
            self._in_home_region(token.home_region, region, "DeleteToken")
            token.deleted = True
            self._tokens[token_id] = token

    # ---- for tests --------------------------------------------------------
    @property
    def tokens(self) -> list[Token]:
        return [t for t in self._tokens.values() if not t.deleted]

    @reads_only
    def token(self, token_id: str) -> Token | None:
        return self._tokens.get(token_id)
