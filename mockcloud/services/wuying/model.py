"""WUYING Workspace's state and rules: office sites and end users (:mod:`.directory`), and their logons
(:mod:`.logon`, whose ``get_login_token`` and ``refresh_login_token`` are the operations). No HTTP here:
operations take keyword arguments, and the protocol names them on the wire.
"""

from __future__ import annotations

import copy
from typing import Any

from ...core.helpers import reads_only
from ...core.service import ServiceContext
from .directory import Directory
from .errors import ERRORS
from .logon import LoginToken, Logon

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
    "error_codes": {},  # error case -> code, renaming the codes of errors.ERRORS
}


class WuyingModel(Directory):
    """``cloud.wuying``: the directory of sites and users, their logons (``logon``), and helpers for tests."""

    def __init__(self, context: ServiceContext) -> None:
        self.clock = context.clock
        settings = context.merged_settings(DEFAULTS)
        self.errors = ERRORS.renamed(settings["error_codes"])
        super().__init__(settings, context.lock, context.entropy)
        self.logon = Logon(self, self.clock, settings, self.errors, self._lock)
        self.load(context.fixtures)
        self.logon.load(context.fixtures)

    @reads_only
    def snapshot(self) -> dict[str, Any]:
        """The whole state as this service's fixtures section: settings, directory and logons.

        Users keep their password's salted hash, never the password; LoginTokens
        and KeepAliveTokens are as the model keeps them (a logon answers the
        KeepAliveToken it holds), so the file is as secret as the tokens in it.
        """
        with self._lock:
            return {"settings": copy.deepcopy(self.settings), **super().snapshot(), **self.logon.snapshot()}

    # ---- test-side helpers ----------------------------------------------------
    @reads_only
    def totp_code(self, end_user_id: str) -> str:
        """The user's current MFA code on the mock clock (from the bound device, or the one being bound)."""
        return self.logon.totp_code(end_user_id)

    @reads_only
    def login_token(self, token: str) -> LoginToken | None:
        return self.logon.login_token(token)

    def inventory(self) -> list[dict[str, object]]:
        """The logon sessions and tokens it holds, for the dashboard (see :meth:`Logon.inventory`)."""
        return self.logon.inventory()
