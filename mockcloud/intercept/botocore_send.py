"""botocore: replace ``Endpoint._send`` while a mock is active.

Patching the class (not a session's event hooks) catches clients created
before the mock started and leaves boto3's default session alone.
"""
from __future__ import annotations

import io

from . import answer, read_timeout

_original = None
_AWSResponse = _HeadersDict = None


class RawBody(io.BytesIO):
    """What botocore reads a response body from (``stream()`` and ``read()``)."""

    def stream(self, amt: int = 65536, decode_content: bool = True):
        while True:
            chunk = self.read(amt)
            if not chunk:
                return
            yield chunk


def _header_pairs(headers):
    # botocore's HeadersDict rebuilds a case-folded key on every item lookup;
    # reading its store directly costs a tenth of that.
    try:
        return [(key._key, value) for key, value in headers._dict.items()]
    except AttributeError:
        return list(headers.items())


def _timed_out(url: str):
    def error():
        from botocore.exceptions import ReadTimeoutError

        return ReadTimeoutError(endpoint_url=url)

    return error


def _send(endpoint, request):
    timeout = read_timeout(getattr(getattr(endpoint, "http_session", None), "_timeout", None))
    reply = answer(
        request.method, request.url, _header_pairs(request.headers), request.body,
        timeout=timeout, timed_out=_timed_out(request.url),
    )
    if reply is None:
        return _original(endpoint, request)
    return _AWSResponse(request.url, reply.status, _HeadersDict(reply.headers), RawBody(reply.body))


def install() -> None:
    global _original, _AWSResponse, _HeadersDict
    from botocore.awsrequest import AWSResponse, HeadersDict
    from botocore.endpoint import Endpoint

    _AWSResponse, _HeadersDict = AWSResponse, HeadersDict
    if _original is None:
        _original = Endpoint._send
        Endpoint._send = _send


def uninstall() -> None:
    global _original
    from botocore.endpoint import Endpoint

    if _original is not None:
        Endpoint._send = _original
        _original = None
