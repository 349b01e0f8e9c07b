"""Amplify UI Builder's errors, and Figma's beside them (both answer for the one model).

Amplify UI Builder answers every bad input with ``InvalidParameterException``
("An invalid or out-of-range value was supplied for the input parameter").
Figma's errors are ``{"status": <code>, "err": <text>}`` with that status: its
code names here are ours (Figma sends none), its texts are Figma's.
"""

from __future__ import annotations

from ...core.errors import ErrorTable

ERRORS = ErrorTable.of_codes(
    {
        "InvalidParameterException": (400, "An invalid or out-of-range value was supplied for the input parameter."),
        # Figma's side
        "Forbidden": (403, "Invalid token"),
        "NotFound": (404, "Not found"),
        "RateLimited": (429, "Rate limit exceeded"),
    }
)
