"""Amplify UI Builder's Figma tokens and the Figma side that honours them; Amplify Studio's records beside.

No HTTP here. Components, themes, forms, codegen jobs, feature flags and tags live in
:mod:`.studio` (``cloud.amplifyuibuilder.studio``), under the same lock.

Amplify UI Builder's ExchangeCodeForToken and RefreshToken front Figma's own
OAuth token endpoint, so the state is Figma's: OAuth apps (client id and the
redirect URIs registered for it), users, single-use authorization codes,
refresh tokens bound to their app, and access tokens with a lifetime. It is
not an AWS account's: any signed caller in any Region sees the same state.

Each is a record of its own, keyed by its client id, user id, code or token;
a code or token names its app, user and (an access token) refresh token by
key. Revoking a refresh token writes that token only: an access token is
honoured while neither it nor its refresh token is revoked. Codes and access
tokens are dropped a day (``KEPT_SECONDS``) after they expire; a refresh token
that expires, a day after the last access token it can have issued does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from ...core.credentials import same_secret
from ...core.entities import KEPT_SECONDS, Kind
from ...core.errors import MockCloudError, ServiceError
from ...core.helpers import reads_only
from ...core.sections import keyed
from ...core.service import ServiceContext, ServiceModel
from .errors import ERRORS
from .studio import STUDIO_DEFAULTS, Studio, fields_of, of

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
DEFAULT_USER = {
    "id": "1",
    "handle": "mockcloud",
    "email": "mockcloud@example.com",
    "img_url": "https://s3-alpha.figma.com/profile/mockcloud",
}


def _invalid(message: str) -> ServiceError:
    return ERRORS.error("InvalidParameterException", message)


_same = same_secret


@dataclass(slots=True, eq=False)
class FigmaApp:
    client_id: str
    name: str
    redirect_uris: list[str] = field(default_factory=list)
    order: int = 0  # registration order (not in a snapshot: its list's order): the first app is the default


@dataclass(slots=True, eq=False)
class FigmaUser:
    id: str
    handle: str
    email: str
    img_url: str
    order: int = 0  # order of addition (not in a snapshot: its list's order): the first user is the default

    def profile(self) -> dict[str, str]:
        """The body of Figma's ``GET /v1/me``."""
        return {"id": self.id, "email": self.email, "handle": self.handle, "img_url": self.img_url}


@dataclass(slots=True, eq=False)
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: str
    expires: float
    used: bool = False


@dataclass(slots=True, eq=False)
class RefreshToken:
    token: str
    client_id: str
    user_id: str
    created: float
    expires: float | None
    revoked: bool = False
    # when the last access token it can have issued expires (None: it never expires); not in a snapshot
    kept_until: float | None = None


@dataclass(slots=True, eq=False)
class AccessToken:
    token: str
    client_id: str
    user_id: str
    refresh_token: str
    created: float
    expires: float
    revoked: bool = False  # revoked on its own; revoking its refresh token revokes it too (see ``revoked_with``)


class Grant(NamedTuple):
    access_token: str
    expires_in: int
    refresh_token: str


def _code_dead_at(code: AuthorizationCode) -> float:
    return code.expires + KEPT_SECONDS


def _refresh_dead_at(refresh: RefreshToken) -> float | None:
    return None if refresh.kept_until is None else refresh.kept_until + KEPT_SECONDS


def _access_dead_at(access: AccessToken) -> float:
    return access.expires + KEPT_SECONDS


def _settings_load(data: Any) -> dict[str, Any]:
    return dict(data)


# the records, by key: the settings (""), a Figma app (its client id), a Figma user (its id), an
# authorization code, a refresh token and an access token (each the code or token itself)
SETTINGS: Kind[dict[str, Any]] = Kind("settings", dict, _settings_load, whole=True)
APP: Kind[FigmaApp] = Kind("app", fields_of, of(FigmaApp), whole=True)
USER: Kind[FigmaUser] = Kind("user", fields_of, of(FigmaUser), whole=True)
CODE: Kind[AuthorizationCode] = Kind("authorization_code", fields_of, of(AuthorizationCode), _code_dead_at)
REFRESH: Kind[RefreshToken] = Kind("refresh_token", fields_of, of(RefreshToken), _refresh_dead_at)
ACCESS: Kind[AccessToken] = Kind("access_token", fields_of, of(AccessToken), _access_dead_at)


