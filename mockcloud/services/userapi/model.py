"""The User API's state and rules: mounts, users, sessions (token families), refresh tokens. No HTTP here.

A *session* is one login: the family of every access and refresh token that
descends from it by rotation. At any moment a live session has exactly one
live access token (``Session.access_jti``) and one unused refresh token; a
refresh replaces both, so the previous access token is revoked at once and
the previous refresh token is retired. Presenting a retired refresh token
again is reuse (RFC 9700 §4.14.2): the whole session is revoked.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

import jwt

from ...core.entropy import Entropy
from ...core.errors import MockCloudError
from ...core.fixtures import check_settings
from ...core.helpers import reads_only
from ...core.jwt_signing import JwtSigner, b64url
from ...core.sections import b64, keyed, password_of, record, unb64, user_record
from ...core.service import ServiceContext
from . import mount_claims, split_base_url
from .errors import ERRORS, invalid_token

if TYPE_CHECKING:
    from jwt.types import Options

NAMEIDENTIFIER = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
ALGORITHM = "HS256"
MIN_KEY_BYTES = 32  # RFC 7518 §3.2: an HS256 key has at least 256 bits

DEFAULTS: dict[str, Any] = {
    "issuer": None,  # None: the mount's base URL
    "audience": None,  # None: the mount's base URL
    "signing_key": None,  # None: a random key per mount (read it with signing_key())
    "access_token_seconds": 3600,
    "refresh_token_seconds": 30 * 86400,  # "Refresh token must not be expired (typically 30-day lifetime)"
    "reuse_grace_seconds": 0,  # > 0: the latest rotated refresh token re-presented this soon is exchanged again
    "leeway_seconds": 0,  # clock skew allowed on access token expiry
    "versions": ["2.0"],  # accepted values of the Version header
    "instance_id": "1",  # InstanceID of users created without one
}

# PBKDF2-SHA256 with few iterations: real hashing (salted, constant-time compare), cheap enough for tests.
_PBKDF2_ITERATIONS = 1000
_DUMMY_SALT = os.urandom(16)
_DECODE_OPTIONS: Options = {
    "require": ["exp", "iss", "aud", "sid", "jti", "UserID"],
    "verify_exp": False,  # checked on the mock clock below (pyjwt reads the real one)
    "verify_nbf": False,
    "verify_iat": False,
}


def iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):  # a forged exp far outside the calendar
        return f"{ts:g} (epoch seconds)"


def _hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8", "surrogatepass"), salt, _PBKDF2_ITERATIONS)


def _digest(refresh_token: str) -> bytes:
    """Refresh tokens are kept only as their SHA-256, as a real server would store them."""
    return hashlib.sha256(refresh_token.encode("utf-8", "surrogatepass")).digest()


_DUMMY_HASH = _hash_password("mockcloud: no such user", _DUMMY_SALT)


@dataclass(eq=False)
class User:
    username: str
    user_id: str
    instance_id: str
    roles: list[Any]  # any JSON: the Roles claim is their JSON text
    salt: bytes = field(repr=False)
    password_hash: bytes = field(repr=False)

    def describe(self) -> dict[str, Any]:
        """The body of ``GET /User/Me``."""
        return {"userID": self.user_id, "username": self.username, "instanceID": self.instance_id, "roles": self.roles}


@dataclass(eq=False)
class Session:
    """One login and every token rotated from it (the token family)."""

    sid: str
    user: User
    created: float
    access_jti: str = ""  # the one live access token
    revoked_at: float | None = None
    revoked_reason: str | None = None  # "logout", "reuse"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(eq=False)
class RefreshRecord:
    session: Session
    issued: float
    expires: float
    access_jti: str = ""  # the access token issued with it: the one a retry of its rotation presents
    used_at: float | None = None  # set when rotated: the token is retired
    successor: bytes | None = None  # digest of the refresh token its rotation issued
    replaced: bool = False  # issued by a rotation whose reply a retry within the grace period replaced


class Mount:
    """One base URL with its own users, signing key, settings and sessions."""

    def __init__(
        self, base_url: str, settings: dict[str, Any], entropy: Entropy, random_key: str | None = None
    ) -> None:
        self.host, self.path = split_base_url(base_url)
        scheme = base_url.strip().split("://", 1)[0].lower()
        netloc = base_url.strip().split("://", 1)[1].split("/", 1)[0]
        self.base_url = f"{scheme}://{netloc.lower()}{self.path}"
        self.users: dict[str, User] = {}
        self.sessions: dict[str, Session] = {}
        self._refresh: dict[bytes, RefreshRecord] = {}
        self._user_ids: set[str] = set()
        self._next_user_id = 1
        # the key when no signing_key is set; a snapshot's is given back, not drawn again
        self._random_key = entropy.token_urlsafe(MIN_KEY_BYTES) if random_key is None else random_key
        self.configure(settings)

    def configure(self, settings: dict[str, Any]) -> None:
        """Apply settings (a new key invalidates every token signed with the old one)."""
        key: str | bytes | None = settings["signing_key"]
        if key is None:
            key = self._random_key
        size = len(key.encode() if isinstance(key, str) else key)
        if size < MIN_KEY_BYTES:
            raise MockCloudError(
                f"signing_key must have at least {MIN_KEY_BYTES} bytes for HS256 (RFC 7518 §3.2), not {size}"
            )
        self.settings = dict(settings)
        self.key = key
        self.issuer = settings["issuer"] or self.base_url
        self.audience = settings["audience"] or self.base_url
        self.versions = frozenset(settings["versions"])
        self._signer = JwtSigner(key, ALGORITHM)  # no kid: tokens carry {"alg": "HS256", "typ": "JWT"}

    def sign(self, claims: dict[str, Any]) -> str:
        return self._signer.sign(claims)

    def jwk(self) -> dict[str, str]:
        raw = self.key.encode() if isinstance(self.key, str) else self.key
        return {"kty": "oct", "k": b64url(raw), "alg": ALGORITHM, "use": "sig", "kid": self.base_url}

    def new_user_id(self) -> str:
        while str(self._next_user_id) in self._user_ids:
            self._next_user_id += 1
        return str(self._next_user_id)

    def snapshot(self) -> dict[str, Any]:
        """The mount as a fixtures ``mounts`` entry: settings, keys, users, sessions, and refresh tokens by digest.

        A refresh token is known here only by its SHA-256, and so it is in the
        snapshot: a restored mount redeems the token its client still holds.
        """
        settings = dict(self.settings)
        key = settings["signing_key"]
        entry: dict[str, Any] = {"base_url": self.base_url, "settings": settings}
        if isinstance(key, (bytes, bytearray)):  # a key given in code as bytes: JSON has no bytes, so base64 beside
            settings["signing_key"] = None
            entry["signing_key_base64"] = b64(bytes(key))
        entry["random_key"] = self._random_key
        entry["next_user_id"] = self._next_user_id
        entry["users"] = [user_record(user) for user in self.users.values()]
        entry["sessions"] = [{**record(s, omit=("user",)), "username": s.user.username} for s in self.sessions.values()]
        entry["refresh_tokens"] = [
            {
                "digest": b64(digest),
                "sid": r.session.sid,
                **record(r, omit=("session", "successor")),
                **({} if r.successor is None else {"successor": b64(r.successor)}),
            }
            for digest, r in self._refresh.items()
        ]
        return entry

    def load(self, entry: dict[str, Any]) -> None:
        """A snapshot's sessions and refresh tokens (after its users), each tied to what it names."""
        sessions = []
        for item in entry.get("sessions", ()):
            user = self.users.get(item["username"])
            if user is None:
                raise MockCloudError(f"a session at {self.base_url} is of user {item['username']!r}, who is not there")
            sessions.append(Session(**{k: v for k, v in item.items() if k != "username"}, user=user))
        by_sid = keyed(sessions, lambda s: s.sid, f"sessions at {self.base_url}")
        records: dict[bytes, RefreshRecord] = {}
        for item in entry.get("refresh_tokens", ()):
            digest = unb64(item["digest"], f"a refresh token's digest at {self.base_url}", size=32)
            session = by_sid.get(item["sid"])
            if session is None:
                raise MockCloudError(f"a refresh token at {self.base_url} is of session {item['sid']!r}, not there")
            if digest in records:
                raise MockCloudError(f"two refresh tokens at {self.base_url} have one digest")
            fields = {k: v for k, v in item.items() if k not in ("digest", "sid", "successor")}
            successor = item.get("successor")
            if successor is not None:
                successor = unb64(successor, "a refresh token's successor", size=32)
            records[digest] = RefreshRecord(session, successor=successor, **fields)
        for rotated in records.values():
            if rotated.successor is not None and rotated.successor not in records:
                raise MockCloudError(f"a refresh token at {self.base_url} was rotated into one that is not there")
        self.sessions.update(by_sid)
        self._refresh.update(records)
        self._next_user_id = entry.get("next_user_id", self._next_user_id)

    def __repr__(self) -> str:
        return f"<userapi mount {self.base_url} users={sorted(self.users)}>"


