"""requests: one catch-all route in a ``responses`` mock, answered by the application."""
from __future__ import annotations

import io
import re
from http.client import responses as reasons
from urllib.parse import urlsplit

import requests
import responses
from urllib3 import HTTPResponse
from urllib3._collections import HTTPHeaderDict

from ..core.errors import UnmockedRequestError
from . import answer, current, read_timeout


class RequestsUnmockedRequest(UnmockedRequestError, requests.exceptions.ConnectionError):
    """Raised in requests' own exception family for a host no service claims."""

    def __init__(self, method: str, url: str, host: str) -> None:
        UnmockedRequestError.__init__(self, method, url, host)
        self.request = None
        self.response = None


def _passes(request) -> bool:
    mock = current()
    return mock is None or mock.passes(urlsplit(request.url).hostname or "")


class _PassRoute(responses.BaseResponse):
    """Sends passthrough hosts to the real network."""

    def __init__(self) -> None:
        super().__init__(method="GET", url=re.compile(".*"), passthrough=True)

    def matches(self, request):
        return _passes(request), ""


class _CloudRoute(responses.BaseResponse):
    def __init__(self) -> None:
        super().__init__(method="GET", url=re.compile(".*"))

    def matches(self, request):
        return True, ""

    def get_response(self, request) -> HTTPResponse:
        timeout = read_timeout(getattr(request, "req_kwargs", {}).get("timeout"))
        reply = answer(
            request.method, request.url, request.headers, request.body, RequestsUnmockedRequest,
            timeout=timeout, timed_out=lambda: requests.exceptions.ReadTimeout(f"Read timed out. (read timeout={timeout})", request=request),
        )
        headers = HTTPHeaderDict(reply.headers)
        original = HTTPResponse(body=io.BytesIO(), headers=headers, preload_content=False)
        original.msg = headers
        return HTTPResponse(
            body=io.BytesIO(reply.body),
            headers=headers,
            status=reply.status,
            reason=reasons.get(reply.status),
            preload_content=False,
            original_response=original,
            request_method=request.method,
        )


_mock: responses.RequestsMock | None = None


def install() -> None:
    global _mock
    if _mock is None:
        _mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        _mock.add(_PassRoute())
        _mock.add(_CloudRoute())
        _mock.start()


def uninstall() -> None:
    global _mock
    if _mock is not None:
        _mock.stop(allow_assert=False)
        _mock.reset()
        _mock = None