class AmplifyUIBuilderModel(ServiceModel):
    """``cloud.amplifyuibuilder``: Figma apps, users and tokens, and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.clock = context.clock
        self.context = context
        self._lock = context.lock
        self._settings = context.table(SETTINGS)
        self._apps = context.table(APP)
        self._users = context.table(USER)
        self._codes = context.table(CODE)
        self._refresh = context.table(REFRESH)
        self._access = context.table(ACCESS)
        # Amplify Studio's components, themes, forms, codegen jobs, flags and tags: an AWS account's, per app
        self.studio = Studio(context.tables, lambda: self.settings, self.clock, self._new_id, self._lock)

    def _new_id(self) -> str:
        return str(self.entropy.uuid4())

    @property
    def settings(self) -> dict[str, Any]:
        """The service's settings: its defaults, the fixtures' and the mock's (see ``DEFAULTS``)."""
        return self._settings.get("") or dict(DEFAULTS)

    @property
    def apps(self) -> dict[str, FigmaApp]:
        """The Figma apps by client id, in the order they were registered."""
        return {app.client_id: app for app in sorted(self._apps.values(), key=lambda app: app.order)}

    @property
    def users(self) -> dict[str, FigmaUser]:
        """The Figma users by id, in the order they were added."""
        return {user.id: user for user in sorted(self._users.values(), key=lambda user: user.order)}

    # ---- snapshots ------------------------------------------------------------------
    def load(self, section: dict[str, Any]) -> None:
        """Apps, users and lifetimes of the fixtures; the codes and tokens a snapshot holds."""
        with self._lock:
            self._settings[""] = self.context.merged_settings(DEFAULTS, section)
            for item in keyed(section.get("apps", ()), lambda item: item["client_id"], "Figma apps").values():
                self.register_app(item["client_id"], item.get("redirect_uris", ()), name=item.get("name"))
            users = keyed(section.get("users", ()), lambda item: str(item["id"]), "Figma users")
            for item in users.values() or [DEFAULT_USER]:  # codes always need someone who authorized them
                self.add_user(item["id"], item["handle"], item["email"], item["img_url"])
            self._load_grants(section)
            self.studio.load(section)

    @reads_only
    def snapshot(self) -> dict[str, Any]:
        """This service's fixtures section: apps, users, codes (used ones too) and tokens (revoked, expired ones too).

        Figma's codes and tokens are bearer secrets the model keeps as they are, so the snapshot does too.
        """
        with self._lock:
            refresh_tokens = list(self._refresh.values())
            revoked = {r.token for r in refresh_tokens if r.revoked}
            section = {
                "settings": dict(self.settings),
                "apps": [fields_of(app, omit=("order",)) for app in self.apps.values()],
                "users": [fields_of(user, omit=("order",)) for user in self.users.values()],
                "authorization_codes": [fields_of(code) for code in self._codes.values()],
                "refresh_tokens": [fields_of(token, omit=("kept_until",)) for token in refresh_tokens],
                "access_tokens": [
                    {**fields_of(token), "revoked": token.revoked or token.refresh_token in revoked}
                    for token in self._access.values()
                ],
                **self.studio.snapshot(),
            }
            return copy.deepcopy(section)

    def _load_grants(self, section: dict[str, Any]) -> None:
        """A snapshot's codes and tokens, each checked against the users and refresh tokens it names."""

        def user_of(item: dict[str, Any], what: str) -> dict[str, Any]:
            if item["user_id"] not in self._users:
                raise MockCloudError(f"amplifyuibuilder: {what} of an unknown Figma user {item['user_id']!r}")
            return item

        codes = keyed(
            (
                AuthorizationCode(**user_of(item, "an authorization code"))
                for item in section.get("authorization_codes", ())
            ),
            lambda c: c.code,
            "authorization codes",
        )
        refresh_tokens = keyed(
            (RefreshToken(**user_of(item, "a refresh token")) for item in section.get("refresh_tokens", ())),
            lambda r: r.token,
            "refresh tokens",
        )
        access_tokens = keyed(
            (AccessToken(**user_of(item, "an access token")) for item in section.get("access_tokens", ())),
            lambda a: a.token,
            "access tokens",
        )
        access_seconds = self.settings["access_token_seconds"]
        for refresh in refresh_tokens.values():
            if refresh.expires is not None:
                refresh.kept_until = refresh.expires + access_seconds
        for access in access_tokens.values():
            issuer = refresh_tokens.get(access.refresh_token)
            if issuer is None:
                raise MockCloudError("amplifyuibuilder: an access token of an unknown refresh token")
            if issuer.kept_until is not None:
                issuer.kept_until = max(issuer.kept_until, access.expires)
        for key, code in codes.items():
            self._codes[key] = code
        for key, refresh in refresh_tokens.items():
            self._refresh[key] = refresh
        for key, access in access_tokens.items():
            self._access[key] = access

    # ---- apps and users (fixtures and tests) ---------------------------------------
    @property
    def default_app(self) -> FigmaApp | None:
        """The app a request without ``clientId`` is for: the first one in the fixtures."""
        return min(self._apps.values(), key=lambda app: app.order, default=None)

    @property
    def default_user(self) -> FigmaUser:
        return min(self._users.values(), key=lambda user: user.order)

    def register_app(self, client_id: str, redirect_uris: Iterable[str] = (), *, name: str | None = None) -> FigmaApp:
        """Register a Figma OAuth app, or add redirect URIs to one already registered."""
        if not isinstance(client_id, str) or not client_id:
            raise MockCloudError("a Figma app needs a non-empty client_id")
        with self._lock:
            app = self._apps.get(client_id)
            new = [uri for uri in dict.fromkeys(redirect_uris) if app is None or uri not in app.redirect_uris]
            if app is None:
                order = max((other.order for other in self._apps.values()), default=-1) + 1
                app = FigmaApp(client_id, name or client_id, order=order)
            elif not new:
                return app  # nothing changes: nothing is written
            app.redirect_uris.extend(new)
            self._apps[client_id] = app
            return app

    def add_user(self, user_id: str, handle: str, email: str, img_url: str) -> FigmaUser:
        """Add a Figma user whose profile ``GET /v1/me`` returns for tokens they authorized."""
        with self._lock:
            known = self._users.get(str(user_id))
            if known is not None:
                order = known.order
            else:
                order = max((other.order for other in self._users.values()), default=-1) + 1
            user = FigmaUser(str(user_id), handle, email, img_url, order)
            self._users[user.id] = user
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
            if client_id is None:
                default = self.default_app
                if default is None:
                    raise MockCloudError("no Figma app in the fixtures: pass client_id=")
                client_id = default.client_id
            app = self._apps.get(client_id)
            if redirect_uri is None:
                if app is None or not app.redirect_uris:
                    raise MockCloudError(f"Figma app {client_id!r} has no redirect URI: pass redirect_uri=")
                redirect_uri = app.redirect_uris[0]
            user = self.default_user if user_id is None else self._users.get(str(user_id))
            if user is None:
                raise MockCloudError(f"unknown Figma user {user_id!r}; add it with add_user()")
            self.register_app(client_id, [redirect_uri])
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
            self._refresh[token] = stored

    def revoke_access_token(self, token: str) -> None:
        """Revoke one access token: Figma answers 403 for it from then on."""
        with self._lock:
            stored = self._access.get(token)
            if stored is None:
                raise MockCloudError("unknown access token")
            stored.revoked = True
            self._access[token] = stored

    def fail_codegen_job(self, job_id: str, message: str = "Code generation failed.") -> None:
        """Make a codegen job end ``failed`` with ``statusMessage`` ``message`` (at once, if still in progress)."""
        self.studio.fail_codegen_job(job_id, message)

    def resource_arn(self, kind: str, resource_id: str) -> str:
        """The ARN of a ``component``, ``theme``, ``form`` or ``codegen_job``, for TagResource and its kin."""
        return self.studio.arn_of(kind, resource_id)

    @reads_only
    def access_token(self, token: str) -> AccessToken | None:
        """The access token (``revoked`` too when its refresh token is), or None."""
        stored = self._access.get(token)
        if stored is None or stored.revoked or not self._revoked_with(stored):
            return stored
        return replace(stored, revoked=True)

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

    def _revoked_with(self, access: AccessToken) -> bool:
        """Whether the refresh token that issued ``access`` is revoked (or, which it never is, gone)."""
        refresh = self._refresh.get(access.refresh_token)
        return refresh is None or refresh.revoked

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
        with self._lock:
            client_id = self._client(client_id)
            stored = self._codes.get(code)
            now = self.clock.time()  # after the read: another worker's clock may be a moment ahead
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
            self._codes[code] = stored
            lifetime = self.settings["refresh_token_seconds"]
            expires = None if lifetime is None else now + lifetime
            refresh = RefreshToken(
                "figur_" + self.entropy.token_urlsafe(32),
                client_id,
                stored.user_id,
                now,
                expires,
                kept_until=None if expires is None else expires + self.settings["access_token_seconds"],
            )
            self._refresh[refresh.token] = refresh
            access = self._mint_access(refresh, now)
            return Grant(access.token, int(self.settings["access_token_seconds"]), refresh.token)

    def refresh(self, *, token: str, client_id: str | None = None) -> tuple[str, int]:
        """RefreshToken: a new access token; the refresh token stays valid (Figma does not rotate it)."""
        with self._lock:
            client_id = self._client(client_id)
            stored = self._refresh.get(token)
            now = self.clock.time()  # after the read: another worker's clock may be a moment ahead
            if stored is None or not _same(stored.token, token):
                raise _invalid("The refresh token is not valid.")
            if stored.revoked:
                raise _invalid("The refresh token has been revoked.")
            if stored.expires is not None and now >= stored.expires:
                raise _invalid("The refresh token has expired.")
            if not _same(stored.client_id, client_id):
                raise _invalid("The clientId does not match the client the refresh token was issued to.")
            access = self._mint_access(stored, now)
            if stored.kept_until is not None and access.expires > stored.kept_until:
                stored.kept_until = access.expires  # access tokens made longer since (restored settings)
                self._refresh[token] = stored
            return access.token, int(self.settings["access_token_seconds"])

    def me(self, token: str | None) -> dict[str, str]:
        """Figma's ``GET /v1/me`` for a presented access token: the user's profile, or Figma's 403."""
        if not token:
            raise ERRORS.error("Forbidden")
        with self._lock:
            stored = self._access.get(token)
            if stored is None or not _same(stored.token, token) or stored.revoked or self._revoked_with(stored):
                raise ERRORS.error("Forbidden")
            user = self._users.get(stored.user_id)
            if user is None or self.clock.time() >= stored.expires:  # now after the reads
                raise ERRORS.error("Forbidden")
            return user.profile()

    def inventory(self) -> list[dict[str, object]]:
        """The authorization codes, refresh tokens and access tokens it holds, for the dashboard (no secrets)."""
        from ...core.inventory import entry, short_id, state_of

        with self._lock:
            codes = list(self._codes.values())
            refresh_tokens = list(self._refresh.values())
            access_tokens = list(self._access.values())
            users = self.users
            code_seconds = self.settings["authorization_code_seconds"]
            now = self.clock.time()
        revoked = {r.token for r in refresh_tokens if r.revoked}

        def who(user_id: str) -> str:
            user = users.get(user_id)
            return f"{user.handle} ({user_id})" if user is not None else user_id

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
                state_of(now, a.expires, revoked=a.revoked or a.refresh_token in revoked),
            )
            for a in access_tokens
        ]
        return found
