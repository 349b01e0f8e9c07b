"""Amplify UI Builder's (and Figma's) secret-bearing fields: what the request log, the dashboard and
``--verbose`` never show.

One list for the service (see :mod:`mockcloud.core.redaction`); a new operation's secret goes here.
Every member botocore's model marks ``sensitive`` is here.
"""

from ...core.redaction import Sensitive

SENSITIVE = Sensitive(
    "code",  # ExchangeCodeForToken's authorization code (in a reply, a bare Code is an error's code: kept)
    "clientId",  # marked sensitive by botocore's model
    "token",  # RefreshToken's refresh token
    "accessToken",
    "refreshToken",
    "X-Figma-Token",  # Figma's own header for a token
    not_secret=(
        "expiresIn",
        "redirectUri",
        "provider",
        "refreshTokenBody",  # the structure: its members are judged one by one
        "tokenReference",  # a form's reference to a token (a name), not a token
        "clientToken",  # idempotency
        "nextToken",  # pagination
        "codegenJobToCreate",
        "defaultCountryCode",
        "key",
        "primaryKeys",
        "tagKeys",
    ),
)
