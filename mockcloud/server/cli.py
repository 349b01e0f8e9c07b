"""``mockcloud server``: serve the emulator over HTTP."""
from __future__ import annotations

import argparse
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mockcloud", description="Emulator of cloud token APIs for tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("server", help="serve the emulator over HTTP (loopback by default)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; use 0.0.0.0 deliberately)")
    serve.add_argument("--port", type=int, default=4566, help="port (default 4566; 0 picks a free one and prints it)")
    serve.add_argument("--fixtures", help="JSON file whose sections replace the embedded default state")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    from ..core.errors import MockCloudError
    from .live import LiveServer

    try:
        server = LiveServer(args.host, args.port, fixtures=args.fixtures, quiet=not args.verbose)
    except (MockCloudError, OSError) as exc:
        print(f"mockcloud: {exc}", file=sys.stderr)
        return 2

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"mockcloud server listening on {server.url} (services: {', '.join(server.cloud.service_names)})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._server.server_close()
    print("mockcloud server stopped", flush=True)
    return 0
