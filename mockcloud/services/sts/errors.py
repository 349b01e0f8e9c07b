"""STS's errors: the AWS Query framework's common codes, and STS's own with the statuses its model gives them."""

from __future__ import annotations

from ...core.errors import ErrorTable
from ...core.protocols.aws_query import COMMON_ERRORS

ERRORS = COMMON_ERRORS | ErrorTable.of_codes(
    {
        "AccessDenied": (403, "Access denied"),
        "ExpiredTokenException": (400, "The web identity token that was passed is expired or is not valid."),
        "ExpiredTradeInTokenException": (
            400,
            "The trade-in token provided in the request has expired and can no longer be exchanged for credentials.",
        ),
        "IDPCommunicationError": (400, "The request could not be fulfilled because the identity provider failed."),
        "IDPRejectedClaim": (403, "The identity provider (IdP) reported that authentication failed."),
        "InternalFailure": (
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
        "InvalidAuthorizationMessageException": (400, "The error returned if the message passed is not valid."),
        "InvalidIdentityToken": (
            400,
            "The web identity token that was passed could not be validated by Amazon Web Services.",
        ),
        "JWTPayloadSizeExceededException": (400, "The requested token payload size exceeds the maximum allowed size."),
        "MalformedPolicyDocument": (400, "The request was rejected because the policy document was malformed."),
        "OutboundWebIdentityFederationDisabledException": (
            403,
            "The outbound web identity federation feature is not enabled for this account.",
        ),
        "PackedPolicyTooLarge": (
            400,
            "The request was rejected because the total packed size of the session policies and session tags "
            "combined was too large.",
        ),
        "RegionDisabledException": (
            403,
            "STS is not activated in the requested region for the account that is being asked to generate credentials.",
        ),
        "SessionDurationEscalationException": (
            403,
            "The requested token duration would extend the session beyond its original expiration time.",
        ),
        "Throttling": (400, "Rate exceeded"),
        "ValidationError": (400, "The input fails to satisfy the constraints specified by an AWS service."),
    }
)
