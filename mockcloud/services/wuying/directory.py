"""WUYING's directory: office sites and their end users, as the logon rules and the tests see them.

Kept apart from the logon stage machine (:mod:`.logon`): this is who exists
and what each one requires (MFA, an e-mailed code, a new password); that is
what one logon does with it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

from ...core.entities import Kind
from ...core.entropy import Entropy
from ...core.errors import MockCloudError
from ...core.helpers import reads_only
from ...core.sections import keyed, password_of, record, user_record
from ...core.service import ServiceContext
from .part import Config, Configured, of, text


@dataclass(slots=True)
class OfficeSite:
    """An office site (office network); its id is also its directory's id (``DirectoryId`` means ``OfficeSiteId``)."""

    office_site_id: str
    name: str
    region_id: str
    tenant_id: int
    mfa: bool = False  # MFA required for every user of the site
    secondary_auth: bool = False  # client secondary authentication (an e-mailed code) for every logon
    office_site_type: str = "SIMPLE"  # the account system: SIMPLE (convenience users) or AD_CONNECTOR
    desktop_access_type: str = "INTERNET"  # INTERNET, VPC or ANY
    desktop_vpc_endpoint: str = ""
    sso_service_url: str = ""
    provider_id: str = ""
    biz_type: int = 1
    # GetLoginToken's "internal" fields, returned as the site sets them
    industry: str = ""
    window_display_mode: str = ""
    props: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class EndUser:
    end_user_id: str
    office_site_id: str
    password_hash: bytes = field(repr=False)
    salt: bytes = field(repr=False)
    email: str | None = None
    phone: str | None = None
    nick_name: str | None = None
    label: str | None = None
    wy_id: str = ""
    mfa: bool = False
    secondary_auth: bool | None = None  # None: as the office site says
    must_change_password: bool = False
    mfa_secret: str | None = None  # bound virtual MFA device
    failed_attempts: int = 0
    locked_until: float = 0.0
    last_lock_duration: int = 0
    last_totp_step: int = -1
    last_email_code: str | None = None

    def password_is(self, password: str) -> bool:
        candidate = hashlib.sha256(self.salt + password.encode()).digest()
        return hmac.compare_digest(candidate, self.password_hash)

    def set_password(self, password: str, salt: bytes) -> None:
        self.salt = salt
        self.password_hash = hashlib.sha256(self.salt + password.encode()).digest()


def _user_load(data: dict[str, Any]) -> EndUser:
    salt, password_hash = password_of(data, f"end user {data.get('end_user_id')!r}")
    return EndUser(**{**data, "salt": salt, "password_hash": password_hash})


# the records, by key: an office site (its id; few, read by every request), the default site's id (""),
# an end user (its id)
OFFICE_SITE: Kind[OfficeSite] = Kind("office_site", record, of(OfficeSite), whole=True)
DEFAULT_SITE: Kind[str] = Kind("default_site", str, text, whole=True)
END_USER: Kind[EndUser] = Kind("end_user", user_record, _user_load)

_SITE_DETAILS = frozenset(f.name for f in fields(OfficeSite)) - {
    "office_site_id",
    "name",
    "region_id",
    "tenant_id",
    "mfa",
    "secondary_auth",
}
# what a fixtures (or snapshot) user says about the user, as create_user takes it
_PROFILE = ("mfa", "email", "phone", "nick_name", "label", "must_change_password", "secondary_auth", "mfa_secret")
# what only a snapshot's user has: where the user's logons stand
_LOGON_STATE = ("failed_attempts", "locked_until", "last_lock_duration", "last_totp_step", "last_email_code")


