"""aliyun-python-sdk-core: its vendored copy of requests gets the same treatment as requests."""
from __future__ import annotations

from .requests_adapter import RequestsInterceptor


class AliyunVendoredInterceptor(RequestsInterceptor):
    library = "aliyunsdkcore"
    patches = {"aliyunsdkcore.vendored.requests.sessions:Session.get_adapter": "get_adapter"}

    @classmethod
    def install(cls) -> None:
        from aliyunsdkcore.vendored import requests
        from aliyunsdkcore.vendored.requests.packages import urllib3

        cls.requests, cls.urllib3 = requests, urllib3
        super(RequestsInterceptor, cls).install()
