"""Amplify UI Builder's errors, and Figma's beside them (both answer for the one model).

Amplify UI Builder answers every bad input with ``InvalidParameterException``
("An invalid or out-of-range value was supplied for the input parameter"); the
other codes and statuses are the model's (``ResourceNotFoundException`` 404,
``ResourceConflictException`` 409, ``ServiceQuotaExceededException`` 402,
``UnauthorizedException`` 401, ``ThrottlingException`` 429); their messages here are ours.
Figma's errors are ``{"status": <code>, "err": <text>}`` with that status: its
code names here are ours (Figma sends none), its texts are Figma's.
"""

from __future__ import annotations

from ...core.errors import ErrorTable

ERRORS = ErrorTable.of_codes(
    {
        "InvalidParameterException": (400, "An invalid or out-of-range value was supplied for the input parameter."),
        "ResourceNotFoundException": (404, "The requested resource does not exist."),
        "ResourceConflictException": (409, "The request conflicts with an existing resource."),
        "ServiceQuotaExceededException": (402, "You exceeded your service quota."),
        "UnauthorizedException": (401, "You don't have permission to perform this operation."),
        # Figma's side
        "Forbidden": (403, "Invalid token"),
        "NotFound": (404, "Not found"),
        "RateLimited": (429, "Rate limit exceeded"),
    }
)
