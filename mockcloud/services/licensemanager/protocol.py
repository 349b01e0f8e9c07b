"""License Manager on the wire: AWS JSON 1.1 operations mapped onto the model."""
from __future__ import annotations

import json
from pathlib import Path

from ...core.errors import ServiceError
from ...core.pagination import BadPageToken, paginate
from ...core.protocols.aws_json import AwsJsonProtocol
from ...core.validation import SchemaSet

_SCHEMAS = SchemaSet(Path(__file__).with_name("schemas"))


def _page(items, params: dict, scope: dict):
    try:
        return paginate(items, params.get("MaxResults"), params.get("NextToken"), scope=json.dumps(scope, sort_keys=True))
    except BadPageToken:
        raise ServiceError("ValidationException", "Invalid NextToken.", 400) from None


class LicenseManagerProtocol(AwsJsonProtocol):
    target_prefix = "AWSLicenseManager"
    signing_name = "license-manager"
    schemas = _SCHEMAS
    throttling_code = "RateLimitExceededException"
    throttling_message = "Rate exceeded"
    operations = {
        "CreateLicense": "create_license",
        "GetLicense": "get_license",
        "ListLicenses": "list_licenses",
        "CreateToken": "create_token",
        "GetAccessToken": "get_access_token",
        "ListTokens": "list_tokens",
        "DeleteToken": "delete_token",
        "CheckoutLicense": "checkout_license",
        "CheckoutBorrowLicense": "checkout_borrow_license",
        "ExtendLicenseConsumption": "extend_license_consumption",
        "CheckInLicense": "check_in_license",
        "GetLicenseUsage": "get_license_usage",
    }
    # the refresh token authenticates GetAccessToken: AWS's own credential providers call it anonymously
    # (AnonymousCredentialsProvider in the Marketplace seller guide); a signed call is checked as any other
    unsigned_operations = frozenset({"GetAccessToken"})

    def authenticate(self, request, operation: str):
        if operation in self.unsigned_operations and not request.environ.get("HTTP_AUTHORIZATION"):
            return None
        return super().authenticate(request, operation)

    def internal_error(self) -> ServiceError:
        return ServiceError("ServerInternalException", "The server experienced an internal error. Try again.", 500)

    def create_license(self, p: dict, caller) -> dict:
        lic = self.model.create_license(
            account_id=caller.account_id,
            home_region=p["HomeRegion"],
            license_name=p["LicenseName"],
            product_name=p["ProductName"],
            product_sku=p["ProductSKU"],
            issuer=p["Issuer"],
            validity=p["Validity"],
            entitlements=p["Entitlements"],
            beneficiary=p["Beneficiary"],
            consumption_configuration=p["ConsumptionConfiguration"],
            license_metadata=p.get("LicenseMetadata"),
            client_token=p["ClientToken"],
        )
        return {"LicenseArn": lic.arn, "Status": lic.status, "Version": lic.version}

    def get_license(self, p: dict, caller) -> dict:
        return {"License": self.model.get_license(caller.account_id, p["LicenseArn"], p.get("Version")).describe()}

    def list_licenses(self, p: dict, caller) -> dict:
        found = self.model.list_licenses(caller.account_id, caller.region, p.get("LicenseArns"), p.get("Filters"))
        page, token = _page(found, p, {"a": p.get("LicenseArns"), "f": p.get("Filters")})
        return {"Licenses": [l.describe() for l in page], **({"NextToken": token} if token else {})}

    def create_token(self, p: dict, caller) -> dict:
        token = self.model.create_token(
            account_id=caller.account_id,
            region=caller.region,
            license_arn=p["LicenseArn"],
            client_token=p["ClientToken"],
            role_arns=p.get("RoleArns"),
            expiration_in_days=p.get("ExpirationInDays"),
            token_properties=p.get("TokenProperties"),
        )
        return {"TokenId": token.token_id, "TokenType": "REFRESH_TOKEN", "Token": token.jwt}

    def get_access_token(self, p: dict, caller) -> dict:
        access = self.model.get_access_token(
            account_id=caller.account_id if caller is not None else None, token=p["Token"], token_properties=p.get("TokenProperties")
        )
        return {"AccessToken": access}

    def list_tokens(self, p: dict, caller) -> dict:
        found = self.model.list_tokens(
            account_id=caller.account_id, region=caller.region, token_ids=p.get("TokenIds"), filters=p.get("Filters")
        )
        page, token = _page(found, p, {"t": p.get("TokenIds"), "f": p.get("Filters")})
        return {"Tokens": [t.describe() for t in page], **({"NextToken": token} if token else {})}

    def delete_token(self, p: dict, caller) -> dict:
        self.model.delete_token(account_id=caller.account_id, region=caller.region, token_id=p["TokenId"])
        return {}

    # ---- consumption ---------------------------------------------------------------------
    def checkout_license(self, p: dict, caller) -> dict:
        return self.model.checkout_license(
            account_id=caller.account_id,
            product_sku=p["ProductSKU"],
            checkout_type=p["CheckoutType"],
            key_fingerprint=p["KeyFingerprint"],
            entitlements=p["Entitlements"],
            client_token=p["ClientToken"],
            beneficiary=p.get("Beneficiary"),
            node_id=p.get("NodeId"),
        )

    def checkout_borrow_license(self, p: dict, caller) -> dict:
        return self.model.checkout_borrow_license(
            account_id=caller.account_id,
            license_arn=p["LicenseArn"],
            entitlements=p["Entitlements"],
            client_token=p["ClientToken"],
            node_id=p.get("NodeId"),
            checkout_metadata=p.get("CheckoutMetadata"),
        )

    def extend_license_consumption(self, p: dict, caller) -> dict:
        return self.model.extend_license_consumption(
            account_id=caller.account_id, token=p["LicenseConsumptionToken"], dry_run=bool(p.get("DryRun"))
        )

    def check_in_license(self, p: dict, caller) -> dict:
        self.model.check_in_license(account_id=caller.account_id, token=p["LicenseConsumptionToken"], beneficiary=p.get("Beneficiary"))
        return {}

    def get_license_usage(self, p: dict, caller) -> dict:
        return {"LicenseUsage": self.model.get_license_usage(account_id=caller.account_id, license_arn=p["LicenseArn"])}
