"""DevPay's secret-bearing fields: what the request log, the dashboard and ``--verbose`` never show.

One list for the service (see :mod:`mockcloud.core.redaction`); a new operation's secret goes here.
"""

from ...core.redaction import Sensitive

SENSITIVE = Sensitive(
    "ActivationKey",  # what the customer pastes in, traded once for a user token
    "ProductToken",
    "UserToken",
    "AdditionalTokens",  # RefreshUserToken's list (AdditionalTokens.1, .2, ...)
    "SecretAccessKey",  # ActivateDesktopProduct's credentials
    # a token, wherever it stands (a SOAP body, a message): {UserToken}... / {ProductToken}...
    patterns=(r"\{(?:UserToken|ProductToken)\}(?P<secret>[A-Za-z0-9+/=]+)",),
    not_secret=("TokenExpiration", "PersistentIdentifier", "ProductCode", "AWSAccessKeyId"),
)
