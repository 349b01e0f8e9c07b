"""WUYING Workspace's logon state and rules: office sites, end users, logon sessions, tokens. No HTTP here.

A logon is a session that walks through stages: ``ADPassword`` first, then,
as the user and office site require, ``ChangePassword``, ``MFABind`` and
``MFAVerify`` (or ``MFAVerify`` alone once a device is bound), and
``TokenVerify`` (a code e-mailed to the user); when no stage is left the
response carries the LoginToken. ``KeepAliveVerify`` trades a KeepAliveToken
for a LoginToken in a new session. Every time comes from the mock clock.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from ...core import otp
from ...core.auth.alibaba import missing
from ...core.credentials import same_secret
from ...core.errors import MockCloudError, ServiceError
from ...core.service import ServiceContext

ADPASSWORD, MFABIND, MFAVERIFY, TOKENVERIFY, CHANGEPASSWORD, KEEPALIVEVERIFY = (
    "ADPassword",
    "MFABind",
    "MFAVerify",
    "TokenVerify",
    "ChangePassword",
    "KeepAliveVerify",
)

DEFAULTS: dict[str, Any] = {
    "login_token_seconds": 900,  # English reference: "valid for 15 minutes" (the Chinese one says 8 hours: 28800)
    "keep_alive_token_seconds": 7 * 86400,
    "session_seconds": 600,  # time to finish the stages of one logon
    "email_code_seconds": 300,
    "max_failed_attempts": 5,  # consecutive failed passwords / codes before the user is locked
    "lock_seconds": 1800,
    "totp_window": 1,  # time steps of 30 s accepted either side of now
    "totp_reject_reuse": True,  # RFC 6238 §5.2: a code is accepted once
    "totp_issuer": "WUYING",
    "refresh_revokes_old": True,  # a refreshed LoginToken is replaced by the new one
    "refresh_requires_office_site": False,  # the Chinese reference marks OfficeSiteId required
    "password_min_length": 8,
    "password_min_char_classes": 3,  # of lower case, upper case, digits, symbols
    "default_region": "cn-hangzhou",
    "error_codes": {},
}

# (code, HTTP status, message) for each failure the public sources leave unnamed; codes overridable by settings.
ERRORS: dict[str, tuple[str, int, str]] = {
    "wrong_password": ("InvalidUsernameOrPassword", 400, "The username or password is incorrect."),
    "user_locked": (
        "UserLocked",
        400,
        "The user is locked after too many failed logon attempts. Try again in {minutes} minute(s).",
    ),
    "office_site_not_found": ("InvalidOfficeSiteId.NotFound", 404, "The specified office site {office_site_id} does not exist in region {region_id}."),
    "wrong_mfa_code": ("InvalidAuthenticationCode", 400, "The MFA authentication code is incorrect."),
    "wrong_email_code": ("InvalidTokenCode", 400, "The verification code is incorrect."),
    "email_code_expired": ("InvalidTokenCode.Expired", 400, "The verification code has expired. Log on again to receive a new one."),
    "wrong_old_password": ("InvalidOldPassword", 400, "The old password is incorrect."),
    "weak_new_password": ("InvalidNewPassword", 400, "The new password does not meet the password policy: {policy}."),
    "wrong_stage": ("InvalidCurrentStage", 400, "Specified parameter CurrentStage is not valid. {detail}"),
    "session_not_found": ("InvalidSessionId", 400, "The specified SessionId does not exist."),
    "session_expired": ("InvalidSessionId.Expired", 400, "The logon session has expired. Log on again."),
    "session_mismatch": ("InvalidSessionId.Mismatch", 400, "The SessionId belongs to another end user or client."),
    "login_token_not_found": ("InvalidLoginToken", 400, "The specified LoginToken is not valid."),
    "login_token_expired": ("InvalidLoginToken.Expired", 400, "The LoginToken has expired. Log on again."),
    "login_token_mismatch": (
        "InvalidLoginToken.Mismatch",
        400,
        "The LoginToken was not issued to this {what}.",
    ),
    "login_token_replaced": ("InvalidLoginToken.Replaced", 400, "The LoginToken has already been refreshed; use the new one."),
    "keep_alive_token_not_found": ("InvalidKeepAliveToken", 400, "The specified KeepAliveToken is not valid."),
    "keep_alive_token_expired": ("InvalidKeepAliveToken.Expired", 400, "The KeepAliveToken has expired. Log on again."),
    "keep_alive_token_mismatch": ("InvalidKeepAliveToken.Mismatch", 400, "The KeepAliveToken was not issued to this {what}."),
    "both_site_ids": (
        "InvalidParameter",
        400,
        "Specified parameter DirectoryId is not valid. Specify only one of OfficeSiteId and DirectoryId.",
    ),
}

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


@dataclass
class OfficeSite:
    office_site_id: str
    name: str
    region_id: str
    tenant_id: int
    mfa: bool = False  # MFA required for every user of the site
    secondary_auth: bool = False  # client secondary authentication (an e-mailed code) for every logon


@dataclass
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

    def set_password(self, password: str) -> None:
        self.salt = os.urandom(16)
        self.password_hash = hashlib.sha256(self.salt + password.encode()).digest()


@dataclass
class LogonSession:
    session_id: str
    end_user_id: str
    office_site_id: str
    region_id: str
    client_id: str
    expires: float  # the stages must be done by then
    pending: list[str] = field(default_factory=list)
    keep_alive: bool = False
    mfa_secret: str | None = None  # a device being bound (MFABind → MFAVerify)
    email_code: str | None = None
    email_code_expires: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.pending


@dataclass
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


@dataclass
class KeepAliveToken:
    token: str
    end_user_id: str
    client_id: str
    office_site_id: str
    region_id: str
    expires: float


class WuyingModel:
    """``cloud.wuying``: the service's state, and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.clock = context.clock
        fixtures = context.fixtures
        self.settings = context.merged_settings(DEFAULTS)
        self.errors = {
            case: (self.settings["error_codes"].get(case, code), status, message)
            for case, (code, status, message) in ERRORS.items()
        }
        self._lock = threading.RLock()
        self._sites: dict[str, OfficeSite] = {}
        self._users: dict[str, EndUser] = {}
        self._sessions: dict[str, LogonSession] = {}
        self._login_tokens: dict[str, LoginToken] = {}  # by SHA-256 of the token
        self._keep_alive_tokens: dict[str, KeepAliveToken] = {}
        self._issued = 0
        self.default_office_site_id: str | None = None
        for item in fixtures.get("office_sites", ()):
            self.create_office_site(
                item["office_site_id"],
                name=item.get("name"),
                region_id=item.get("region_id"),
                tenant_id=item.get("tenant_id"),
                mfa=item.get("mfa", False),
                secondary_auth=item.get("secondary_auth", False),
            )
        for item in fixtures.get("users", ()):
            self.create_user(
                item["end_user_id"],
                item["password"],
                item.get("office_site_id"),
                item.get("mfa", False),
                item.get("email"),
                phone=item.get("phone"),
                nick_name=item.get("nick_name"),
                label=item.get("label"),
                must_change_password=item.get("must_change_password", False),
                secondary_auth=item.get("secondary_auth"),
                mfa_secret=item.get("mfa_secret"),
            )

    # ---- errors -----------------------------------------------------------
    def _fail(self, case: str, fields: dict | None = None, **values: Any) -> ServiceError:
        code, status, message = self.errors[case]
        return ServiceError(code, message.format(**values).strip(), status, fields=fields)

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
    ) -> OfficeSite:
        """Add (or replace) an office site; its region defaults to the id's prefix (``cn-hangzhou+dir-…``)."""
        if not office_site_id:
            raise MockCloudError("office_site_id must be a non-empty string")
        if region_id is None:
            prefix, plus, _ = office_site_id.partition("+")
            region_id = prefix if plus else self.settings["default_region"]
        with self._lock:
            if tenant_id is None:
                known = next(iter(self._sites.values()), None)
                tenant_id = known.tenant_id if known else 1234567890123456
            site = OfficeSite(office_site_id, name or office_site_id, region_id, int(tenant_id), mfa, secondary_auth)
            self._sites[office_site_id] = site
            if self.default_office_site_id is None:
                self.default_office_site_id = office_site_id
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
            if office_site_id is None:
                if self.default_office_site_id is None:
                    self.create_office_site(f"{self.settings['default_region']}+dir-0000000000")
                office_site_id = self.default_office_site_id
            if office_site_id not in self._sites:
                self.create_office_site(office_site_id)
            user = EndUser(
                end_user_id,
                office_site_id,
                b"",
                b"",
                email=email,
                phone=phone,
                nick_name=nick_name if nick_name is not None else end_user_id,
                label=label,
                wy_id=f"wy-{uuid.uuid5(uuid.NAMESPACE_URL, 'wuying:' + end_user_id).hex[:16]}",
                mfa=mfa,
                secondary_auth=secondary_auth,
                must_change_password=must_change_password,
                mfa_secret=mfa_secret,
            )
            user.set_password(password)
            self._users[end_user_id] = user
        return user

    def user(self, end_user_id: str) -> EndUser:
        try:
            return self._users[end_user_id]
        except KeyError:
            raise MockCloudError(f"no WUYING end user {end_user_id!r}; known: {sorted(self._users)}") from None

    def office_site(self, office_site_id: str) -> OfficeSite:
        try:
            return self._sites[office_site_id]
        except KeyError:
            raise MockCloudError(f"no WUYING office site {office_site_id!r}; known: {sorted(self._sites)}") from None

    def totp_code(self, end_user_id: str) -> str:
        """The user's current MFA code on the mock clock (from the bound device, or the one being bound)."""
        with self._lock:
            user = self.user(end_user_id)
            secret = user.mfa_secret
            if secret is None:
                pending = [s for s in self._sessions.values() if s.end_user_id == end_user_id and s.mfa_secret]
                secret = pending[-1].mfa_secret if pending else None
        if secret is None:
            raise MockCloudError(f"{end_user_id!r} has no MFA device: log on through the MFABind stage first")
        return otp.totp(secret, self.clock.time())

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

    @property
    def users(self) -> list[EndUser]:
        with self._lock:
            return list(self._users.values())

    @property
    def office_sites(self) -> list[OfficeSite]:
        with self._lock:
            return list(self._sites.values())

    def login_token(self, token: str) -> LoginToken | None:
        return self._login_tokens.get(_digest(token))

    # ---- rules shared by the stages ---------------------------------------------
    def _site_for(self, params: dict, region_id: str) -> OfficeSite | None:
        site_id = params.get("OfficeSiteId")
        directory_id = params.get("DirectoryId")
        if site_id and directory_id and site_id != directory_id:
            raise self._fail("both_site_ids")
        site_id = site_id or directory_id
        if not site_id:
            return None
        site = self._sites.get(site_id)
        if site is None or site.region_id != region_id:
            raise self._fail("office_site_not_found", office_site_id=site_id, region_id=region_id)
        return site

    def _check_not_locked(self, user: EndUser, now: float) -> None:
        if user.locked_until > now:
            raise self._locked(user, now)
        if user.locked_until:
            user.locked_until = 0.0
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
        return self._fail("user_locked", info, minutes=max(1, -(-int(left) // 60)))

    def _failed(self, user: EndUser, now: float, case: str, **values: Any) -> ServiceError:
        """Count a failed password or code; the attempt that reaches the limit locks the user."""
        user.failed_attempts += 1
        if user.failed_attempts >= self.settings["max_failed_attempts"]:
            user.failed_attempts = 0
            user.last_lock_duration = int(self.settings["lock_seconds"])
            user.locked_until = now + self.settings["lock_seconds"]
            return self._locked(user, now)
        return self._fail(case, **values)

    def _stages_for(self, user: EndUser, site: OfficeSite) -> list[str]:
        stages = []
        if user.must_change_password:
            stages.append(CHANGEPASSWORD)
        if user.mfa or site.mfa:
            stages.append(MFAVERIFY if user.mfa_secret else MFABIND)
            if not user.mfa_secret:
                stages.append(MFAVERIFY)
        secondary = site.secondary_auth if user.secondary_auth is None else user.secondary_auth
        if secondary and user.email:
            stages.append(TOKENVERIFY)
        return stages

    def _user_fields(self, user: EndUser, site: OfficeSite) -> dict:
        return {
            "EndUserId": user.end_user_id,
            "OfficeSiteId": site.office_site_id,
            "OfficeSiteName": site.name,
            "TenantId": site.tenant_id,
        }

    def _next(self, session: LogonSession, user: EndUser, site: OfficeSite, now: float, result: dict) -> dict:
        """Finish the current stage: announce the next one, or issue the LoginToken."""
        session.pending.pop(0)
        if session.pending:
            stage = session.pending[0]
            result["NextStage"] = stage
            if stage == TOKENVERIFY:
                self._send_email_code(session, user, now)
                result["RiskVerifyInfo"] = {
                    "Email": _mask_email(user.email) or "",
                    "Phone": _mask_phone(user.phone) or "",
                    "Locked": "false",
                    "LastLockDuration": int(user.last_lock_duration),
                }
            elif stage == CHANGEPASSWORD:
                result["PasswordStrategy"] = self._password_strategy()
            return result
        return self._complete(session, user, site, now, result)

    def _send_email_code(self, session: LogonSession, user: EndUser, now: float) -> None:
        code = f"{secrets.randbelow(10**6):06d}"
        session.email_code = code
        session.email_code_expires = now + self.settings["email_code_seconds"]
        user.last_email_code = code

    def _complete(self, session: LogonSession, user: EndUser, site: OfficeSite, now: float, result: dict) -> dict:
        token = self._issue_login_token(session.end_user_id, session.client_id, session.session_id, site, now)
        keep_alive = ""
        if session.keep_alive:
            keep_alive = self._issue_keep_alive_token(session, now)
        result.update(
            {
                "LoginToken": token,
                "KeepAliveToken": keep_alive,
                "Email": user.email or "",
                "Phone": user.phone or "",
                "NickName": user.nick_name or "",
                "Label": user.label or "",
                "WyId": user.wy_id,
            }
        )
        return result

    def _issue_login_token(self, end_user_id: str, client_id: str, session_id: str, site: OfficeSite, now: float) -> str:
        token = "v1" + secrets.token_hex(47)
        self._login_tokens[_digest(token)] = LoginToken(
            token, end_user_id, client_id, session_id, site.office_site_id, site.region_id, now, now + self.settings["login_token_seconds"]
        )
        self._prune(now)
        return token

    def _issue_keep_alive_token(self, session: LogonSession, now: float) -> str:
        token = secrets.token_urlsafe(48)
        self._keep_alive_tokens[_digest(token)] = KeepAliveToken(
            token, session.end_user_id, session.client_id, session.office_site_id, session.region_id, now + self.settings["keep_alive_token_seconds"]
        )
        return token

    def _prune(self, now: float) -> None:
        """Forget long-dead tokens and sessions now and then, so a long-running server stays small."""
        self._issued += 1
        if self._issued % 1024:
            return
        horizon = now - 86400
        self._login_tokens = {k: t for k, t in self._login_tokens.items() if t.expires > horizon}
        self._keep_alive_tokens = {k: t for k, t in self._keep_alive_tokens.items() if t.expires > horizon}
        live = {t.session_id for t in self._login_tokens.values()}
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > horizon or k in live}

    def _password_strategy(self) -> dict:
        return {
            "TenantPasswordLength": str(self.settings["password_min_length"]),
            "TenantAlternativeChars": [name for name, _ in _CHAR_CLASSES],
        }

    def _policy_problem(self, old: str, new: str) -> str | None:
        minimum = self.settings["password_min_length"]
        classes = sum(1 for _, test in _CHAR_CLASSES if any(test(c) for c in new))
        if len(new) < minimum:
            return f"at least {minimum} characters"
        if classes < self.settings["password_min_char_classes"]:
            return f"characters of at least {self.settings['password_min_char_classes']} of: lower case, upper case, digits, symbols"
        if new == old:
            return "different from the old password"
        return None

    # ---- GetLoginToken ------------------------------------------------------------
    def get_login_token(self, params: dict) -> dict:
        stage = params.get("CurrentStage") or ADPASSWORD
        now = self.clock.time()
        with self._lock:
            if stage == ADPASSWORD:
                return self._ad_password(params, now)
            if stage == KEEPALIVEVERIFY:
                return self._keep_alive_verify(params, now)
            session, user, site = self._session(params, stage, now)
            if stage == MFABIND:
                return self._mfa_bind(session, user, site, now)
            if stage == MFAVERIFY:
                return self._mfa_verify(params, session, user, site, now)
            if stage == TOKENVERIFY:
                return self._token_verify(params, session, user, site, now)
            return self._change_password(params, session, user, site, now)

    def _ad_password(self, params: dict, now: float) -> dict:
        end_user_id = params.get("EndUserId")
        if not end_user_id:
            raise missing("EndUserId")
        password = params.get("Password")
        if not password:
            raise missing("Password")
        region_id = params["RegionId"]
        site = self._site_for(params, region_id)
        user = self._users.get(end_user_id)
        if site is None and user is not None:
            site = self._sites[user.office_site_id]
            if site.region_id != region_id:
                user = None
        if user is None or site is None or user.office_site_id != site.office_site_id:
            raise self._fail("wrong_password")
        self._check_not_locked(user, now)
        if not user.password_is(password):
            raise self._failed(user, now, "wrong_password")
        user.failed_attempts = 0
        session = LogonSession(
            str(uuid.uuid4()),
            user.end_user_id,
            site.office_site_id,
            region_id,
            params["ClientId"],
            now + self.settings["session_seconds"],
            [ADPASSWORD, *self._stages_for(user, site)],
            keep_alive=bool(params.get("KeepAlive")),
        )
        self._sessions[session.session_id] = session
        result = {"SessionId": session.session_id, **self._user_fields(user, site)}
        return self._next(session, user, site, now, result)

    def _session(self, params: dict, stage: str, now: float) -> tuple[LogonSession, EndUser, OfficeSite]:
        session_id = params.get("SessionId")
        if not session_id:
            raise missing("SessionId")
        session = self._sessions.get(session_id)
        if session is None:
            raise self._fail("session_not_found")
        if not same_secret(session.client_id, params["ClientId"]) or (
            params.get("EndUserId") and params["EndUserId"] != session.end_user_id
        ):
            raise self._fail("session_mismatch")
        if session.complete:
            raise self._fail("wrong_stage", detail="The logon of this session is already complete.")
        if now >= session.expires:
            raise self._fail("session_expired")
        if stage != session.pending[0]:
            raise self._fail("wrong_stage", detail=f"This session expects CurrentStage={session.pending[0]}.")
        user = self._users.get(session.end_user_id)
        site = self._sites.get(session.office_site_id)
        if user is None or site is None or user.office_site_id != site.office_site_id:
            raise self._fail("session_not_found")
        self._check_not_locked(user, now)
        return session, user, site

    def _mfa_bind(self, session: LogonSession, user: EndUser, site: OfficeSite, now: float) -> dict:
        secret = otp.random_secret()
        uri = otp.provisioning_uri(secret, user.end_user_id, self.settings["totp_issuer"])
        png = _qr_png_base64(uri)  # before any state changes: a failure here leaves the session as it was
        session.mfa_secret = secret
        result = {"Secret": secret, "QrCodePng": png, **self._user_fields(user, site)}
        return self._next(session, user, site, now, result)

    def _mfa_verify(self, params: dict, session: LogonSession, user: EndUser, site: OfficeSite, now: float) -> dict:
        code = params.get("AuthenticationCode")
        if not code:
            raise missing("AuthenticationCode")
        secret = session.mfa_secret or user.mfa_secret
        if secret is None:
            raise self._fail("wrong_stage", detail="No MFA device is bound or being bound.")
        step = otp.matching_step(secret, code.strip(), now, window=int(self.settings["totp_window"]))
        if step is None or (self.settings["totp_reject_reuse"] and step <= user.last_totp_step):
            raise self._failed(user, now, "wrong_mfa_code")
        user.failed_attempts = 0
        user.last_totp_step = step
        if session.mfa_secret:
            user.mfa_secret = session.mfa_secret  # the device is bound once a code from it verified
            session.mfa_secret = None
        return self._next(session, user, site, now, self._user_fields(user, site))

    def _token_verify(self, params: dict, session: LogonSession, user: EndUser, site: OfficeSite, now: float) -> dict:
        code = params.get("TokenCode")
        if not code:
            raise missing("TokenCode")
        if session.email_code is None or now >= session.email_code_expires:
            raise self._fail("email_code_expired")
        if not same_secret(session.email_code, code.strip()):
            raise self._failed(user, now, "wrong_email_code")
        user.failed_attempts = 0
        session.email_code = None
        return self._next(session, user, site, now, self._user_fields(user, site))

    def _change_password(self, params: dict, session: LogonSession, user: EndUser, site: OfficeSite, now: float) -> dict:
        old = params.get("OldPassword")
        if not old:
            raise missing("OldPassword")
        new = params.get("NewPassword")
        if not new:
            raise missing("NewPassword")
        if not user.password_is(old):
            raise self._failed(user, now, "wrong_old_password")
        problem = self._policy_problem(old, new)
        if problem:
            raise self._fail("weak_new_password", {"PasswordStrategy": self._password_strategy()}, policy=problem)
        user.failed_attempts = 0
        user.set_password(new)
        user.must_change_password = False
        return self._next(session, user, site, now, self._user_fields(user, site))

    def _keep_alive_verify(self, params: dict, now: float) -> dict:
        presented = params.get("KeepAliveToken")
        if not presented:
            raise missing("KeepAliveToken")
        stored = self._keep_alive_tokens.get(_digest(presented))
        if stored is None or not same_secret(stored.token, presented):
            raise self._fail("keep_alive_token_not_found")
        if params.get("EndUserId") and params["EndUserId"] != stored.end_user_id:
            raise self._fail("keep_alive_token_mismatch", what="end user")
        if not same_secret(stored.client_id, params["ClientId"]):
            raise self._fail("keep_alive_token_mismatch", what="client")
        if params["RegionId"] != stored.region_id:
            raise self._fail("keep_alive_token_mismatch", what="region")
        if now >= stored.expires:
            raise self._fail("keep_alive_token_expired")
        user = self._users.get(stored.end_user_id)
        site = self._sites.get(stored.office_site_id)
        if user is None or site is None or user.office_site_id != site.office_site_id:
            raise self._fail("keep_alive_token_not_found")
        self._check_not_locked(user, now)
        session = LogonSession(
            str(uuid.uuid4()), user.end_user_id, site.office_site_id, stored.region_id, stored.client_id, now, []
        )
        self._sessions[session.session_id] = session
        token = self._issue_login_token(user.end_user_id, stored.client_id, session.session_id, site, now)
        return {
            "SessionId": session.session_id,
            **self._user_fields(user, site),
            "LoginToken": token,
            "KeepAliveToken": stored.token,
            "Email": user.email or "",
            "Phone": user.phone or "",
            "NickName": user.nick_name or "",
            "Label": user.label or "",
            "WyId": user.wy_id,
        }

    # ---- RefreshLoginToken ------------------------------------------------------------
    def refresh_login_token(self, params: dict) -> dict:
        now = self.clock.time()
        if self.settings["refresh_requires_office_site"] and not params.get("OfficeSiteId"):
            raise missing("OfficeSiteId")
        presented = params["LoginToken"]
        with self._lock:
            stored = self._login_tokens.get(_digest(presented))
            if stored is None or not same_secret(stored.token, presented):
                raise self._fail("login_token_not_found")
            site_id = params.get("OfficeSiteId")
            if site_id:
                site = self._sites.get(site_id)
                if site is None or site.region_id != params["RegionId"]:
                    raise self._fail("office_site_not_found", office_site_id=site_id, region_id=params["RegionId"])
                if site_id != stored.office_site_id:
                    raise self._fail("login_token_mismatch", what="office site")
            if params["EndUserId"] != stored.end_user_id:
                raise self._fail("login_token_mismatch", what="end user")
            if not same_secret(stored.client_id, params["ClientId"]):
                raise self._fail("login_token_mismatch", what="client")
            if params.get("SessionId") and params["SessionId"] != stored.session_id:
                raise self._fail("login_token_mismatch", what="session")
            if params["RegionId"] != stored.region_id:
                raise self._fail("login_token_mismatch", what="region")
            if stored.replaced:
                raise self._fail("login_token_replaced")
            if now >= stored.expires:
                raise self._fail("login_token_expired")
            site = self._sites.get(stored.office_site_id)
            if site is None:
                raise self._fail("login_token_not_found")
            token = self._issue_login_token(stored.end_user_id, stored.client_id, stored.session_id, site, now)
            if self.settings["refresh_revokes_old"]:
                stored.replaced = True
        return {"LoginToken": token}


def _qr_png_base64(text: str) -> str:
    """A QR code of ``text`` as a base64 PNG (what authenticator apps scan at MFABind)."""
    import base64
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=4, border=4)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
