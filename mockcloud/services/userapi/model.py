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
import dataclasses
import hashlib
import hmac
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar, cast

import jwt

from ...core.claims import Claims
from ...core.entities import KEPT_SECONDS, Kind, Table
from ...core.errors import MockCloudError
from ...core.fixtures import check_settings
from ...core.helpers import reads_only
from ...core.jwt_signing import JwtSigner, b64url
from ...core.sections import b64, keyed, password_of, unb64, user_record
from ...core.sections import record as record_of
from ...core.service import ServiceContext, ServiceModel
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


def _digest(refresh_token: str) -> str:
    """Refresh tokens are kept only as their SHA-256 (base64: the record's key), as a real server would store them."""
    return b64(hashlib.sha256(refresh_token.encode("utf-8", "surrogatepass")).digest())


_DUMMY_HASH = _hash_password("mockcloud: no such user", _DUMMY_SALT)
T = TypeVar("T")


@dataclass(slots=True, eq=False)
class User:
    username: str
    user_id: str
    instance_id: str
    roles: list[Any]  # any JSON: the Roles claim is their JSON text
    salt: bytes = field(repr=False)
    password_hash: bytes = field(repr=False)
    mount: str = ""  # the key of its mount

    def describe(self) -> dict[str, Any]:
        """The body of ``GET /User/Me``."""
        return {"userID": self.user_id, "username": self.username, "instanceID": self.instance_id, "roles": self.roles}


@dataclass(slots=True, eq=False)
class Session:
    """One login and every token rotated from it (the token family)."""

    sid: str
    mount: str  # the key of its mount
    username: str
    created: float
    access_jti: str = ""  # the one live access token
    revoked_at: float | None = None
    revoked_reason: str | None = None  # "logout", "reuse"
    expires: float = 0.0  # when its newest token expires: the family is of use until then

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(slots=True, eq=False)
class RefreshRecord:
    sid: str  # the session it belongs to
    issued: float
    expires: float
    access_jti: str = ""  # the access token issued with it: the one a retry of its rotation presents
    used_at: float | None = None  # set when rotated: the token is retired
    successor: str | None = None  # key (digest) of the refresh token its rotation issued
    replaced: bool = False  # issued by a rotation whose reply a retry within the grace period replaced


@dataclass(slots=True, eq=False)
class MountRecord:
    """One mount's own state: its base URL, effective settings, random key and next user id."""

    base_url: str
    order: int  # mounting order: the first mount is the default, and keeps a plain path two mounts share
    settings: dict[str, Any]
    random_key: str  # the key when no signing_key is set; a snapshot's is given back, not drawn again
    next_user_id: int = 1
    revision: int = 0  # grows with each change of settings: views of the mount are made again


def _mount_dump(record: MountRecord) -> dict[str, Any]:
    entry = record_of(record)
    key = record.settings["signing_key"]
    if isinstance(key, (bytes, bytearray)):  # JSON has no bytes: base64 beside
        entry["settings"] = {**record.settings, "signing_key": None}
        entry["signing_key_base64"] = b64(bytes(key))
    return entry


def _mount_load(data: dict[str, Any]) -> MountRecord:
    data = dict(data)
    encoded = data.pop("signing_key_base64", None)
    if encoded is not None:
        data["settings"] = {**data["settings"], "signing_key": unb64(encoded, "a mount's signing key")}
    return MountRecord(**data)


def _user_dump(user: User) -> dict[str, Any]:
    return user_record(user)


def _user_load(data: dict[str, Any]) -> User:
    salt, password_hash = password_of(data, f"user {data.get('username')!r}")
    return User(**{**data, "salt": salt, "password_hash": password_hash})


def _session_dead_at(session: Session) -> float:
    return session.expires + KEPT_SECONDS


def _refresh_dead_at(refresh: RefreshRecord) -> float:
    return refresh.expires + KEPT_SECONDS


def _session_load(data: dict[str, Any]) -> Session:
    return Session(**data)


def _refresh_load(data: dict[str, Any]) -> RefreshRecord:
    return RefreshRecord(**data)


def _settings_load(data: Any) -> dict[str, Any]:
    return dict(data)


