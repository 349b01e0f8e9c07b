"""``mockcloud server``: serve the emulator over HTTP."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from .namespaces import DEFAULT_LIMIT as DEFAULT_NAMESPACES
from .namespaces import PortRange
from .serving import ServerLimits

if TYPE_CHECKING:
    from types import FrameType

    from .live import LiveServer

_DEFAULTS = ServerLimits()


def _whole(low: int, high: int | None, what: str, hint: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], refused with a message that names the range."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < low or (high is not None and value > high):
            bounds = f"outside {low}-{high}" if high is not None else f"less than {low}"
            raise argparse.ArgumentTypeError(f"{value} is {bounds}{hint}")
        return value

    return convert


_port = _whole(0, 65535, "a port number", " (0 picks a free port)")
_positive_int = _whole(1, None, "a whole number")


def _port_range(text: str) -> PortRange:
    try:
        return PortRange.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < 86400 * 365:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _one_line(text: str) -> str:
    """A message on one line: the first, then the details after it, separated by semicolons; control
    characters escaped (it may quote a server's answer or a file's content)."""
    from ..core.text import printable

    first, *rest = [line.strip() for line in text.splitlines() if line.strip()] or [text]
    return printable(" ".join([first, "; ".join(rest)]) if rest else first)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mockcloud", description="Emulator of cloud token APIs for tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    _server_parser(commands)
    _client_parsers(commands)
    args = parser.parse_args(argv)
    if args.command == "server":
        return _serve(args)
    return _client_command(args)


def _server_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "server",
        help="serve the emulator over HTTP (loopback by default)",
        description="--host, --port, --fixtures, --state, --seed, --store, --workers, --namespace-ports, "
        "--max-namespaces, --admin-token and --allow-host (comma-separated) take their default from "
        "$MOCKCLOUD_<OPTION> (MOCKCLOUD_STATE, MOCKCLOUD_ALLOW_HOST, ...), as a container image or a compose "
        "file sets them; the command line wins.",
    )
    env = os.environ.get
    serve.add_argument(
        "--host",
        default=env("MOCKCLOUD_HOST", "127.0.0.1"),
        help="address to bind (default 127.0.0.1; use 0.0.0.0 deliberately)",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=env("MOCKCLOUD_PORT", "4566"),
        help="port (default 4566; 0 picks a free one and prints it)",
    )
    serve.add_argument(
        "--fixtures",
        default=env("MOCKCLOUD_FIXTURES") or None,
        help="JSON file whose sections replace the embedded default state",
    )
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.add_argument(
        "--state",
        metavar="FILE",
        default=env("MOCKCLOUD_STATE") or None,
        help="keep the emulator's state in FILE (a SQLite database, its owner's alone): taken at start when it "
        "exists, each change written as it is made; a JSON snapshot there is converted",
    )
    serve.add_argument(
        "--seed",
        type=int,
        default=env("MOCKCLOUD_SEED") or None,
        help="make every identifier, token, code, key pair and request id repeat run after run",
    )
    shared = serve.add_argument_group("scale-out")
    shared.add_argument(
        "--store",
        metavar="URL",
        default=env("MOCKCLOUD_STORE") or None,
        help="keep the emulator's state in Redis (redis://HOST:PORT/DB[?prefix=NAME]); every server "
        "given the same store is one emulator. An empty store is filled from --fixtures, --seed",
    )
    shared.add_argument(
        "--workers",
        type=_positive_int,
        default=env("MOCKCLOUD_WORKERS", "1"),
        metavar="N",
        help="worker processes on one port (default 1); more than one needs --store",
    )
    namespaces = serve.add_argument_group("namespaces (one server shared by many test processes)")
    namespaces.add_argument(
        "--namespace-ports",
        type=_port_range,
        default=env("MOCKCLOUD_NAMESPACE_PORTS") or None,
        metavar="LOW-HIGH",
        help="ports for namespaces, e.g. a container's published range 4600-4699 (default: any free port)",
    )
    namespaces.add_argument(
        "--max-namespaces",
        type=_positive_int,
        default=env("MOCKCLOUD_MAX_NAMESPACES", str(DEFAULT_NAMESPACES)),
        metavar="N",
        help=f"namespaces held at once (default {DEFAULT_NAMESPACES})",
    )
    limits = serve.add_argument_group("limits")
    limits.add_argument(
        "--max-body-size",
        type=_positive_int,
        default=_DEFAULTS.max_body_size,
        metavar="BYTES",
        help=f"larger request bodies get a 413 in the service's format (default {_DEFAULTS.max_body_size})",
    )
    limits.add_argument(
        "--max-header-size",
        type=_positive_int,
        default=_DEFAULTS.max_header_size,
        metavar="BYTES",
        help=f"request line and headers; larger gets a 431 (default {_DEFAULTS.max_header_size})",
    )
    limits.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=_DEFAULTS.idle_timeout,
        metavar="SECONDS",
        help=f"close a connection silent this long (default {_DEFAULTS.idle_timeout:g})",
    )
    limits.add_argument(
        "--request-timeout",
        type=_seconds,
        default=_DEFAULTS.request_timeout,
        metavar="SECONDS",
        help="close a connection whose request has not arrived whole this long after it began "
        f"(default {_DEFAULTS.request_timeout:g})",
    )
    limits.add_argument(
        "--threads",
        type=_positive_int,
        default=_DEFAULTS.threads,
        help=f"worker threads that run requests (default {_DEFAULTS.threads})",
    )
    limits.add_argument(
        "--connection-limit",
        type=_positive_int,
        default=_DEFAULTS.connection_limit,
        metavar="N",
        help=f"open connections; more wait to be accepted (default {_DEFAULTS.connection_limit})",
    )
    limits.add_argument(
        "--connections-per-client",
        type=_positive_int,
        default=_DEFAULTS.connections_per_client,
        metavar="N",
        help="open connections of one client address; a new one beyond closes that client's longest-idle one, "
        f"or is refused when all are busy (default {_DEFAULTS.connections_per_client})",
    )
    limits.add_argument(
        "--request-log-size",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="requests kept in the request log (default 1000)",
    )
    admin = serve.add_argument_group("admin API")
    admin.add_argument(
        "--admin-token",
        default=os.environ.get("MOCKCLOUD_ADMIN_TOKEN") or None,
        help="token the admin API requires (default $MOCKCLOUD_ADMIN_TOKEN; off loopback one is generated and printed)",
    )
    admin.add_argument(
        "--allow-host",
        action="append",
        default=[name.strip() for name in env("MOCKCLOUD_ALLOW_HOST", "").split(",") if name.strip()],
        metavar="NAME[:PORT]",
        help="another Host name the admin API accepts (repeatable), e.g. the docker-compose service name",
    )


def _serve(args: argparse.Namespace) -> int:
    from ..core.errors import MockCloudError
    from .live import LiveServer
    from .serving import raise_open_files_limit

    if args.workers > 1 and not args.store:
        print(
            "mockcloud: --workers needs --store: each worker would otherwise be an emulator of its own", file=sys.stderr
        )
        return 2
    if args.workers > 1 and not hasattr(os, "fork"):
        print("mockcloud: --workers needs os.fork (POSIX); run one server per port instead", file=sys.stderr)
        return 2
    if args.store and args.state:
        print("mockcloud: give --state or --store, not both: with --store the state is the store's", file=sys.stderr)
        return 2
    raise_open_files_limit(args.connection_limit)
    if args.workers > 1:
        return _serve_workers(args)
    _stop_on_signals()  # before anything is printed: a stop after "listening" is always a clean one
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            server = LiveServer(
                args.host,
                args.port,
                fixtures=args.fixtures,
                admin_token=args.admin_token,
                request_log_size=args.request_log_size,
                **_serving_options(args),
                seed=args.seed,
                state=args.state,
                store=args.store,
            )
    except (OSError, MockCloudError, ValueError) as exc:
        return _cannot_start(args, exc)
    except KeyboardInterrupt:  # stopped before it listened: nothing was served, nothing to save
        return 0
    try:
        for warning in caught:
            print(_one_line(f"mockcloud: WARNING: {warning.message}"), file=sys.stderr, flush=True)
        if server.admin_token is not None and args.admin_token is None:
            _print_token(server.admin_token)
        store = f"; state in {_shown(args.store)}" if args.store else ""
        _warn_open_store(args.store)
        names = ", ".join(server.cloud.service_names)
        print(f"mockcloud server listening on {server.url} (services: {names}{store})", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        status = _stop(server)
    print("mockcloud server stopped", flush=True)
    return status


def _cannot_start(args: argparse.Namespace, exc: Exception) -> int:
    """Say on one line why the server cannot start; the exit status for it."""
    if isinstance(exc, OSError):
        print(
            f"mockcloud: cannot listen on {args.host}:{args.port}: {_one_line(str(exc.strerror or exc))}",
            file=sys.stderr,
        )
    else:
        print(f"mockcloud: {_one_line(str(exc) or type(exc).__name__)}", file=sys.stderr)
    return 2


def _stop_on_signals() -> None:
    """The first SIGTERM or SIGINT ends ``serve_forever`` by KeyboardInterrupt, wherever the main thread is;
    later ones are ignored, so that none cuts the stop and the last save short."""

    def stop(signum: int, frame: FrameType | None) -> NoReturn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _stop(server: LiveServer) -> int:
    """Stop serving and save the state: 0, or 1 with one line when the state could not be saved."""
    try:
        server.stop()
    except OSError as exc:
        path = getattr(getattr(server.app, "state_file", None), "path", "?")
        print(f"mockcloud: the state could not be saved to {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _run_until_stopped(server: LiveServer) -> None:
    _stop_on_signals()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _serving_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options every server of one command line is given alike (one server, or each worker)."""
    return {
        "quiet": not args.verbose,
        "max_body_size": args.max_body_size,
        "max_header_size": args.max_header_size,
        "idle_timeout": args.idle_timeout,
        "request_timeout": args.request_timeout,
        "threads": args.threads,
        "connection_limit": args.connection_limit,
        "connections_per_client": args.connections_per_client,
        "allowed_hosts": args.allow_host,
        "namespace_ports": args.namespace_ports,
        "max_namespaces": args.max_namespaces,
    }


