"""WUYING's logon: the stage machine, its lockouts, and the LoginTokens and KeepAliveTokens it issues.

A logon is a session that walks through stages: ``ADPassword`` first, then,
as the user and office site require, ``ChangePassword``, ``MFABind`` and
``MFAVerify`` (or ``MFAVerify`` alone once a device is bound), and
``TokenVerify`` (a code e-mailed to the user); when no stage is left the
response carries the LoginToken. ``KeepAliveVerify`` trades a KeepAliveToken
for a LoginToken in a new session. Every time comes from the mock clock.

Inputs are keyword arguments; results are the response's members. An input
a stage needs and did not get raises :class:`~.errors.MissingInput`, which
the protocol answers as the gateway's ``Missing<Param>``.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ...core import otp
from ...core.clock import Clock
from ...core.credentials import same_secret
from ...core.entities import KEPT_SECONDS, Kind
from ...core.errors import MockCloudError, ServiceError
from ...core.sections import keyed, record
from ...core.service import ServiceContext
from .directory import Directory, EndUser, OfficeSite
from .errors import MissingInput
from .part import Config, Configured, of


class Stage(str, Enum):
    """A logon stage, valued by its wire name (``CurrentStage``, ``NextStage``)."""

    AD_PASSWORD = "ADPassword"
    MFA_BIND = "MFABind"
    MFA_VERIFY = "MFAVerify"
    TOKEN_VERIFY = "TokenVerify"
    CHANGE_PASSWORD = "ChangePassword"
    KEEP_ALIVE_VERIFY = "KeepAliveVerify"


_CHAR_CLASSES = (
    ("lowercase", str.islower),
    ("uppercase", str.isupper),
    ("digit", str.isdigit),
    ("symbol", lambda c: not c.isalnum()),
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


def _mask_phone(phone: str | None) -> str | None:
    if not phone or len(phone) < 7:
        return phone
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


@dataclass(slots=True)
class LogonSession:
    session_id: str
    end_user_id: str
    office_site_id: str
    region_id: str
    client_id: str
    expires: float  # the stages must be done by then
    pending: list[Stage] = field(default_factory=list)
    keep_alive: bool = False
    mfa_secret: str | None = None  # a device being bound (MFABind → MFAVerify)
    email_code: str | None = None
    email_code_expires: float = 0.0
    email_code_verified: bool = False  # SendTokenCode took the code: TokenVerify then needs none
    tokens_until: float = 0.0  # when the newest LoginToken issued in it expires (not in a snapshot: from its tokens)

    @property
    def complete(self) -> bool:
        return not self.pending


@dataclass(slots=True)
class LoginToken:
    token: str
    end_user_id: str
    client_id: str
    session_id: str
    office_site_id: str
    region_id: str
    issued: float
    expires: float
    replaced: bool = False
    revoked: bool = False  # by a password change or a logout: refused from then on


@dataclass(frozen=True)
class Presented:
    """What a client operation presents of its logon: the LoginToken, its client, and the session and region
    when the request names them (each is checked against the token's)."""

    login_token: str | None
    client_id: str
    session_id: str | None = None
    region_id: str | None = None


@dataclass(slots=True)
class KeepAliveToken:
    token: str
    end_user_id: str
    client_id: str
    office_site_id: str
    region_id: str
    expires: float
    revoked: bool = False  # by a password change or a logout


def _session_dump(session: LogonSession) -> dict[str, Any]:
    return {**record(session, omit=("pending",)), "pending": [stage.value for stage in session.pending]}


def _session_load(data: dict[str, Any]) -> LogonSession:
    return LogonSession(**{**data, "pending": [Stage(stage) for stage in data["pending"]]})


def _session_dead_at(session: LogonSession) -> float:
    """A session is of use while its stages may be taken, and while a LoginToken of it lives."""
    return max(session.expires, session.tokens_until) + KEPT_SECONDS


def _token_dead_at(token: LoginToken | KeepAliveToken) -> float:
    return token.expires + KEPT_SECONDS


# the records, by key: a logon session (its id), a LoginToken and a KeepAliveToken (the SHA-256 of the token)
LOGON_SESSION: Kind[LogonSession] = Kind("logon_session", _session_dump, _session_load, _session_dead_at)
LOGIN_TOKEN: Kind[LoginToken] = Kind("login_token", record, of(LoginToken), _token_dead_at)
KEEP_ALIVE_TOKEN: Kind[KeepAliveToken] = Kind("keep_alive_token", record, of(KeepAliveToken), _token_dead_at)


class Logon(Configured):
    """Logon sessions over a directory; the model's lock guards every transition."""

    def __init__(
        self, context: ServiceContext, directory: Directory, clock: Clock, config: Config, lock: threading.RLock
    ) -> None:
        self.directory = directory
        self.entropy = directory.entropy
        self.clock = clock
        self.config = config
        self._lock = lock
        self._sessions = context.table(LOGON_SESSION)
        self._login_tokens = context.table(LOGIN_TOKEN)  # by SHA-256 of the token
        self._keep_alive_tokens = context.table(KEEP_ALIVE_TOKEN)

    # ---- snapshots ----------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Logons under way, and the LoginTokens and KeepAliveTokens issued."""
        with self._lock:
            return {
                "sessions": [
                    {key: value for key, value in _session_dump(s).items() if key != "tokens_until"}
                    for s in self._sessions.values()
                ],
                "login_tokens": [record(t) for t in self._login_tokens.values()],
                "keep_alive_tokens": [record(t) for t in self._keep_alive_tokens.values()],
            }

    def load(self, section: dict[str, Any]) -> None:
        """What :meth:`snapshot` gave (nothing in plain fixtures); each record's user must exist."""
        sessions = [
            LogonSession(**{**item, "pending": [Stage(stage) for stage in item["pending"]]})
            for item in section.get("sessions", ())
        ]
        login_tokens = [LoginToken(**item) for item in section.get("login_tokens", ())]
        keep_alive_tokens = [KeepAliveToken(**item) for item in section.get("keep_alive_tokens", ())]
        named = [s.end_user_id for s in sessions] + [t.end_user_id for t in login_tokens]
        for end_user_id in dict.fromkeys(named + [t.end_user_id for t in keep_alive_tokens]):
            self.directory.user(end_user_id)
        by_id = keyed(sessions, lambda s: s.session_id, "logon sessions")
        for token in login_tokens:
            session = by_id.get(token.session_id)
            if session is None:
                raise MockCloudError(f"a LoginToken of {token.end_user_id!r} is of a session that is not there")
            session.tokens_until = max(session.tokens_until, token.expires)
        # login_tokens_issued (of snapshots before records expired on their own) paced a pruning now done by kind
        with self._lock:
            for session_id, session in by_id.items():
                self._sessions[session_id] = session
            for key, token in keyed(login_tokens, lambda t: _digest(t.token), "LoginTokens").items():
                self._login_tokens[key] = token
            for key, keep in keyed(keep_alive_tokens, lambda t: _digest(t.token), "KeepAliveTokens").items():
                self._keep_alive_tokens[key] = keep

    # ---- for tests ----------------------------------------------------------
    def totp_code(self, end_user_id: str) -> str:
        """The user's current MFA code on the mock clock (from the bound device, or the one being bound)."""
        with self._lock:
            user = self.directory.user(end_user_id)
            secret = user.mfa_secret
            if secret is None:
                pending = [s for s in self._sessions.values() if s.end_user_id == end_user_id and s.mfa_secret]
                secret = pending[-1].mfa_secret if pending else None
        if secret is None:
            raise MockCloudError(f"{end_user_id!r} has no MFA device: log on through the MFABind stage first")
        return otp.totp(secret, self.clock.time())

    def login_token(self, token: str) -> LoginToken | None:
        return self._login_tokens.get(_digest(token))

    # ---- GetLoginToken ------------------------------------------------------------
    def get_login_token(
        self,
        *,
        region_id: str,
        client_id: str,
        current_stage: Stage | str = Stage.AD_PASSWORD,
        end_user_id: str | None = None,
        password: str | None = None,
        office_site_id: str | None = None,
        directory_id: str | None = None,
        session_id: str | None = None,
        authentication_code: str | None = None,
        token_code: str | None = None,
        old_password: str | None = None,
        new_password: str | None = None,
        keep_alive: bool = False,
        keep_alive_token: str | None = None,
    ) -> dict[str, Any]:
        """One stage of a logon: the next stage to take, or the LoginToken when none is left."""
        stage = Stage(current_stage)
        now = self.clock.time()
        with self._lock:
            if stage is Stage.AD_PASSWORD:
                return self._ad_password(
                    end_user_id=end_user_id,
                    password=password,
                    region_id=region_id,
                    office_site_id=office_site_id,
                    directory_id=directory_id,
                    client_id=client_id,
                    keep_alive=keep_alive,
                    now=now,
                )
            if stage is Stage.KEEP_ALIVE_VERIFY:
                return self._keep_alive_verify(keep_alive_token, end_user_id, client_id, region_id, now)
            session, user, site = self._session(session_id, client_id, end_user_id, stage, now)
            if stage is Stage.MFA_BIND:
                return self._mfa_bind(session, user, site, now)
            if stage is Stage.MFA_VERIFY:
                return self._mfa_verify(authentication_code, session, user, site, now)
            if stage is Stage.TOKEN_VERIFY:
                return self._token_verify(token_code, session, user, site, now)
            return self._change_password(old_password, new_password, session, user, site, now)

    def _ad_password(
        self,
        *,
        end_user_id: str | None,
        password: str | None,
        region_id: str,
        office_site_id: str | None,
        directory_id: str | None,
        client_id: str,
        keep_alive: bool,
        now: float,
    ) -> dict[str, Any]:
        if not end_user_id:
            raise MissingInput("end_user_id")
        if not password:
            raise MissingInput("password")
        site = self._site_for(office_site_id, directory_id, region_id)
        user = self.directory.find_user(end_user_id)
        if site is None and user is not None:
            site = self.directory.site_of(user)
            if site.region_id != region_id:
                user = None
        if user is None or site is None or user.office_site_id != site.office_site_id:
            raise self.errors.error("wrong_password")
        self.check_not_locked(user, now)
        if not user.password_is(password):
            raise self.failed(user, now, "wrong_password")
        self.succeeded(user)
        session = LogonSession(
            str(self.entropy.uuid4()),
            user.end_user_id,
            site.office_site_id,
            region_id,
            client_id,
            now + self.settings["session_seconds"],
            [Stage.AD_PASSWORD, *self._stages_for(user, site)],
            keep_alive=keep_alive,
        )
        self._sessions[session.session_id] = session
        result = {"SessionId": session.session_id, **self._user_fields(user, site)}
        return self._next(session, user, site, now, result)

    def _session(
        self, session_id: str | None, client_id: str, end_user_id: str | None, stage: Stage, now: float
    ) -> tuple[LogonSession, EndUser, OfficeSite]:
        if not session_id:
            raise MissingInput("session_id")
        session = self._sessions.get(session_id)
        if session is None:
            raise self.errors.error("session_not_found")
        if not same_secret(session.client_id, client_id) or (end_user_id and end_user_id != session.end_user_id):
            raise self.errors.error("session_mismatch")
        if session.complete:
            raise self.errors.error("wrong_stage", detail="The logon of this session is already complete.")
        if now >= session.expires:
            raise self.errors.error("session_expired")
        if stage is not session.pending[0]:
            raise self.errors.error(
                "wrong_stage", detail=f"This session expects CurrentStage={session.pending[0].value}."
            )
        user = self.directory.find_user(session.end_user_id)
        site = self.directory.find_site(session.office_site_id)
        if user is None or site is None or user.office_site_id != site.office_site_id:
            raise self.errors.error("session_not_found")
        self.check_not_locked(user, now)
        return session, user, site

    def _mfa_bind(self, session: LogonSession, user: EndUser, site: OfficeSite, now: float) -> dict[str, Any]:
        secret = otp.random_secret(self.entropy.token_bytes)
        uri = otp.provisioning_uri(secret, user.end_user_id, self.settings["totp_issuer"])
        png = _qr_png_base64(uri)  # before any state changes: a failure here leaves the session as it was
        session.mfa_secret = secret
        result = {"Secret": secret, "QrCodePng": png, **self._user_fields(user, site)}
        return self._next(session, user, site, now, result)

    def _mfa_verify(
        self, code: str | None, session: LogonSession, user: EndUser, site: OfficeSite, now: float
    ) -> dict[str, Any]:
        if not code:
            raise MissingInput("authentication_code")
        secret = session.mfa_secret or user.mfa_secret
        if secret is None:
            raise self.errors.error("wrong_stage", detail="No MFA device is bound or being bound.")
        if not self.totp_passes(user, secret, code, now):
            raise self.failed(user, now, "wrong_mfa_code")
        self.succeeded(user)
        if session.mfa_secret:
            user.mfa_secret = session.mfa_secret  # the device is bound once a code from it verified
            session.mfa_secret = None
        return self._next(session, user, site, now, self._user_fields(user, site))

    def totp_passes(self, user: EndUser, secret: str, code: str, now: float) -> bool:
        """Whether ``code`` is the device's code now (give or take ``totp_window`` steps), and not one used before."""
        step = otp.matching_step(secret, code.strip(), now, window=int(self.settings["totp_window"]))
        if step is None or (self.settings["totp_reject_reuse"] and step <= user.last_totp_step):
            return False
        user.last_totp_step = step
        return True

    def _token_verify(
        self, code: str | None, session: LogonSession, user: EndUser, site: OfficeSite, now: float
    ) -> dict[str, Any]:
        if not session.email_code_verified:
            self._check_email_code(code, session, user, now)
        session.email_code_verified = False
        return self._next(session, user, site, now, self._user_fields(user, site))

    def _check_email_code(self, code: str | None, session: LogonSession, user: EndUser, now: float) -> None:
        """The code e-mailed for the session's TokenVerify stage, once: a wrong one counts towards the lock."""
        if not code:
            raise MissingInput("token_code")
        if session.email_code is None or now >= session.email_code_expires:
            raise self.errors.error("email_code_expired")
        if not same_secret(session.email_code, code.strip()):
            raise self.failed(user, now, "wrong_email_code")
        self.succeeded(user)
        session.email_code = None

    # ---- SendTokenCode ------------------------------------------------------------
    def send_token_code(
        self,
        *,
        client_id: str,
        token_code: str,
        session_id: str | None = None,
        end_user_id: str | None = None,
        login_token: str | None = None,
    ) -> dict[str, Any]:
        """Hand in the code e-mailed for a logon waiting at TokenVerify; that stage then needs no code again."""
        now = self.clock.time()
        with self._lock:
            if login_token:
                stored = self.authorize(
                    login_token=login_token,
                    client_id=client_id,
                    session_id=session_id,
                    end_user_id=end_user_id,
                    now=now,
                )
                session_id = stored.session_id
            session, user, _ = self._session(session_id, client_id, end_user_id, Stage.TOKEN_VERIFY, now)
            self._check_email_code(token_code, session, user, now)
            session.email_code_verified = True
            self._sessions[session.session_id] = session
            self.directory.save(user)
        return {}

    def _change_password(
        self, old: str | None, new: str | None, session: LogonSession, user: EndUser, site: OfficeSite, now: float
    ) -> dict[str, Any]:
        if not old:
            raise MissingInput("old_password")
        if not new:
            raise MissingInput("new_password")
        if not user.password_is(old):
            raise self.failed(user, now, "wrong_old_password")
        problem = self.policy_problem(old, new)
        if problem:
            raise self.errors.error(
                "weak_new_password", fields={"PasswordStrategy": self.password_strategy()}, policy=problem
            )
        user.failed_attempts = 0
        user.set_password(new, self.entropy.token_bytes(16))
        user.must_change_password = False
        return self._next(session, user, site, now, self._user_fields(user, site))

    def _keep_alive_verify(
        self, presented: str | None, end_user_id: str | None, client_id: str, region_id: str, now: float
    ) -> dict[str, Any]:
        if not presented:
            raise MissingInput("keep_alive_token")
        stored = self._keep_alive_tokens.get(_digest(presented))
        if stored is None or not same_secret(stored.token, presented):
            raise self.errors.error("keep_alive_token_not_found")
        if end_user_id and end_user_id != stored.end_user_id:
            raise self.errors.error("keep_alive_token_mismatch", what="end user")
        if not same_secret(stored.client_id, client_id):
            raise self.errors.error("keep_alive_token_mismatch", what="client")
        if region_id != stored.region_id:
            raise self.errors.error("keep_alive_token_mismatch", what="region")
        if stored.revoked:
            raise self.errors.error("keep_alive_token_revoked")
        if now >= stored.expires:
            raise self.errors.error("keep_alive_token_expired")
        user = self.directory.find_user(stored.end_user_id)
        site = self.directory.find_site(stored.office_site_id)
        if user is None or site is None or user.office_site_id != site.office_site_id:
            raise self.errors.error("keep_alive_token_not_found")
        self.check_not_locked(user, now)
        session = LogonSession(
            str(self.entropy.uuid4()),
            user.end_user_id,
            site.office_site_id,
            stored.region_id,
            stored.client_id,
            now,
            [],
        )
        self._sessions[session.session_id] = session
        token = self._issue_login_token(user.end_user_id, stored.client_id, session.session_id, site, now)
        return {
            "SessionId": session.session_id,
            **self._user_fields(user, site),
            "LoginToken": token,
            "KeepAliveToken": stored.token,
            **self._profile(user),
        }

    # ---- RefreshLoginToken ------------------------------------------------------------
    def refresh_login_token(
        self,
        *,
        region_id: str,
        client_id: str,
        end_user_id: str,
        login_token: str,
        office_site_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """A new LoginToken for a live one of the same user, client, session and region."""
        now = self.clock.time()
        if self.settings["refresh_requires_office_site"] and not office_site_id:
            raise MissingInput("office_site_id")
        with self._lock:
            stored = self.authorize(
                login_token=login_token,
                client_id=client_id,
                end_user_id=end_user_id,
                session_id=session_id,
                office_site_id=office_site_id,
                region_id=region_id,
                now=now,
            )
            token = self.reissue(stored, now)
            if self.settings["refresh_revokes_old"]:
                stored.replaced = True
                self._login_tokens[_digest(stored.token)] = stored
        return {"LoginToken": token}

    # ---- the LoginToken that every client operation after logon carries ---------------
    def authorize(
        self,
        *,
        login_token: str,
        client_id: str,
        now: float,
        session_id: str | None = None,
        end_user_id: str | None = None,
        office_site_id: str | None = None,
        region_id: str | None = None,
    ) -> LoginToken:
        """The live LoginToken ``login_token`` names, issued to this client (and session, user, site and region
        when the request names them); else the error a client gets for it.

        Bindings are checked before liveness, so a token presented by someone else says "not yours" whatever
        its state. The caller holds the lock (or gets a moment's view).
        """
        stored = self._login_tokens.get(_digest(login_token))
        if stored is None or not same_secret(stored.token, login_token):
            raise self.errors.error("login_token_not_found")
        if office_site_id:
            site = self.directory.find_site(office_site_id)
            if site is None or (region_id and site.region_id != region_id):
                raise self.errors.error(
                    "office_site_not_found", office_site_id=office_site_id, region_id=region_id or stored.region_id
                )
            if office_site_id != stored.office_site_id:
                raise self.errors.error("login_token_mismatch", what="office site")
        if end_user_id and end_user_id != stored.end_user_id:
            raise self.errors.error("login_token_mismatch", what="end user")
        if not same_secret(stored.client_id, client_id):
            raise self.errors.error("login_token_mismatch", what="client")
        if session_id and session_id != stored.session_id:
            raise self.errors.error("login_token_mismatch", what="session")
        if region_id and region_id != stored.region_id:
            raise self.errors.error("login_token_mismatch", what="region")
        if stored.revoked:
            raise self.errors.error("login_token_revoked")
        if stored.replaced:
            raise self.errors.error("login_token_replaced")
        if max(now, self.clock.time()) >= stored.expires:  # the clock read after the token (another worker's)
            raise self.errors.error("login_token_expired")
        user = self.directory.find_user(stored.end_user_id)
        if user is None or self.directory.find_site(stored.office_site_id) is None:
            raise self.errors.error("login_token_not_found")  # its user or site is gone
        return stored

    def check(
        self,
        presented: Presented,
        now: float,
        *,
        end_user_id: str | None = None,
        office_site_id: str | None = None,
    ) -> LoginToken:
        """:meth:`authorize` for what a client operation presents; without a LoginToken, ``MissingLoginToken``."""
        if not presented.login_token:
            raise MissingInput("login_token")
        return self.authorize(
            login_token=presented.login_token,
            client_id=presented.client_id,
            session_id=presented.session_id,
            region_id=presented.region_id,
            end_user_id=end_user_id,
            office_site_id=office_site_id,
            now=now,
        )

    def revoke(self, end_user_id: str, *, keep_session: str | None = None) -> list[str]:
        """Revoke every LoginToken and KeepAliveToken of the user (a password change, a reset, a logout): the
        sessions other than ``keep_session`` that had a live token, whose tickets and mount tokens go with them."""
        ended = []
        tokens = self._login_tokens.items()  # a scan: rare (a password changed or reset, a logout)
        now = self.clock.time()
        for key, token in tokens:
            if token.end_user_id != end_user_id or token.revoked:
                continue
            if token.session_id != keep_session and not token.replaced and now < token.expires:
                ended.append(token.session_id)
            token.revoked = True
            self._login_tokens[key] = token
        for key, keep_alive in self._keep_alive_tokens.items():
            if keep_alive.end_user_id == end_user_id and not keep_alive.revoked:
                keep_alive.revoked = True
                self._keep_alive_tokens[key] = keep_alive
        return list(dict.fromkeys(ended))

    def reissue(self, stored: LoginToken, now: float) -> str:
        """A new LoginToken for ``stored``'s session (after a password change revoked ``stored``)."""
        site = self.directory.find_site(stored.office_site_id)
        if site is None:
            raise self.errors.error("login_token_not_found")
        return self._issue_login_token(stored.end_user_id, stored.client_id, stored.session_id, site, now)

    def logout(self, login_token: str) -> str:
        """Revoke every LoginToken of ``login_token``'s session: the session id (the caller holds the lock)."""
        stored = self._login_tokens.get(_digest(login_token))
        if stored is None or not same_secret(stored.token, login_token):
            raise MockCloudError("no such WUYING LoginToken")
        for key, token in self._login_tokens.items():
            if token.session_id == stored.session_id and not token.revoked:
                token.revoked = True
                self._login_tokens[key] = token
        return stored.session_id

    # ---- rules shared by the stages ---------------------------------------------
    def _site_for(self, office_site_id: str | None, directory_id: str | None, region_id: str) -> OfficeSite | None:
        if office_site_id and directory_id and office_site_id != directory_id:
            raise self.errors.error("both_site_ids")
        site_id = office_site_id or directory_id
        if not site_id:
            return None
        site = self.directory.find_site(site_id)
        if site is None or site.region_id != region_id:
            raise self.errors.error("office_site_not_found", office_site_id=site_id, region_id=region_id)
        return site

    def check_not_locked(self, user: EndUser, now: float) -> None:
        if user.locked_until > now:
            raise self._locked(user, now)
        if user.locked_until:
            user.locked_until = 0.0
            user.failed_attempts = 0
            self.directory.save(user)

    def succeeded(self, user: EndUser) -> None:
        """A right password or code: the count of failed ones starts again (the caller writes the user back)."""
        user.failed_attempts = 0

    def _locked(self, user: EndUser, now: float) -> ServiceError:
        left = max(0.0, user.locked_until - now)
        info = {
            "RiskVerifyInfo": {
                "Locked": "true",
                "LastLockDuration": int(user.last_lock_duration),
                "Email": _mask_email(user.email) or "",
                "Phone": _mask_phone(user.phone) or "",
            }
        }
        return self.errors.error("user_locked", fields=info, minutes=max(1, -(-int(left) // 60)))

    def failed(self, user: EndUser, now: float, case: str) -> ServiceError:
        """Count a failed password or code; the attempt that reaches the limit locks the user."""
        user.failed_attempts += 1
        if user.failed_attempts >= self.settings["max_failed_attempts"]:
            user.failed_attempts = 0
            user.last_lock_duration = int(self.settings["lock_seconds"])
            user.locked_until = now + self.settings["lock_seconds"]
            self.directory.save(user)
            return self._locked(user, now)
        self.directory.save(user)
        return self.errors.error(case)

    def _stages_for(self, user: EndUser, site: OfficeSite) -> list[Stage]:
        stages = []
        if user.must_change_password:
            stages.append(Stage.CHANGE_PASSWORD)
        if user.mfa or site.mfa:
            stages.append(Stage.MFA_VERIFY if user.mfa_secret else Stage.MFA_BIND)
            if not user.mfa_secret:
                stages.append(Stage.MFA_VERIFY)
        secondary = site.secondary_auth if user.secondary_auth is None else user.secondary_auth
        if secondary and user.email:
            stages.append(Stage.TOKEN_VERIFY)
        return stages

    @staticmethod
    def _user_fields(user: EndUser, site: OfficeSite) -> dict[str, Any]:
        return {
            "EndUserId": user.end_user_id,
            "OfficeSiteId": site.office_site_id,
            "OfficeSiteName": site.name,
            "TenantId": site.tenant_id,
            # documented as internal: what the office site sets, empty by default
            "Industry": site.industry,
            "WindowDisplayMode": site.window_display_mode,
            "Props": dict(site.props),
            "Reason": "",
        }

    @staticmethod
    def _profile(user: EndUser) -> dict[str, Any]:
        """What a completed logon tells about the user, after its tokens."""
        return {
            "Email": user.email or "",
            "Phone": user.phone or "",
            "NickName": user.nick_name or "",
            "Label": user.label or "",
            "WyId": user.wy_id,
        }

    def _next(
        self, session: LogonSession, user: EndUser, site: OfficeSite, now: float, result: dict[str, Any]
    ) -> dict[str, Any]:
        """Finish the current stage: announce the next one, or issue the LoginToken (and write both back)."""
        result = self._finish_stage(session, user, site, now, result)
        self._sessions[session.session_id] = session
        self.directory.save(user)
        return result

    def _finish_stage(
        self, session: LogonSession, user: EndUser, site: OfficeSite, now: float, result: dict[str, Any]
    ) -> dict[str, Any]:
        session.pending.pop(0)
        if session.pending:
            stage = session.pending[0]
            result["NextStage"] = stage.value
            if stage is Stage.TOKEN_VERIFY:
                self._send_email_code(session, user, now)
                result["RiskVerifyInfo"] = {
                    "Email": _mask_email(user.email) or "",
                    "Phone": _mask_phone(user.phone) or "",
                    "Locked": "false",
                    "LastLockDuration": int(user.last_lock_duration),
                }
            elif stage is Stage.CHANGE_PASSWORD:
                result["PasswordStrategy"] = self.password_strategy()
            return result
        return self._complete(session, user, site, now, result)

    def _send_email_code(self, session: LogonSession, user: EndUser, now: float) -> None:
        code = f"{self.entropy.randbelow(10**6):06d}"
        session.email_code = code
        session.email_code_expires = now + self.settings["email_code_seconds"]
        user.last_email_code = code

    def _complete(
        self, session: LogonSession, user: EndUser, site: OfficeSite, now: float, result: dict[str, Any]
    ) -> dict[str, Any]:
        token = self._issue_login_token(session.end_user_id, session.client_id, session.session_id, site, now)
        keep_alive = ""
        if session.keep_alive:
            keep_alive = self._issue_keep_alive_token(session, now)
        result.update({"LoginToken": token, "KeepAliveToken": keep_alive, **self._profile(user)})
        return result

    def _issue_login_token(
        self, end_user_id: str, client_id: str, session_id: str, site: OfficeSite, now: float
    ) -> str:
        token = "v1" + self.entropy.token_hex(47)
        issued = LoginToken(
            token,
            end_user_id,
            client_id,
            session_id,
            site.office_site_id,
            site.region_id,
            now,
            now + self.settings["login_token_seconds"],
        )
        self._login_tokens[_digest(token)] = issued
        session = self._sessions.get(session_id)
        if session is not None and session.tokens_until < issued.expires:  # the session lives as long as its tokens
            session.tokens_until = issued.expires
            self._sessions[session_id] = session
        return token

    def _issue_keep_alive_token(self, session: LogonSession, now: float) -> str:
        token = self.entropy.token_urlsafe(48)
        self._keep_alive_tokens[_digest(token)] = KeepAliveToken(
            token,
            session.end_user_id,
            session.client_id,
            session.office_site_id,
            session.region_id,
            now + self.settings["keep_alive_token_seconds"],
        )
        return token

    def password_strategy(self) -> dict[str, Any]:
        return {
            "TenantPasswordLength": str(self.settings["password_min_length"]),
            "TenantAlternativeChars": [name for name, _ in _CHAR_CLASSES],
        }

    def policy_problem(self, old: str, new: str) -> str | None:
        minimum = self.settings["password_min_length"]
        classes = sum(1 for _, test in _CHAR_CLASSES if any(test(c) for c in new))
        if len(new) < minimum:
            return f"at least {minimum} characters"
        if classes < self.settings["password_min_char_classes"]:
            wanted = self.settings["password_min_char_classes"]
            return f"characters of at least {wanted} of: lower case, upper case, digits, symbols"
        if new == old:
            return "different from the old password"
        return None

    def inventory(self) -> list[dict[str, object]]:
        """The logon sessions, LoginTokens and KeepAliveTokens it holds, for the dashboard (no secrets).

        A session's chain is its LoginTokens in the order they were issued (each refresh replaces the last).
        """
        from ...core.inventory import entry, short_id, state_of

        now = self.clock.time()
        with self._lock:
            sessions = list(self._sessions.values())
            login_tokens = list(self._login_tokens.values())
            keep_alive_tokens = list(self._keep_alive_tokens.values())
        by_session: dict[str, list[LoginToken]] = {}
        for token in login_tokens:
            by_session.setdefault(token.session_id, []).append(token)
        found = []
        for session in sessions:
            tokens = by_session.get(session.session_id, [])
            # a staged session has session_seconds to finish; KeepAliveVerify makes one complete, expiring
            # when it is made, together with its first LoginToken
            keep_alive_made = bool(tokens) and tokens[0].issued == session.expires
            issued = session.expires if keep_alive_made else session.expires - self.settings["session_seconds"]
            found.append(
                entry(
                    "wuying",
                    "logon_session",
                    short_id(session.session_id),
                    session.end_user_id,
                    issued,
                    session.expires,
                    state_of(now, session.expires, used=session.complete),
                    [short_id(t.token) for t in tokens],
                )
            )
        found += [
            entry(
                "wuying",
                "login_token",
                short_id(t.token),
                t.end_user_id,
                t.issued,
                t.expires,
                state_of(now, t.expires, replaced=t.replaced, revoked=t.revoked),
            )
            for t in login_tokens
        ]
        keep_alive_seconds = self.settings["keep_alive_token_seconds"]
        found += [
            entry(
                "wuying",
                "keep_alive_token",
                short_id(t.token),
                t.end_user_id,
                t.expires - keep_alive_seconds,
                t.expires,
                state_of(now, t.expires, revoked=t.revoked),
            )
            for t in keep_alive_tokens
        ]
        return found


def _qr_png_base64(text: str) -> str:
    """A QR code of ``text`` as a base64 PNG (what authenticator apps scan at MFABind)."""
    import base64
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=4, border=4)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
