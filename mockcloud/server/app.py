"""The server's WSGI app: admin endpoints in front of the mock's one application."""
from __future__ import annotations

import json
from pathlib import Path

from werkzeug.wrappers import Request

from ..core.errors import MockCloudError
from ..mock import MockCloud

ADMIN_PREFIX = "/_mockcloud/"
_FAULT_FIELDS = {"service", "operation", "error", "status", "throttle", "latency", "count", "probability", "message"}
_LIMIT_FIELDS = {"service", "operation", "rate", "burst"}


def _json(status: int, payload) -> tuple[int, bytes]:
    return status, json.dumps(payload, default=str).encode()


class AdminApp:
    """``/_mockcloud/{health,reset,clock,faults,requests,credentials,jwks}``, everything else to the emulator."""

    def __init__(self, cloud: MockCloud) -> None:
        self.cloud = cloud

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(ADMIN_PREFIX) and path != ADMIN_PREFIX.rstrip("/"):
            return self.cloud.app(environ, start_response)
        request = Request(environ)
        try:
            status, body = self.admin(request, path[len(ADMIN_PREFIX) :].strip("/"))
        except MockCloudError as exc:
            status, body = _json(400, {"error": "BadAdminRequest", "message": str(exc)})
        except (ValueError, TypeError, KeyError, OverflowError, AttributeError) as exc:
            status, body = _json(400, {"error": "BadAdminRequest", "message": f"{type(exc).__name__}: {exc}"})
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(status, "OK")
        start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _body(self, request: Request) -> dict:
        data = request.get_data()
        if not data:
            return {}
        payload = json.loads(data, parse_constant=_no_constant)
        if not isinstance(payload, dict):
            raise ValueError("the body must be a JSON object")
        return payload

    def admin(self, request: Request, path: str) -> tuple[int, bytes]:
        cloud, method = self.cloud, request.method
        allowed = _METHODS.get(path.partition("/")[0])
        if allowed is None:
            return _json(404, {"error": "NotFound", "message": f"no admin endpoint /_mockcloud/{path}; see {sorted(_METHODS)}"})
        if method not in allowed:
            return _json(405, {"error": "MethodNotAllowed", "message": f"/_mockcloud/{path} takes {', '.join(sorted(allowed))}"})
        if path == "health":
            from .. import __version__

            return _json(200, {"status": "ok", "version": __version__, "services": list(cloud.service_names)})
        if path == "reset" and method == "POST":
            cloud.reset()
            return _json(200, {"reset": True})
        if path == "clock":
            if method == "POST":
                body = self._body(request)
                if "freeze" in body:
                    cloud.clock.freeze(body["freeze"])
                if "advance" in body:
                    cloud.clock.advance(body["advance"])
                if body.get("unfreeze"):
                    cloud.clock.unfreeze()
                if not {"freeze", "advance", "unfreeze"} & body.keys():
                    raise ValueError("POST /_mockcloud/clock takes {'advance': seconds}, {'freeze': ISO-8601} or {'unfreeze': true}")
            return _json(200, {"now": cloud.clock.now().isoformat(), "frozen": cloud.clock.frozen})
        if path == "faults":
            if method == "POST":
                body = self._body(request)
                if "rate_limit" in body:
                    spec = body["rate_limit"]
                    if not isinstance(spec, dict):
                        raise ValueError("rate_limit must be an object")
                    _only(spec, _LIMIT_FIELDS)
                    cloud.faults.rate_limit(spec.pop("service"), spec.pop("operation", None), **spec)
                else:
                    _only(body, _FAULT_FIELDS)
                    cloud.faults.add(**body)
            elif method == "DELETE":
                cloud.faults.clear()
            return _json(200, {"rules": [r.as_dict() for r in cloud.faults.rules], "rate_limits": [l.as_dict() for l in cloud.faults.limits]})
        if path == "requests":
            if method == "DELETE":
                cloud.requests.clear()
            return _json(200, {"requests": [r.as_dict() for r in cloud.requests]})
        if path == "credentials" and method == "POST":
            body = self._body(request)
            _only(body, {"aws", "alibaba"})
            from jsonschema import Draft7Validator

            from ..core import fixtures

            schema = fixtures.schema()["properties"]["credentials"]
            problems = [e.message for e in Draft7Validator(schema).iter_errors(body)]
            if problems:
                raise ValueError("; ".join(problems[:5]))
            cloud.credentials.load(body)
            return _json(200, {"ok": True})
        if path == "jwks" or path.startswith("jwks/"):
            wanted = path.partition("/")[2] or None
            keys = []
            for name in cloud.service_names:
                if wanted and name != wanted:
                    continue
                model = cloud.service(name).model
                if hasattr(model, "jwks"):
                    keys.extend(model.jwks()["keys"])
            if wanted and wanted not in cloud.service_names:
                return _json(404, {"error": "NotFound", "message": f"no service {wanted!r}"})
            return _json(200, {"keys": keys})
        return _json(404, {"error": "NotFound", "message": f"no admin endpoint {method} /_mockcloud/{path}"})


_METHODS = {
    "health": {"GET"},
    "reset": {"POST"},
    "clock": {"GET", "POST"},
    "faults": {"GET", "POST", "DELETE"},
    "requests": {"GET", "DELETE"},
    "credentials": {"POST"},
    "jwks": {"GET"},
}


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number here")


def _only(body: dict, allowed: set) -> None:
    extra = set(body) - allowed
    if extra:
        raise ValueError(f"unknown field(s) {sorted(extra)}; allowed: {sorted(allowed)}")


def create_app(fixtures: str | Path | None = None, services=None, settings=None) -> AdminApp:
    """A WSGI app serving a fresh mock (no interception, its own clock)."""
    cloud = MockCloud(services, fixtures=fixtures, settings=settings, patch_time=False, intercept=False)
    return AdminApp(cloud)
