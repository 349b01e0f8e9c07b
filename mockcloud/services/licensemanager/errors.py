"""License Manager's errors: one table of every code its operations answer, with status and description.

AWS JSON 1.1 answers each with 400 unless the model says otherwise (none of
these does, except the internal failure); the descriptions are the API
reference's. Operations raise ``ERRORS.error(code, message)`` with the
message that says what was wrong in that request.
"""

from __future__ import annotations

from ...core.errors import ErrorTable

ERRORS = ErrorTable.of_codes(
    {
        "AccessDeniedException": (400, "Access to resource denied."),
        "AuthorizationException": (
            400,
            "The Amazon Web Services user account does not have permission to perform the action.",
        ),
        "ConflictException": (400, "There was a conflict processing the request. Try your request again."),
        "EntitlementNotAllowedException": (400, "The entitlement is not allowed."),
        "InvalidParameterValueException": (400, "One or more parameter values are not valid."),
        "NoEntitlementsAllowedException": (400, "No Entitlements Allowed"),
        "RateLimitExceededException": (400, "Rate exceeded"),
        "RedirectException": (400, "This is not the correct Region for the resource. Try again."),
        "ResourceLimitExceededException": (400, "Your resource limits have been exceeded."),
        "ResourceNotFoundException": (400, "The resource cannot be found."),
        "ServerInternalException": (500, "The server experienced an internal error. Try again."),
        "UnsupportedDigitalSignatureMethodException": (
            400,
            "The digital signature method is unsupported. Try your request again.",
        ),
        "ValidationException": (400, "The provided input is not valid. Try your request again."),
    }
)