class UserApiModel:
    """``cloud.userapi``: the mounts and their state, and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.context = context
        self.clock = context.clock
        self._lock = context.lock
        self._mounts: dict[tuple[str, str], Mount] = {}
        self._by_host: dict[str, list[Mount]] = {}  # longest path first
        self._server_prefixes: list[tuple[str, Mount]] = []  # longest first
        shared = context.fixtures.get("settings", {})
        _check_settings(shared, "fixtures settings")
        _check_settings(context.settings, "settings")
        self._shared = {**DEFAULTS, **shared}
        for item in context.fixtures.get("mounts", ()):
            own = dict(item.get("settings", {}))
            if "signing_key_base64" in item:
                if own.get("signing_key") is not None:
                    raise MockCloudError(f"the mount {item['base_url']} has a signing_key and a signing_key_base64")
                own["signing_key"] = unb64(item["signing_key_base64"], f"the signing key of {item['base_url']}")
            settings = {**self._shared, **own, **context.settings}
            mount = self._add_mount(item["base_url"], settings, item.get("random_key"))
            for user in item.get("users", ()):
                if "password" in user:
                    self._add_user(mount, **user)
                else:  # a snapshot's user: the hash and salt, never the password
                    salt, password_hash = password_of(user, f"user {user['username']!r} at {item['base_url']}")
                    ids = (user.get("user_id"), user.get("instance_id"), user.get("roles"))
                    self._put_user(mount, user["username"], salt, password_hash, *ids)
            mount.load(item)

    @reads_only
    def snapshot(self) -> dict[str, Any]:
        """The whole state as this service's fixtures section: shared settings, then every mount in mounting order."""
        with self._lock:
            mounts = [copy.deepcopy(m.snapshot()) for m in self._mounts.values()]
            return {"settings": copy.deepcopy(self._shared), "mounts": mounts}

    # ---- mounts -----------------------------------------------------------
    def mount(self, base_url: str, **settings: Any) -> Mount:
        """Serve the User API at ``base_url`` too (or re-configure the mount already there).

        A new mount starts with no users, its own random key unless
        ``signing_key`` is given, and the mock's settings overridden by these.
        """
        _check_settings(settings, "mount() settings")
        host, path = split_base_url(base_url)
        with self._lock:
            existing = self._mounts.get((host, path))
            if existing is not None:
                existing.configure({**existing.settings, **settings})
                return existing
            mount = self._add_mount(base_url, {**self._shared, **self.context.settings, **settings})
        self.context.claim(mount_claims(base_url))
        return mount

    def _add_mount(self, base_url: str, settings: dict[str, Any], random_key: str | None = None) -> Mount:
        mount = Mount(base_url, settings, self.entropy, random_key)
        with self._lock:
            self._mounts[(mount.host, mount.path)] = mount
            by_host = dict(self._by_host)
            by_host[mount.host] = sorted([*by_host.get(mount.host, []), mount], key=lambda m: -len(m.path))
            prefixes, seen = [], set()
            for each in self._mounts.values():  # in mounting order: the first mount keeps a shared plain path
                for prefix in (each.path, f"/{each.host}{each.path}"):
                    if prefix not in seen:
                        seen.add(prefix)
                        prefixes.append((prefix, each))
            # each table replaced in one step: requests read them without the lock
            self._by_host = by_host
            self._server_prefixes = sorted(prefixes, key=lambda item: -len(item[0]))
        return mount

    @property
    def mounts(self) -> list[Mount]:
        return list(self._mounts.values())

    @reads_only
    def get_mount(self, base_url: str | None = None) -> Mount:
        """The mount at ``base_url``; None means the default mount (the first one)."""
        if base_url is None:
            for first in self._mounts.values():
                return first
            raise MockCloudError("the User API has no mount: add one with cloud.userapi.mount(base_url)")
        mount = self._mounts.get(split_base_url(base_url))
        if mount is None:
            known = [m.base_url for m in self._mounts.values()]
            raise MockCloudError(f"no User API is mounted at {base_url!r}; mounted: {known}")
        return mount

    def resolve(self, host: str, path: str, via_server: bool) -> tuple[Mount, str] | None:
        """The mount a request is for and the rest of its path: by host, else (on the server) by path."""
        for mount in self._by_host.get(host, ()):
            if path == mount.path or path.startswith(mount.path + "/"):
                return mount, path[len(mount.path) :]
        if via_server:
            for prefix, mount in self._server_prefixes:
                if path.startswith(prefix + "/"):
                    return mount, path[len(prefix) :]
        return None

    # ---- users ------------------------------------------------------------
    def create_user(
        self,
        username: str,
        password: str,
        user_id: str | int | None = None,
        instance_id: str | int | None = None,
        roles: list[Any] | None = None,
        base_url: str | None = None,
    ) -> User:
        """Add a user who can log in at ``base_url`` (None: the default mount)."""
        return self._add_user(self.get_mount(base_url), username, password, user_id, instance_id, roles)

    def _add_user(
        self,
        mount: Mount,
        username: str,
        password: str,
        user_id: str | int | None = None,
        instance_id: str | int | None = None,
        roles: list[Any] | None = None,
    ) -> User:
        if not isinstance(username, str) or not username or not isinstance(password, str) or not password:
            raise MockCloudError("username and password must be non-empty strings")
        salt = self.entropy.token_bytes(16)
        return self._put_user(mount, username, salt, _hash_password(password, salt), user_id, instance_id, roles)

    def _put_user(
        self,
        mount: Mount,
        username: str,
        salt: bytes,
        password_hash: bytes,
        user_id: str | int | None = None,
        instance_id: str | int | None = None,
        roles: list[Any] | None = None,
    ) -> User:
        """A user whose password is known by its salted hash: a new one's, or a snapshot's."""
        roles = list(roles or [])
        json.dumps(roles)  # the Roles claim is their JSON: refuse what cannot be serialized now
        with self._lock:
            if username in mount.users:
                raise MockCloudError(f"user {username!r} already exists at {mount.base_url}")
            user_id = mount.new_user_id() if user_id is None else str(user_id)
            if user_id in mount._user_ids:
                raise MockCloudError(f"user id {user_id!r} is already taken at {mount.base_url}")
            instance_id = str(mount.settings["instance_id"] if instance_id is None else instance_id)
            user = User(username, user_id, instance_id, roles, salt, password_hash)
            mount.users[username] = user
            mount._user_ids.add(user_id)
        return user

    # ---- keys -------------------------------------------------------------
    @reads_only
    def signing_key(self, base_url: str | None = None) -> str | bytes:
        """The HS256 key that signs (and verifies) the access tokens of a mount."""
        return self.get_mount(base_url).key

    @reads_only
    def jwk_set(self, base_url: str | None = None) -> dict[str, list[dict[str, str]]]:
        """A mount's key as a JWK Set (``kty: oct``, ``kid`` = the mount's base URL), for JWT libraries that take one.

        Not named ``jwks``: the server's ``/_mockcloud/jwks`` publishes public keys,
        and an HS256 key is a shared secret.
        """
        return {"keys": [self.get_mount(base_url).jwk()]}

    # ---- the operations -------------------------------------------------
    def login(self, mount: Mount, username: str, password: str) -> tuple[str, str]:
        """A new session for valid credentials: its first token pair."""
        user = mount.users.get(username)
        salt, expected = (user.salt, user.password_hash) if user is not None else (_DUMMY_SALT, _DUMMY_HASH)
        matches = hmac.compare_digest(_hash_password(password, salt), expected)  # same cost for unknown users
        if user is None or not matches:
            raise ERRORS.error("invalid_credentials")
        now = self.clock.time()
        with self._lock:
            session = Session(str(self.entropy.uuid4()), user, now)
            mount.sessions[session.sid] = session
            return self._issue(mount, session, now)

    def verify_access(self, mount: Mount, token: str, *, allow_expired: bool = False) -> dict[str, Any]:
        """The claims of an access token of this mount: signature, issuer, audience, and expiry unless allowed."""
        try:
            claims = jwt.decode(
                token,
                mount.key,
                algorithms=[ALGORITHM],
                audience=mount.audience,
                issuer=mount.issuer,
                options=_DECODE_OPTIONS,
            )
        except jwt.InvalidSignatureError:
            raise invalid_token("signature", "The access token signature is invalid.") from None
        except jwt.InvalidAlgorithmError:
            raise invalid_token("signature", f"The access token is not signed with {ALGORITHM}.") from None
        except jwt.InvalidAudienceError:
            raise invalid_token("audience", "The access token audience is invalid.") from None
        except jwt.InvalidIssuerError:
            raise invalid_token("issuer", "The access token issuer is invalid.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise invalid_token("malformed", f"The access token has no {exc.claim} claim.") from None
        except jwt.PyJWTError:
            raise invalid_token("malformed", "The access token is not a valid JWT.") from None
        exp = claims["exp"]
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or not math.isfinite(exp):
            raise invalid_token("malformed", "The access token exp claim is not a number.")
        if not isinstance(claims["sid"], str) or not isinstance(claims["jti"], str):
            raise invalid_token("malformed", "The access token sid and jti claims must be strings.")
        if not allow_expired and self.clock.time() >= exp + mount.settings["leeway_seconds"]:
            raise invalid_token("expired", f"The access token expired at {iso(exp)}.")
        return claims

    def refresh(self, mount: Mount, claims: dict[str, Any], refresh_token: str) -> tuple[str, str]:
        """Rotate: a new pair for a valid, unused refresh token of the access token's session.

        Under the lock, so of two racing refreshes with one refresh token exactly one wins.
        """
        digest = _digest(refresh_token)
        now = self.clock.time()
        with self._lock:
            record = mount._refresh.get(digest)
            if record is None:
                raise invalid_token("unknown", "The refresh token is invalid.")
            session = record.session
            if session.revoked:
                raise invalid_token("revoked", "The refresh token has been revoked.")
            if record.replaced:
                raise invalid_token(
                    "revoked", "The refresh token was replaced by a retry of the rotation that issued it."
                )
            retry = record.used_at is not None
            if retry and not self._retry_in_grace(mount, record, claims, now):
                self._revoke(session, now, "reuse")
                raise invalid_token(
                    "reused", "The refresh token was already used: every token of its session has been revoked."
                )
            if session.sid != claims["sid"] or session.user.user_id != str(claims["UserID"]):
                raise invalid_token("mismatch", "The refresh token does not belong to the session of the access token.")
            if now >= record.expires:
                raise invalid_token("expired", f"The refresh token expired at {iso(record.expires)}.")
            if not retry and session.access_jti != claims["jti"]:
                raise invalid_token("revoked", "The access token has been revoked.")
            if retry:  # the first rotation's reply was lost: its pair gives way to this one
                # a retry in grace: the rotation it repeats set the successor (_retry_in_grace found it)
                mount._refresh[cast(bytes, record.successor)].replaced = True
            else:
                record.used_at = now
            access, refresh = self._issue(mount, session, now)
            record.successor = _digest(refresh)
            return access, refresh

    @staticmethod
    def _retry_in_grace(mount: Mount, record: RefreshRecord, claims: dict[str, Any], now: float) -> bool:
        """A client retrying a rotation whose reply it never saw, within ``reuse_grace_seconds``.

        As Auth0's reuse interval and Cognito's retry grace period: only the
        latest rotated token (its successor unused), presented with its own
        access token, is exchanged again.
        """
        if record.used_at is None or now - record.used_at >= mount.settings["reuse_grace_seconds"]:
            return False
        successor = mount._refresh.get(record.successor or b"")
        return successor is not None and successor.used_at is None and record.access_jti == claims["jti"]

    def logout(self, mount: Mount, claims: dict[str, Any]) -> None:
        """Revoke the session of a live access token: every token of its family."""
        with self._lock:
            session = self._live_session(mount, claims)
            self._revoke(session, self.clock.time(), "logout")

    def me(self, mount: Mount, claims: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._live_session(mount, claims).user.describe()

    # ---- inside -----------------------------------------------------------
    def _issue(self, mount: Mount, session: Session, now: float) -> tuple[str, str]:
        user = session.user
        jti = str(self.entropy.uuid4())
        access = mount.sign(
            {
                NAMEIDENTIFIER: user.username,
                "UserID": user.user_id,
                "InstanceID": user.instance_id,
                "Roles": json.dumps(user.roles, separators=(",", ":")),
                "sid": session.sid,
                "jti": jti,
                "exp": int(now + mount.settings["access_token_seconds"]),
                "iss": mount.issuer,
                "aud": mount.audience,
            }
        )
        refresh = base64.b64encode(self.entropy.token_bytes(64)).decode("ascii")
        mount._refresh[_digest(refresh)] = RefreshRecord(
            session, now, now + mount.settings["refresh_token_seconds"], jti
        )
        session.access_jti = jti  # the previous access token is revoked from here on
        return access, refresh

    @staticmethod
    def _revoke(session: Session, now: float, reason: str) -> None:
        if not session.revoked:
            session.revoked_at = now
            session.revoked_reason = reason

    @staticmethod
    def _live_session(mount: Mount, claims: dict[str, Any]) -> Session:
        session = mount.sessions.get(claims["sid"])
        if session is None or session.user.user_id != str(claims["UserID"]):
            raise invalid_token("unknown", "The access token does not belong to a session of this API.")
        if session.revoked or session.access_jti != claims["jti"]:
            raise invalid_token("revoked", "The access token has been revoked.")
        return session

    def inventory(self) -> list[dict[str, object]]:
        """Every mount's sessions, refresh tokens and access tokens, for the dashboard (no secrets).

        A session is a token family: its ``chain`` is its refresh tokens (ids: their stored SHA-256)
        in the order rotation issued them. An access token a rotation superseded, or a refresh token
        whose rotation a retry replaced, is ``replaced``; a rotated refresh token is ``used``; every
        token of a revoked session (logout, reuse) is ``revoked``.
        """
        from ...core.inventory import ID_DIGITS, entry, state_of

        now = self.clock.time()
        with self._lock:
            mounts = [(m, list(m.sessions.values()), list(m._refresh.items())) for m in self._mounts.values()]
        several = len(mounts) > 1
        found = []
        for mount, sessions, records in mounts:
            family: dict[str, list[tuple[str, RefreshRecord]]] = {}
            for digest, rec in records:
                family.setdefault(rec.session.sid, []).append((digest.hex()[:ID_DIGITS], rec))
            access_seconds = mount.settings["access_token_seconds"]
            for session in sessions:
                who = f"{session.user.username} @ {mount.base_url}" if several else session.user.username
                chain = family.get(session.sid, [])
                last = chain[-1][1] if chain else None
                expires = None if last is None else last.expires  # the family lives as long as its newest refresh token
                found.append(
                    entry(
                        "userapi",
                        "session",
                        session.sid[:ID_DIGITS],
                        who,
                        session.created,
                        expires,
                        state_of(now, expires, revoked=session.revoked),
                        [rid for rid, _ in chain],
                    )
                )
                for rid, rec in chain:
                    found.append(
                        entry(
                            "userapi",
                            "refresh_token",
                            rid,
                            who,
                            rec.issued,
                            rec.expires,
                            state_of(
                                now,
                                rec.expires,
                                revoked=session.revoked,
                                replaced=rec.replaced,
                                used=rec.used_at is not None,
                            ),
                        )
                    )
                for _, rec in chain:
                    if rec.access_jti:
                        expires = float(int(rec.issued + access_seconds))  # as signed: exp is whole seconds
                        found.append(
                            entry(
                                "userapi",
                                "access_token",
                                rec.access_jti[:ID_DIGITS],
                                who,
                                rec.issued,
                                expires,
                                state_of(
                                    now, expires, revoked=session.revoked, replaced=rec.access_jti != session.access_jti
                                ),
                            )
                        )
        return found


def _check_settings(settings: dict[str, Any], where: str) -> None:
    key = settings.get("signing_key")
    if isinstance(key, (bytes, bytearray)):  # bytes keys are fine in code; the schema speaks of JSON strings
        settings = {**settings, "signing_key": bytes(key).decode("latin-1")}
    check_settings("userapi", settings, where)
