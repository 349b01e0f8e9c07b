"""The one WSGI application every request goes through, however it was caught."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING

from .coverage import NotEmulated
from .errors import ServiceError, StoreUnavailable
from .faults import COMMITTING_FAULTS, Faults
from .log import RequestLog, RequestRecord, capture, next_seq
from .request import Reply, framing_problem, lazy_request_class, request_body, request_target

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .registry import ServiceRegistry
    from .request import Request
    from .service import Exchange, ServiceProtocol

# Set in the environ by an interceptor when another mock (moto, an outer responses) lies beyond it.
OTHERS_ANSWER = "mockcloud.others_answer"
# Present in the environ when the server can fail a connection on its socket; the application puts the
# faulted reply there, and the server delivers the fault instead of an HTTP answer.
NETWORK_FAULT = "mockcloud.network_fault"
# Set in the environ by a server: how to wait out an injected latency (it ends early when the server stops).
LATENCY_WAIT = "mockcloud.latency_wait"


class Application:
    """Route, then fault/throttle, authenticate, parse, validate, invoke, render, log."""

    def __init__(self, services: ServiceRegistry, faults: Faults, log: RequestLog, now: Callable[[], float]) -> None:
        self._request_class = lazy_request_class()  # werkzeug's, imported here: mockcloud imports in milliseconds
        self.services = services
        self._router = services.router
        self._service = services.protocol
        self.faults = faults
        self.log = log
        self._now = now

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        reply = self.handle_environ(environ)
        if reply.unclaimed:
            reply = _unclaimed_reply(self._request_class(environ)).dated(self._now())
            if environ["REQUEST_METHOD"] == "HEAD":
                reply = reply.without_content()
        if reply.delay:
            environ.get(LATENCY_WAIT, time.sleep)(reply.delay)
        if reply.fault is not None and NETWORK_FAULT in environ:
            # the server fails the connection as the fault says, instead of sending this reply
            environ[NETWORK_FAULT] = reply
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        start_response(reply.status_line, reply.headers)
        return [reply.body]

    def handle_environ(self, environ: WSGIEnvironment) -> Reply:
        reply = self.handle(self._request_class(environ))
        if environ["REQUEST_METHOD"] == "HEAD":  # the log keeps the body; the client gets none
            return reply.without_content()
        return reply

    def refuse_too_large(self, environ: WSGIEnvironment, limit: int) -> Reply:
        """A 413 for a request whose body is over ``limit``, in the format of the service it is for.

        The server calls it without the body (it was never read, or only in
        part): the request is routed on its host, headers, query and path,
        and logged like any other.
        """
        started = perf_counter()
        environ["wsgi.input"] = io.BytesIO(b"")
        environ["mockcloud.body"] = b""  # routing and rendering must not look for a body
        request = self._request_class(environ)
        name = self._router().route(request)
        if name is None:
            body = json.dumps(
                {
                    "error": "RequestEntityTooLarge",
                    "message": f"The request body is larger than the limit of {limit} bytes.",
                }
            ).encode()
            reply = Reply(413, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)
            return reply.dated(self._now())
        service: ServiceProtocol[Exchange] = self._service(name)
        exchange = service.exchange_type(request, name, "mockcloud.in_process" in environ)
        error = service.too_large_error(limit)
        reply = service.render_error(exchange, error).dated(self._now())
        del environ["mockcloud.body"]  # the log shows the body as unread, not as empty
        self._record(request, name, "", reply, error.code, started)
        return reply

    def handle(self, request: Request) -> Reply:
        """One request through its service's steps, each handed the same :class:`Exchange`."""
        started = perf_counter()
        name = self._router().route(request)
        if name is None:
            return Reply(404, [], b"", unclaimed=True)
        answered = self._respond(request, name)
        if answered is None:  # another mock answers
            return Reply(404, [], b"", unclaimed=True)
        reply, operation, error_code = answered
        self._record(request, name, operation, reply, error_code, started)
        return reply

    def route(self, request: Request) -> str | None:
        """The service that claims ``request``, if any."""
        return self._router().route(request)

    def forget_routes(self) -> None:
        """Compile the routes again before the next request (a service's routes changed with its state)."""
        self.services.forget_router()

    def _respond(self, request: Request, name: str) -> tuple[Reply, str, str | None] | None:
        """The reply of service ``name``, the operation and the error code; None when another mock answers."""
        service: ServiceProtocol[Exchange] = self._service(name)
        environ = request.environ
        exchange = service.exchange_type(request, name, "mockcloud.in_process" in environ)
        error_code = None
        delay = 0.0
        fault = None
        try:
            if not exchange.in_process:  # from a server: read now, so broken framing is known first
                request_body(request)
                problem = framing_problem(environ)
                if problem is not None:
                    raise service.malformed_request(exchange, problem)
            operation = exchange.operation = service.operation_of(exchange)
            if OTHERS_ANSWER in environ and service.defers(exchange):
                return None
            verdict = self.faults.judge(name, operation)
            if verdict is not None:
                delay, fault = verdict.latency, verdict.network
                if verdict.throttle:
                    raise service.throttling_error(exchange, verdict.retry_after)
                if verdict.error or verdict.status:
                    raise service.injected_error(verdict.error, verdict.status, verdict.message)
                if fault is not None and fault not in COMMITTING_FAULTS:
                    raise _LostBeforeCommit
            if operation not in service.operations:  # the model's but not emulated: 501, whoever signed it
                missing = service.not_emulated(exchange)
                if missing is not None:
                    raise missing
            exchange.caller = service.authenticate(exchange)
            exchange.params = service.parse(exchange)
            service.validate(exchange)
            service.authorize(exchange)
            reply = service.render(exchange, service.invoke(exchange))
        except StoreUnavailable:  # the state could not be had: the keeper answers the service's 5xx
            raise
        except _LostBeforeCommit:
            reply = Reply(0, [], b"")  # the connection fails before the service sees the request
        except ServiceError as error:
            error_code = error.code
            reply = service.render_error(exchange, error)
            if isinstance(error, NotEmulated):
                reply.not_emulated = error  # for a strict mock's interceptor: raised at the call
        except Exception:  # a bug of ours must still answer in the service's format
            import logging

            logging.getLogger("mockcloud").exception(
                "mockcloud: %s %s failed inside the emulator", name, exchange.operation
            )
            failure = service.internal_error()
            error_code = failure.code
            reply = service.render_error(exchange, failure)
        reply.delay, reply.fault = delay, fault
        return reply.dated(self._now()), exchange.operation, error_code

    def unavailable(self, request: Request, name: str | None) -> Reply:
        """The service's own 5xx for a request whose state could not be had or kept (not logged: nowhere to)."""
        if name is None:
            return Reply(404, [], b"", unclaimed=True)
        try:
            service: ServiceProtocol[Exchange] = self._service(name)
            exchange = service.exchange_type(request, name, "mockcloud.in_process" in request.environ)
            with contextlib.suppress(Exception):  # the operation, where the service's format shows it
                exchange.operation = service.operation_of(exchange)
            return service.render_error(exchange, service.unavailable_error()).dated(self._now())
        except Exception:  # the service itself could not be had: plain JSON still
            message = "The emulator's shared state cannot be reached."
            body = json.dumps({"error": "ServiceUnavailable", "message": message}).encode()
            return Reply(503, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)

    def _record(
        self, request: Request, name: str, operation: str, reply: Reply, error_code: str | None, started: float
    ) -> None:
        """Log the attempt, numbered as it is kept (see RequestLog.lock)."""
        log = self.log
        with log.lock:
            log.record(self._describe(request, name, operation, reply, error_code, started, next_seq()))

    def _describe(
        self,
        request: Request,
        name: str,
        operation: str,
        reply: Reply,
        error_code: str | None,
        started: float,
        seq: int = 0,
    ) -> RequestRecord:
        """The log's record of an attempt: references and one copy of the header entries, formatted when read."""
        latency = perf_counter() - started
        environ = request.environ
        return RequestRecord(
            name,
            operation or None,
            reply.status,
            error_code,
            environ["REQUEST_METHOD"],
            environ.get("wsgi.url_scheme", "http"),
            environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
            request_target(request),
            self._now(),
            reply.fault,
            seq,
            "in-process" if "mockcloud.in_process" in environ else environ.get("REMOTE_ADDR"),
            latency,
            reply.delay,
            capture(environ, reply.headers, reply.body, self.log.body_limit),
        )


class _LostBeforeCommit(Exception):
    """A network fault that drops the request before the service acts on it."""


def _unclaimed_reply(request: Request) -> Reply:
    body = json.dumps(
        {
            "error": "NoServiceClaimsRequest",
            "message": (
                f"mockcloud: no emulated service claims {request.method} {request.url}. Requests are routed by "
                "the service's real host name, the SigV4 credential scope, X-Amz-Target, Action+Version, or path."
            ),
        }
    ).encode()
    return Reply(404, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)
