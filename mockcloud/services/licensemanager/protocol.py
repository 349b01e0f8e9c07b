"""License Manager on the wire: AWS JSON 1.1 operations mapped onto the model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from ...core.errors import ServiceError
from ...core.pagination import BadPageToken, paginate
from ...core.protocols.aws_json import AwsJsonProtocol
from ...core.service import Exchange, operation
from ...core.validation import SchemaSet
from .errors import ERRORS
from .model import LicenseManagerModel


def _page(items: list[Any], params: dict[str, Any], scope: dict[str, Any]) -> tuple[list[Any], str | None]:
    try:
        return paginate(
            items, params.get("MaxResults"), params.get("NextToken"), scope=json.dumps(scope, sort_keys=True)
        )
    except BadPageToken:
        raise ERRORS.error("ValidationException", "Invalid NextToken.") from None


class LicenseManagerProtocol(AwsJsonProtocol):
    model: LicenseManagerModel
    target_prefix = "AWSLicenseManager"
    signing_name = "license-manager"
    iam_prefix = "license-manager"
    schemas = SchemaSet(Path(__file__).with_name("schemas"))
    # the member naming the resource an operation acts on, for IAM (the Service Authorization Reference's
    # resource types: license*, grant*, and a tagged resource); every other operation acts on "*"
    iam_resource_members: ClassVar[dict[str, str]] = {
        "CheckoutBorrowLicense": "LicenseArn",
        "CreateGrant": "LicenseArn",
        "CreateLicenseVersion": "LicenseArn",
        "CreateToken": "LicenseArn",
        "DeleteLicense": "LicenseArn",
        "GetLicense": "LicenseArn",
        "GetLicenseUsage": "LicenseArn",
        "ListLicenseVersions": "LicenseArn",
        "AcceptGrant": "GrantArn",
        "CreateGrantVersion": "GrantArn",
        "DeleteGrant": "GrantArn",
        "GetGrant": "GrantArn",
        "RejectGrant": "GrantArn",
        "ListTagsForResource": "ResourceArn",
        "TagResource": "ResourceArn",
        "UntagResource": "ResourceArn",
    }

    def iam_resources(self, exchange: Exchange) -> Sequence[str] | None:
        member = self.iam_resource_members.get(exchange.operation)
        arn = exchange.params.get(member) if member else None
        return (arn,) if isinstance(arn, str) and arn else ("*",)

    def iam_condition_keys(self, exchange: Exchange) -> dict[str, tuple[str, ...]]:
        """aws:RequestTag/* and aws:TagKeys of the operations that tag (CreateLicense, CreateGrant, TagResource)."""
        params = exchange.params
        tags = params.get("Tags")
        keys: dict[str, tuple[str, ...]] = {}
        if isinstance(tags, list):
            pairs = [t for t in tags if isinstance(t, dict) and isinstance(t.get("Key"), str)]
            keys = {f"aws:requesttag/{t['Key'].lower()}": (str(t.get("Value", "")),) for t in pairs}
            keys["aws:tagkeys"] = tuple(t["Key"] for t in pairs)
        elif isinstance(params.get("TagKeys"), list):
            keys["aws:tagkeys"] = tuple(str(k) for k in params["TagKeys"])
        return keys

    def throttling_error(self, exchange: Exchange, retry_after: float | None) -> ServiceError:
        return ERRORS.error("RateLimitExceededException")

    def internal_error(self) -> ServiceError:
        return ERRORS.error("ServerInternalException")

    @operation
    def create_license(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
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

    @operation
    def get_license(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return {"License": self.model.get_license(caller.account_id, p["LicenseArn"], p.get("Version")).describe()}

    @operation
    def list_licenses(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        found = self.model.list_licenses(caller.account_id, caller.region, p.get("LicenseArns"), p.get("Filters"))
        page, token = _page(found, p, {"a": p.get("LicenseArns"), "f": p.get("Filters")})
        return {"Licenses": [lic.describe() for lic in page], **({"NextToken": token} if token else {})}

    @operation
    def create_token(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
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

    # the refresh token authenticates GetAccessToken: AWS's own credential providers call it anonymously
    # (AnonymousCredentialsProvider in the Marketplace seller guide); a signed call is checked as any other
    @operation(unsigned=True)
    def get_access_token(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        access = self.model.get_access_token(
            account_id=caller.account_id if caller is not None else None,
            token=p["Token"],
            token_properties=p.get("TokenProperties"),
        )
        return {"AccessToken": access}

    @operation
    def list_tokens(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        found = self.model.list_tokens(
            account_id=caller.account_id, region=caller.region, token_ids=p.get("TokenIds"), filters=p.get("Filters")
        )
        page, token = _page(found, p, {"t": p.get("TokenIds"), "f": p.get("Filters")})
        return {"Tokens": [t.describe() for t in page], **({"NextToken": token} if token else {})}

    @operation
    def delete_token(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        self.model.delete_token(account_id=caller.account_id, region=caller.region, token_id=p["TokenId"])
        return {}

    # ---- consumption ---------------------------------------------------------------------
    @operation
    def checkout_license(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
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

    @operation
    def checkout_borrow_license(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return self.model.checkout_borrow_license(
            account_id=caller.account_id,
            license_arn=p["LicenseArn"],
            entitlements=p["Entitlements"],
            client_token=p["ClientToken"],
            node_id=p.get("NodeId"),
            checkout_metadata=p.get("CheckoutMetadata"),
        )

    @operation
    def extend_license_consumption(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return self.model.extend_license_consumption(
            account_id=caller.account_id, token=p["LicenseConsumptionToken"], dry_run=bool(p.get("DryRun"))
        )

    @operation
    def check_in_license(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        self.model.check_in_license(
            account_id=caller.account_id, token=p["LicenseConsumptionToken"], beneficiary=p.get("Beneficiary")
        )
        return {}

    @operation
    def get_license_usage(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return {"LicenseUsage": self.model.get_license_usage(account_id=caller.account_id, license_arn=p["LicenseArn"])}