def _username_load(data: Any) -> str:
    return str(data)


# the records, by key: the shared settings (""), a mount (its host and path), a user ("<mount> <username>"),
# a user id taken ("<mount> <user id>" -> username), a session (its sid), a refresh token (its digest, base64)
SETTINGS: Kind[dict[str, Any]] = Kind("settings", dict, _settings_load, whole=True)
MOUNT: Kind[MountRecord] = Kind("mount", _mount_dump, _mount_load, whole=True)
USER: Kind[User] = Kind("user", _user_dump, _user_load)
USER_ID: Kind[str] = Kind("user_id", str, _username_load)
SESSION: Kind[Session] = Kind("session", record_of, _session_load, _session_dead_at)
REFRESH: Kind[RefreshRecord] = Kind("refresh", record_of, _refresh_load, _refresh_dead_at)


def _mount_key(host: str, path: str) -> str:
    return host + path


class _Records(Mapping[str, T]):
    """A mount's records of one table: ``mount.users[username]``, ``mount.sessions[sid]``."""

    def __init__(self, table: Table[T], mount: str, key: Callable[[str], str]) -> None:
        self._table, self._mount, self._key = table, mount, key

    def __getitem__(self, name: str) -> T:
        found = self._table.get(self._key(name))
        if found is None or getattr(found, "mount", self._mount) != self._mount:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        prefix = self._key("")
        for key, record in list(self._table.items()):
            if getattr(record, "mount", None) == self._mount:
                yield key[len(prefix) :]

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _signing_key(settings: dict[str, Any], random_key: str) -> str | bytes:
    """The mount's HS256 key: its ``signing_key`` setting, else its random key; too short a key is refused."""
    key: str | bytes | None = settings["signing_key"]
    if key is None:
        key = random_key
    size = len(key.encode() if isinstance(key, str) else key)
    if size < MIN_KEY_BYTES:
        raise MockCloudError(
            f"signing_key must have at least {MIN_KEY_BYTES} bytes for HS256 (RFC 7518 §3.2), not {size}"
        )
    return key


class Mount:
    """One base URL with its own users, signing key, settings and sessions: a view of its record and tables."""

    def __init__(self, record: MountRecord, users: Table[User], sessions: Table[Session]) -> None:
        self.record = record
        self.host, self.path = split_base_url(record.base_url)
        self.key_name = _mount_key(self.host, self.path)
        self.base_url = record.base_url
        settings = record.settings
        key = _signing_key(settings, record.random_key)
        self.settings = settings
        self.key = key
        self.issuer = settings["issuer"] or self.base_url
        self.audience = settings["audience"] or self.base_url
        self.versions = frozenset(settings["versions"])
        self._signer = JwtSigner(key, ALGORITHM)  # no kid: tokens carry {"alg": "HS256", "typ": "JWT"}
        mount = self.key_name
        self.users: Mapping[str, User] = _Records(users, mount, lambda name: f"{mount} {name}")
        self.sessions: Mapping[str, Session] = _Records(sessions, mount, lambda sid: sid)

    def sign(self, claims: dict[str, Any]) -> str:
        return self._signer.sign(claims)

    def jwk(self) -> dict[str, str]:
        raw = self.key.encode() if isinstance(self.key, str) else self.key
        return {"kty": "oct", "k": b64url(raw), "alg": ALGORITHM, "use": "sig", "kid": self.base_url}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mount) and other.key_name == self.key_name

    def __hash__(self) -> int:
        return hash(self.key_name)

    def __repr__(self) -> str:
        return f"<userapi mount {self.base_url}>"


def _normalized(base_url: str) -> str:
    _, path = split_base_url(base_url)
    scheme = base_url.strip().split("://", 1)[0].lower()
    netloc = base_url.strip().split("://", 1)[1].split("/", 1)[0]
    return f"{scheme}://{netloc.lower()}{path}"


