"""WUYING's account actions after logon: passwords, credentials, fingerprint templates and the cloud drive.

Each takes the LoginToken (and, where the SDK says so, the SessionId) and acts for its user:
ChangePassword revokes every other logon of the user (their LoginTokens, KeepAliveTokens, connection
tickets and mount tokens) and the token it was called with, and answers a new LoginToken for the same
session; ResetPassword records a reset the user completes out of band (:meth:`complete_password_reset`);
EncryptPassword and SetFingerPrintTemplate answer an ``EncryptedPassword`` that VerifyCredential takes in
place of the password; fingerprint templates are kept by their SHA-256, never as given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ...core.credentials import same_secret
from ...core.entities import KEPT_SECONDS, Kind, compound
from ...core.errors import MockCloudError
from ...core.sections import b64, keyed, record, unb64
from ...core.service import ServiceContext
from ...core.timestamps import utc_iso
from .directory import EndUser
from .errors import MissingInput
from .logon import LoginToken, Presented
from .part import ModelPart, Shared, add_key, drop_key, keys, of, text

CREDENTIAL_TYPES = ("Password", "MfaPasscode", "FingerPrint")
_ENCRYPTED = b"\x01"  # the first byte of an EncryptedPassword: the format's version


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class FingerPrintTemplate:
    end_user_id: str
    index: int
    office_site_id: str
    client_id: str
    template_sha256: str  # of the template as the client sent it (plain or encrypted)
    created: float
    description: str = ""
    last_login: float | None = None  # the last VerifyCredential it passed


@dataclass(slots=True)
class MountToken:
    token: str
    end_user_id: str
    session_id: str
    office_site_id: str
    issued: float
    expires: float
    revoked: bool = False


@dataclass(slots=True)
class PasswordReset:
    reset_id: str
    end_user_id: str
    office_site_id: str
    channel: str  # Email or Phone: where the reset was sent
    requested: float
    expires: float
    used: bool = False


def _expires_dead_at(item: MountToken | PasswordReset) -> float:
    return item.expires + KEPT_SECONDS


def _template_key(end_user_id: str, index: int) -> str:
    return compound(end_user_id, str(index))


# the records, by key: a fingerprint template ([end user, index]), a user's templates (end user -> their keys),
# a mount token (the SHA-256 of the token), a password reset (its id), the EncryptedPassword key ("", base64)
FINGERPRINT: Kind[FingerPrintTemplate] = Kind("fingerprint_template", record, of(FingerPrintTemplate))
FINGERPRINTS_OF: Kind[list[str]] = Kind("fingerprints_of", list, keys)
MOUNT_TOKEN: Kind[MountToken] = Kind("mount_token", record, of(MountToken), _expires_dead_at)
PASSWORD_RESET: Kind[PasswordReset] = Kind("password_reset", record, of(PasswordReset), _expires_dead_at)
ENCRYPTION_KEY: Kind[str] = Kind("encryption_key", str, text)


class Account(ModelPart):
    """What a logged-on user does with their account; the model's lock guards every change."""

    def __init__(self, shared: Shared, context: ServiceContext, end_sessions: Callable[[Iterable[str]], None]) -> None:
        super().__init__(shared)
        self._end_other_sessions = end_sessions  # the workspace's: revoke the tickets of ended sessions
        self._templates = context.table(FINGERPRINT)
        self._templates_of = context.table(FINGERPRINTS_OF)
        self._mount_tokens = context.table(MOUNT_TOKEN)  # by SHA-256 of the token
        self._resets = context.table(PASSWORD_RESET)
        self._keys = context.table(ENCRYPTION_KEY)  # the EncryptedPassword key, made at its first use

    # ---- snapshots ----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            found: dict[str, Any] = {
                "fingerprint_templates": [record(t) for t in self._templates.values()],
                "mount_tokens": [record(t) for t in self._mount_tokens.values()],
                "password_resets": [record(r) for r in self._resets.values()],
            }
            key = self._keys.get("")
            if key is not None:
                found["encryption_key"] = key
            return found

    def _templates_of_user(self, end_user_id: str) -> list[FingerPrintTemplate]:
        """The user's templates by index, through the index written with them."""
        found = (self._templates.get(key) for key in self._templates_of.get(end_user_id) or ())
        return sorted((t for t in found if t is not None), key=lambda t: t.index)

    def load(self, section: dict[str, Any]) -> None:
        templates = [FingerPrintTemplate(**item) for item in section.get("fingerprint_templates", ())]
        mount_tokens = [MountToken(**item) for item in section.get("mount_tokens", ())]
        resets = [PasswordReset(**item) for item in section.get("password_resets", ())]
        owners = [*(t.end_user_id for t in templates), *(t.end_user_id for t in mount_tokens)]
        for end_user_id in dict.fromkeys([*owners, *(r.end_user_id for r in resets)]):
            self.directory.user(end_user_id)
        key = section.get("encryption_key")
        if key is not None:
            unb64(key, "the EncryptedPassword key", size=32)
        with self._lock:
            for template_key, template in keyed(
                templates, lambda t: _template_key(t.end_user_id, t.index), "fingerprint templates"
            ).items():
                self._templates[template_key] = template
                add_key(self._templates_of, template.end_user_id, template_key)
            for digest, mount in keyed(mount_tokens, lambda t: _digest(t.token), "mount tokens").items():
                self._mount_tokens[digest] = mount
            for reset_id, reset in keyed(resets, lambda r: r.reset_id, "password resets").items():
                self._resets[reset_id] = reset
            if key is not None:
                self._keys[""] = key

    # ---- ending sessions --------------------------------------------------------------
    def end_sessions(self, session_ids: Iterable[str]) -> None:
        """Revoke what ended logon sessions hold here and in the workspace (the caller holds the lock)."""
        ended = set(session_ids)
        if not ended:
            return
        for key, token in self._mount_tokens.items():  # a scan: rare (a password changed or reset, a logout)
            if token.session_id in ended and not token.revoked:
                token.revoked = True
                self._mount_tokens[key] = token
        self._end_other_sessions(ended)

    def _new_password(self, user: EndUser, new_password: str) -> None:
        user.set_password(new_password, self.entropy.token_bytes(16))
        user.must_change_password = False
        user.failed_attempts = 0
        self.directory.save(user)

    # ---- passwords ----------------------------------------------------------------------
    def change_password(
        self,
        presented: Presented,
        *,
        end_user_id: str,
        office_site_id: str,
        old_password: str,
        new_password: str,
    ) -> dict[str, Any]:
        """A new password; every logon of the user ends but this session, which goes on with a new LoginToken."""
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now, end_user_id=end_user_id, office_site_id=office_site_id)
            user = self.directory.user(token.end_user_id)
            self.logon.check_not_locked(user, now)
            if not user.password_is(old_password):
                raise self.logon.failed(user, now, "wrong_old_password")
            problem = self.logon.policy_problem(old_password, new_password)
            if problem:
                raise self.errors.error(
                    "weak_new_password", fields={"PasswordStrategy": self.logon.password_strategy()}, policy=problem
                )
            self._new_password(user, new_password)
            self.end_sessions(self.logon.revoke(user.end_user_id, keep_session=token.session_id))
            return {"LoginToken": self.logon.reissue(token, now)}

    def reset_password(
        self,
        *,
        region_id: str,
        end_user_id: str,
        office_site_id: str,
        email: str | None = None,
        phone: str | None = None,
        client_token: str | None = None,
    ) -> dict[str, Any]:
        """Ask for a password reset by the user's e-mail address or phone number.

        The answer is the same whether or not the user and the contact match (no one learns who exists);
        only a match records a reset, which :meth:`complete_password_reset` completes.
        """
        if not (email or phone):
            raise MissingInput("email")
        now = self.clock.time()
        with self._lock:
            site = self.directory.find_site(office_site_id)
            if site is None or site.region_id != region_id:
                raise self.errors.error("office_site_not_found", office_site_id=office_site_id, region_id=region_id)

            def ask() -> dict[str, Any]:
                user = self.directory.find_user(end_user_id)
                if user is None or user.office_site_id != office_site_id:
                    return {}
                by_email = bool(email and user.email and email.strip().casefold() == user.email.casefold())
                by_phone = bool(phone and user.phone and _digits(phone) == _digits(user.phone))
                if by_email or by_phone:
                    reset = PasswordReset(
                        str(self.entropy.uuid4()),
                        end_user_id,
                        office_site_id,
                        "Email" if by_email else "Phone",
                        now,
                        now + self.settings["password_reset_seconds"],
                    )
                    self._resets[reset.reset_id] = reset
                return {}

            request = {"EndUserId": end_user_id, "OfficeSiteId": office_site_id, "Email": email, "Phone": phone}
            return self.client_tokens.once("ResetPassword", end_user_id, client_token, request, now, ask)

    def complete_password_reset(self, end_user_id: str, new_password: str) -> PasswordReset:
        """What the user does with the reset they were sent: a new password, every logon of theirs ended."""
        now = self.clock.time()
        with self._lock:
            user = self.directory.user(end_user_id)
            live = [r for r in self._resets.values() if r.end_user_id == end_user_id and not r.used and now < r.expires]
            live.sort(key=lambda r: r.requested)
            if not live:
                raise MockCloudError(f"no live password reset for {end_user_id!r}: call ResetPassword first")
            problem = self.logon.policy_problem("", new_password)
            if problem:
                raise MockCloudError(f"the new password must have {problem}")
            for reset in live:  # the newest one is taken; the others die with it
                reset.used = True
                self._resets[reset.reset_id] = reset
            user.locked_until = 0.0
            self._new_password(user, new_password)
            self.end_sessions(self.logon.revoke(end_user_id))
            return live[-1]

    def password_resets(self, end_user_id: str) -> list[PasswordReset]:
        with self._lock:
            return sorted((r for r in self._resets.values() if r.end_user_id == end_user_id), key=lambda r: r.requested)

    # ---- credentials ------------------------------------------------------------------------
    def _cipher(self) -> Any:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self._keys.get("")
        if key is None:
            key = self._keys[""] = b64(self.entropy.token_bytes(32))
        return AESGCM(unb64(key, "the EncryptedPassword key", size=32))

    def _encrypt(self, user: EndUser, password: str) -> str:
        nonce = self.entropy.token_bytes(12)
        sealed = self._cipher().encrypt(nonce, password.encode("utf-8", "surrogatepass"), user.end_user_id.encode())
        return base64.b64encode(_ENCRYPTED + nonce + sealed).decode("ascii")

    def _decrypt(self, user: EndUser, encrypted: str) -> str | None:
        from cryptography.exceptions import InvalidTag

        try:
            data = base64.b64decode(encrypted.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return None
        if len(data) < 29 or data[:1] != _ENCRYPTED or self._keys.get("") is None:
            return None
        try:
            plain: bytes = self._cipher().decrypt(data[1:13], data[13:], user.end_user_id.encode())
        except InvalidTag:
            return None
        return plain.decode("utf-8", "surrogatepass")

    def encrypt_password(
        self, presented: Presented, *, password: str, office_site_id: str | None = None, directory_id: str | None = None
    ) -> dict[str, Any]:
        """The password sealed for this user (AES-GCM under a key only the emulator holds)."""
        if office_site_id and directory_id and office_site_id != directory_id:
            raise self.errors.error("both_site_ids")
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now, office_site_id=office_site_id or directory_id)
            user = self.directory.user(token.end_user_id)
            return {"EncryptedPassword": self._encrypt(user, password)}

    def verify_credential(
        self,
        presented: Presented,
        *,
        office_site_id: str,
        credential: str,
        credential_type: str | None = None,
        encrypted_key: str | None = None,
    ) -> dict[str, Any]:
        """Check a credential of the logged-on user: the password (or, with an ``EncryptedKey``, an
        EncryptedPassword), a code of the bound MFA device, or a fingerprint template. Wrong passwords and
        codes count towards the lock, as at logon."""
        kind = credential_type or "Password"
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now, office_site_id=office_site_id)
            user = self.directory.user(token.end_user_id)
            self.logon.check_not_locked(user, now)
            if kind == "Password":
                password = self._decrypt(user, credential) if encrypted_key else credential
                good = password is not None and user.password_is(password)
            elif kind == "MfaPasscode":
                good = user.mfa_secret is not None and self.logon.totp_passes(user, user.mfa_secret, credential, now)
            else:
                good = self._fingerprint_passes(user, credential, now)
            if not good:
                if kind == "FingerPrint":
                    raise self.errors.error("wrong_credential")
                raise self.logon.failed(user, now, "wrong_credential")
            self.logon.succeeded(user)
            self.directory.save(user)
        return {}

    def _fingerprint_passes(self, user: EndUser, template: str, now: float) -> bool:
        presented = _digest(template)
        for stored in self._templates_of_user(user.end_user_id):
            if hmac.compare_digest(stored.template_sha256, presented):
                stored.last_login = now
                self._templates[_template_key(stored.end_user_id, stored.index)] = stored
                return True
        return False

    # ---- fingerprint templates ------------------------------------------------------------------
    def set_finger_print_template(
        self,
        presented: Presented,
        *,
        password: str,
        finger_print_template: str | None = None,
        encrypted_finger_print_template: str | None = None,
        encrypted_key: str | None = None,
        description: str | None = None,
        client_token: str | None = None,
    ) -> dict[str, Any]:
        """Enrol a fingerprint (the user's password proves it is them): its index, and the password sealed."""
        template = finger_print_template or encrypted_finger_print_template
        if not template:
            raise MissingInput("finger_print_template")
        if encrypted_finger_print_template and not finger_print_template and not encrypted_key:
            raise MissingInput("encrypted_key")
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            user = self.directory.user(token.end_user_id)

            def enrol() -> dict[str, Any]:
                self.logon.check_not_locked(user, now)
                if not user.password_is(password):
                    raise self.logon.failed(user, now, "wrong_password")
                self.logon.succeeded(user)
                self.directory.save(user)
                taken = {t.index for t in self._templates_of_user(user.end_user_id)}
                limit = int(self.settings["fingerprint_templates_per_user"])
                index = next((i for i in range(1, limit + 1) if i not in taken), None)
                if index is None:
                    raise self.errors.error("fingerprint_quota", limit=limit)
                key = _template_key(user.end_user_id, index)
                add_key(self._templates_of, user.end_user_id, key)
                self._templates[key] = FingerPrintTemplate(
                    user.end_user_id,
                    index,
                    token.office_site_id,
                    token.client_id,
                    _digest(template),
                    now,
                    description or "",
                )
                return {"Index": index, "EncryptedPassword": self._encrypt(user, password)}

            request = {"Template": _digest(template), "Description": description, "Password": _digest(password)}
            return self.client_tokens.once(
                "SetFingerPrintTemplate", user.end_user_id, client_token, request, now, enrol
            )

    def _template(self, token: LoginToken, index: int) -> FingerPrintTemplate:
        found = self._templates.get(_template_key(token.end_user_id, index))
        if found is None:
            raise self.errors.error("fingerprint_not_found", index=index)
        return found

    def set_finger_print_template_description(
        self, presented: Presented, *, index: int, description: str, client_token: str | None = None
    ) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)

            def describe() -> dict[str, Any]:
                template = self._template(token, index)
                template.description = description
                self._templates[_template_key(token.end_user_id, index)] = template
                return {}

            request = {"Index": index, "Description": description}
            return self.client_tokens.once(
                "SetFingerPrintTemplateDescription", token.end_user_id, client_token, request, now, describe
            )

    def describe_finger_print_templates(self, presented: Presented) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            mine = self._templates_of_user(token.end_user_id)
            templates = []
            for t in mine:
                shown = {
                    "Index": t.index,
                    "Description": t.description,
                    "EndUserId": t.end_user_id,
                    "OfficeSiteId": t.office_site_id,
                    "ClientId": t.client_id,
                    "CreationTime": utc_iso(t.created),
                }
                if t.last_login is not None:
                    shown["LoginTime"] = utc_iso(t.last_login)
                templates.append(shown)
        return {"FingerPrintTemplates": templates}

    def delete_finger_print_template(
        self, presented: Presented, *, index: int, client_token: str | None = None
    ) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)

            def delete() -> dict[str, Any]:
                self._template(token, index)
                key = _template_key(token.end_user_id, index)
                del self._templates[key]
                drop_key(self._templates_of, token.end_user_id, key)
                return {}

            return self.client_tokens.once(
                "DeleteFingerPrintTemplate", token.end_user_id, client_token, {"Index": index}, now, delete
            )

    def fingerprint_templates(self, end_user_id: str) -> list[FingerPrintTemplate]:
        with self._lock:
            return self._templates_of_user(end_user_id)

    # ---- the cloud drive -----------------------------------------------------------------------------
    def get_cloud_drive_service_mount_token(
        self, presented: Presented, *, office_site_id: str | None = None
    ) -> dict[str, Any]:
        """A token that mounts the user's enterprise cloud drive, with its own lifetime (``mount_token_seconds``)."""
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now, office_site_id=office_site_id)
            mount = MountToken(
                self.entropy.token_hex(20),
                token.end_user_id,
                token.session_id,
                token.office_site_id,
                now,
                now + self.settings["mount_token_seconds"],
            )
            self._mount_tokens[_digest(mount.token)] = mount
        return {
            "Token": {
                "Token": mount.token,
                "ExpiredAfter": utc_iso(mount.expires),
                "Status": "enabled",
                "DomainId": "cds-" + hashlib.sha256(mount.office_site_id.encode()).hexdigest()[:10],
                "TotalSize": int(self.settings["cloud_drive_total_size"]),
                "UsedSize": 0,
            }
        }

    def mount_token(self, token: str) -> MountToken:
        found = self._mount_tokens.get(_digest(token))
        if found is None or not same_secret(found.token, token):
            raise MockCloudError("no such WUYING cloud drive mount token")
        return found

    def mount_token_valid(self, token: str) -> bool:
        """Whether the cloud drive would take the mount token now (known, not revoked, not expired)."""
        found = self._mount_tokens.get(_digest(token))
        return (
            found is not None
            and same_secret(found.token, token)
            and not found.revoked
            and self.clock.time() < found.expires
        )

    def inventory(self, now: float) -> list[dict[str, object]]:
        """Mount tokens and password resets, for the dashboard (no secrets)."""
        from ...core.inventory import entry, short_id, state_of

        with self._lock:
            tokens = list(self._mount_tokens.values())
            resets = list(self._resets.values())
        found = [
            entry(
                "wuying",
                "mount_token",
                short_id(t.token),
                t.end_user_id,
                t.issued,
                t.expires,
                state_of(now, t.expires, revoked=t.revoked),
            )
            for t in tokens
        ]
        found += [
            entry(
                "wuying",
                "password_reset",
                r.reset_id,
                r.end_user_id,
                r.requested,
                r.expires,
                state_of(now, r.expires, used=r.used),
            )
            for r in resets
        ]
        return found


def _digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())
