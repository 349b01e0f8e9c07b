"""STS on the wire: AWS Query (form POST or GET), SigV4, XML replies and ``<ErrorResponse>`` as STS sends them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ...core.auth.sigv4 import scope_of
from ...core.protocols.aws_common import raise_for_violations
from ...core.protocols.aws_query import AwsQuerySigV4Protocol, QueryExchange
from ...core.service import operation
from ...core.validation import SchemaSet
from .errors import ERRORS
from .model import StsModel, iso

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
_INTEGERS = ("DurationSeconds", "MinimumSessionTokenSize")


class StsProtocol(AwsQuerySigV4Protocol):
    model: StsModel
    namespaces: ClassVar[dict[str, str]] = {"2011-06-15": NAMESPACE}
    signing_name = "sts"
    schemas = SchemaSet(Path(__file__).with_name("schemas"))
    errors = ERRORS
    throttling_code = "Throttling"

    def defers(self, exchange: QueryExchange) -> bool:
        """With moto beyond: only web-identity tokens of a trusted issuer, and requests signed with
        credentials this mock issued, are this STS's; every other STS request is moto's."""
        operation = exchange.operation
        if operation == "AssumeRoleWithWebIdentity":
            return self.context.issuers.named_by(self.query(exchange).first("WebIdentityToken") or "") is None
        if operation not in self.operations:
            return True
        scope = scope_of(exchange.request.environ.get("HTTP_AUTHORIZATION", ""))
        key_id = scope[0] if scope else (self.query(exchange).first("X-Amz-Credential") or "").partition("/")[0]
        key = self.context.credentials.aws(key_id) if key_id else None
        return key is None or key.session_token is None

    def parse(self, exchange: QueryExchange) -> dict[str, Any]:
        params = super().parse(exchange)
        for name in _INTEGERS:
            value = params.get(name)
            if value is not None:
                try:
                    params[name] = int(value)
                except ValueError:
                    member = name[:1].lower() + name[1:]
                    raise ERRORS.error(
                        "ValidationError",
                        f"1 validation error detected: Value '{value}' at '{member}' "
                        "failed to satisfy constraint: Member must be an integer",
                    ) from None
        policy_arns = [
            v for k, v in sorted(params.items()) if k.startswith("PolicyArns.member.") and k.endswith(".arn")
        ]
        if policy_arns:
            params = {k: v for k, v in params.items() if not k.startswith("PolicyArns.")}
            params["PolicyArns"] = [{"arn": arn} for arn in policy_arns]
        return params

    def validate(self, exchange: QueryExchange) -> None:
        operation, params = exchange.operation, exchange.params
        known = self.schemas.schema(operation).get("properties", {})
        checked = {
            k: v for k, v in params.items() if k in known
        }  # Action, Version and the signature's own are not members
        raise_for_violations(
            self.schemas.violations(operation, checked),
            validation_code="ValidationError",
            serialization_code="ValidationError",
            common=False,
        )
        if operation == "AssumeRoleWithWebIdentity" and "Policy" in params:
            import json

            try:
                json.loads(params["Policy"])
            except ValueError:
                raise ERRORS.error("MalformedPolicyDocument", "The policy is not in the valid JSON format.") from None

    # ---- the actions; each result is [(element, value), ...] in the order STS sends them -------
    # "does not require ... AWS security credentials"
    @operation(unsigned=True)
    def assume_role_with_web_identity(self, x: QueryExchange) -> list[tuple[str, Any]]:
        p = x.params
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

    @operation
    def get_caller_identity(self, x: QueryExchange) -> list[tuple[str, Any]]:
        user_id, account, arn = self.model.caller_identity(x.caller.access_key_id)
        return [("Arn", arn), ("UserId", user_id), ("Account", account)]
