"""aliyun-python-sdk-core: its vendored copy of requests gets the same treatment as requests."""
from __future__ import annotations

import io

from aliyunsdkcore.vendored.requests import adapters, exceptions
from aliyunsdkcore.vendored.requests.packages.urllib3.response import HTTPResponse

from ..core.errors import UnmockedRequestError
from . import answer, read_timeout

_original = None


class AliyunUnmockedRequest(UnmockedRequestError, exceptions.ConnectionError):
    """The vendored requests' ConnectionError (what aliyunsdkcore wraps as SDK.HttpError), naming the host."""

    def __init__(self, method: str, url: str, host: str) -> None:
        UnmockedRequestError.__init__(self, method, url, host)
        self.request = None
        self.response = None


def _send(adapter, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
    limit = read_timeout(timeout)
    reply = answer(
        request.method, request.url, request.headers, request.body, AliyunUnmockedRequest,
        timeout=limit, timed_out=lambda: exceptions.ReadTimeout(f"Read timed out. (read timeout={limit})", request=request),
    )
    if reply is None:
        return _original(adapter, request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
    raw = HTTPResponse(
        body=io.BytesIO(reply.body),
        headers=reply.headers,
        status=reply.status,
        reason=reply.reason,
        preload_content=False,
        decode_content=False,
    )
    return adapter.build_response(request, raw)


def install() -> None:
    global _original
    if _original is None:
        _original = adapters.HTTPAdapter.send
        adapters.HTTPAdapter.send = _send


def uninstall() -> None:
    global _original
    if _original is not None:
        adapters.HTTPAdapter.send = _original
        _original = None