class UserApiModel(ServiceModel):
    """``cloud.userapi``: the mounts and their state, and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.entropy = context.entropy
        self.context = context
        self.clock = context.clock
        self._lock = context.lock
        _check_settings(context.settings, "settings")
        self._settings = context.table(SETTINGS)
        self._mounts = context.table(MOUNT)
        self._users = context.table(USER)
        self._user_ids = context.table(USER_ID)
        self._sessions = context.table(SESSION)
        self._refresh = context.table(REFRESH)
        self._views: dict[str, Mount] = {}  # by mount key: made again when its record's revision moves
        self._routing: tuple[tuple[tuple[str, int], ...], _Routes] | None = None

    def load(self, section: dict[str, Any]) -> None:
        """Mounts, users, sessions and refresh tokens of a fixtures section or a snapshot's."""
        shared = section.get("settings", {})
        _check_settings(shared, "fixtures settings")
        with self._lock:
            self._settings[""] = {**DEFAULTS, **shared}
            for item in section.get("mounts", ()):
                own = dict(item.get("settings", {}))
                if "signing_key_base64" in item:
                    if own.get("signing_key") is not None:
                        raise MockCloudError(f"the mount {item['base_url']} has a signing_key and a signing_key_base64")
                    own["signing_key"] = unb64(item["signing_key_base64"], f"the signing key of {item['base_url']}")
                settings = {**self._shared(), **own, **self.context.settings}
                mount = self._add_mount(item["base_url"], settings, item.get("random_key"))
                for user in item.get("users", ()):
                    if "password" in user:
                        self._add_user(mount, **user)
                    else:  # a snapshot's user: the hash and salt, never the password
                        salt, password_hash = password_of(user, f"user {user['username']!r} at {item['base_url']}")
                        ids = (user.get("user_id"), user.get("instance_id"), user.get("roles"))
                        self._put_user(mount, user["username"], salt, password_hash, *ids)
                self._load_tokens(mount, item)

    def _load_tokens(self, mount: Mount, entry: dict[str, Any]) -> None:
        """A snapshot's sessions and refresh tokens (after its users), each tied to what it names."""
        sessions = []
        for item in entry.get("sessions", ()):
            if f"{mount.key_name} {item['username']}" not in self._users:
                raise MockCloudError(f"a session at {mount.base_url} is of user {item['username']!r}, who is not there")
            sessions.append(Session(**item, mount=mount.key_name))
        by_sid = keyed(sessions, lambda s: s.sid, f"sessions at {mount.base_url}")
        records: dict[str, RefreshRecord] = {}
        for item in entry.get("refresh_tokens", ()):
            digest = item["digest"]
            unb64(digest, f"a refresh token's digest at {mount.base_url}", size=32)
            if item["sid"] not in by_sid:
                raise MockCloudError(f"a refresh token at {mount.base_url} is of session {item['sid']!r}, not there")
            if digest in records or digest in self._refresh:
                raise MockCloudError(f"two refresh tokens at {mount.base_url} have one digest")
            fields = {k: v for k, v in item.items() if k != "digest"}
            if fields.get("successor") is not None:
                unb64(fields["successor"], "a refresh token's successor", size=32)
            records[digest] = RefreshRecord(**fields)
        for rotated in records.values():
            if rotated.successor is not None and rotated.successor not in records:
                raise MockCloudError(f"a refresh token at {mount.base_url} was rotated into one that is not there")
        access_seconds = mount.settings["access_token_seconds"]
        for refresh in records.values():  # a family is of use as long as its newest token
            session = by_sid[refresh.sid]
            session.expires = max(session.expires, refresh.expires, refresh.issued + access_seconds)
        for sid, session in by_sid.items():
            if sid in self._sessions:
                raise MockCloudError(f"two sessions have the sid {sid[:24]!r}")
            self._sessions[sid] = session
        for digest, refresh in records.items():
            self._refresh[digest] = refresh
        next_user_id = entry.get("next_user_id")
        if next_user_id is not None:
            record = mount.record
            record.next_user_id = next_user_id
            self._mounts[mount.key_name] = record

    @reads_only
    def snapshot(self) -> dict[str, Any]:
        """The whole state as this service's fixtures section: shared settings, then every mount in mounting order."""
        with self._lock:
            mounts: dict[str, dict[str, Any]] = {}
            for record in self._records():
                entry = _mount_dump(record)
                entry.pop("order"), entry.pop("revision")
                entry["users"], entry["sessions"], entry["refresh_tokens"] = [], [], []
                mounts[_mount_key(*split_base_url(record.base_url))] = entry
            for user in self._users.values():
                mounts[user.mount]["users"].append(user_record(user, omit=("mount",)))
            of_session: dict[str, str] = {}
            for session in self._sessions.values():
                of_session[session.sid] = session.mount
                mounts[session.mount]["sessions"].append(record_of(session, omit=("mount", "expires")))
            for digest, refresh in self._refresh.items():
                mounts[of_session[refresh.sid]]["refresh_tokens"].append({"digest": digest, **record_of(refresh)})
            return copy.deepcopy({"settings": self._shared(), "mounts": list(mounts.values())})

    def _shared(self) -> dict[str, Any]:
        """The settings every mount starts from (the fixtures' top-level ``settings`` over the defaults)."""
        return self._settings.get("") or dict(DEFAULTS)

    def _records(self) -> list[MountRecord]:
        """Every mount's record, in mounting order."""
        return sorted(self._mounts.values(), key=lambda record: record.order)

    def _view(self, record: MountRecord) -> Mount:
        key = _mount_key(*split_base_url(record.base_url))
        view = self._views.get(key)
        if view is None or view.record.revision != record.revision or view.record.random_key != record.random_key:
            view = self._views[key] = Mount(record, self._users, self._sessions)
        return view

    # ---- mounts -----------------------------------------------------------
    def mount(self, base_url: str, **settings: Any) -> Mount:
        """Serve the User API at ``base_url`` too (or re-configure the mount already there).

        A new mount starts with no users, its own random key unless
        ``signing_key`` is given, and the mock's settings overridden by these.
        """
        _check_settings(settings, "mount() settings")
        host, path = split_base_url(base_url)
        with self._lock:
            existing = self._mounts.get(_mount_key(host, path))
            if existing is not None:
                merged = {**existing.settings, **settings}
                _signing_key(merged, existing.random_key)  # a bad key fails before the change
                changed = dataclasses.replace(existing, settings=merged, revision=existing.revision + 1)
                self._mounts[_mount_key(host, path)] = changed
                return self._view(changed)
            mount = self._add_mount(base_url, {**self._shared(), **self.context.settings, **settings})
        self.context.claim(mount_claims(base_url))
        return mount

    def _add_mount(self, base_url: str, settings: dict[str, Any], random_key: str | None = None) -> Mount:
        host, path = split_base_url(base_url)
        key = _mount_key(host, path)
        if key in self._mounts:
            raise MockCloudError(f"the User API is mounted at {base_url!r} twice")
        order = 1 + max((record.order for record in self._mounts.values()), default=0)
        if random_key is None:
            random_key = self.entropy.token_urlsafe(MIN_KEY_BYTES)
        record = MountRecord(_normalized(base_url), order, dict(settings), random_key)
        mount = self._view(record)  # a bad key fails here, before the mount is kept
        self._mounts[key] = record
        return mount

    @property
    def mounts(self) -> list[Mount]:
        return [self._view(record) for record in self._records()]

    @reads_only
    def get_mount(self, base_url: str | None = None) -> Mount:
        """The mount at ``base_url``; None means the default mount (the first one)."""
        if base_url is None:
            for first in self._records():
                return self._view(first)
            raise MockCloudError("the User API has no mount: add one with cloud.userapi.mount(base_url)")
        record = self._mounts.get(_mount_key(*split_base_url(base_url)))
        if record is None:
            known = [r.base_url for r in self._records()]
            raise MockCloudError(f"no User API is mounted at {base_url!r}; mounted: {known}")
        return self._view(record)

    def claims(self) -> Claims:
        """The routes of every mount (its host in-process; its plain and host-qualified paths on the server)."""
        hosts: list[str] = []
        prefixes: list[str] = []
        for record in self._records():
            routes = mount_claims(record.base_url)
            hosts.extend(routes.hosts)
            prefixes.extend(routes.server_path_prefixes)
        return Claims(hosts=tuple(hosts), server_path_prefixes=tuple(prefixes))

    def _routes(self) -> _Routes:
        """The mounts by host, and the server's path prefixes, made again only when the mounts change."""
        records = self._records()
        signature = tuple((record.base_url, record.revision) for record in records)
        cached = self._routing
        if cached is not None and cached[0] == signature:
            return cached[1]
        mounts = [self._view(record) for record in records]
        by_host: dict[str, list[Mount]] = {}
        for mount in mounts:
            by_host.setdefault(mount.host, []).append(mount)
        for host, listed in by_host.items():
            by_host[host] = sorted(listed, key=lambda m: -len(m.path))  # longest path first
        prefixes: list[tuple[str, Mount]] = []
        seen: set[str] = set()
        for each in mounts:  # in mounting order: the first mount keeps a shared plain path
            for prefix in (each.path, f"/{each.host}{each.path}"):
                if prefix not in seen:
                    seen.add(prefix)
                    prefixes.append((prefix, each))
        routes = _Routes(by_host, sorted(prefixes, key=lambda item: -len(item[0])))
        self._routing = (signature, routes)
        return routes

    def resolve(self, host: str, path: str, via_server: bool) -> tuple[Mount, str] | None:
        """The mount a request is for and the rest of its path: by host, else (on the server) by path."""
        routes = self._routes()
        for mount in routes.by_host.get(host, ()):
            if path == mount.path or path.startswith(mount.path + "/"):
                return mount, path[len(mount.path) :]
        if via_server:
            for prefix, mount in routes.server_prefixes:
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
        name = mount.key_name
        with self._lock:
            if f"{name} {username}" in self._users:
                raise MockCloudError(f"user {username!r} already exists at {mount.base_url}")
            record = self._mounts[name]
            if user_id is None:
                while f"{name} {record.next_user_id}" in self._user_ids:
                    record.next_user_id += 1
                self._mounts[name] = record
                user_id = str(record.next_user_id)
            user_id = str(user_id)
            if f"{name} {user_id}" in self._user_ids:
                raise MockCloudError(f"user id {user_id!r} is already taken at {mount.base_url}")
            instance_id = str(mount.settings["instance_id"] if instance_id is None else instance_id)
            user = User(username, user_id, instance_id, roles, salt, password_hash, name)
            self._users[f"{name} {username}"] = user
            self._user_ids[f"{name} {user_id}"] = username
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
        user = self._users.get(f"{mount.key_name} {username}")
        salt, expected = (user.salt, user.password_hash) if user is not None else (_DUMMY_SALT, _DUMMY_HASH)
        matches = hmac.compare_digest(_hash_password(password, salt), expected)  # same cost for unknown users
        if user is None or not matches:
            raise ERRORS.error("invalid_credentials")
        now = self.clock.time()
        with self._lock:
            session = Session(str(self.entropy.uuid4()), mount.key_name, user.username, now)
            return self._issue(mount, session, user, now)

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
            record = self._refresh.get(digest)
            session = None if record is None else self._sessions.get(record.sid)
            if record is None or session is None or session.mount != mount.key_name:
                raise invalid_token("unknown", "The refresh token is invalid.")
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
            user = self._users.get(f"{mount.key_name} {session.username}")
            if user is None or session.sid != claims["sid"] or user.user_id != str(claims["UserID"]):
                raise invalid_token("mismatch", "The refresh token does not belong to the session of the access token.")
            if now >= record.expires:
                raise invalid_token("expired", f"The refresh token expired at {iso(record.expires)}.")
            if not retry and session.access_jti != claims["jti"]:
                raise invalid_token("revoked", "The access token has been revoked.")
            if retry:  # the first rotation's reply was lost: its pair gives way to this one
                # a retry in grace: the rotation it repeats set the successor (_retry_in_grace found it)
                successor = cast(str, record.successor)
                given_way = self._refresh[successor]
                given_way.replaced = True
                self._refresh[successor] = given_way
            else:
                record.used_at = now
            access, refresh = self._issue(mount, session, user, now)
            record.successor = _digest(refresh)
            self._refresh[digest] = record
            return access, refresh

    def _retry_in_grace(self, mount: Mount, record: RefreshRecord, claims: dict[str, Any], now: float) -> bool:
        """A client retrying a rotation whose reply it never saw, within ``reuse_grace_seconds``.

        As Auth0's reuse interval and Cognito's retry grace period: only the
        latest rotated token (its successor unused), presented with its own
        access token, is exchanged again.
        """
        # how long ago it was rotated, either way: a worker whose clock read a moment earlier than the
        # rotating one's (a request that raced it) is as close to it as one that read a moment later
        if record.used_at is None or abs(now - record.used_at) >= mount.settings["reuse_grace_seconds"]:
            return False
        successor = self._refresh.get(record.successor or "")
        return successor is not None and successor.used_at is None and record.access_jti == claims["jti"]

    def logout(self, mount: Mount, claims: dict[str, Any]) -> None:
        """Revoke the session of a live access token: every token of its family."""
        with self._lock:
            session = self._live_session(mount, claims)
            self._revoke(session, self.clock.time(), "logout")

    def me(self, mount: Mount, claims: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            session = self._live_session(mount, claims)
            user = self._users.get(f"{mount.key_name} {session.username}")
            if user is None:
                raise invalid_token("unknown", "The access token does not belong to a session of this API.")
            return user.describe()

    # ---- inside -----------------------------------------------------------
    def _issue(self, mount: Mount, session: Session, user: User, now: float) -> tuple[str, str]:
        """A new pair for the session (written back, with the pair's refresh token)."""
        jti = str(self.entropy.uuid4())
        access_expires = int(now + mount.settings["access_token_seconds"])
        access = mount.sign(
            {
                NAMEIDENTIFIER: user.username,
                "UserID": user.user_id,
                "InstanceID": user.instance_id,
                "Roles": json.dumps(user.roles, separators=(",", ":")),
                "sid": session.sid,
                "jti": jti,
                "exp": access_expires,
                "iss": mount.issuer,
                "aud": mount.audience,
            }
        )
        refresh = base64.b64encode(self.entropy.token_bytes(64)).decode("ascii")
        expires = now + mount.settings["refresh_token_seconds"]
        self._refresh[_digest(refresh)] = RefreshRecord(session.sid, now, expires, jti)
        session.access_jti = jti  # the previous access token is revoked from here on
        session.expires = max(session.expires, expires, access_expires)
        self._sessions[session.sid] = session
        return access, refresh

    def _revoke(self, session: Session, now: float, reason: str) -> None:
        if not session.revoked:
            session.revoked_at = now
            session.revoked_reason = reason
            self._sessions[session.sid] = session

    def _live_session(self, mount: Mount, claims: dict[str, Any]) -> Session:
        session = self._sessions.get(claims["sid"])
        user = None if session is None else self._users.get(f"{mount.key_name} {session.username}")
        if session is None or session.mount != mount.key_name or user is None or user.user_id != str(claims["UserID"]):
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
            mounts = {_mount_key(*split_base_url(r.base_url)): r for r in self._records()}
            sessions = list(self._sessions.values())
            records = list(self._refresh.items())
        several = len(mounts) > 1
        family: dict[str, list[tuple[str, RefreshRecord]]] = {}
        for digest, rec in sorted(records, key=lambda item: item[1].issued):
            hexdigest = base64.b64decode(digest).hex()
            family.setdefault(rec.sid, []).append((hexdigest[:ID_DIGITS], rec))
        found = []
        for session in sessions:
            mount = mounts.get(session.mount)
            if mount is None:
                continue
            who = f"{session.username} @ {mount.base_url}" if several else session.username
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
            access_seconds = mount.settings["access_token_seconds"]
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


@dataclass(frozen=True)
class _Routes:
    by_host: dict[str, list[Mount]]  # longest path first
    server_prefixes: list[tuple[str, Mount]]  # longest first


def _check_settings(settings: dict[str, Any], where: str) -> None:
    key = settings.get("signing_key")
    if isinstance(key, (bytes, bytearray)):  # bytes keys are fine in code; the schema speaks of JSON strings
        settings = {**settings, "signing_key": bytes(key).decode("latin-1")}
    check_settings("userapi", settings, where)
