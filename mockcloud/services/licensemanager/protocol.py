"""License Manager on the wire: AWS JSON 1.1 operations mapped onto the model.

Every call is the caller's account's (``x.caller.account_id``, from its keys
or role session) in the Region its signature names (``x.caller.region``).
"""

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


def _listed(member: str, items: list[Any], params: dict[str, Any], *scope_keys: str) -> dict[str, Any]:
    """One page of ``items`` as ``member``, with the NextToken of the next (bound to the query's other members)."""
    page, token = _page(items, params, {key: params.get(key) for key in scope_keys})
    return {member: page, **({"NextToken": token} if token else {})}


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

    # ---- licenses ----------------------------------------------------------------------------
    @operation
    def create_license(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        lic = self.model.create_license(
            account_id=caller.account_id,
            region=caller.region,
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
            tags=p.get("Tags"),
        )
        return {"LicenseArn": lic.arn, "Status": lic.status, "Version": lic.version}

    @operation
    def create_license_version(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return self.model.create_license_version(
            account_id=caller.account_id,
            region=caller.region,
            license_arn=p["LicenseArn"],
            license_name=p["LicenseName"],
            product_name=p["ProductName"],
            issuer=p["Issuer"],
            home_region=p["HomeRegion"],
            validity=p["Validity"],
            entitlements=p["Entitlements"],
            consumption_configuration=p["ConsumptionConfiguration"],
            status=p["Status"],
            client_token=p["ClientToken"],
            license_metadata=p.get("LicenseMetadata"),
            source_version=p.get("SourceVersion"),
            reset_usage=bool(p.get("ResetUsage")),
        )

    @operation
    def get_license(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return {"License": self.model.get_license(caller.account_id, p["LicenseArn"], p.get("Version"))}

    @operation
    def list_licenses(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        found = self.model.list_licenses(caller.account_id, caller.region, p.get("LicenseArns"), p.get("Filters"))
        return _listed("Licenses", found, p, "LicenseArns", "Filters")

    @operation
    def list_license_versions(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        found = self.model.list_license_versions(caller.account_id, p["LicenseArn"])
        return _listed("Licenses", found, p, "LicenseArn")

    @operation
    def delete_license(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return self.model.delete_license(
            account_id=caller.account_id,
            region=caller.region,
            license_arn=p["LicenseArn"],
            source_version=p["SourceVersion"],
        )

    # ---- grants ------------------------------------------------------------------------------
    @operation
    def create_grant(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return self.model.create_grant(
            account_id=caller.account_id,
            client_token=p["ClientToken"],
            grant_name=p["GrantName"],
            license_arn=p["LicenseArn"],
            principals=p["Principals"],
            home_region=p["HomeRegion"],
            allowed_operations=p["AllowedOperations"],
            tags=p.get("Tags"),
        )

    @operation
    def create_grant_version(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return self.model.create_grant_version(
            account_id=caller.account_id,
            client_token=p["ClientToken"],
            grant_arn=p["GrantArn"],
            grant_name=p.get("GrantName"),
            allowed_operations=p.get("AllowedOperations"),
            status=p.get("Status"),
            status_reason=p.get("StatusReason"),
            source_version=p.get("SourceVersion"),
            options=p.get("Options"),
        )

    @operation
    def get_grant(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return {"Grant": self.model.get_grant(caller.account_id, p["GrantArn"], p.get("Version"))}

    @operation
    def delete_grant(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        return self.model.delete_grant(
            account_id=caller.account_id,
            grant_arn=p["GrantArn"],
            version=p["Version"],
            status_reason=p.get("StatusReason"),
        )

    @operation
    def accept_grant(self, x: Exchange) -> dict[str, Any]:
        return self.model.accept_grant(account_id=x.caller.account_id, grant_arn=x.params["GrantArn"])

    @operation
    def reject_grant(self, x: Exchange) -> dict[str, Any]:
        return self.model.reject_grant(account_id=x.caller.account_id, grant_arn=x.params["GrantArn"])

    @operation
    def list_distributed_grants(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        found = self.model.list_distributed_grants(caller.account_id, p.get("GrantArns"), p.get("Filters"))
        return _listed("Grants", found, p, "GrantArns", "Filters")

    @operation
    def list_received_grants(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        found = self.model.list_received_grants(caller.account_id, p.get("GrantArns"), p.get("Filters"))
        return _listed("Grants", found, p, "GrantArns", "Filters")

    @operation
    def list_received_licenses(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        found = self.model.list_received_licenses(caller.account_id, p.get("LicenseArns"), p.get("Filters"))
        return _listed("Licenses", found, p, "LicenseArns", "Filters")

    @operation
    def list_received_grants_for_organization(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        found = self.model.list_received_grants_for_organization(caller.account_id, p["LicenseArn"], p.get("Filters"))
        return _listed("Grants", found, p, "LicenseArn", "Filters")

    @operation
    def list_received_licenses_for_organization(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        found = self.model.list_received_licenses_for_organization(caller.account_id, p.get("Filters"))
        return _listed("Licenses", found, p, "Filters")

    # ---- tokens ------------------------------------------------------------------------------
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
        return _listed("Tokens", [t.describe() for t in found], p, "TokenIds", "Filters")

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
            region=caller.region,
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
            region=caller.region,
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

    # ---- tags and settings -------------------------------------------------------------------
    @operation
    def tag_resource(self, x: Exchange) -> dict[str, Any]:
        p = x.params
        self.model.tag_resource(account_id=x.caller.account_id, resource_arn=p["ResourceArn"], tags=p["Tags"])
        return {}

    @operation
    def untag_resource(self, x: Exchange) -> dict[str, Any]:
        p = x.params
        self.model.untag_resource(account_id=x.caller.account_id, resource_arn=p["ResourceArn"], tag_keys=p["TagKeys"])
        return {}

    @operation
    def list_tags_for_resource(self, x: Exchange) -> dict[str, Any]:
        tags = self.model.list_tags_for_resource(account_id=x.caller.account_id, resource_arn=x.params["ResourceArn"])
        return {"Tags": tags}

    @operation
    def get_service_settings(self, x: Exchange) -> dict[str, Any]:
        return self.model.get_service_settings(account_id=x.caller.account_id, region=x.caller.region)

    @operation
    def update_service_settings(self, x: Exchange) -> dict[str, Any]:
        p, caller = x.params, x.caller
        self.model.update_service_settings(
            account_id=caller.account_id,
            region=caller.region,
            s3_bucket_arn=p.get("S3BucketArn"),
            sns_topic_arn=p.get("SnsTopicArn"),
            organization_configuration=p.get("OrganizationConfiguration"),
            enable_cross_accounts_discovery=p.get("EnableCrossAccountsDiscovery"),
            enabled_discovery_source_regions=p.get("EnabledDiscoverySourceRegions"),
        )
        return {}
