"""STS's secret-bearing fields: what the request log, the dashboard and ``--verbose`` never show.

One list for the service (see :mod:`mockcloud.core.redaction`); a new operation's secret goes here.
Every operation's in botocore's model that it marks ``sensitive`` is here, emulated or not yet.
"""

from ...core.redaction import Sensitive

SENSITIVE = Sensitive(
    "SecretAccessKey",  # every temporary credentials' secret
    "SessionToken",
    "WebIdentityToken",  # AssumeRoleWithWebIdentity's input, GetWebIdentityToken's output
    "SAMLAssertion",
    "TokenCode",  # an MFA device's code (AssumeRole, GetSessionToken)
    "TradeInToken",  # GetDelegatedAccessToken
    "ContextAssertion",  # AssumeRole's ProvidedContexts: a signed assertion of a trusted context provider
    not_secret=(
        "Credentials",  # the structure: its members are judged one by one
        "RoleSessionName",
        "SessionTokenSize",
        "SessionTokenUtilization",
        "SigningAlgorithm",
        "Key",  # a session tag's key
        "TransitiveTagKeys",
        "AccessKeyId",
        "SubjectFromWebIdentityToken",
        "MinimumSessionTokenSize",
        "DurationSeconds",
        "SerialNumber",
        "EncodedMessage",  # DecodeAuthorizationMessage: why a call was denied, not a credential
        "DecodedMessage",
        "ProviderId",
    ),
)
