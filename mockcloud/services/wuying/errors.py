"""WUYING's errors: one table of case → (code, HTTP status, message template).

The public sources name few of these failures, so most codes are choices
(``IncorrectDesktopStatus`` and its message, and ``IdempotentParameterMismatch``,
are Alibaba's own); the ``error_codes`` setting renames any of them
(``{"wrong_password": "..."}``) to match what a real tenant answers. The
gateway's own ``Missing<Param>`` and ``Invalid<Param>`` stay the protocol's.
"""

from __future__ import annotations

from ...core.errors import ErrorTable

ERRORS = ErrorTable(
    {
        "wrong_password": ("InvalidUsernameOrPassword", 400, "The username or password is incorrect."),
        "user_locked": (
            "UserLocked",
            400,
            "The user is locked after too many failed logon attempts. Try again in {minutes} minute(s).",
        ),
        "office_site_not_found": (
            "InvalidOfficeSiteId.NotFound",
            404,
            "The specified office site {office_site_id} does not exist in region {region_id}.",
        ),
        "wrong_mfa_code": ("InvalidAuthenticationCode", 400, "The MFA authentication code is incorrect."),
        "wrong_email_code": ("InvalidTokenCode", 400, "The verification code is incorrect."),
        "email_code_expired": (
            "InvalidTokenCode.Expired",
            400,
            "The verification code has expired. Log on again to receive a new one.",
        ),
        "wrong_old_password": ("InvalidOldPassword", 400, "The old password is incorrect."),
        "weak_new_password": (
            "InvalidNewPassword",
            400,
            "The new password does not meet the password policy: {policy}.",
        ),
        "wrong_stage": ("InvalidCurrentStage", 400, "Specified parameter CurrentStage is not valid. {detail}"),
        "session_not_found": ("InvalidSessionId", 400, "The specified SessionId does not exist."),
        "session_expired": ("InvalidSessionId.Expired", 400, "The logon session has expired. Log on again."),
        "session_mismatch": ("InvalidSessionId.Mismatch", 400, "The SessionId belongs to another end user or client."),
        "login_token_not_found": ("InvalidLoginToken", 400, "The specified LoginToken is not valid."),
        "login_token_expired": ("InvalidLoginToken.Expired", 400, "The LoginToken has expired. Log on again."),
        "login_token_mismatch": ("InvalidLoginToken.Mismatch", 400, "The LoginToken was not issued to this {what}."),
        "login_token_replaced": (
            "InvalidLoginToken.Replaced",
            400,
            "The LoginToken has already been refreshed; use the new one.",
        ),
        "login_token_revoked": (
            "InvalidLoginToken.Revoked",
            400,
            "The LoginToken was revoked by a password change or a logout. Log on again.",
        ),
        "keep_alive_token_not_found": ("InvalidKeepAliveToken", 400, "The specified KeepAliveToken is not valid."),
        "keep_alive_token_expired": (
            "InvalidKeepAliveToken.Expired",
            400,
            "The KeepAliveToken has expired. Log on again.",
        ),
        "keep_alive_token_mismatch": (
            "InvalidKeepAliveToken.Mismatch",
            400,
            "The KeepAliveToken was not issued to this {what}.",
        ),
        "keep_alive_token_revoked": (
            "InvalidKeepAliveToken.Revoked",
            400,
            "The KeepAliveToken was revoked by a password change. Log on again.",
        ),
        "both_site_ids": (
            "InvalidParameter",
            400,
            "Specified parameter DirectoryId is not valid. Specify only one of OfficeSiteId and DirectoryId.",
        ),
        # ---- desktops, snapshots and connections ----
        "desktop_not_found": ("InvalidDesktopId.NotFound", 404, "The specified desktop {desktop_id} does not exist."),
        # the code and message the ecd SDKs show for a desktop in the wrong state (RebuildDesktops' results)
        "desktop_wrong_status": (
            "IncorrectDesktopStatus",
            400,
            "The current status of the desktop does not support this operation.",
        ),
        "desktop_in_use": (
            "IncorrectDesktopStatus",
            400,
            "The desktop {desktop_id} has a connected session. Set Force to true to unbind it anyway.",
        ),
        "snapshot_not_found": (
            "InvalidSnapshotId.NotFound",
            404,
            "The specified snapshot {snapshot_id} does not exist.",
        ),
        "snapshot_not_ready": (
            "IncorrectSnapshotStatus",
            400,
            "The snapshot {snapshot_id} is {status}: only an ACCOMPLISHED snapshot can be restored.",
        ),
        "task_not_found": ("InvalidTaskId.NotFound", 404, "The specified TaskId {task_id} does not exist."),
        "fota_not_available": (
            "InvalidAppVersion",
            400,
            "The version {app_version} is not an update available to the desktop {desktop_id}.",
        ),
        "record_started": (
            "RecordContent.AlreadyStarted",
            400,
            "Content recording is already running on the desktop {desktop_id}.",
        ),
        "record_not_started": (
            "RecordContent.NotStarted",
            400,
            "No content recording is running on the desktop {desktop_id}.",
        ),
        "instance_not_found": (
            "InvalidInstanceId.NotFound",
            404,
            "The specified instance {instance_id} does not exist.",
        ),
        # ---- the account ----
        "wrong_credential": ("InvalidCredential", 400, "The credential is incorrect."),
        "fingerprint_not_found": (
            "InvalidIndex.NotFound",
            404,
            "The fingerprint template {index} does not exist.",
        ),
        "fingerprint_quota": (
            "QuotaExceeded.FingerPrintTemplate",
            400,
            "An end user can keep at most {limit} fingerprint templates.",
        ),
        "idempotent_mismatch": (
            "IdempotentParameterMismatch",
            400,
            "The request uses the same client token as a previous, but non-identical request.",
        ),
    }
)


class MissingInput(Exception):
    """An input the current logon stage needs was not given; the protocol answers it as the missing wire parameter.

    ``name`` is the model's keyword (``end_user_id``): the model knows no wire names.
    """

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is required at this stage")
        self.name = name


class InvalidInput(Exception):
    """An input of a form the operation does not take (a page token not of this query, a page size out of
    range); the protocol answers it as the gateway's ``Invalid<Param>``. ``name`` is the model's keyword."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not valid")
        self.name = name
