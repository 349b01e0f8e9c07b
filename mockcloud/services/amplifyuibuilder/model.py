"""Amplify UI Builder's Figma tokens and the Figma side that honours them; Amplify Studio's records beside.

No HTTP here. Components, themes, forms, codegen jobs, feature flags and tags live in
:mod:`.studio` (``cloud.amplifyuibuilder.studio``), under the same lock.

Amplify UI Builder's ExchangeCodeForToken and RefreshToken front Figma's own
OAuth token endpoint, so the state is Figma's: OAuth apps (client id and the
redirect URIs registered for it), users, single-use authorization codes,
refresh tokens bound to their app, and access tokens with a lifetime. It is
not an AWS account's: any signed caller in any Region sees the same state.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from ...core.credentials import same_secret
from ...core.errors import MockCloudError, ServiceError
from ...core.helpers import reads_only
from ...core.service import ServiceContext
from .errors import ERRORS
from .studio import STUDIO_DEFAULTS, Studio

DEFAULTS: dict[str, Any] = {
    **STUDIO_DEFAULTS,
    # Figma documents no authorization-code lifetime in the sources we could reach;
    # RFC 6749 §4.1.2 recommends at most 10 minutes.
    "authorization_code_seconds": 600,
    # Figma's OAuth access tokens: expires_in 7776000 (90 days).
    "access_token_seconds": 7776000,
    # Figma documents no refresh-token expiry: None keeps them valid until revoked.
    "refresh_token_seconds": None,
}


def _invalid(message: str) -> ServiceError:
    return ERRORS.error("InvalidParameterException", message)


_same = same_secret


@dataclass
class FigmaApp:
    client_id: str
    name: str
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class FigmaUser:
    id: str
    handle: str
    email: str
    img_url: str

    def profile(self) -> dict[str, str]:
        """The body of Figma's ``GET /v1/me``."""
        return {"id": self.id, "email": self.email, "handle": self.handle, "img_url": self.img_url}


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: str
    expires: float
    used: bool = False


@dataclass
class RefreshToken:
    token: str
    client_id: str
    user_id: str
    created: float
    expires: float | None
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    client_id: str
    user_id: str
    refresh_token: str
    created: float
    expires: float
    revoked: bool = False


class Grant(NamedTuple):
    access_token: str
    expires_in: int
    refresh_token: str


