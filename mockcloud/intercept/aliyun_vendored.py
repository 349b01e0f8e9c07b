"""aliyun-python-sdk-core: its vendored copy of requests gets the same treatment as requests."""

from __future__ import annotations

from typing import ClassVar

from . import misbehave
from .requests_adapter import RequestsInterceptor

_URLLIB3 = "aliyunsdkcore.vendored.requests.packages.urllib3"


class AliyunVendoredInterceptor(RequestsInterceptor):
    library = "aliyunsdkcore"
    patches: ClassVar[dict[str, str]] = {
        "aliyunsdkcore.vendored.requests.sessions:Session.get_adapter": "get_adapter",
        f"{_URLLIB3}.connection:HTTPConnection.connect": "connect",
        f"{_URLLIB3}.connection:HTTPSConnection.connect": "connect",  # VerifiedHTTPSConnection, by its alias
    }
    connect = staticmethod(misbehave.connect_urllib3)

    @classmethod
    def install(cls) -> None:
        from aliyunsdkcore.vendored import requests
        from aliyunsdkcore.vendored.requests.packages import urllib3

        cls.requests, cls.urllib3 = requests, urllib3
        super(RequestsInterceptor, cls).install()
