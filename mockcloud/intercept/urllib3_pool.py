"""urllib3 used directly: ``HTTPConnectionPool.urlopen`` answers from the application.

requests and botocore are caught above urllib3; what reaches a pool here is
either a direct urllib3 user or a passthrough request, which goes on as before.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import urllib3
from urllib3._collections import HTTPHeaderDict
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from . import answer, misbehave, read_timeout
from .chain import Interceptor, blocked_error


class Urllib3Interceptor(Interceptor):
    library = "urllib3"
    patches: ClassVar[dict[str, str]] = {
        "urllib3.connectionpool:HTTPConnectionPool.urlopen": "urlopen",
        "urllib3.connection:HTTPConnection.connect": "connect",
        "urllib3.connection:HTTPSConnection.connect": "connect",
    }

    connect = staticmethod(misbehave.connect_urllib3)

    @staticmethod
    def urlopen(
        nxt: Any,
        pool: HTTPConnectionPool,
        method: str,
        url: str,
        body: Any = None,
        headers: Any = None,
        retries: Any = None,
        redirect: bool = True,
        assert_same_host: bool = True,
        timeout: Any = _DEFAULT_TIMEOUT,
        pool_timeout: Any = None,
        release_conn: Any = None,
        chunked: bool = False,
        body_pos: Any = None,
        preload_content: bool = True,
        decode_content: bool = True,
        **response_kw: Any,
    ) -> Any:
        # as given, for the next link (a faulted request on its way, a host not ours, a fault's real socket)
        arguments: tuple[Any, ...] = (pool, method, url, body, headers, retries, redirect, assert_same_host, timeout)
        arguments += (pool_timeout, release_conn, chunked, body_pos, preload_content, decode_content)
        if misbehave.pending() is not None:  # a faulted request on its way to its connection
            return nxt(*arguments, **response_kw)
        port = pool.port or (443 if pool.scheme == "https" else 80)
        default = port == (443 if pool.scheme == "https" else 80)
        full = (
            url
            if url.startswith(("http://", "https://"))
            else f"{pool.scheme}://{pool.host}{'' if default else f':{port}'}{url}"
        )
        limit = read_timeout(pool.timeout if not isinstance(timeout, (int, float, urllib3.Timeout)) else timeout)
        reply = answer(
            method,
            full,
            dict(headers or pool.headers or {}),
            body,
            blocked_error(NewConnectionError, conn=None),
            next_link=nxt,
            library="urllib3",
            timeout=limit,
            timed_out=lambda: ReadTimeoutError(pool, full, f"Read timed out. (read timeout={limit})"),
        )
        if reply is None:
            return nxt(*arguments, **response_kw)
        if reply.fault is not None:
            with misbehave.faulting(reply):
                return nxt(*arguments, **response_kw)
        if not isinstance(retries, Retry):
            retries = Retry.from_int(retries, redirect=redirect, default=pool.retries)
        response = urllib3.HTTPResponse(
            body=io.BytesIO(reply.body),
            headers=HTTPHeaderDict(reply.headers),  # kept as it is (repeated names too), as from the pairs
            status=reply.status,
            reason=reply.reason,
            preload_content=preload_content,
            decode_content=decode_content,
            request_method=method,
            request_url=full,
            retries=retries,
        )
        location = redirect and response.get_redirect_location()
        if location:  # same-pool redirects, as urllib3's own urlopen follows them
            retries = retries.increment(method, full, response=response, _pool=pool)
            if reply.status == 303:
                method, body = "GET", None
            return pool.urlopen(
                method,
                location,
                body,
                headers,
                retries=retries,
                redirect=redirect,
                preload_content=preload_content,
                decode_content=decode_content,
                **response_kw,
            )
        return response
