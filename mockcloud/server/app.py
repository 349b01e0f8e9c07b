"""The server's WSGI app: admin endpoints and the server's limits in front of the mock's one application."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from ..core import jsonform
from ..core.app import LATENCY_WAIT
from ..core.errors import MockCloudError, ServiceError, StoreUnavailable
from ..core.helpers import Helper, helpers
from ..core.helpers import call as call_helper
from ..core.log import DEFAULT_SIZE as DEFAULT_LOG_SIZE
from ..mock import MockCloud
from . import dashboard
from .guard import LOOPBACK_NAMES, AdminGuard
from .namespaces import NamespaceError, Namespaces

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ..state.store import Store

ADMIN_PREFIX = "/_mockcloud/"
DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024
TOO_LARGE = "mockcloud.too_large"  # set by the server when it stopped reading a body over the limit
_FAULT_FIELDS = {
    "service",
    "operation",
    "error",
    "status",
    "throttle",
    "latency",
    "count",
    "probability",
    "message",
    "network",
}
_LIMIT_FIELDS = {"service", "operation", "rate", "burst"}
MASK = "********"  # what a listing shows for a secret
# endpoints that act on the state by themselves (reset, snapshot, restore, the log, the store's health), or read none
_OWN_SHARING = frozenset(
    {"health", "reset", "state", "requests", "request_detail", "dashboard", "asset", "namespaces", "namespace"}
)
# what bad input raises on its way through json and the mock's setters; each is the client's fault
_BAD_INPUT = (MockCloudError, ValueError, TypeError, LookupError, OverflowError, AttributeError, RecursionError)


def _json(status: int, payload: object) -> tuple[int, bytes]:
    return status, json.dumps(payload, default=str).encode()


def _start(
    start_response: StartResponse, status: int, body: bytes, extra: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),  # JSON, never sniffed into HTML a browser would run
        *extra,
    ]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]


class AdminApp:
    """``/_mockcloud/...`` admin endpoints, everything else to the emulator.

    The endpoints are rules of a werkzeug routing ``Map``, one method each
    (``on_<endpoint>``): unknown paths answer 404 and wrong methods 405 with
    ``Allow``, as JSON. Admin requests pass the ``guard`` first (Host, Origin,
    token, content type). A body over ``max_body_size`` gets a 413 in the
    format of the service it was for, without being read. ``/_mockcloud/``
    itself is the dashboard (:mod:`.dashboard`), a page over these endpoints.
    """

    url_map = Map(
        [
            Rule("/_mockcloud/", endpoint="dashboard", methods=["GET"]),
            Rule("/_mockcloud/dashboard/<name>", endpoint="asset", methods=["GET"]),
            Rule("/_mockcloud/health", endpoint="health", methods=["GET"]),
            Rule("/_mockcloud/reset", endpoint="reset", methods=["POST"]),
            Rule("/_mockcloud/clock", endpoint="clock", methods=["GET", "POST"]),
            Rule("/_mockcloud/faults", endpoint="faults", methods=["GET", "POST", "DELETE"]),
            Rule("/_mockcloud/requests", endpoint="requests", methods=["GET", "DELETE"]),
            Rule("/_mockcloud/requests/<int:seq>", endpoint="request_detail", methods=["GET"]),
            Rule("/_mockcloud/inventory", endpoint="inventory", methods=["GET"]),
            Rule("/_mockcloud/operations", endpoint="operations", methods=["GET"]),
            Rule("/_mockcloud/credentials", endpoint="credentials", methods=["GET", "POST"]),
            Rule("/_mockcloud/credentials/accounts", endpoint="accounts", methods=["POST"]),
            Rule("/_mockcloud/jwks", endpoint="jwks", methods=["GET"]),
            Rule("/_mockcloud/jwks/<service>", endpoint="jwks", methods=["GET"]),
            Rule("/_mockcloud/state", endpoint="state", methods=["GET", "PUT"]),
            Rule("/_mockcloud/namespaces", endpoint="namespaces", methods=["GET", "POST"]),
            Rule("/_mockcloud/namespaces/<name>", endpoint="namespace", methods=["GET", "DELETE"]),
            Rule("/_mockcloud/services", endpoint="services", methods=["GET"]),
            Rule("/_mockcloud/services/<service>", endpoint="service_helpers", methods=["GET"]),
            Rule("/_mockcloud/services/<service>/<name>", endpoint="service_call", methods=["GET", "POST"]),
        ],
        strict_slashes=False,
    )

    def __init__(
        self,
        cloud: MockCloud,
        *,
        guard: AdminGuard | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self.cloud = cloud
        # outside LiveServer (the app mounted in another WSGI server) the loopback names, any port
        self.guard = guard or AdminGuard(frozenset((name, None) for name in LOOPBACK_NAMES))
        self.max_body_size = max_body_size
        self.namespaces: Namespaces | None = None  # set by the LiveServer that serves this app
        # what a namespace's own mock is made from (create_app's), the store aside: a namespace is private
        self.namespace_options: dict[str, Any] = {}
        self.stopping = threading.Event()  # set by the server as it stops: an injected latency ends then

    def answers_at_once(self) -> bool:
        """Whether a request now would be answered without waiting on anything: no state file to save, no
        shared store to reach, no injected latency to wait out (the server then answers it on its I/O thread)."""
        cloud = self.cloud
        return cloud.state.in_memory and not cloud.faults.delays

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = self._answer(environ, start_response)
        if environ.get("REQUEST_METHOD") == "HEAD":  # RFC 9110 §9.3.2: the headers a GET gets, no content
            return [b""]
        return body

    def _answer(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX) or path == "/_mockcloud":
            if environ.get("REQUEST_METHOD") == "HEAD":  # a GET without its body: never a POST's handler
                environ = {**environ, "REQUEST_METHOD": "GET"}
            return self._admin(environ, start_response)
        if TOO_LARGE in environ or self._declares_too_much(environ):
            reply = self.cloud.app.refuse_too_large(environ, self.max_body_size)
            start_response(reply.status_line, reply.headers)
            return [reply.body]
        environ[LATENCY_WAIT] = self.stopping.wait
        return self.cloud.app(environ, start_response)

    def _declares_too_much(self, environ: WSGIEnvironment) -> bool:
        length: str | None = environ.get("CONTENT_LENGTH")
        return bool(length and length.isdigit() and int(length) > self.max_body_size)

    def _admin(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        refusal = self.guard.refusal(environ, public=dashboard.is_public(environ) or _is_health_check(environ))
        if refusal is not None:
            status, code, message = refusal
            challenge = [("WWW-Authenticate", 'Bearer realm="mockcloud admin"')] if status == 401 else []
            return _start(start_response, status, _json(status, {"error": code, "message": message})[1], challenge)
        if TOO_LARGE in environ or self._declares_too_much(environ):
            message = f"the body is larger than the limit of {self.max_body_size} bytes"
            return _start(start_response, 413, _json(413, {"error": "RequestEntityTooLarge", "message": message})[1])
        request = Request(environ)
        extra: list[tuple[str, str]] = []
        try:
            endpoint, arguments = self.url_map.bind_to_environ(environ).match()
            handler = getattr(self, f"on_{endpoint}")
            if endpoint in _OWN_SHARING:
                answer = handler(request, **arguments)
            else:  # one step on the state, its changes kept (or, on a store, committed) at once
                answer = self.cloud.state.transaction(lambda: handler(request, **arguments))
            if len(answer) == 3:  # a page of the dashboard, with its own headers
                status, body, headers = answer
                start_response(f"{status} {HTTPStatus(status).phrase}", headers)
                return [body]
            status, body = answer
        except NotFound:
            paths = sorted({rule.rule for rule in self.url_map.iter_rules()})
            status, body = _json(
                404, {"error": "NotFound", "message": f"no admin endpoint {request.path}; see {paths}"}
            )
        except MethodNotAllowed as exc:
            allowed = sorted(exc.valid_methods or ())
            extra = [("Allow", ", ".join(allowed))]
            status, body = _json(
                405, {"error": "MethodNotAllowed", "message": f"{request.path} takes {', '.join(allowed)}"}
            )
        except NamespaceError as exc:
            status, body = _json(exc.status, {"error": exc.code, "message": str(exc)})
        except StoreUnavailable as exc:
            logging.getLogger("mockcloud").error("mockcloud: admin %s %s: %s", request.method, request.path, exc)
            status, body = _json(503, {"error": "StoreUnavailable", "message": str(exc)})
        except ServiceError as exc:  # a helper refused, as the service would (an unknown license, say)
            status, body = _json(400, {"error": exc.code, "message": exc.message})
        except _BAD_INPUT as exc:
            status, body = _json(400, {"error": "BadAdminRequest", "message": _describe(exc)})
        except Exception:  # a bug of ours: still JSON, and logged
            logging.getLogger("mockcloud").exception("mockcloud: admin %s %s failed", request.method, request.path)
            status, body = _json(
                500, {"error": "InternalError", "message": "the admin endpoint failed; see the server's log"}
            )
        return _start(start_response, status, body, extra)

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        data = request.get_data()
        if not data:
            return {}
        payload = json.loads(data, parse_constant=_no_constant)
        if not isinstance(payload, dict):
            raise ValueError("the body must be a JSON object")
        # lone surrogates ("\ud800") parse, but are no text: refuse them before they reach any state
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return payload

    # ---- the endpoints ---------------------------------------------------------------------
    def on_dashboard(self, request: Request) -> tuple[int, bytes, list[tuple[str, str]]]:
        return dashboard.page("index.html")

    def on_asset(self, request: Request, name: str) -> tuple[int, bytes] | tuple[int, bytes, list[tuple[str, str]]]:
        if name not in dashboard.ASSETS:
            return _json(404, {"error": "NotFound", "message": f"the dashboard has no file {name!r}"})
        return dashboard.page(name)

    def on_health(self, request: Request) -> tuple[int, bytes]:
        """Up, with the state reachable (200), or up with its store out of reach (503, saying why)."""
        from ..version import __version__

        state = self.cloud.state.health()
        status = 200 if state["ok"] else 503
        return _json(
            status,
            {
                "status": "ok" if state["ok"] else "store_unavailable",
                "version": __version__,
                "services": list(self.cloud.service_names),
                "state": state,
            },
        )

    def on_reset(self, request: Request) -> tuple[int, bytes]:
        body = self._body(request)
        _only(body, {"seed"})
        if "seed" in body:
            self.cloud.reset(seed=body["seed"])
        else:
            self.cloud.reset()
        return _json(200, {"reset": True, "seed": self.cloud.seed})

    def on_clock(self, request: Request) -> tuple[int, bytes]:
        clock = self.cloud.clock
        if request.method == "POST":
            body = self._body(request)
            _only(body, {"freeze", "advance", "unfreeze"})
            if not body:
                raise ValueError(
                    "POST /_mockcloud/clock takes {'advance': seconds}, {'freeze': ISO-8601} or {'unfreeze': true}"
                )
            if "freeze" in body:
                clock.freeze(body["freeze"])
            if "advance" in body:
                clock.advance(body["advance"])
            if body.get("unfreeze"):
                clock.unfreeze()
        epoch = clock.time()  # read once: "now" and "epoch" are the same moment
        now = datetime.fromtimestamp(epoch, timezone.utc).isoformat()
        return _json(200, {"now": now, "frozen": clock.frozen, "epoch": epoch})

    def on_faults(self, request: Request) -> tuple[int, bytes]:
        faults = self.cloud.faults
        if request.method == "POST":
            body = self._body(request)
            if "rate_limit" in body:
                spec = body["rate_limit"]
                if not isinstance(spec, dict):
                    raise ValueError("rate_limit must be an object")
                _only(spec, _LIMIT_FIELDS)
                faults.rate_limit(spec.pop("service"), spec.pop("operation", None), **spec)
            else:
                _only(body, _FAULT_FIELDS)
                faults.add(**body)
        elif request.method == "DELETE":
            faults.clear()
        return _json(
            200,
            {"rules": [r.as_dict() for r in faults.rules], "rate_limits": [limit.as_dict() for limit in faults.limits]},
        )

    def on_requests(self, request: Request) -> tuple[int, bytes]:
        """The log, oldest first; ``?since=N`` only the records after number N, ``?limit=M`` the newest M.

        ``first`` is the oldest number the log still keeps (a reader drops what it holds below it) and
        ``last`` the newest, where the next ``since`` starts.
        """
        log = self.cloud.requests
        if request.method == "DELETE":
            log.clear()
        since = _int_arg(request, "since", 0) or 0
        limit = _int_arg(request, "limit", 1)
        last = log.last  # read first: every record numbered up to here is kept by now
        records = log.since(since, limit)
        last = max(since, last, records[-1].seq if records else 0)
        return _json(200, {"requests": [r.as_dict() for r in records], "first": log.first, "last": last})

    def on_request_detail(self, request: Request, seq: int) -> tuple[int, bytes]:
        record = self.cloud.requests.find(seq)
        if record is None:
            return _json(404, {"error": "NotFound", "message": f"the request log no longer keeps request {seq}"})
        return _json(200, record.detail())

    def on_inventory(self, request: Request) -> tuple[int, bytes]:
        """Every service's tokens, codes and sessions (``?limit=N``: each service's N issued last)."""
        limit = _int_arg(request, "limit", 1)
        cloud = self.cloud
        now = cloud.clock.time()
        entries: list[dict[str, object]] = []
        counts: dict[str, int] = {}
        for name in cloud.service_names:
            found = cloud.state.service_model(name).inventory()
            counts[name] = len(found)
            if limit is not None and len(found) > limit:
                newest = sorted(range(len(found)), key=lambda i: _issued(found[i]))[-limit:]
                found = [found[i] for i in sorted(newest)]
            entries.extend(found)
        return _json(200, {"now": now, "entries": entries, "counts": counts})

    def on_operations(self, request: Request) -> tuple[int, bytes]:
        """What each service emulates: its protocol family, the hosts it claims, its operations, and the ones
        its model declares that it does not emulate."""
        services = {}
        for name in self.cloud.service_names:
            protocol = type(self.cloud.protocol(name))
            claims = self.cloud.services.claims(name)  # the package's routes, or (User API mounts) the model's
            hosts = [*claims.hosts, *(f"{label}.*.{domain}" for label, domain in claims.host_labels)]
            family = next(
                (k.__name__ for k in protocol.__mro__[1:] if k.__module__.startswith("mockcloud.core.protocols")), None
            )
            model = protocol.model_operations()
            services[name] = {
                "protocol": protocol.__name__,
                "family": family,
                "hosts": hosts,
                "operations": list(protocol.operations),
                # what the real service's model declares that is not emulated here: answered 501 NotImplemented
                "not_emulated": protocol.not_emulated_operations(),
                "model": None
                if model is None
                else {"service": model.service, "title": model.title, "operations": len(model.operations)},
            }
        return _json(200, {"services": services})

    def on_credentials(self, request: Request) -> tuple[int, bytes]:
        if request.method == "GET":  # the keys, secrets masked
            aws, alibaba = self.cloud.credentials.registered()
            return _json(
                200,
                {
                    "aws": [
                        {
                            "access_key_id": k.access_key_id,
                            "secret_access_key": MASK,
                            "account_id": k.account_id,
                            "session_token": MASK if k.session_token else None,
                            "expires": k.expires,
                            "arn": k.caller_arn,
                        }
                        for k in aws
                    ],
                    "alibaba": [{"access_key_id": key_id, "secret": MASK} for key_id, _ in alibaba],
                },
            )
        body = self._body(request)
        _only(body, {"aws", "alibaba"})
        from jsonschema import Draft7Validator

        from ..core import fixtures

        schema = fixtures.schema()["properties"]["credentials"]
        problems = [e.message for e in Draft7Validator(schema).iter_errors(body)]
        if problems:
            raise ValueError("; ".join(problems[:5]))
        self.cloud.credentials.load(body)
        return _json(200, {"ok": True})

    def on_accounts(self, request: Request) -> tuple[int, bytes]:
        """Root keys of another account (a new one, or ``account_id``): the key pair, secret included, once."""
        body = self._body(request)
        _only(body, {"account_id"})
        account_id = body.get("account_id")
        if account_id is not None and not isinstance(account_id, str):
            raise ValueError("account_id is a string of 12 digits")
        key = self.cloud.credentials.new_account(account_id)
        return _json(
            200,
            {
                "access_key_id": key.access_key_id,
                "secret_access_key": key.secret_access_key,
                "account_id": key.account_id,
            },
        )

    def on_state(self, request: Request) -> tuple[int, bytes]:
        """The whole emulator as a snapshot (GET), or a snapshot brought back (PUT)."""
        if request.method == "PUT":
            self.cloud.restore(self._body(request))
            return _json(200, {"restored": True})
        return 200, json.dumps(self.cloud.snapshot()).encode()

    def _namespaces(self) -> Namespaces:
        if self.namespaces is None:
            raise NamespaceError(
                404, "NotFound", "this server makes no namespaces (a namespace's own, or an app outside LiveServer)"
            )
        return self.namespaces

    def on_namespaces(self, request: Request) -> tuple[int, bytes]:
        """Private emulators on ports of their own (:mod:`.namespaces`): list them (GET) or make one (POST)."""
        namespaces = self._namespaces()
        host = _client_host(request)
        if request.method == "GET":
            listing = namespaces.listing()
            return _json(200, {"namespaces": [_namespace(name, port, host) for name, port in listing.items()]})
        body = self._body(request)
        _only(body, {"name", "seed"})
        if "name" not in body:
            raise ValueError("POST /_mockcloud/namespaces takes {'name': NAME} and optionally {'seed': N}")
        server = namespaces.create(body["name"], body.get("seed"))
        return _json(201, _namespace(body["name"], server.port, host))

    def on_namespace(self, request: Request, name: str) -> tuple[int, bytes]:
        namespaces = self._namespaces()
        host = _client_host(request)
        if request.method == "DELETE":
            namespaces.delete(name)
            return _json(200, {"deleted": name})
        return _json(200, _namespace(name, namespaces.get(name).port, host))

    # ---- every helper of every service handle, over HTTP ---------------------------------------
    def _helpers(self, service: str) -> dict[str, Helper] | None:
        if service not in self.cloud.service_names:
            return None
        return helpers(self.cloud.protocol(service).model)

    def on_services(self, request: Request) -> tuple[int, bytes]:
        return _json(
            200,
            {
                "services": {
                    name: [h.describe() for h in (self._helpers(name) or {}).values()]
                    for name in self.cloud.service_names
                }
            },
        )

    def _no_service(self, service: str) -> tuple[int, bytes]:
        message = f"no service {service!r}; this server has {list(self.cloud.service_names)}"
        return _json(404, {"error": "NotFound", "message": message})

    def on_service_helpers(self, request: Request, service: str) -> tuple[int, bytes]:
        found = self._helpers(service)
        if found is None:
            return self._no_service(service)
        return _json(200, {"service": service, "helpers": [h.describe() for h in found.values()]})

    def on_service_call(self, request: Request, service: str, name: str) -> tuple[int, bytes]:
        found = self._helpers(service)
        if found is None:
            return self._no_service(service)
        helper = found.get(name)
        if helper is None:
            return _json(
                404,
                {
                    "error": "NotFound",
                    "message": f"{service} has no helper {name!r}; see GET /_mockcloud/services/{service}",
                },
            )
        if request.method == "GET":
            if not helper.reads_only:
                raise MethodNotAllowed(valid_methods=["POST"])
            arguments: dict[str, Any] = dict(request.args.items())
        else:
            arguments = jsonform.load(self._body(request))
        result = call_helper(self.cloud.protocol(service).model, helper, arguments)
        return _json(200, {"result": jsonform.dump(result)})

    def on_jwks(self, request: Request, service: str | None = None) -> tuple[int, bytes]:
        cloud = self.cloud
        if service is not None and service not in cloud.service_names:
            return _json(404, {"error": "NotFound", "message": f"no service {service!r}"})
        keys = []
        for name in (service,) if service else cloud.service_names:
            keys.extend(cloud.state.service_model(name).jwks()["keys"])
        return _json(200, {"keys": keys})


def _issued(entry: dict[str, object]) -> float:
    """When an inventory entry was issued (0 when it does not say)."""
    issued = entry.get("issued")
    return float(issued) if isinstance(issued, (int, float)) else 0.0


def _is_health_check(environ: WSGIEnvironment) -> bool:
    """``GET /_mockcloud/health`` needs no admin token: a container's HEALTHCHECK, a CI service's health
    command and a compose healthcheck ask it without one (it tells the version and the service names only)."""
    return environ.get("PATH_INFO") in ("/_mockcloud/health", "/_mockcloud/health/") and environ.get(
        "REQUEST_METHOD"
    ) in ("GET", "HEAD")


def _client_host(request: Request) -> str:
    """The host name (or bracketed IPv6 address) the client reached this server by, without the port."""
    host = request.host
    return host[: host.find("]") + 1] if host.startswith("[") else host.partition(":")[0]


def _namespace(name: str, port: int, host: str) -> dict[str, object]:
    """A namespace as the admin API shows it: its URL on the host name the client used."""
    return {"name": name, "port": port, "url": f"http://{host}:{port}"}


def _int_arg(request: Request, name: str, minimum: int) -> int | None:
    """A whole-number query parameter of at least ``minimum``, or None when absent.

    Anything else is the client's error (400).
    """
    text = request.args.get(name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 16 or int(text) < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, not {text[:40]!r}")
    return int(text)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "the JSON body is nested too deeply"
    if isinstance(exc, UnicodeError):
        return "the JSON body holds text that is not valid Unicode (a lone surrogate?)"
    text = str(exc)
    return text if isinstance(exc, MockCloudError) else f"{type(exc).__name__}: {text}"


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number here")


def _only(body: Mapping[str, object], allowed: AbstractSet[str]) -> None:
    extra = set(body) - allowed
    if extra:
        raise ValueError(f"unknown field(s) {sorted(extra)}; allowed: {sorted(allowed)}")


def create_app(
    fixtures: str | Path | None = None,
    services: Iterable[str] | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    *,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    request_log_size: int = DEFAULT_LOG_SIZE,
    guard: AdminGuard | None = None,
    seed: int | None = None,
    state: str | Path | None = None,
    store: str | Store | None = None,
    connect: bool = True,
) -> AdminApp:
    """A WSGI app serving a fresh mock (no interception, its own clock).

    The fixtures are loaded and checked now, so that a bad file stops the
    server before it listens rather than failing every request. With a
    ``store`` (a URL, or a :class:`~mockcloud.state.store.Store`) the mock
    shares the emulator kept there; it is reached now (``connect``), filled
    from the fixtures and ``seed`` if it is empty, so a bad URL stops the
    server too.
    """
    from ..core import fixtures as fixtures_module

    if store is not None and state is not None:
        raise MockCloudError(
            "--state keeps one process's state in a file; with --store the state is the store's: give one of them"
        )
    fixtures_module.check(fixtures)
    state_file = None
    if state is not None:
        from ..state.statefile import StateFile

        state_file = StateFile(state)  # a file that is no state stops the server here
        store = state_file.store
    cloud = MockCloud(
        services,
        fixtures=fixtures,
        settings=settings,
        patch_time=False,
        intercept=False,
        request_log_size=request_log_size,
        seed=seed,
        store=store,
    )
    if state_file is not None:
        state_file.adopt(cloud.state)  # an old file's state converted, then taken
    elif connect:
        cloud.state.start()
    cloud.serve_other_processes()
    app = AdminApp(cloud, guard=guard, max_body_size=max_body_size)
    app.namespace_options = {"fixtures": fixtures, "services": services, "settings": settings}
    app.namespace_options.update(request_log_size=request_log_size, seed=seed)
    return app
