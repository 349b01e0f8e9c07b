"""WUYING's secret-bearing fields: what the request log, the dashboard and ``--verbose`` never show.

One list for the service (see :mod:`mockcloud.core.redaction`); a new operation's secret goes here.
"""

from ...core.redaction import Sensitive

SENSITIVE = Sensitive(
    # GetLoginToken's stages: the end user's passwords, the codes of MFA and e-mail verification
    "Password",
    "OldPassword",
    "NewPassword",
    "AuthenticationCode",
    "TokenCode",
    # what a logon hands out, and what carries a logon on
    "LoginToken",
    "SessionId",
    "KeepAliveToken",
    # MFABind: the TOTP secret, and the same secret drawn as a QR code (a base64 PNG of an otpauth:// URI)
    "Secret",
    "QrCodePng",
    # the other client operations (connection tickets, cloud drive mount tokens, credentials checked,
    # fingerprints, the STS credentials of an OSS upload, the token a desktop session is driven with)
    "Ticket",
    "TicketBlackList",  # tickets a client no longer wants: tickets all the same
    "P2PToken",
    "Token",
    "Credential",
    "EncryptedPassword",
    "EncryptedKey",
    "FingerPrintTemplate",
    "EncryptedFingerPrintTemplate",
    "SessionToken",
    "StsToken",
    "OssSignature",
    not_secret=(
        "FingerPrintTemplates",  # DescribeFingerPrintTemplates: indexes and descriptions, no template
        "CredentialType",
        "AuthMode",
        "AccessKeyId",
        "Key",  # a tag's key
        "Keyword",
        "TaskCode",
        "Sessions",
        "SessionStatus",
        "SessionType",
        "SessionChangeTime",
        "ResourceSessionStartTime",
        "ResourceSessionStatus",
        "PasswordStrategy",  # the password rules, shown to the user
        "TenantPasswordLength",
        "NextStage",
        "CurrentStage",
        "ClientToken",  # idempotency
        "NextToken",  # pagination
    ),
)
