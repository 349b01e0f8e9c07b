"""License Manager's secret-bearing fields: what the request log, the dashboard and ``--verbose`` never show.

One list for the service (see :mod:`mockcloud.core.redaction`); a new operation's secret goes here.
"""

from ...core.redaction import Sensitive

SENSITIVE = Sensitive(
    "Token",  # CreateToken's refresh token, GetAccessToken's input
    "AccessToken",
    "LicenseConsumptionToken",  # checks a checkout in, extends it
    "SignedToken",  # a checkout's signed proof
    not_secret=(
        "TokenId",
        "TokenIds",
        "TokenType",
        "TokenProperties",
        "Tokens",  # ListTokens: token ids and their properties, never a token
        "ClientToken",  # idempotency
        "NextToken",  # pagination
        "CheckoutType",
        "KeyFingerprint",  # the issuer's key fingerprint: names the key, is no key
        "SignKey",  # the issuer's KMS key ARN
        "DigitalSignatureMethod",
        "KeyToMatch",
        "Key",  # a tag's or a filter's key
        "TagKeys",
        "keyPrefix",
        "ProductCodes",
        "MarketplaceProductCodes",
        "ProductCodeId",
        "ProductCodeType",
    ),
)