def _print_token(token: str) -> None:
    print(f"mockcloud: admin token (send as 'Authorization: Bearer TOKEN'): {token}", flush=True)


def _warn_open_store(url: str | None) -> None:
    """A store off loopback, without a password or TLS, holds every token and key where anyone near can read them."""
    from urllib.parse import urlsplit

    from .guard import is_loopback

    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme == "redis" and parts.hostname and not is_loopback(parts.hostname) and not parts.password:
        print(
            f"mockcloud: WARNING: the store {_shown(url)} is off loopback, without a password or TLS (rediss://): "
            "anything that reaches it can read and change the emulator's state",
            file=sys.stderr,
            flush=True,
        )


def _shown(url: str) -> str:
    """A store URL fit to print: without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def _serve_workers(args: argparse.Namespace) -> int:
    """``--workers N``: check everything and bind once here, then fork the workers and look after them."""
    import secrets

    from ..core.errors import MockCloudError
    from .app import create_app
    from .guard import AdminGuard, is_loopback, off_loopback
    from .live import LiveServer
    from .serving import bind
    from .workers import AcceptBalance, supervise

    try:
        AdminGuard.for_bind(args.host, args.port, allowed_hosts=args.allow_host)
        probe = create_app(args.fixtures, request_log_size=args.request_log_size, seed=args.seed, store=args.store)
        probe.cloud.state.close()  # reached, and filled if it was empty; workers open their own connections
        listener = bind(args.host, args.port)
    except (OSError, MockCloudError, ValueError) as exc:
        return _cannot_start(args, exc)
    _warn_open_store(args.store)
    token = args.admin_token
    if token is None and not is_loopback(args.host):
        token = secrets.token_urlsafe(32)
        _print_token(token)
        print(f"mockcloud: WARNING: {off_loopback(args.host)}", file=sys.stderr, flush=True)
    port = listener.getsockname()[1]
    balance = AcceptBalance(args.workers)

    def run(index: int) -> int:
        app = create_app(
            args.fixtures, request_log_size=args.request_log_size, seed=args.seed, store=args.store, connect=False
        )  # a store that is down now is reached at the first request
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # off loopback: the parent has said so once
            server = LiveServer(
                args.host,
                port,
                app=app,
                admin_token=token,
                listener=listener,
                **_serving_options(args),
                may_accept=balance.gate(index),
            )
        _run_until_stopped(server)
        return 0

    host = f"[{args.host}]" if ":" in args.host else args.host
    names = ", ".join(probe.cloud.service_names)

    def ready() -> None:
        print(
            f"mockcloud server listening on http://{host}:{port} (services: {names}; {args.workers} workers, "
            f"state in {_shown(args.store)})",
            flush=True,
        )

    supervise(args.workers, listener, run, balance, ready)
    print("mockcloud server stopped", flush=True)
    return 0


# ---- the admin API from the shell ------------------------------------------------------------


def _client_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def with_url(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--url", default=None, help="the server (default $MOCKCLOUD_URL, then http://127.0.0.1:4566)"
        )
        parser.add_argument(
            "--admin-token",
            default=None,
            help="the admin token, if the server needs one (default $MOCKCLOUD_ADMIN_TOKEN)",
        )
        return parser

    state = commands.add_parser("state", help="save or load the whole emulator's state (a JSON snapshot)")
    state_commands = state.add_subparsers(dest="action", required=True)
    with_url(state_commands.add_parser("save", help="write the server's state to FILE")).add_argument("file")
    with_url(state_commands.add_parser("load", help="put FILE's state into the server")).add_argument("file")

    clock = commands.add_parser("clock", help="read or move the server's clock")
    clock_commands = clock.add_subparsers(dest="action", required=True)
    with_url(clock_commands.add_parser("now", help="print the server's time"))
    with_url(clock_commands.add_parser("advance", help="move the clock forward SECONDS")).add_argument(
        "seconds", type=float
    )
    with_url(clock_commands.add_parser("freeze", help="stop the clock (at WHEN, ISO-8601, if given)")).add_argument(
        "when", nargs="?"
    )
    with_url(clock_commands.add_parser("unfreeze", help="let the clock run again"))

    call = with_url(
        commands.add_parser(
            "call",
            help="call a helper of a service: mockcloud call wuying create_user end_user_id=bob password=...",
            description="Arguments are key=value; a value is read as JSON when it parses "
            "(42, true, [1, 2]), else as text.",
        )
    )
    call.add_argument("service")
    call.add_argument("helper")
    call.add_argument("arguments", nargs="*", metavar="key=value")


def _client_command(args: argparse.Namespace) -> int:
    import json

    from ..core.errors import MockCloudError
    from ..remote import RemoteError, connect

    try:
        remote = connect(args.url, admin_token=args.admin_token)
        if args.command == "state":
            if args.action == "save":
                from ..state.statefile import write_private

                document = remote.snapshot()
                write_private(args.file, json.dumps(document, indent=2, sort_keys=True).encode())  # it holds secrets
                print(_one_line(f"mockcloud: state of {remote.url} saved to {args.file}"))
            else:
                from ..core import jsonbody

                with open(args.file, "rb") as source:
                    remote.restore(jsonbody.loads(source.read()))
                print(_one_line(f"mockcloud: state of {remote.url} loaded from {args.file}"))
        elif args.command == "clock":
            if args.action == "advance":
                now = remote.clock.advance(args.seconds)
            elif args.action == "freeze":
                now = remote.clock.freeze(args.when)
            elif args.action == "unfreeze":
                now = remote.clock.unfreeze()
            else:
                now = remote.clock.now()
            print(now.isoformat())
        else:
            arguments = dict(_key_value(item) for item in args.arguments)
            result = getattr(getattr(remote, args.service), args.helper)
            value = result(**arguments) if callable(result) else result
            from ..core import jsonform

            print(json.dumps(jsonform.dump(value), indent=2, default=str))
    except (RemoteError, MockCloudError, AttributeError, TypeError, OSError, ValueError) as exc:
        print(f"mockcloud: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    return 0


def _key_value(item: str) -> tuple[str, object]:
    import json

    key, equals, value = item.partition("=")
    if not equals or not key:
        raise ValueError(f"{item!r}: arguments are key=value")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value
