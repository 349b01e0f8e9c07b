"""DevPay License Service errors: the one table of code → (HTTP status, message).

The AWS Query framework's codes and statuses come from core (as SQS documented
them); the License Service's own codes are documented without a status, so
400 (Type Sender) is our choice for every one of them. Messages are the
descriptions of the DevPay Developer Guide's error table.
"""

from __future__ import annotations

from ...core.errors import ErrorTable
from ...core.protocols.aws_query import COMMON_ERRORS
from ...core.protocols.soap import SOAP_ERRORS

LS_ERRORS = ErrorTable.of_codes(
    {
        "ExpiredActivationKey": (400, "The activation key is expired. Activation keys expire one hour after creation."),
        "IncorrectActivationKey": (
            400,
            "The activation key does not correspond to the product token. Each activation key is associated with "
            "a particular customer and a particular product.",
        ),
        "InvalidActivationKey": (400, "The activation key is invalid or malformed."),
        "InvalidPersistentIdentifier": (400, "The persistent identifier (PID) is invalid or malformed."),
        "InvalidProductToken": (400, "The product token is invalid for the signer."),
        "InvalidUserToken": (400, "The user token is invalid or malformed."),
        "MissingPersistentIdentifier": (400, "The request is missing the required parameter PersistentIdentifier."),
        "MissingProductToken": (400, "The request is missing the required parameter ProductToken."),
        "MissingUserToken": (400, "The request is missing the required parameter UserToken."),
        "UserNotSubscribed": (
            400,
            "The customer's subscription to your product is pending because the customer's sign-up payment failed.",
        ),
    }
)

ERRORS = COMMON_ERRORS | SOAP_ERRORS | LS_ERRORS
