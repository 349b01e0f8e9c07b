"""Compare WSGI servers for ``mockcloud server``: throughput and behaviour under hostile input.

Informational (always exits 0 unless it crashes). Each candidate serves the
same mockcloud application in its own subprocess on 127.0.0.1; the probes
talk to loopback only, with bounded counts and times:

    python benchmarks/compare_servers.py [--seconds 6] [--only waitress,cheroot] [--pinned]

Per candidate it prints: requests/s of a replayed signed License Manager
GetAccessToken with wrk (2 threads, 8 and 64 keep-alive connections, nothing
pinned unless ``--pinned``; falls back to
the ``_loadgen`` client processes without wrk), whether one connection serves
several requests, what ``Content-Length: abc`` and a bad chunk header get,
what a lying chunked upload (chunk size ``ffffffffffffffffffff``, 3 bytes,
disconnect) costs the server in CPU and memory over the next two seconds, and
how long a new client waits while 1000 idle connections are open.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import LOOPBACK, Child

CANDIDATES = ("werkzeug-dev", "waitress", "cheroot", "granian", "mockcloud")


# ---- probes -------------------------------------------------------------------------
def _exchange(port: int, raw: bytes, timeout: float = 3.0) -> bytes:
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except OSError as exc:
            chunks.append(f"<{type(exc).__name__}>".encode())
        return b"".join(chunks)


def _status(reply: bytes) -> str:
    if not reply:
        return "connection closed, no reply"
    first = reply.split(b"\r\n", 1)[0].decode("latin-1")
    kind = "html" if b"<html" in reply.lower() or b"<!doctype" in reply.lower() else "text"
    return f"{first[9:]} ({kind})" if first.startswith("HTTP/") else first[:40]


def probe_keepalive(port: int) -> str:
    import http.client

    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=3)
    socks = set()
    try:
        for _ in range(5):
            conn.request("GET", "/_mockcloud/health")
            reply = conn.getresponse()
            reply.read()
            socks.add(id(conn.sock))
            if conn.sock is None:
                return "no (closed after a reply)"
    finally:
        conn.close()
    return "yes" if len(socks) == 1 else f"no ({len(socks)} connections for 5 requests)"


# claimed by License Manager, which reads the body (a request no service claims is answered unread)
HEAD = (
    b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSLicenseManager.ListTokens\r\n"
    b"Content-Type: application/x-amz-json-1.1\r\n"
)


def health(port: int) -> bytes:
    return f"GET /_mockcloud/health HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nConnection: close\r\n\r\n".encode()


def probe_framing(port: int) -> dict[str, str]:
    head = HEAD
    return {
        "Content-Length: abc": _status(_exchange(port, head + b"Content-Length: abc\r\n\r\n{}")),
        "bad chunk header": _status(_exchange(port, head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")),
    }


def probe_lying_chunk(child: Child) -> str:
    head = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    cpu0, rss0 = child.usage()
    with socket.create_connection((LOOPBACK, child.port), timeout=3) as s:
        s.sendall(head + b"ffffffffffffffffffff\r\nabc")
    time.sleep(2.0)
    cpu1, rss1 = child.usage()
    began = time.monotonic()
    try:
        _exchange(child.port, health(child.port))
        after = f"next client {1000 * (time.monotonic() - began):.0f} ms"
    except OSError as exc:
        after = f"next client failed: {exc!r}"
    return f"CPU {cpu1 - cpu0:.2f} s, RSS {(rss1 - rss0) / 1024:+.1f} MiB over 2 s; {after}"


def probe_idle(port: int, count: int = 1000) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))
    idle = []
    try:
        for _ in range(count):
            idle.append(socket.create_connection((LOOPBACK, port), timeout=3))
        time.sleep(0.5)
        began = time.monotonic()
        try:
            reply = _exchange(port, health(port), timeout=5)
            return f"{_status(reply)} in {1000 * (time.monotonic() - began):.0f} ms"
        except OSError as exc:
            return f"failed after {time.monotonic() - began:.1f} s: {exc!r}"
    finally:
        for s in idle:
            s.close()


# ---- throughput ---------------------------------------------------------------------
def throughput(child: Child, seconds: float, pinned: bool = False) -> str:
    """Requests/s of a replayed signed GetAccessToken: wrk with 8 and 64 connections.

    Nothing pinned, as users run servers; ``pinned``: the server on one CPU, wrk on the others.
    """
    from run import Sizes, run_load, run_wrk, signed_get_access_token, split_cpus

    path, body, headers, _ = signed_get_access_token(child.url)
    sizes = Sizes(0, 0, 0, 0, 0, clients=4, requests_per_client=100000, load_seconds=seconds, load_rounds=1)
    if not shutil.which("wrk"):
        import multiprocessing

        rps = run_load(multiprocessing.get_context("spawn"), child.port, path, body, headers, sizes)["rps"]
        return f"{rps:.0f} req/s (4 keep-alive client processes)"
    split = split_cpus() if pinned else None
    if split:
        child.pin(split[0])
    rps8 = run_wrk(child.port, path, body, headers, sizes, connections=8, pin=split is not None)["rps"]
    rps64 = run_wrk(child.port, path, body, headers, sizes, connections=64, pin=split is not None)["rps"]
    return f"{rps8:.0f} req/s (wrk, 2 threads, 8 connections), {rps64:.0f} req/s with 64" + (
        " (PINNED: server and wrk on separate CPUs)" if split else " (nothing pinned)"
    )


def measure(name: str, seconds: float, pinned: bool = False) -> list[str]:
    child = Child(name)
    try:
        lines = [
            f"{name}: {throughput(child, seconds, pinned)}",
            f"  keep-alive on one connection: {probe_keepalive(child.port)}",
        ]
        for probe, result in probe_framing(child.port).items():
            lines.append(f"  {probe}: {result}")
        lines.append(f"  1000 idle connections, then a new client: {probe_idle(child.port)}")
        lines.append(f"  lying chunked upload: {probe_lying_chunk(child)}")  # last: it may leave the server spinning
        return lines
    finally:
        child.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each load run (default 6)")
    parser.add_argument("--only", help="comma-separated candidates (default: all)")
    parser.add_argument("--pinned", action="store_true", help="each server on one CPU and wrk on the others")
    args = parser.parse_args(argv)
    for name in args.only.split(",") if args.only else CANDIDATES:
        try:
            for line in measure(name, args.seconds, args.pinned):
                print(line, flush=True)
        except Exception as exc:  # one candidate failing does not hide the others
            print(f"{name}: failed: {exc!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
