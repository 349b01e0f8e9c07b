"""benchmarks/fuzz.py runs bounded, answers 0 internal errors, and never aims off loopback."""

from __future__ import annotations

import importlib.util
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True, timeout=120
    )


def test_a_short_run_counts_statuses_and_finds_no_internal_error():
    result = run("--requests", "300", "--seed", "5")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "fuzz: 300 requests" in result.stdout
    assert "by status: " in result.stdout and "licensemanager: " in result.stdout
    assert result.stdout.rstrip().endswith("internal errors: 0")


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:4566", "http://example.com", "https://127.0.0.1:4566", "http://192.168.1.1"]
)
def test_targets_off_loopback_are_refused_before_any_request(url):
    result = run("--url", url, "--requests", "1")
    assert result.returncode != 0
    assert "refusing" in result.stderr and "loopback" in result.stderr
    assert "fuzz:" not in result.stdout


def test_a_short_run_reports_keep_alive_and_head_without_desynchronized_replies():
    result = run("--requests", "400", "--seed", "9", "--keep-alive", "0.8")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("keep-alive: "))
    requests_kept, heads = (int(n) for n in re.match(r"keep-alive: (\d+) requests \((\d+) HEAD\)", line).groups())
    assert requests_kept > 200 and heads > 20
    assert line.endswith("BadStatusLine: 0, desynchronized replies: 0")


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "reply, kind",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "BadStatusLine"),  # a body after a reply to HEAD
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello", "BadStatusLine"),  # a length that lies
    ],
)
def test_the_keep_alive_reader_detects_replies_out_of_step(reply, kind):
    """Against a server that answers every request with ``reply``: the fuzz script's reader notices."""
    fuzz = _fuzz_module()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def serve() -> None:
            connection, _ = listener.accept()
            with connection:
                for _ in range(2):
                    received = b""
                    while b"\r\n\r\n" not in received:
                        chunk = connection.recv(65536)
                        if not chunk:  # the reader gave up on the connection: nothing more to answer
                            return
                        received += chunk
                    connection.sendall(reply)

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        keep_alive = fuzz.KeepAlive(listener.getsockname())
        assert keep_alive.exchange(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD")[0] == 200
        with pytest.raises(fuzz.Desynchronized) as lost:
            keep_alive.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
            keep_alive.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
        assert lost.value.kind in (kind, "stray bytes")
        keep_alive.close()
        server.join(timeout=30)
