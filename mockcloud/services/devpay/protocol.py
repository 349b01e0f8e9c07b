"""The DevPay License Service on the wire: AWS Query (GET/POST, signature versions 0-2) and SOAP 1.1/1.2."""
from __future__ import annotations

from typing import Any

from ...core.auth.aws_query_signature import QueryAuthRules, QuerySigner
from ...core.auth.wssecurity import WsSecurityRules, WsSigner
from ...core.protocols.soap import AwsQuerySoapProtocol
from ...core.request import Request, request_host
from ...core.service import ServiceContext
from .errors import ERRORS
from .model import DevpayModel

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
    namespaces = NAMESPACES
    error_namespace = ERROR_NAMESPACE
    errors = ERRORS
    server_header = "AWSLicenseService"
    operations = {
        "ActivateDesktopProduct": "activate_desktop_product",
        "ActivateHostedProduct": "activate_hosted_product",
        "GetActiveSubscriptionsByPid": "get_active_subscriptions_by_pid",
        "VerifyProductSubscriptionByPid": "verify_product_subscription_by_pid",
        "VerifyProductSubscriptionByTokens": "verify_product_subscription_by_tokens",
        "RefreshUserToken": "refresh_user_token",
    }
    unsigned_operations = frozenset({"ActivateDesktopProduct"})
    soap_refused = frozenset({"VerifyProductSubscriptionByTokens"})  # "SOAP not allowed" (DG)
    list_params = frozenset({"AdditionalTokens"})

    def __init__(self, context: ServiceContext, model: DevpayModel) -> None:
        super().__init__(context, model)
        settings = model.settings
        bad_signature = settings["bad_signature_code"]
        unknown_key = settings["unknown_key_code"]
        self.query_auth = QueryAuthRules(
            versions=tuple(settings["signature_versions"]),
            default_version=settings["default_signature_version"],
            max_age=settings["request_max_age_seconds"],
            unknown_key_code=unknown_key,
            unknown_key_status=ERRORS[unknown_key][0],
            bad_signature_code=bad_signature,
            bad_signature_status=ERRORS[bad_signature][0],
        )
        self.ws_security = WsSecurityRules(
            timestamp_seconds=settings["soap_timestamp_seconds"],
            max_future_seconds=settings["request_max_age_seconds"],
            allow_sha1=settings["soap_allow_sha1"],
        )
        self.throttling_code = settings["throttling_code"]
        self._require_https = settings["require_https"]

    # ---- who may sign ------------------------------------------------------------------
    def secret_for(self, access_key_id: str) -> str | None:
        """Developers' AWS keys, and the key pairs ActivateDesktopProduct gave customers."""
        secret = self.model.desktop_secret(access_key_id)
        return secret if secret is not None else super().secret_for(access_key_id)

    def certificate_owner(self, certificate) -> str | None:
        return self.model.certificate_owner(certificate)

    def authenticate(self, request: Request, operation: str) -> Any:
        environ = request.environ
        if (
            self._require_https
            and environ.get("mockcloud.in_process")
            and environ.get("wsgi.url_scheme") == "http"
            and request_host(request) == HOST
        ):
            raise self.error(
                "InvalidHttpRequest",
                "Invalid HTTP request. Reason: All requests to the License Service must be made using HTTPS.",
            )
        return super().authenticate(request, operation)

    @staticmethod
    def signer(caller: QuerySigner | WsSigner | None) -> str:
        if isinstance(caller, WsSigner):
            return caller.identity
        return caller.access_key_id if caller is not None else ""

    # ---- the actions; each result is [(element, value), ...] in the schema's order ----------
    def activate_desktop_product(self, p: dict, caller) -> list:
        out = self.model.activate_desktop_product(p.get("ActivationKey"), p.get("ProductToken"), p.get("TokenExpiration"))
        return [("UserToken", out.user_token), ("AWSAccessKeyId", out.access_key_id), ("SecretAccessKey", out.secret_access_key)]

    def activate_hosted_product(self, p: dict, caller) -> list:
        out = self.model.activate_hosted_product(
            self.signer(caller), p.get("ActivationKey"), p.get("ProductToken"), p.get("TokenExpiration")
        )
        return [("UserToken", out.user_token), ("PersistentIdentifier", out.persistent_identifier)]

    def get_active_subscriptions_by_pid(self, p: dict, caller) -> list:
        codes = self.model.get_active_subscriptions_by_pid(self.signer(caller), p.get("PersistentIdentifier"))
        return [("ProductCode", code) for code in codes]

    def verify_product_subscription_by_pid(self, p: dict, caller) -> list:
        subscribed = self.model.verify_product_subscription_by_pid(
            self.signer(caller), p.get("PersistentIdentifier"), p.get("ProductCode")
        )
        return [("Subscribed", subscribed)]

    def verify_product_subscription_by_tokens(self, p: dict, caller) -> list:
        subscribed = self.model.verify_product_subscription_by_tokens(self.signer(caller), p.get("ProductToken"), p.get("UserToken"))
        return [("Subscribed", subscribed)]

    def refresh_user_token(self, p: dict, caller) -> list:
        token = self.model.refresh_user_token(
            self.signer(caller), p.get("UserToken"), p.get("AdditionalTokens"), via_soap=isinstance(caller, WsSigner)
        )
        return [("UserToken", token)]
