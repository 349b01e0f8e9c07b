"""How the WUYING tests reach the service: the tea client, or raw requests (no tests or fixtures here)."""

from __future__ import annotations

from urllib.parse import urlencode

import requests
from alibabacloud_ecd20201002.client import Client as EcdClient
from alibabacloud_tea_openapi import utils_models

REGION = "cn-hangzhou"
ECD_HOST = f"ecd.{REGION}.aliyuncs.com"


class Backend:
    """Where the emulator runs, and how a test reaches it."""

    def __init__(self, cloud, server_url: str | None = None) -> None:
        self.cloud, self.server_url = cloud, server_url

    @property
    def endpoint(self) -> str | None:
        return self.server_url.split("//", 1)[1] if self.server_url else None

    @property
    def url(self) -> str:
        return (self.server_url or f"https://{ECD_HOST}") + "/"

    def client(self, **config) -> EcdClient:
        if self.server_url:
            config = {"endpoint": self.endpoint, "protocol": "http", **config}
        return EcdClient(utils_models.Config(region_id=REGION, **config))

    def raw(
        self, method: str = "POST", params: dict | None = None, headers: dict | None = None, data=None
    ) -> requests.Response:
        query = {"Action": "GetLoginToken", "Version": "2020-10-02", "Format": "json", **(params or {})}
        return requests.request(method, self.url + "?" + urlencode(query), headers=headers, data=data, timeout=5)
