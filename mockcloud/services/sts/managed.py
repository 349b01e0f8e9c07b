"""AWS managed policies the emulator knows: the ones its default roles carry, and AssumeRoot's task policies.

Each is ``arn:aws:iam::aws:policy/<path><name>``, attachable in every account.
``AWSLicenseManagerConsumptionPolicy`` is AWS's document as published in the
AWS Managed Policy Reference (v1). The root-task policies scope AssumeRoot
sessions; only their actions matter here (none is an action of a service
this emulator serves), so their documents list the actions each task needs,
abridged from AWS's.
"""

from __future__ import annotations

from typing import Any

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
CONSUMPTION_POLICY_ARN = AWS_POLICY_PREFIX + "service-role/AWSLicenseManagerConsumptionPolicy"


def _allow(*actions: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": list(actions), "Resource": "*"}}


# arn -> (description, document)
AWS_MANAGED: dict[str, tuple[str, dict[str, Any]]] = {
    CONSUMPTION_POLICY_ARN: (
        "Provides permissions to allow access to the AWS License Manager API actions required to consume upon "
        "licenses that the user has entitlements.",
        _allow(
            "license-manager:CheckoutLicense",
            "license-manager:CheckInLicense",
            "license-manager:ExtendLicenseConsumption",
            "license-manager:GetLicense",
        ),
    ),
    AWS_POLICY_PREFIX + "root-task/IAMAuditRootUserCredentials": (
        "Read the root user's credentials of a member account.",
        _allow(
            "iam:GetAccessKeyLastUsed",
            "iam:GetLoginProfile",
            "iam:GetUser",
            "iam:ListAccessKeys",
            "iam:ListMFADevices",
            "iam:ListSigningCertificates",
        ),
    ),
    AWS_POLICY_PREFIX + "root-task/IAMCreateRootUserPassword": (
        "Let a member account's root user recover its password.",
        _allow("iam:CreateLoginProfile", "iam:GetLoginProfile"),
    ),
    AWS_POLICY_PREFIX + "root-task/IAMDeleteRootUserCredentials": (
        "Delete the root user's credentials of a member account.",
        _allow(
            "iam:DeactivateMFADevice",
            "iam:DeleteAccessKey",
            "iam:DeleteLoginProfile",
            "iam:DeleteSigningCertificate",
            "iam:GetAccessKeyLastUsed",
            "iam:GetLoginProfile",
            "iam:GetUser",
            "iam:ListAccessKeys",
            "iam:ListMFADevices",
            "iam:ListSigningCertificates",
        ),
    ),
    AWS_POLICY_PREFIX + "root-task/S3UnlockBucketPolicy": (
        "Delete a misconfigured S3 bucket policy that denies all principals.",
        _allow("s3:DeleteBucketPolicy", "s3:GetBucketPolicy", "s3:PutBucketPolicy"),
    ),
    AWS_POLICY_PREFIX + "root-task/SQSUnlockQueuePolicy": (
        "Delete a misconfigured SQS queue policy that denies all principals.",
        _allow("sqs:GetQueueAttributes", "sqs:ListQueues", "sqs:SetQueueAttributes"),
    ),
}
ROOT_TASK_POLICIES = frozenset(arn for arn in AWS_MANAGED if "/root-task/" in arn)