class AmplifyUIBuilderModel:
    """``cloud.amplifyuibuilder``: Figma apps, users and tokens, and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.clock = context.clock
        self.settings = context.merged_settings(DEFAULTS)
        self._lock = context.lock
        self.apps: dict[str, FigmaApp] = {}
        self.users: dict[str, FigmaUser] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._access: dict[str, AccessToken] = {}
        for item in context.fixtures.get("apps", ()):
            self.register_app(item["client_id"], item.get("redirect_uris", ()), name=item.get("name"))
        for item in context.fixtures.get("users", ()):
            self.add_user(item["id"], item["handle"], item["email"], item["img_url"])
        if not self.users:  # codes always need someone who authorized them
            self.add_user("1", "mockcloud", "mockcloud@example.com", "https://s3-alpha.figma.com/profile/mockcloud")
        self._load_grants(context.fixtures)
        # Amplify Studio's components, themes, forms, codegen jobs, flags and tags: an AWS account's, per app
        self.studio = Studio(self.settings, self.clock, lambda: str(self.entropy.uuid4()), self._lock, context.fixtures)

    # ---- snapshots ------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """This service's fixtures section: apps, users, codes (used ones too) and tokens (revoked, expired ones too).

        Figma's codes and tokens are bearer secrets the model keeps as they are, so the snapshot does too.
        """
        with self._lock:
            section = {
                "settings": dict(self.settings),
                "apps": [asdict(app) for app in self.apps.values()],
                "users": [asdict(user) for user in self.users.values()],
                "authorization_codes": [asdict(code) for code in self._codes.values()],
                "refresh_tokens": [asdict(token) for token in self._refresh.values()],
                "access_tokens": [asdict(token) for token in self._access.values()],
                **self.studio.snapshot(),
            }
            return copy.deepcopy(section)

    def _load_grants(self, section: dict[str, Any]) -> None:
        """A snapshot's codes and tokens, each checked against the users and refresh tokens it names."""

        def user_of(item: dict[str, Any], what: str) -> None:
            if item["user_id"] not in self.users:
                raise MockCloudError(f"amplifyuibuilder: {what} of an unknown Figma user {item['user_id']!r}")

        for item in section.get("authorization_codes", ()):
            user_of(item, "an authorization code")
            self._codes[item["code"]] = AuthorizationCode(**item)
        for item in section.get("refresh_tokens", ()):
            user_of(item, "a refresh token")
            self._refresh[item["token"]] = RefreshToken(**item)
        for item in section.get("access_tokens", ()):
            user_of(item, "an access token")
            if item["refresh_token"] not in self._refresh:
                raise MockCloudError("amplifyuibuilder: an access token of an unknown refresh token")
            self._access[item["token"]] = AccessToken(**item)

    # ---- apps and users (fixtures and tests) ---------------------------------------
    @property
    def default_app(self) -> FigmaApp | None:
        """The app a request without ``clientId`` is for: the first one in the fixtures."""
        return next(iter(self.apps.values()), None)

    @property
    def default_user(self) -> FigmaUser:
        return next(iter(self.users.values()))

    def register_app(self, client_id: str, redirect_uris: Iterable[str] = (), *, name: str | None = None) -> FigmaApp:
        """Register a Figma OAuth app, or add redirect URIs to one already registered."""
        if not isinstance(client_id, str) or not client_id:
            raise MockCloudError("a Figma app needs a non-empty client_id")
        with self._lock:
            app = self.apps.get(client_id)
            if app is None:
                app = self.apps[client_id] = FigmaApp(client_id, name or client_id)
            for uri in redirect_uris:
                if uri not in app.redirect_uris:
                    app.redirect_uris.append(uri)
            return app

    def add_user(self, user_id: str, handle: str, email: str, img_url: str) -> FigmaUser:
        """Add a Figma user whose profile ``GET /v1/me`` returns for tokens they authorized."""
        user = FigmaUser(str(user_id), handle, email, img_url)
        with self._lock:
            self.users[user.id] = user
        return user

    # ---- test-side helpers -------------------------------------------------------
    def create_authorization_code(
        self, client_id: str | None = None, redirect_uri: str | None = None, *, user_id: str | None = None
    ) -> str:
        """The code Figma would append to ``redirect_uri`` once a user allowed ``client_id``.

        Defaults to the first app of the fixtures and its first redirect URI. A
        client id or redirect URI not seen before is registered on the way.
        """
        with self._lock:
            default = self.default_app
            if client_id is None:
                if default is None:
                    raise MockCloudError("no Figma app in the fixtures: pass client_id=")
                client_id = default.client_id
            app = self.apps.get(client_id)
            if redirect_uri is None:
                if app is None or not app.redirect_uris:
                    raise MockCloudError(f"Figma app {client_id!r} has no redirect URI: pass redirect_uri=")
                redirect_uri = app.redirect_uris[0]
            self.register_app(client_id, [redirect_uri])
            user = self.default_user if user_id is None else self.users.get(str(user_id))
            if user is None:
                raise MockCloudError(f"unknown Figma user {user_id!r}; add it with add_user()")
            code = self.entropy.token_urlsafe(24)
            expires = self.clock.time() + self.settings["authorization_code_seconds"]
            self._codes[code] = AuthorizationCode(code, client_id, redirect_uri, user.id, expires)
            return code

    def revoke_refresh_token(self, token: str) -> None:
        """Revoke a refresh token (as a user removing the app's access): later refreshes fail, and so do
        the access tokens it issued."""
        with self._lock:
            stored = self._refresh.get(token)
            if stored is None:
                raise MockCloudError("unknown refresh token")
            stored.revoked = True
            for access in self._access.values():
                if access.refresh_token == token:
                    access.revoked = True

    def revoke_access_token(self, token: str) -> None:
        """Revoke one access token: Figma answers 403 for it from then on."""
        with self._lock:
            stored = self._access.get(token)
            if stored is None:
                raise MockCloudError("unknown access token")
            stored.revoked = True

    def fail_codegen_job(self, job_id: str, message: str = "Code generation failed.") -> None:
        """Make a codegen job end ``failed`` with ``statusMessage`` ``message`` (at once, if still in progress)."""
        self.studio.fail_codegen_job(job_id, message)

    def resource_arn(self, kind: str, resource_id: str) -> str:
        """The ARN of a ``component``, ``theme``, ``form`` or ``codegen_job``, for TagResource and its kin."""
        return self.studio.arn_of(kind, resource_id)

    @reads_only
    def access_token(self, token: str) -> AccessToken | None:
        return self._access.get(token)

    @reads_only
    def refresh_token(self, token: str) -> RefreshToken | None:
        return self._refresh.get(token)

    # ---- the operations ------------------------------------------------------------
    def _client(self, client_id: str | None) -> str:
        if client_id is not None:
            return client_id
        default = self.default_app
        if default is None:
            raise _invalid("clientId is required: no default Figma app is configured.")
        return default.client_id

    def _mint_access(self, refresh: RefreshToken, now: float) -> AccessToken:
        lifetime = self.settings["access_token_seconds"]
        access = AccessToken(
            "figu_" + self.entropy.token_urlsafe(32),
            refresh.client_id,
            refresh.user_id,
            refresh.token,
            now,
            now + lifetime,
        )
        self._access[access.token] = access
        return access

    def exchange_code(self, *, code: str, redirect_uri: str, client_id: str | None = None) -> Grant:
        """ExchangeCodeForToken: a single-use code for an access token and a refresh token."""
        client_id = self._client(client_id)
        with self._lock:
            now = self.clock.time()
            stored = self._codes.get(code)
            if stored is None or not _same(stored.code, code):
                raise _invalid("The authorization code is not valid.")
            if stored.used:
                raise _invalid("The authorization code has already been used.")
            if now >= stored.expires:
                raise _invalid("The authorization code has expired.")
            if not _same(stored.client_id, client_id):
                raise _invalid("The clientId does not match the client the authorization code was issued to.")
            if not _same(stored.redirect_uri, redirect_uri):
                raise _invalid("The redirectUri does not match the redirect URI the authorization code was issued for.")
            stored.used = True
            lifetime = self.settings["refresh_token_seconds"]
            refresh = RefreshToken(
                "figur_" + self.entropy.token_urlsafe(32),
                client_id,
                stored.user_id,
                now,
                None if lifetime is None else now + lifetime,
            )
            self._refresh[refresh.token] = refresh
            access = self._mint_access(refresh, now)
            return Grant(access.token, int(self.settings["access_token_seconds"]), refresh.token)

    def refresh(self, *, token: str, client_id: str | None = None) -> tuple[str, int]:
        """RefreshToken: a new access token; the refresh token stays valid."""
        client_id = self._client(client_id)
        with self._lock:
            now = self.clock.time()
            stored = self._refresh.get(token)
            if stored is None or not _same(stored.token, token):
                raise _invalid("The refresh token is not valid.")
            if stored.revoked:
                raise _invalid("The refresh token has been revoked.")
            if stored.expires is not None and now >= stored.expires:
                raise _invalid("The refresh token has expired.")
            if not _same(stored.client_id, client_id):
                raise _invalid("The clientId does not match the client the refresh token was issued to.")
            access = self._mint_access(stored, now)
            return access.token, int(self.settings["access_token_seconds"])

    def me(self, token: str | None) -> dict[str, str]:
        """Figma's ``GET /v1/me`` for a presented access token: the user's profile, or Figma's 403."""
        if not token:
            raise ERRORS.error("Forbidden")
        stored = self._access.get(token)
        if stored is None or not _same(stored.token, token) or stored.revoked or self.clock.time() >= stored.expires:
            raise ERRORS.error("Forbidden")
        return self.users[stored.user_id].profile()

    def inventory(self) -> list[dict[str, object]]:
        """The authorization codes, refresh tokens and access tokens it holds, for the dashboard (no secrets)."""
        from ...core.inventory import entry, short_id, state_of

        now = self.clock.time()
        with self._lock:
            codes = list(self._codes.values())
            refresh_tokens = list(self._refresh.values())
            access_tokens = list(self._access.values())

        def who(user_id: str) -> str:
            user = self.users.get(user_id)
            return f"{user.handle} ({user_id})" if user is not None else user_id

        code_seconds = self.settings["authorization_code_seconds"]
        found = [
            entry(
                "amplifyuibuilder",
                "authorization_code",
                short_id(c.code),
                who(c.user_id),
                c.expires - code_seconds,
                c.expires,
                state_of(now, c.expires, used=c.used),
            )
            for c in codes
        ]
        found += [
            entry(
                "amplifyuibuilder",
                "refresh_token",
                short_id(r.token),
                who(r.user_id),
                r.created,
                r.expires,
                state_of(now, r.expires, revoked=r.revoked),
            )
            for r in refresh_tokens
        ]
        found += [
            entry(
                "amplifyuibuilder",
                "access_token",
                short_id(a.token),
                who(a.user_id),
                a.created,
                a.expires,
                state_of(now, a.expires, revoked=a.revoked),
            )
            for a in access_tokens
        ]
        return found
