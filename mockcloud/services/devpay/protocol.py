"""The DevPay License Service on the wire: AWS Query (GET/POST, signature versions 0-2) and SOAP 1.1/1.2."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.auth.aws_query_signature import QueryAuthRules, QuerySigner
from ...core.auth.wssecurity import WsSecurityRules, WsSigner
from ...core.protocols.soap import AwsQuerySoapProtocol, SoapExchange
from ...core.request import request_host
from ...core.service import ServiceContext, operation
from .errors import ERRORS
from .model import DevpayModel

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

NAMESPACES = {
    "2008-04-28": "http://ls.amazonaws.com/doc/2008-04-28/",
    "2007-12-01": "http://ls.amazonaws.com/doc/2007-12-01/",
}
ERROR_NAMESPACE = "http://ls.amazonaws.com/doc/2007-06-05/"  # as captured from the live service
# Each action's request parameters, as the Developer Guide lists them (the Query protocol has no JSON
# schema); AdditionalTokens is a list, sent as AdditionalTokens.1, .2, ...
PARAMETERS = {
    "ActivateDesktopProduct": ("ActivationKey", "ProductToken", "TokenExpiration"),
    "ActivateHostedProduct": ("ActivationKey", "ProductToken", "TokenExpiration"),
    "GetActiveSubscriptionsByPid": ("PersistentIdentifier",),
    "VerifyProductSubscriptionByPid": ("PersistentIdentifier", "ProductCode"),
    "VerifyProductSubscriptionByTokens": ("ProductToken", "UserToken"),
    "RefreshUserToken": ("UserToken", "AdditionalTokens"),
}
HOST = "ls.amazonaws.com"


class DevpayProtocol(AwsQuerySoapProtocol):
    model: DevpayModel
    namespaces = NAMESPACES
    error_namespace = ERROR_NAMESPACE
    errors = ERRORS
    server_header = "AWSLicenseService"
    iam_prefix = "devpay"  # DevPay predates IAM: mockcloud's choice of prefix, so a role session is checked here too
    list_params = frozenset({"AdditionalTokens"})

    def __init__(self, context: ServiceContext, model: DevpayModel) -> None:
        super().__init__(context, model)
        self._configured: dict[str, Any] | None = None  # the settings the rules below were made from
        self._configure()

    def _configure(self) -> None:
        """The signature rules, codes and HTTPS rule of the service's settings (made again when they change)."""
        settings = self.model.settings
        if settings is self._configured or settings == self._configured:
            return
        bad_signature = settings["bad_signature_code"]
        unknown_key = settings["unknown_key_code"]
        self.query_auth = QueryAuthRules(
            versions=tuple(settings["signature_versions"]),
            default_version=settings["default_signature_version"],
            max_age=settings["request_max_age_seconds"],
            unknown_key_code=unknown_key,
            unknown_key_status=ERRORS[unknown_key].status,
            bad_signature_code=bad_signature,
            bad_signature_status=ERRORS[bad_signature].status,
        )
        self.ws_security = WsSecurityRules(
            timestamp_seconds=settings["soap_timestamp_seconds"],
            max_future_seconds=settings["request_max_age_seconds"],
            allow_sha1=settings["soap_allow_sha1"],
        )
        self.throttling_code = settings["throttling_code"]
        self._require_https = settings["require_https"]
        self._configured = settings

    def operation_of(self, exchange: SoapExchange) -> str:
        self._configure()  # the first step of every request: the rules are the settings' before any is used
        return super().operation_of(exchange)

    # ---- who may sign ------------------------------------------------------------------
    def secret_for(self, access_key_id: str) -> str | None:
        """Developers' AWS keys, and the key pairs ActivateDesktopProduct gave customers."""
        secret = self.model.desktop_secret(access_key_id)
        return secret if secret is not None else super().secret_for(access_key_id)

    def certificate_owner(self, certificate: Certificate) -> str | None:
        return self.model.certificate_owner(certificate)

    def authenticate(self, exchange: SoapExchange) -> Any:
        request = exchange.request
        if (
            self._require_https
            and exchange.in_process
            and request.environ.get("wsgi.url_scheme") == "http"
            and request_host(request) == HOST
        ):
            raise self.error(
                "InvalidHttpRequest",
                "Invalid HTTP request. Reason: All requests to the License Service must be made using HTTPS.",
            )
        return super().authenticate(exchange)

    @staticmethod
    def signer(caller: QuerySigner | WsSigner[str] | None) -> str:
        if isinstance(caller, WsSigner):
            return caller.identity
        return caller.access_key_id if caller is not None else ""

    # ---- the actions; each result is [(element, value), ...] in the schema's order ----------
    @operation(unsigned=True)
    def activate_desktop_product(self, x: SoapExchange) -> list[tuple[str, Any]]:
        p = x.params
        out = self.model.activate_desktop_product(
            p.get("ActivationKey"), p.get("ProductToken"), p.get("TokenExpiration")
        )
        return [
            ("UserToken", out.user_token),
            ("AWSAccessKeyId", out.access_key_id),
            ("SecretAccessKey", out.secret_access_key),
        ]

    @operation
    def activate_hosted_product(self, x: SoapExchange) -> list[tuple[str, Any]]:
        p, caller = x.params, x.caller
        out = self.model.activate_hosted_product(
            self.signer(caller), p.get("ActivationKey"), p.get("ProductToken"), p.get("TokenExpiration")
        )
        return [("UserToken", out.user_token), ("PersistentIdentifier", out.persistent_identifier)]

    @operation
    def get_active_subscriptions_by_pid(self, x: SoapExchange) -> list[tuple[str, Any]]:
        p, caller = x.params, x.caller
        codes = self.model.get_active_subscriptions_by_pid(self.signer(caller), p.get("PersistentIdentifier"))
        return [("ProductCode", code) for code in codes]

    @operation
    def verify_product_subscription_by_pid(self, x: SoapExchange) -> list[tuple[str, Any]]:
        p, caller = x.params, x.caller
        subscribed = self.model.verify_product_subscription_by_pid(
            self.signer(caller), p.get("PersistentIdentifier"), p.get("ProductCode")
        )
        return [("Subscribed", subscribed)]

    @operation(soap=False)  # "SOAP not allowed" (DG)
    def verify_product_subscription_by_tokens(self, x: SoapExchange) -> list[tuple[str, Any]]:
        p, caller = x.params, x.caller
        subscribed = self.model.verify_product_subscription_by_tokens(
            self.signer(caller), p.get("ProductToken"), p.get("UserToken")
        )
        return [("Subscribed", subscribed)]

    @operation
    def refresh_user_token(self, x: SoapExchange) -> list[tuple[str, Any]]:
        p, caller = x.params, x.caller
        token = self.model.refresh_user_token(
            self.signer(caller), p.get("UserToken"), p.get("AdditionalTokens"), via_soap=isinstance(caller, WsSigner)
        )
        return [("UserToken", token)]
