"""How the STS tests reach STS and License Manager (whose tokens STS takes), with boto3 (no tests or fixtures here)."""

from __future__ import annotations

import uuid

import boto3
from botocore.config import Config

from tests.helpers import DEFAULT_LICENSE_ARN, lm_client

ROLE = "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole"
CONSUMPTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLicenseManagerConsumptionPolicy"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


class Backend:
    def __init__(self, cloud, url):
        self.cloud, self.url = cloud, url

    def sts(self, credentials: dict | None = None, region: str = "us-east-1", validate: bool = True, **keys):
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials.get("SessionToken"),
            }
        elif not keys:  # the default test keys, in-process and against the server alike
            keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        config = NO_RETRY if validate else NO_RETRY.merge(Config(parameter_validation=False))
        return boto3.client("sts", region_name=region, endpoint_url=self.url, config=config, **keys)

    def lm(self, credentials: dict | None = None):
        if credentials is None:
            return lm_client(self.url)
        return boto3.client(
            "license-manager",
            region_name="us-east-1",
            endpoint_url=self.url,
            config=NO_RETRY,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials.get("SessionToken"),
        )

    @property
    def sts_url(self) -> str:
        return (self.url or "https://sts.amazonaws.com") + "/"

    def access_token(self, roles=(ROLE,), properties=()) -> str:
        lm = self.lm()
        refresh = lm.create_token(
            LicenseArn=DEFAULT_LICENSE_ARN,
            RoleArns=list(roles),
            TokenProperties=list(properties),
            ClientToken=uuid.uuid4().hex,
        )["Token"]
        return lm.get_access_token(Token=refresh)["AccessToken"]

    def assume(self, token: str, role: str = ROLE, **extra) -> dict:
        return self.sts().assume_role_with_web_identity(
            RoleArn=role, RoleSessionName="app", WebIdentityToken=token, **extra
        )
