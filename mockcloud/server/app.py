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
        if not environ.get("PATH_INFO", "").startswith(ADMIN_PREFIX):
            return self.cloud.app(environ, start_response)
        request = Request(environ)
        try:
            status, body = self.admin(request, request.path[len(ADMIN_PREFIX) :].strip("/"))
        except MockCloudError as exc:
            status, body = _json(400, {"error": "BadAdminRequest", "message": str(exc)})
        except (ValueError, TypeError, KeyError) as exc:
            status, body = _json(400, {"error": "BadAdminRequest", "message": f"{type(exc).__name__}: {exc}"})
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(status, "OK")
        start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _body(self, request: Request) -> dict:
        data = request.get_data()
        if not data:
            return {}
        payload = json.loads(data)
        if not isinstance(payload, dict):
            raise ValueError("the body must be a JSON object")
        return payload

    def admin(self, request: Request, path: str) -> tuple[int, bytes]:
        cloud, method = self.cloud, request.method
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
                    cloud.clock.advance(float(body["advance"]))
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
            cloud.credentials.load(self._body(request))
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


def _only(body: dict, allowed: set) -> None:
    extra = set(body) - allowed
    if extra:
        raise ValueError(f"unknown field(s) {sorted(extra)}; allowed: {sorted(allowed)}")


def create_app(fixtures: str | Path | None = None, services=None, settings=None) -> AdminApp:
    """A WSGI app serving a fresh mock (no interception, its own clock)."""
    cloud = MockCloud(services, fixtures=fixtures, settings=settings, patch_time=False, intercept=False)
    return AdminApp(cloud)