class Directory(Configured):
    """Office sites and end users by id; the first site is the default one."""

    def __init__(self, context: ServiceContext, config: Config, lock: threading.RLock, entropy: Entropy) -> None:
        self.config = config
        self.entropy = entropy
        self._lock = lock
        self._sites = context.table(OFFICE_SITE)
        self._default_site = context.table(DEFAULT_SITE)
        self._users = context.table(END_USER)

    @property
    def default_office_site_id(self) -> str | None:
        return self._default_site.get("")

    def load(self, fixtures: dict[str, Any]) -> None:
        """The office sites and users of the fixtures; a snapshot's users come by hash, with their logon state."""
        keyed(fixtures.get("office_sites", ()), lambda item: item["office_site_id"], "office sites")
        keyed(fixtures.get("users", ()), lambda item: item["end_user_id"], "end users")
        for item in fixtures.get("office_sites", ()):
            self.create_office_site(**item)
        for item in fixtures.get("users", ()):
            profile = {name: item[name] for name in _PROFILE if name in item}
            if "password" in item:
                user = self.create_user(item["end_user_id"], item["password"], item.get("office_site_id"), **profile)
            else:  # a snapshot's user: the hash and salt, never the password
                with self._lock:
                    user = self._new_user(item["end_user_id"], item.get("office_site_id"), **profile)
                    user.salt, user.password_hash = password_of(item, f"end user {user.end_user_id!r}")
            for name in _LOGON_STATE:
                if name in item:
                    setattr(user, name, item[name])
            self._users[user.end_user_id] = user

    def snapshot(self) -> dict[str, Any]:
        """The sites and users as fixtures sections: users with their password's salted hash and their logon state."""
        with self._lock:
            sites = list(self._sites.values())
            default = self.default_office_site_id
            return {  # the default site first: it is the first one again when restored
                "office_sites": [record(site) for site in sorted(sites, key=lambda s: s.office_site_id != default)],
                "users": [user_record(user, omit=("wy_id",)) for user in self._users.values()],  # wy_id: from the id
            }

    def save(self, user: EndUser) -> None:
        """Write back a user whose logon state changed."""
        self._users[user.end_user_id] = user

    # ---- look-ups for the logon rules (None when absent: a logon answers its own error) ----
    @reads_only
    def find_site(self, office_site_id: str) -> OfficeSite | None:
        return self._sites.get(office_site_id)

    @reads_only
    def find_user(self, end_user_id: str) -> EndUser | None:
        return self._users.get(end_user_id)

    def site_of(self, user: EndUser) -> OfficeSite:
        return self._sites[user.office_site_id]

    # ---- test-side helpers ----------------------------------------------------
    def create_office_site(
        self,
        office_site_id: str,
        *,
        name: str | None = None,
        region_id: str | None = None,
        tenant_id: int | None = None,
        mfa: bool = False,
        secondary_auth: bool = False,
        **details: Any,
    ) -> OfficeSite:
        """Add (or replace) an office site; its region defaults to the id's prefix (``cn-hangzhou+dir-…``).

        ``details`` are the other fields of :class:`OfficeSite` the client API shows: ``office_site_type``
        (``SIMPLE`` or ``AD_CONNECTOR``), ``desktop_access_type``, ``sso_service_url``, ``industry``,
        ``window_display_mode``, ``props``...
        """
        if not office_site_id:
            raise MockCloudError("office_site_id must be a non-empty string")
        unknown = set(details) - _SITE_DETAILS
        if unknown:
            raise MockCloudError(f"unknown office site field(s) {sorted(unknown)}; known: {sorted(_SITE_DETAILS)}")
        if region_id is None:
            prefix, plus, _ = office_site_id.partition("+")
            region_id = prefix if plus else self.settings["default_region"]
        with self._lock:
            default = self.default_office_site_id
            if tenant_id is None:
                known = None if default is None else self._sites.get(default)
                tenant_id = known.tenant_id if known else 1234567890123456
            site = OfficeSite(
                office_site_id, name or office_site_id, region_id, int(tenant_id), mfa, secondary_auth, **details
            )
            self._sites[office_site_id] = site
            if default is None:
                self._default_site[""] = office_site_id
        return site

    def create_user(
        self,
        end_user_id: str,
        password: str,
        office_site_id: str | None = None,
        mfa: bool = False,
        email: str | None = None,
        *,
        phone: str | None = None,
        nick_name: str | None = None,
        label: str | None = None,
        must_change_password: bool = False,
        secondary_auth: bool | None = None,
        mfa_secret: str | None = None,
    ) -> EndUser:
        """Add (or replace) a convenience user; an office site not seen before is created on the way.

        ``mfa`` requires a virtual MFA device (bound at the first logon unless
        ``mfa_secret`` is given); ``secondary_auth`` sends a code to ``email``
        at each logon (default: as the office site says);
        ``must_change_password`` adds the ChangePassword stage.
        """
        if not end_user_id or not isinstance(password, str):
            raise MockCloudError("create_user needs an end_user_id and a password")
        with self._lock:
            user = self._new_user(
                end_user_id,
                office_site_id,
                mfa=mfa,
                email=email,
                phone=phone,
                nick_name=nick_name,
                label=label,
                must_change_password=must_change_password,
                secondary_auth=secondary_auth,
                mfa_secret=mfa_secret,
            )
            user.set_password(password, self.entropy.token_bytes(16))
            self._users[end_user_id] = user
        return user

    def _new_user(
        self, end_user_id: str, office_site_id: str | None, *, nick_name: str | None = None, **profile: Any
    ) -> EndUser:
        """A user without a password yet, not yet in the directory; its office site made on the way if need be."""
        if office_site_id is None:
            office_site_id = self.default_office_site_id
            if office_site_id is None:
                office_site_id = self.create_office_site(
                    f"{self.settings['default_region']}+dir-0000000000"
                ).office_site_id
        assert office_site_id is not None  # the default site exists by now
        if office_site_id not in self._sites:
            self.create_office_site(office_site_id)
        return EndUser(
            end_user_id,
            office_site_id,
            b"",
            b"",
            nick_name=nick_name if nick_name is not None else end_user_id,
            wy_id=f"wy-{uuid.uuid5(uuid.NAMESPACE_URL, 'wuying:' + end_user_id).hex[:16]}",
            **profile,
        )

    @reads_only
    def user(self, end_user_id: str) -> EndUser:
        try:
            return self._users[end_user_id]
        except KeyError:
            raise MockCloudError(f"no WUYING end user {end_user_id!r}; known: {sorted(self._users.keys())}") from None

    @reads_only
    def office_site(self, office_site_id: str) -> OfficeSite:
        try:
            return self._sites[office_site_id]
        except KeyError:
            raise MockCloudError(
                f"no WUYING office site {office_site_id!r}; known: {sorted(self._sites.keys())}"
            ) from None

    @reads_only
    def email_code(self, end_user_id: str) -> str:
        """The last verification code e-mailed to the user (TokenVerify)."""
        code = self.user(end_user_id).last_email_code
        if code is None:
            raise MockCloudError(f"no verification code was sent to {end_user_id!r}")
        return code

    def unlock_user(self, end_user_id: str) -> None:
        with self._lock:
            user = self.user(end_user_id)
            user.locked_until = 0.0
            user.failed_attempts = 0
            self.save(user)

    @property
    def users(self) -> list[EndUser]:
        with self._lock:
            return list(self._users.values())

    @property
    def office_sites(self) -> list[OfficeSite]:
        with self._lock:
            return list(self._sites.values())
