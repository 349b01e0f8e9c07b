"""STS on the wire: AWS Query (form POST or GET), SigV4, XML replies and ``<ErrorResponse>`` as STS sends them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ...core.auth.sigv4 import scope_of
from ...core.errors import ServiceError
from ...core.protocols.aws_common import raise_for_violations
from ...core.protocols.aws_query import COMMON_ERRORS, AwsQuerySigV4Protocol
from ...core.validation import SchemaSet
from .model import iso

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
_SCHEMAS = SchemaSet(Path(__file__).with_name("schemas"))
_INTEGERS = ("DurationSeconds", "MinimumSessionTokenSize")

ERRORS: dict[str, tuple[int, str]] = {
    **COMMON_ERRORS,
    "AccessDenied": (403, "Access denied"),
    "ExpiredTokenException": (400, "The web identity token that was passed is expired or is not valid."),
    "IDPRejectedClaim": (403, "The identity provider (IdP) reported that authentication failed."),
    "InvalidIdentityToken": (400, "The web identity token that was passed could not be validated by Amazon Web Services."),
    "MalformedPolicyDocument": (400, "The request was rejected because the policy document was malformed."),
    "ValidationError": (400, "The input fails to satisfy the constraints specified by an AWS service."),
}


class StsProtocol(AwsQuerySigV4Protocol):
    namespaces = {"2011-06-15": NAMESPACE}
    signing_name = "sts"
    errors = ERRORS
    throttling_code = "Throttling"
    operations = {
        "AssumeRoleWithWebIdentity": "assume_role_with_web_identity",
        "GetCallerIdentity": "get_caller_identity",
    }
    unsigned_operations = frozenset({"AssumeRoleWithWebIdentity"})  # "does not require ... AWS security credentials"

    def defers(self, request, operation: str) -> bool:
        """With moto beyond: only web-identity tokens of a trusted issuer, and requests signed with
        credentials this mock issued, are this STS's; every other STS request is moto's."""
        if operation == "AssumeRoleWithWebIdentity":
            return self.context.issuers.named_by(self.query(request).first("WebIdentityToken") or "") is None
        if operation not in self.operations:
            return True
        scope = scope_of(request.environ.get("HTTP_AUTHORIZATION", ""))
        key_id = scope[0] if scope else (self.query(request).first("X-Amz-Credential") or "").partition("/")[0]
        key = self.context.credentials.aws(key_id) if key_id else None
        return key is None or key.session_token is None

    def throttling_error(self, operation: str, retry_after: float | None) -> ServiceError:
        return ServiceError("Throttling", "Rate exceeded", 400)

    def parse(self, request, operation: str) -> dict[str, Any]:
        params = super().parse(request, operation)
        for name in _INTEGERS:
            value = params.get(name)
            if value is not None:
                try:
                    params[name] = int(value)
                except ValueError:
                    member = name[:1].lower() + name[1:]
                    raise ServiceError(
                        "ValidationError",
                        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must be an integer",
                        400,
                    ) from None
        policy_arns = [v for k, v in sorted(params.items()) if k.startswith("PolicyArns.member.") and k.endswith(".arn")]
        if policy_arns:
            params = {k: v for k, v in params.items() if not k.startswith("PolicyArns.")}
            params["PolicyArns"] = [{"arn": arn} for arn in policy_arns]
        return params

    def validate(self, operation: str, params: Any) -> None:
        known = _SCHEMAS.schema(operation).get("properties", {})
        checked = {k: v for k, v in params.items() if k in known}  # Action, Version and the signature's own are not members
        raise_for_violations(_SCHEMAS.violations(operation, checked), validation_code="ValidationError", serialization_code="ValidationError", common=False)
        if operation == "AssumeRoleWithWebIdentity" and "Policy" in params:
            import json

            try:
                json.loads(params["Policy"])
            except ValueError:
                raise ServiceError("MalformedPolicyDocument", "The policy is not in the valid JSON format.", 400) from None

    # ---- the actions; each result is [(element, value), ...] in the order STS sends them -------
    def assume_role_with_web_identity(self, p: dict, caller) -> list:
        session = self.model.assume_role_with_web_identity(
            role_arn=p["RoleArn"],
            session_name=p["RoleSessionName"],
            token=p["WebIdentityToken"],
            duration=p.get("DurationSeconds"),
        )
        key = session.key
        return [
            ("SubjectFromWebIdentityToken", session.subject),
            ("Audience", session.audience),
            ("AssumedRoleUser", [("Arn", session.arn), ("AssumedRoleId", session.assumed_role_id)]),
            (
                "Credentials",
                [
                    ("SessionToken", key.session_token),
                    ("SecretAccessKey", key.secret_access_key),
                    ("Expiration", iso(session.expires)),
                    ("AccessKeyId", key.access_key_id),
                ],
            ),
            ("Provider", session.provider),
        ]

    def get_caller_identity(self, p: dict, caller) -> list:
        user_id, account, arn = self.model.caller_identity(caller.access_key_id)
        return [("Arn", arn), ("UserId", user_id), ("Account", account)]
