"""How the Amplify UI Builder tests reach the service: boto3 for AWS, requests for Figma (no tests or fixtures here)."""

from __future__ import annotations

import contextlib

import boto3
import requests
import time_machine
from botocore.config import Config

REGION = "us-east-1"
AWS_HOST = f"amplifyuibuilder.{REGION}.amazonaws.com"
HTTP_TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long


def ui_client(endpoint_url: str | None = None, *, key: str = "testing", secret: str = "testing", validate: bool = True):
    """A real boto3 Amplify UI Builder client (no retries, so errors surface at once)."""
    return boto3.client(
        "amplifyuibuilder",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=validate),
    )


class Backend:
    """Where the emulator runs, and how a test reaches it (boto3, Figma over requests, the clock)."""

    def __init__(self, cloud, server_url: str | None = None):
        self.cloud, self.server_url = cloud, server_url

    @property
    def model(self):
        return self.cloud.amplifyuibuilder

    def client(self, **kwargs):
        return ui_client(self.server_url, **kwargs)

    @property
    def aws_url(self) -> str:
        return self.server_url or f"https://{AWS_HOST}"

    def figma(
        self,
        path: str = "/v1/me",
        token: str | None = None,
        *,
        header: str = "bearer",
        method: str = "GET",
        host: str | None = None,
    ):
        """Call Figma as a UI Builder user's code would; on the server, /v1/me is routed by its path."""
        headers = {}
        if token is not None:
            headers.update({"Authorization": f"Bearer {token}"} if header == "bearer" else {"X-Figma-Token": token})
        if self.server_url is None:
            return requests.request(method, f"https://api.figma.com{path}", headers=headers, timeout=HTTP_TIMEOUT)
        if host:
            headers["Host"] = host
        return requests.request(method, f"{self.server_url}{path}", headers=headers, timeout=HTTP_TIMEOUT)

    def advance(self, seconds: float) -> None:
        if self.server_url is not None and not self.cloud.clock.frozen:
            self.cloud.clock.freeze()
        self.cloud.clock.advance(seconds)

    def signing_time(self):
        """boto3 signs with this process's time: on the server, make it the server's moved clock."""
        if self.server_url is None:
            return contextlib.nullcontext()
        return time_machine.travel(self.cloud.clock.now(), tick=True)
