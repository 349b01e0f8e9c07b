"""botocore: replace ``Endpoint._send`` while a mock is active.

Patching the class (not a session's event hooks) catches clients created
before the mock started and leaves boto3's default session alone.
"""
from __future__ import annotations

import io

from . import answer

_original = None


class _RawBody(io.BytesIO):
    """What botocore reads a response body from (``stream()`` and ``read()``)."""

    def stream(self, amt: int = 65536, decode_content: bool = True):
        while True:
            chunk = self.read(amt)
            if not chunk:
                return
            yield chunk


def _send(endpoint, request):
    reply = answer(request.method, request.url, request.headers, request.body)
    if reply is None:
        return _original(endpoint, request)
    from botocore.awsrequest import AWSResponse
    from urllib3._collections import HTTPHeaderDict

    return AWSResponse(request.url, reply.status, HTTPHeaderDict(reply.headers), _RawBody(reply.body))


def install() -> None:
    global _original
    from botocore.endpoint import Endpoint

    if _original is None:
        _original = Endpoint._send
        Endpoint._send = _send


def uninstall() -> None:
    global _original
    from botocore.endpoint import Endpoint

    if _original is not None:
        Endpoint._send = _original
        _original = None
