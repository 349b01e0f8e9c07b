"""An account's own things: tags on its licenses and grants (TagResource, UntagResource,
ListTagsForResource) and its settings in each Region (GetServiceSettings, UpdateServiceSettings)."""

from __future__ import annotations

import re
from typing import Any

from .base import LicenseManagerBase
from .errors import ERRORS
from .records import ServiceSettings, settings_id

MAX_TAGS = 50  # "Each resource can have a maximum of 50 user created tags" (AWS's tagging limits)
_S3_BUCKET = re.compile(r"arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?\Z")
_SNS_TOPIC = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}\Z")


def tags_of(tags: list[dict[str, str]] | None, earlier: dict[str, str] | None = None) -> dict[str, str]:
    """``Tags`` (Key and Value pairs) as a dict over ``earlier``; a tag without a Key, or too many, is refused."""
    if any(not t.get("Key") for t in tags or ()):
        raise ERRORS.error("ValidationException", "Every tag needs a Key.")
    merged = {**(earlier or {}), **{t["Key"]: t.get("Value", "") for t in tags or ()}}
    if len(merged) > MAX_TAGS:
        raise ERRORS.error("ValidationException", f"A resource can have at most {MAX_TAGS} tags.")
    return merged


class AccountMixin(LicenseManagerBase):
    """Tags and service settings on :class:`~.model.LicenseManagerModel`."""

    # ---- tags ---------------------------------------------------------------
    def _tagged(self, account_id: str, resource_arn: str) -> str:
        """The ARN of a license or grant this account owns (License Manager tags what its owner made)."""
        lic = self._licenses.get(resource_arn)
        grant = self._grants.get(resource_arn)
        owner = lic.account_id if lic is not None else grant.account_id if grant is not None else None
        if owner != account_id:
            raise ERRORS.error("InvalidParameterValueException", f"Resource is not found: {resource_arn}")
        return resource_arn

    def tag_resource(self, *, account_id: str, resource_arn: str, tags: list[dict[str, str]]) -> None:
        """TagResource: add tags, or give keys already there a new value."""
        with self._lock:
            arn = self._tagged(account_id, resource_arn)
            self._tags[arn] = tags_of(tags, self._tags.get(arn))

    def untag_resource(self, *, account_id: str, resource_arn: str, tag_keys: list[str]) -> None:
        """UntagResource: remove those keys (a key the resource does not have is no error)."""
        with self._lock:
            arn = self._tagged(account_id, resource_arn)
            remaining = {k: v for k, v in self._tags.get(arn, {}).items() if k not in set(tag_keys)}
            if remaining:
                self._tags[arn] = remaining
            else:
                self._tags.pop(arn, None)

    def list_tags_for_resource(self, *, account_id: str, resource_arn: str) -> list[dict[str, str]]:
        with self._lock:
            arn = self._tagged(account_id, resource_arn)
            return [{"Key": k, "Value": v} for k, v in self._tags.get(arn, {}).items()]

    # ---- service settings --------------------------------------------------
    def _settings_of(self, account_id: str, region: str) -> ServiceSettings:
        return self._service_settings.get(settings_id(account_id, region)) or ServiceSettings(account_id, region)

    def get_service_settings(self, *, account_id: str, region: str) -> dict[str, Any]:
        """GetServiceSettings: this account's settings in this Region (integration and discovery off by default)."""
        with self._lock:
            s = self._settings_of(account_id, region)
        out: dict[str, Any] = {
            "OrganizationConfiguration": {"EnableIntegration": s.organization_integration},
            "EnableCrossAccountsDiscovery": s.cross_account_discovery,
        }
        if s.s3_bucket_arn:
            out["S3BucketArn"] = s.s3_bucket_arn
        if s.sns_topic_arn:
            out["SnsTopicArn"] = s.sns_topic_arn
        if s.resource_share_arn:
            out["LicenseManagerResourceShareArn"] = s.resource_share_arn
        if s.discovery_source_regions:
            out["CrossRegionDiscoveryHomeRegion"] = s.region
            out["CrossRegionDiscoverySourceRegions"] = list(s.discovery_source_regions)
        return out

    def update_service_settings(
        self,
        *,
        account_id: str,
        region: str,
        s3_bucket_arn: str | None = None,
        sns_topic_arn: str | None = None,
        organization_configuration: dict[str, bool] | None = None,
        enable_cross_accounts_discovery: bool | None = None,
        enabled_discovery_source_regions: list[str] | None = None,
    ) -> None:
        """UpdateServiceSettings: change what is given, keep the rest."""
        if s3_bucket_arn is not None and not _S3_BUCKET.match(s3_bucket_arn):
            raise ERRORS.error(
                "InvalidParameterValueException", f"S3BucketArn {s3_bucket_arn} is not an S3 bucket ARN."
            )
        if sns_topic_arn is not None and not _SNS_TOPIC.match(sns_topic_arn):
            raise ERRORS.error(
                "InvalidParameterValueException", f"SnsTopicArn {sns_topic_arn} is not an SNS topic ARN."
            )
        with self._lock:
            s = self._settings_of(account_id, region)
            integration = s.organization_integration
            if organization_configuration is not None:
                integration = bool(organization_configuration["EnableIntegration"])
                if integration and not any(o.management_account_id == account_id for o in self._organizations.values()):
                    raise ERRORS.error(
                        "InvalidParameterValueException",
                        f"Account {account_id} is not the management account of an organization, so it cannot link "
                        "AWS Organizations (declare one with cloud.licensemanager.set_organization).",
                    )
            discovery = (
                s.cross_account_discovery
                if enable_cross_accounts_discovery is None
                else enable_cross_accounts_discovery
            )
            if discovery and not integration:
                raise ERRORS.error(
                    "InvalidParameterValueException",
                    "Cross-account discovery needs AWS Organizations integration (OrganizationConfiguration).",
                )
            if integration and s.resource_share_arn is None:
                s.resource_share_arn = f"arn:aws:ram:{region}:{account_id}:resource-share/{self.entropy.uuid4()}"
            elif not integration:
                s.resource_share_arn = None
            s.organization_integration, s.cross_account_discovery = integration, discovery
            if s3_bucket_arn is not None:
                s.s3_bucket_arn = s3_bucket_arn
            if sns_topic_arn is not None:
                s.sns_topic_arn = sns_topic_arn
            if enabled_discovery_source_regions is not None:
                s.discovery_source_regions = list(dict.fromkeys(enabled_discovery_source_regions))
            self._service_settings[s.id] = s
