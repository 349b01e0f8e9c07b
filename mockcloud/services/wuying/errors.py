"""WUYING's logon errors: one table of case → (code, HTTP status, message template).

The public sources name few of these failures, so the codes are choices; the
``error_codes`` setting renames any of them (``{"wrong_password": "..."}``) to
match what a real tenant answers. The gateway's own ``Missing<Param>`` and
``Invalid<Param>`` stay the protocol's.
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
        "both_site_ids": (
            "InvalidParameter",
            400,
            "Specified parameter DirectoryId is not valid. Specify only one of OfficeSiteId and DirectoryId.",
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
