"""A test-only service: echoes requests, redirects, and serves large bodies, for client-behaviour tests.

Registered per test (monkeypatching ``SERVICE_PACKAGES``); it uses the same
core path as the real services, so the clients see exactly what they would.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from mockcloud.core.errors import ServiceError
from mockcloud.core.request import Reply
from mockcloud.core.router import Claims
from mockcloud.core.service import Exchange, ServiceProtocol, operation

NAME = "echo"
HOST = "echo.mockcloud.test"
CLAIMS = Claims(hosts=(HOST,), server_path_prefixes=("/echo", "/bytes", "/redirect"))


class EchoProtocol(ServiceProtocol[Exchange]):
    def operation_of(self, exchange):
        return exchange.request.path

    def parse(self, exchange):
        if exchange.operation not in self.operations:
            raise ServiceError("NotFound", f"no such echo path {exchange.operation}", 404)
        request = exchange.request
        return {
            "method": request.method,
            "path": request.path,
            "query": {k: v[0] for k, v in parse_qs(request.environ.get("QUERY_STRING", "")).items()},
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": exchange.body.decode("latin-1"),
        }

    @operation("/redirect")
    def redirect(self, exchange):
        query = exchange.params["query"]
        status = int(query.get("status", "302"))
        return Reply(status, [("Location", query["to"]), ("Content-Length", "0")], b"")

    @operation("/bytes")
    def sized_bytes(self, exchange):
        size = int(exchange.params["query"]["n"])
        body = bytes(i % 251 for i in range(size))
        return Reply(200, [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))], body)

    @operation("/echo")
    def echo(self, exchange):
        return exchange.params

    def render(self, exchange, result) -> Reply:
        if isinstance(result, Reply):
            return result
        body = json.dumps(result).encode()
        return Reply(200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)

    def render_error(self, exchange, error) -> Reply:
        body = json.dumps({"code": error.code, "message": error.message}).encode()
        return Reply(error.status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)

    def throttling_error(self, exchange, retry_after):
        return ServiceError("Throttled", "slow down", 429)


def build(context):
    return EchoProtocol(context, model=None)
