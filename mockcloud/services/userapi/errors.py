"""The User API's errors: RFC 9457 problem details, each with a machine-readable ``error`` code.

Codes are RFC 6750's for bearer tokens (``invalid_token``, ``invalid_request``),
OAuth's ``server_error``, and otherwise the status's reason phrase in snake
case; messages here are the defaults, most raises say more.
"""

from __future__ import annotations

from ...core.errors import ErrorTable, ServiceError

ERRORS = ErrorTable.of_codes(
    {
        "api_version_unspecified": (400, "The Version header is required."),
        "invalid_credentials": (401, "The username or password is incorrect."),
        "invalid_request": (400, "The request is not valid."),
        "invalid_token": (401, "The access token is not valid."),
        "method_not_allowed": (405, "The method is not allowed for this resource."),
        "not_found": (404, "No resource at this path."),
        "server_error": (500, "An unexpected error occurred."),
        "too_many_requests": (429, "Too many requests."),
        "unsupported_api_version": (400, "The API version is not supported."),
        "unsupported_media_type": (415, "The Content-Type is not supported; use application/json."),
    }
)


def invalid_token(reason: str, description: str) -> ServiceError:
    """401 ``invalid_token`` (RFC 6750 §3.1); ``reason`` says which rule refused the token."""
    return ERRORS.error("invalid_token", description, fields={"reason": reason})
