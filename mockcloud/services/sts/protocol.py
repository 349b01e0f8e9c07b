"""STS on the wire: AWS Query (form POST or GET), SigV4, XML replies and ``<ErrorResponse>`` as STS sends them.

Beside the API, the hosts of the accounts' outbound token issuers
(``<id>.tokens.sts.global.api.aws``) answer their OIDC discovery document
and JWKS, as JSON, for the verifiers of GetWebIdentityToken's tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...core.auth.sigv4 import scope_of
from ...core.errors import ServiceError
from ...core.iam.access import request_context
from ...core.protocols.aws_common import raise_for_violations
from ...core.protocols.aws_query import AwsQuerySigV4Protocol, NotAnInteger, QueryExchange, structured
from ...core.request import Reply, json_reply, request_host
from ...core.service import operation
from ...core.validation import SchemaSet
from .directory import iso
from .errors import ERRORS
from .model import Issued, StsModel
from .outbound import ISSUER_DOMAIN

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
DEFAULT_REGION = "us-east-1"  # the global endpoint's


@dataclass(slots=True, eq=False)
class StsExchange(QueryExchange):
    issuer_host: bool = False  # a GET on an outbound issuer's host, not an STS action


class StsProtocol(AwsQuerySigV4Protocol):
    model: StsModel
    exchange_type = StsExchange
    namespaces: ClassVar[dict[str, str]] = {"2011-06-15": NAMESPACE}
    signing_name = "sts"
    iam_prefix = "sts"
    schemas = SchemaSet(Path(__file__).with_name("schemas"))
    errors = ERRORS
    throttling_code = "Throttling"

    # ---- moto beside it ------------------------------------------------------------------------
    def defers(self, exchange: QueryExchange) -> bool:
        """With moto beyond: what only this mock knows is this STS's: web-identity tokens of a trusted issuer,
        SAML responses for its SAML providers, calls signed with keys it issued or bound to its users, and the
        issuers' documents; every other STS request is moto's."""
        operation = exchange.operation
        if isinstance(exchange, StsExchange) and exchange.issuer_host:
            return False
        query = self.query(exchange)
        if operation == "AssumeRoleWithWebIdentity":
            return self.context.issuers.named_by(query.first("WebIdentityToken") or "") is None
        if operation == "AssumeRoleWithSAML":
            return self.model.saml_provider(query.first("PrincipalArn") or "") is None
        if operation not in self.operations:
            return True
        scope = scope_of(exchange.request.environ.get("HTTP_AUTHORIZATION", ""))
        key_id = scope[0] if scope else (query.first("X-Amz-Credential") or "").partition("/")[0]
        key = self.context.credentials.aws(key_id) if key_id else None
        return key is None or (key.session_token is None and key.arn is None)

    # ---- the issuers' hosts -----------------------------------------------------------------------
    def operation_of(self, exchange: QueryExchange) -> str:
        if isinstance(exchange, StsExchange) and request_host(exchange.request).endswith("." + ISSUER_DOMAIN):
            exchange.issuer_host = True
            return ""
        return super().operation_of(exchange)

    def authenticate(self, exchange: QueryExchange) -> Any:
        if isinstance(exchange, StsExchange) and exchange.issuer_host:
            return None
        return super().authenticate(exchange)

    def invoke(self, exchange: QueryExchange) -> Any:
        if isinstance(exchange, StsExchange) and exchange.issuer_host:
            request = exchange.request
            document = None
            if request.method in ("GET", "HEAD"):
                document = self.model.issuer_document(request_host(request), request.path)
            if document is None:
                raise ServiceError("NotFound", "Not Found", 404)
            return document
        return super().invoke(exchange)

    def render(self, exchange: QueryExchange, result: Any) -> Reply:
        if isinstance(exchange, StsExchange) and exchange.issuer_host:
            return json_reply(200, result, "application/json", [("Cache-Control", "max-age=3600")])
        return super().render(exchange, result)

    def render_error(self, exchange: QueryExchange, error: ServiceError) -> Reply:
        if isinstance(exchange, StsExchange) and exchange.issuer_host:
            return json_reply(error.status, {"message": error.message}, "application/json", [])
        return super().render_error(exchange, error)

    # ---- the request -----------------------------------------------------------------------------
    def parse(self, exchange: QueryExchange) -> dict[str, Any]:
        if isinstance(exchange, StsExchange) and exchange.issuer_host:
            return {}
        flat = super().parse(exchange)
        try:
            return structured(flat, self.schemas.schema(exchange.operation))
        except NotAnInteger as bad:
            raise ERRORS.error(
                "ValidationError",
                f"1 validation error detected: Value '{bad.value}' at '{bad.member}' "
                "failed to satisfy constraint: Member must be an integer",
            ) from None

    def validate(self, exchange: QueryExchange) -> None:
        if isinstance(exchange, StsExchange) and exchange.issuer_host:
            return
        raise_for_violations(
            self.schemas.violations(exchange.operation, exchange.params),
            validation_code="ValidationError",
            serialization_code="ValidationError",
            common=False,
        )

    def internal_error(self) -> ServiceError:
        return self.error("InternalFailure")

    # ---- IAM -------------------------------------------------------------------------------------
    def authorize(self, exchange: Any) -> None:
        caller = exchange.caller
        key_id = getattr(caller, "access_key_id", None)
        if key_id and not getattr(exchange, "issuer_host", False):
            self.model.refuse_session_call(key_id, exchange.operation)  # STS's own rule, then IAM's
        super().authorize(exchange)

    def iam_resources(self, exchange: Any) -> Sequence[str] | None:
        operation, params = exchange.operation, exchange.params
        # GetCallerIdentity and GetSessionToken need no permission ("You cannot use policies to control
        # authentication operations"); AssumeRole is judged with the role's trust policy, in the model
        if operation in ("GetCallerIdentity", "GetSessionToken", "AssumeRole"):
            return None
        if operation == "GetFederationToken":
            return (f"arn:aws:sts::{exchange.caller.account_id}:federated-user/{params['Name']}",)
        if operation == "AssumeRoot":
            target = params["TargetPrincipal"]
            return (target if target.startswith("arn:") else f"arn:aws:iam::{target}:root",)
        return ("*",)

    def iam_condition_keys(self, exchange: Any) -> dict[str, tuple[str, ...]]:
        tags = exchange.params.get("Tags")
        if not tags:
            return {}
        keys: dict[str, tuple[str, ...]] = {f"aws:requesttag/{t['Key'].lower()}": (t["Value"],) for t in tags}
        keys["aws:tagkeys"] = tuple(t["Key"] for t in tags)
        return keys

    def _region(self, exchange: QueryExchange) -> str:
        region = getattr(exchange.caller, "region", None)
        if region:
            return str(region)
        labels = request_host(exchange.request).split(".")
        if len(labels) >= 4 and labels[0] in ("sts", "sts-fips") and labels[-2:] == ["amazonaws", "com"]:
            return labels[1]
        return DEFAULT_REGION

    def _context(self, exchange: QueryExchange) -> dict[str, tuple[str, ...]]:
        environ = exchange.request.environ
        return request_context(
            self.context.clock.time(),
            region=self._region(exchange),
            secure=environ.get("wsgi.url_scheme") == "https",
            source_ip=None if exchange.in_process else environ.get("REMOTE_ADDR"),
        )

    def _federated(self, x: QueryExchange) -> dict[str, Any]:
        """What AssumeRoleWithWebIdentity and AssumeRoleWithSAML both take from their request."""
        p = x.params
        return {
            "role_arn": p["RoleArn"],
            "duration": p.get("DurationSeconds"),
            "region": self._region(x),
            "context": self._context(x),
            "policy": p.get("Policy"),
            "policy_arns": p.get("PolicyArns"),
        }

    # ---- the answers; each result is [(element, value), ...] in the order STS sends them -------------
    @staticmethod
    def _credentials(issued: Issued) -> tuple[str, list[tuple[str, Any]]]:
        key = issued.key
        return (
            "Credentials",
            [
                ("SessionToken", key.session_token),
                ("SecretAccessKey", key.secret_access_key),
                ("Expiration", iso(issued.session.expires)),
                ("AccessKeyId", key.access_key_id),
            ],
        )

    @staticmethod
    def _assumed_role_user(issued: Issued) -> tuple[str, list[tuple[str, Any]]]:
        session = issued.session
        return ("AssumedRoleUser", [("Arn", session.arn), ("AssumedRoleId", session.user_id)])

    # ---- the actions ---------------------------------------------------------------------------------
    @operation
    def assume_role(self, x: QueryExchange) -> list[tuple[str, Any]]:
        p = x.params
        issued = self.model.assume_role(
            access_key_id=x.caller.access_key_id,
            role_arn=p["RoleArn"],
            session_name=p["RoleSessionName"],
            region=self._region(x),
            context=self._context(x),
            duration=p.get("DurationSeconds"),
            policy=p.get("Policy"),
            policy_arns=p.get("PolicyArns"),
            tags=p.get("Tags"),
            transitive_tag_keys=p.get("TransitiveTagKeys"),
            external_id=p.get("ExternalId"),
            serial_number=p.get("SerialNumber"),
            token_code=p.get("TokenCode"),
            source_identity=p.get("SourceIdentity"),
        )
        return [
            ("SourceIdentity", issued.session.source_identity),
            self._assumed_role_user(issued),
            self._credentials(issued),
            ("PackedPolicySize", issued.packed_size),
        ]

    # "does not require ... AWS security credentials"
    @operation(unsigned=True)
    def assume_role_with_web_identity(self, x: QueryExchange) -> list[tuple[str, Any]]:
        p = x.params
        issued = self.model.assume_role_with_web_identity(
            session_name=p["RoleSessionName"], token=p["WebIdentityToken"], **self._federated(x)
        )
        session = issued.session
        return [
            ("SubjectFromWebIdentityToken", session.subject),
            ("Audience", session.audience),
            self._assumed_role_user(issued),
            self._credentials(issued),
            ("PackedPolicySize", issued.packed_size),
            ("SourceIdentity", session.source_identity),
            ("Provider", session.provider),
        ]

    @operation("AssumeRoleWithSAML", unsigned=True)
    def assume_role_with_saml(self, x: QueryExchange) -> list[tuple[str, Any]]:
        p = x.params
        issued = self.model.assume_role_with_saml(
            principal_arn=p["PrincipalArn"], assertion=p["SAMLAssertion"], **self._federated(x)
        )
        extra = issued.extra
        return [
            ("Issuer", extra["Issuer"]),
            self._assumed_role_user(issued),
            self._credentials(issued),
            ("Audience", extra["Audience"]),
            ("SubjectType", extra["SubjectType"]),
            ("PackedPolicySize", issued.packed_size),
            ("NameQualifier", extra["NameQualifier"]),
            ("SourceIdentity", issued.session.source_identity),
            ("Subject", extra["Subject"]),
        ]

    @operation
    def assume_root(self, x: QueryExchange) -> list[tuple[str, Any]]:
        p = x.params
        issued = self.model.assume_root(
            access_key_id=x.caller.access_key_id,
            target_principal=p["TargetPrincipal"],
            task_policy_arn=p["TaskPolicyArn"].get("arn", ""),
            duration=p.get("DurationSeconds"),
            region=self._region(x),
        )
        return [self._credentials(issued), ("SourceIdentity", issued.session.source_identity)]

    @operation
    def get_session_token(self, x: QueryExchange) -> list[tuple[str, Any]]:
        p = x.params
        issued = self.model.get_session_token(
            access_key_id=x.caller.access_key_id,
            duration=p.get("DurationSeconds"),
            serial_number=p.get("SerialNumber"),
            token_code=p.get("TokenCode"),
            region=self._region(x),
        )
        return [self._credentials(issued)]

    @operation
    def get_federation_token(self, x: QueryExchange) -> list[tuple[str, Any]]:
        p = x.params
        issued = self.model.get_federation_token(
            access_key_id=x.caller.access_key_id,
            name=p["Name"],
            duration=p.get("DurationSeconds"),
            policy=p.get("Policy"),
            policy_arns=p.get("PolicyArns"),
            tags=p.get("Tags"),
            region=self._region(x),
        )
        session = issued.session
        return [
            self._credentials(issued),
            ("FederatedUser", [("Arn", session.arn), ("FederatedUserId", session.user_id)]),
            ("PackedPolicySize", issued.packed_size),
        ]

    @operation
    def get_delegated_access_token(self, x: QueryExchange) -> list[tuple[str, Any]]:
        issued = self.model.get_delegated_access_token(
            access_key_id=x.caller.access_key_id, trade_in_token=x.params["TradeInToken"]
        )
        return [self._credentials(issued), ("AssumedPrincipal", issued.session.arn)]

    @operation
    def get_web_identity_token(self, x: QueryExchange) -> list[tuple[str, Any]]:
        p = x.params
        token, expires = self.model.get_web_identity_token(
            access_key_id=x.caller.access_key_id,
            audience=p["Audience"],
            algorithm=p["SigningAlgorithm"],
            duration=p.get("DurationSeconds"),
            tags=p.get("Tags"),
            region=self._region(x),
        )
        return [("WebIdentityToken", token), ("Expiration", iso(expires))]

    @operation
    def get_access_key_info(self, x: QueryExchange) -> list[tuple[str, Any]]:
        return [("Account", self.model.access_key_account(x.params["AccessKeyId"]))]

    @operation
    def decode_authorization_message(self, x: QueryExchange) -> list[tuple[str, Any]]:
        decoded = self.model.decode_authorization_message(
            access_key_id=x.caller.access_key_id, encoded=x.params["EncodedMessage"]
        )
        return [("DecodedMessage", decoded)]

    @operation
    def get_caller_identity(self, x: QueryExchange) -> list[tuple[str, Any]]:
        user_id, account, arn = self.model.caller_identity(x.caller.access_key_id)
        return [("Arn", arn), ("UserId", user_id), ("Account", account)]
