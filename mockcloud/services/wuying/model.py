"""WUYING Workspace's state and rules: office sites and end users (:mod:`.directory`), their logons
(:mod:`.logon`), their desktops and connections (:mod:`.desktops`), and their account actions
(:mod:`.account`). No HTTP here: operations take keyword arguments, and the protocol names them on the wire.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from ...core.helpers import reads_only
from ...core.service import ServiceContext, ServiceModel
from .account import Account, FingerPrintTemplate, MountToken, PasswordReset
from .clienttokens import ClientTokens
from .desktops import ConnectionTicket, Desktop, DesktopSnapshot, Workspace
from .directory import Directory
from .logon import LoginToken, Logon
from .part import SETTINGS, Config, Shared

# The regions of the SDK's endpoint map (alibabacloud_ecd20201002.client), as DescribeRegions lists them.
SDK_REGIONS = (
    "cn-hangzhou",
    "cn-shanghai",
    "cn-beijing",
    "cn-zhangjiakou",
    "cn-wulanchabu",
    "cn-shenzhen",
    "cn-guangzhou",
    "cn-chengdu",
    "cn-qingdao",
    "cn-nanjing",
    "cn-hongkong",
    "cn-hangzhou-finance",
    "cn-shanghai-finance-1",
    "ap-northeast-1",
    "ap-southeast-1",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "us-west-1",
    "us-east-1",
    "eu-central-1",
    "eu-west-1",
    "me-east-1",
    "me-central-1",
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
    "regions": list(SDK_REGIONS),  # what DescribeRegions lists (with the regions of any office site)
    "desktop_start_seconds": 30,  # Starting → Running
    "desktop_stop_seconds": 20,  # Stopping → Stopped
    "fota_update_seconds": 60,  # Rebuilding → Running after ApproveFotaUpdate
    "connection_task_seconds": 2,  # a connection task's own set-up, the desktop running
    "connection_ticket_seconds": 300,  # a connection ticket's life
    "connect_starts_desktop": True,  # GetConnectionTicket on a stopped desktop starts it
    "mount_token_seconds": 3600,  # a cloud drive mount token's life
    "cloud_drive_total_size": 100,  # GiB
    "password_reset_seconds": 1800,
    "fingerprint_templates_per_user": 10,
    "client_token_seconds": 86400,  # how long a ClientToken keeps its first answer
    "agent_report_config": '{"ReportInterval":300,"Enabled":true}',  # QueryEdsAgentReportConfig's default Config
    "error_codes": {},  # error case -> code, renaming the codes of errors.ERRORS
}


class WuyingModel(Directory, ServiceModel):
    """``cloud.wuying``: the directory of sites and users, their logons (``logon``), desktops (``workspace``),
    account actions (``account``), and helpers for tests.

    Its state is records (each part declares its kinds): the settings, office sites and users; logon
    sessions, LoginTokens and KeepAliveTokens; desktops, their snapshots, connection tasks and tickets;
    fingerprint templates, mount tokens, password resets and the EncryptedPassword key; client token uses.
    """

    def __init__(self, context: ServiceContext) -> None:
        self.clock = context.clock
        self.context = context
        config = Config(context.table(SETTINGS), DEFAULTS)
        super().__init__(context, config, context.lock, context.entropy)
        self.logon = Logon(context, self, self.clock, config, self._lock)
        client_tokens = ClientTokens(context, config, self._lock)
        self._client_tokens = client_tokens
        shared = Shared(self, self.logon, client_tokens, self.clock, config, self._lock, self.entropy)
        self.workspace = Workspace(shared, context)
        self.account = Account(shared, context, self.workspace.end_sessions)

    def load(self, section: dict[str, Any]) -> None:
        """The settings, sites, users and desktops of the fixtures; what else a snapshot holds."""
        with self._lock:
            self.config.settings = self.context.merged_settings(DEFAULTS, section)
            super().load(section)
            self.logon.load(section)
            self.workspace.load(section)
            self.account.load(section)
            self._client_tokens.load(section.get("client_tokens", []))

    @reads_only
    def snapshot(self) -> dict[str, Any]:
        """The whole state as this service's fixtures section: settings, directory, logons, desktops, accounts.

        Users keep their password's salted hash, never the password; LoginTokens, KeepAliveTokens,
        connection tickets, mount tokens and the EncryptedPassword key are as the model keeps them, so the
        file is as secret as the tokens in it. Fingerprint templates are kept by their SHA-256 only.
        """
        with self._lock:
            return {
                "settings": copy.deepcopy(self.settings),
                **super().snapshot(),
                **self.logon.snapshot(),
                **self.workspace.snapshot(),
                **self.account.snapshot(),
                "client_tokens": self._client_tokens.snapshot(),
            }

    # ---- discovery (no LoginToken) ----------------------------------------------
    @reads_only
    def regions(self) -> list[str]:
        """The regions DescribeRegions lists: the ``regions`` setting, then those of office sites beyond it."""
        listed = list(self.settings["regions"])
        return list(dict.fromkeys([*listed, *(site.region_id for site in self.office_sites)]))

    # ---- test-side helpers ----------------------------------------------------
    @reads_only
    def totp_code(self, end_user_id: str) -> str:
        """The user's current MFA code on the mock clock (from the bound device, or the one being bound)."""
        return self.logon.totp_code(end_user_id)

    @reads_only
    def login_token(self, token: str) -> LoginToken | None:
        return self.logon.login_token(token)

    def logout(self, login_token: str) -> str:
        """Log a session out, as a client that quits does: its LoginTokens, tickets and mount tokens are revoked."""
        with self._lock:
            session_id = self.logon.logout(login_token)
            self.account.end_sessions([session_id])
            return session_id

    def create_desktop(
        self,
        desktop_id: str | None = None,
        *,
        end_user_ids: Iterable[str] = (),
        office_site_id: str | None = None,
        desktop_name: str | None = None,
        **details: Any,
    ) -> Desktop:
        """Add (or replace) a desktop bound to ``end_user_ids``, in their office site (or the first one).

        ``details`` are :class:`~.desktops.Desktop`'s fields: ``status`` (``Running`` by default, or any
        desktop status), ``desktop_type``, ``cpu``, ``memory``, ``os_type``, ``platform``, ``protocol_type``,
        ``charge_type``, ``expired_time`` (epoch seconds), ``fota_version`` (an update to approve), ...
        """
        return self.workspace.create_desktop(
            desktop_id, end_user_ids=end_user_ids, office_site_id=office_site_id, desktop_name=desktop_name, **details
        )

    def bind_desktop(self, desktop_id: str, end_user_id: str) -> Desktop:
        """Bind a desktop to one more end user (as an administrator assigns it)."""
        return self.workspace.bind_desktop(desktop_id, end_user_id)

    def update_desktop(self, desktop_id: str, **details: Any) -> Desktop:
        """Set fields of a desktop (``status`` ends any transition under way)."""
        return self.workspace.update_desktop(desktop_id, **details)

    @reads_only
    def desktop(self, desktop_id: str) -> Desktop:
        return self.workspace.desktop(desktop_id)

    @reads_only
    def desktop_status(self, desktop_id: str) -> str:
        """The desktop's status now, on the mock clock."""
        with self._lock:
            return self.workspace.desktop(desktop_id).status_at(self.clock.time())

    @property
    def desktops(self) -> list[Desktop]:
        return self.workspace.desktops

    def create_snapshot(
        self, desktop_id: str, snapshot_id: str | None = None, *, seconds: float = 0, **details: Any
    ) -> DesktopSnapshot:
        """Add a snapshot of a desktop, ACCOMPLISHED after ``seconds`` on the mock clock (PROGRESSING before).

        ``details``: ``snapshot_name``, ``description``, ``snapshot_type`` (USER/AUTO), ``source_disk_type``
        (SYSTEM/DATA), ``source_disk_size``, ``failed``.
        """
        return self.workspace.create_snapshot(desktop_id, snapshot_id, seconds=seconds, **details)

    @reads_only
    def snapshot_of(self, snapshot_id: str) -> DesktopSnapshot:
        return self.workspace.snapshot_of(snapshot_id)

    @reads_only
    def connection_ticket(self, ticket: str) -> ConnectionTicket:
        """The record of a connection ticket (GetConnectionTicket's ``Ticket``, or the GWToken in it)."""
        return self.workspace.connection_ticket(ticket)

    def redeem_ticket(self, ticket: str, desktop_id: str | None = None) -> ConnectionTicket:
        """Connect with a ticket as the desktop's gateway would: once, live, to its running desktop."""
        return self.workspace.redeem_ticket(ticket, desktop_id)

    @reads_only
    def mount_token(self, token: str) -> MountToken:
        return self.account.mount_token(token)

    @reads_only
    def mount_token_valid(self, token: str) -> bool:
        """Whether the cloud drive would take a mount token now."""
        return self.account.mount_token_valid(token)

    @reads_only
    def fingerprint_templates(self, end_user_id: str) -> list[FingerPrintTemplate]:
        return self.account.fingerprint_templates(end_user_id)

    @reads_only
    def password_resets(self, end_user_id: str) -> list[PasswordReset]:
        return self.account.password_resets(end_user_id)

    def complete_password_reset(self, end_user_id: str, new_password: str) -> PasswordReset:
        """Set a new password through the reset ResetPassword sent: every logon of the user ends."""
        return self.account.complete_password_reset(end_user_id, new_password)

    def inventory(self) -> list[dict[str, object]]:
        """Logon sessions, tokens, connection tickets, mount tokens and resets, for the dashboard (no secrets)."""
        now = self.clock.time()
        return [*self.logon.inventory(), *self.workspace.inventory(now), *self.account.inventory(now)]
