"""The User API's secret-bearing fields: what the request log, the dashboard and ``--verbose`` never show.

One list for the service (see :mod:`mockcloud.core.redaction`); a new operation's secret goes here.
"""

from ...core.redaction import Sensitive

SENSITIVE = Sensitive(
    "password",
    "accessToken",
    "refreshToken",
    not_secret=("username", "tokenType", "expiresIn"),
)
