"""Compare WSGI servers for ``mockcloud server``: throughput and behaviour under hostile input.

Informational (always exits 0 unless it crashes). Each candidate serves the
same mockcloud application in its own subprocess on 127.0.0.1; the probes
talk to loopback only, with bounded counts and times:

    python benchmarks/compare_servers.py [--seconds 6] [--only waitress,cheroot]

Per candidate it prints: requests/s of a replayed signed License Manager
GetAccessToken with wrk (2 threads, 8 keep-alive connections; falls back to
the ``_loadgen`` client processes without wrk), whether one connection serves
several requests, what ``Content-Length: abc`` and a bad chunk header get,
what a lying chunked upload (chunk size ``ffffffffffffffffffff``, 3 bytes,
disconnect) costs the server in CPU and memory over the next two seconds, and
how long a new client waits while 1000 idle connections are open.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
LOOPBACK = "127.0.0.1"

CANDIDATES = ("werkzeug-dev", "waitress", "cheroot", "granian", "mockcloud")


# ---- the servers (run in a child: ``compare_servers.py --serve NAME``) ----------------
def serve(name: str) -> None:
    """Serve the mockcloud app with ``name`` on a free loopback port; print the port, then block."""
    if name == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        port = _free_port()
        print(port, flush=True)
        Granian("mockcloud.server.app:create_app", address=LOOPBACK, port=port, interface=Interfaces.WSGI,
                factory=True, workers=1, log_enabled=False).serve()
        return
    from mockcloud.server.app import create_app

    app = create_app()
    if name == "werkzeug-dev":
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        server = make_server(LOOPBACK, 0, app, threaded=True, request_handler=Quiet)
        print(server.server_port, flush=True)
        server.serve_forever()
    elif name == "waitress":
        import waitress

        server = waitress.create_server(app, host=LOOPBACK, port=0, threads=4, connection_limit=4000,
                                        channel_timeout=30, asyncore_use_poll=True,
                                        max_request_body_size=10 * 1024 * 1024)
        print(server.effective_port, flush=True)
        server.run()
    elif name == "cheroot":
        from cheroot import wsgi

        server = wsgi.Server((LOOPBACK, 0), app, numthreads=8, timeout=30)
        server.max_request_body_size = 10 * 1024 * 1024
        server.keep_alive_conn_limit = 4000
        server.prepare()
        print(server.bind_addr[1], flush=True)
        server.serve()
    elif name == "mockcloud":  # what ``mockcloud server`` runs: waitress with our limits and 413s
        from mockcloud.server.serving import make_server as mockcloud_server

        server = mockcloud_server(app, LOOPBACK, 0)
        print(server.port, flush=True)
        server.run()
    else:
        raise SystemExit(f"unknown candidate {name}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class Child:
    """One candidate server in a subprocess, stopped (killed if need be) on exit."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", name], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"{name} did not start")
        self.port = int(line)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

    def pids(self) -> list[int]:
        """The server process and its children (granian runs a worker process)."""
        found = [self.proc.pid]
        for pid in found:
            try:
                found += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:
                pass
        return found

    def usage(self) -> tuple[float, int]:
        """CPU seconds and resident KiB, summed over the server's processes."""
        cpu, rss = 0.0, 0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / tick
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            except OSError:
                pass
        return cpu, rss

    def stop(self) -> None:
        for pid in reversed(self.pids()[1:]):
            try:
                os.kill(pid, 15)
            except OSError:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


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
HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSLicenseManager.ListTokens\r\nContent-Type: application/x-amz-json-1.1\r\n"


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
def signed_request(port: int) -> tuple[str, bytes, dict]:
    from run import signed_get_access_token

    path, body, headers, _ = signed_get_access_token(f"http://{LOOPBACK}:{port}")
    return path, body, headers


def wrk_rps(port: int, path: str, body: bytes, headers: dict, seconds: float, connections: int = 8) -> float:
    """Requests/s of a replayed request under wrk (2 threads, keep-alive connections); non-200 replies are not counted."""
    def lua(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    script = ["wrk.method = \"POST\"", f"wrk.body = {lua(body.decode('latin-1'))}"]
    script += [f"wrk.headers[{lua(k)}] = {lua(v)}" for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("\n".join(script) + "\n")
        name = f.name
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "-s", name,
                              f"http://{LOOPBACK}:{port}{path}"], capture_output=True, text=True,
                             timeout=seconds + 30).stdout
    finally:
        os.unlink(name)
    rps = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("Requests/sec"))
    non2xx = next((int(line.split()[-1]) for line in out.splitlines() if "Non-2xx" in line), 0)
    total = next(int(line.split()[0]) for line in out.splitlines() if "requests in" in line)
    return rps * (1 - non2xx / total) if total else 0.0


def loadgen_rps(port: int, path: str, body: bytes, headers: dict, seconds: float) -> float:
    import multiprocessing

    from run import Sizes, run_load

    sizes = Sizes(0, 0, 0, 0, 0, clients=4, requests_per_client=100000, load_seconds=seconds, load_rounds=1)
    result = run_load(multiprocessing.get_context("spawn"), port, path, body, headers, sizes)
    return result["rps"] * (1 - result["non200"] / result["sent"]) if result["sent"] else 0.0


def measure(name: str, seconds: float) -> list[str]:
    child = Child(name)
    try:
        path, body, headers = signed_request(child.port)
        if shutil.which("wrk"):
            rps = wrk_rps(child.port, path, body, headers, seconds)
            rps64 = wrk_rps(child.port, path, body, headers, seconds, connections=64)
            load = f"{rps:.0f} req/s (wrk 2 threads, 8 connections), {rps64:.0f} req/s with 64 connections"
        else:
            load = f"{loadgen_rps(child.port, path, body, headers, seconds):.0f} req/s (4 keep-alive client processes)"
        lines = [f"{name}: {load}", f"  keep-alive on one connection: {probe_keepalive(child.port)}"]
        for probe, result in probe_framing(child.port).items():
            lines.append(f"  {probe}: {result}")
        lines.append(f"  1000 idle connections, then a new client: {probe_idle(child.port)}")
        lines.append(f"  lying chunked upload: {probe_lying_chunk(child)}")  # last: it may leave the server spinning
        return lines
    finally:
        child.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each load run (default 6)")
    parser.add_argument("--only", help="comma-separated candidates (default: all)")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    for name in (args.only.split(",") if args.only else CANDIDATES):
        try:
            for line in measure(name, args.seconds):
                print(line, flush=True)
        except Exception as exc:  # one candidate failing does not hide the others
            print(f"{name}: failed: {exc!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
