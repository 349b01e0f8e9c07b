"""A test-only service: echoes requests, redirects, and serves large bodies, for client-behaviour tests.

Registered per test (monkeypatching ``SERVICE_PACKAGES``); it uses the same
core path as the real services, so the clients see exactly what they would.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qs

from mockcloud.core.errors import ServiceError
from mockcloud.core.request import Reply, request_body
from mockcloud.core.router import Claims
from mockcloud.core.service import ServiceProtocol

NAME = "echo"
HOST = "echo.mockcloud.test"
CLAIMS = Claims(hosts=(HOST,), server_path_prefixes=("/echo", "/bytes", "/redirect"))


class EchoProtocol(ServiceProtocol):
    def operation_of(self, request) -> str:
        return request.path

    def parse(self, request, operation):
        return {
            "method": request.method,
            "path": request.path,
            "query": {k: v[0] for k, v in parse_qs(request.environ.get("QUERY_STRING", "")).items()},
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": request_body(request).decode("latin-1"),
        }

    def invoke(self, operation, params, caller, request):
        query = params["query"]
        if operation == "/redirect":
            status = int(query.get("status", "302"))
            return Reply(status, [("Location", query["to"]), ("Content-Length", "0")], b"")
        if operation == "/bytes":
            size = int(query["n"])
            body = bytes(i % 251 for i in range(size))
            return Reply(200, [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))], body)
        if operation == "/echo":
            return params
        raise ServiceError("NotFound", f"no such echo path {operation}", 404)

    def render(self, operation, result, request) -> Reply:
        if isinstance(result, Reply):
            return result
        body = json.dumps(result).encode()
        return Reply(200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)

    def render_error(self, error, operation, request) -> Reply:
        body = json.dumps({"code": error.code, "message": error.message}).encode()
        return Reply(error.status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)

    def throttling_error(self, operation, retry_after):
        return ServiceError("Throttled", "slow down", 429)


def build(context):
    return EchoProtocol(context, model=None)
