"""STS's errors: the AWS Query framework's common codes, and STS's own with the statuses STS answers."""

from __future__ import annotations

from ...core.errors import ErrorTable
from ...core.protocols.aws_query import COMMON_ERRORS

ERRORS = COMMON_ERRORS | ErrorTable.of_codes(
    {
        "AccessDenied": (403, "Access denied"),
        "ExpiredTokenException": (400, "The web identity token that was passed is expired or is not valid."),
        "IDPRejectedClaim": (403, "The identity provider (IdP) reported that authentication failed."),
        "InvalidIdentityToken": (
            400,
            "The web identity token that was passed could not be validated by Amazon Web Services.",
        ),
        "MalformedPolicyDocument": (400, "The request was rejected because the policy document was malformed."),
        "Throttling": (400, "Rate exceeded"),
        "ValidationError": (400, "The input fails to satisfy the constraints specified by an AWS service."),
    }
)
