"""Client text in a log line is escaped: no ESC, CSI, line break or bidi control reaches the terminal raw.

A request target with ``ESC [2J`` used to clear the operator's screen from
``--verbose``; a line break in it forged a log line. Each place that writes
a log line gets such text: ``--verbose``, the server's logs (``mockcloud`` and
``waitress``), the CLI's messages.
"""

from __future__ import annotations

import io
import logging
import socket
import subprocess
import sys

import pytest

from mockcloud.core.text import printable
from mockcloud.server import LiveServer
from tests.helpers import cli_server

pytestmark = pytest.mark.server

NASTY = "\x1b[2J\x1b]0;owned\x07\u009b31m\nFORGED 200\r\u202egnp.exe"
RAW_BYTES = b"\x1b[2J\x1b]0;owned\x07\x7f"  # the target's bytes (waitress refuses a line break or non-ASCII there)


def assert_escaped(text: str) -> None:
    bad = [c for c in text if (ord(c) < 0x20 and c not in "\n") or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029\u202e"]
    assert not bad, f"raw control characters {bad!r} in {text!r}"


@pytest.mark.parametrize(
    "text, shown",
    [
        ("plain text", "plain text"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d"),
        ("\u009b1m \x7f", "\\x9b1m \\x7f"),
        ("\u202eevil\u2066", "\\u202eevil\\u2066"),
        ("ünïcödé ☃ 名前", "ünïcödé ☃ 名前"),
    ],
)
def test_printable(text, shown):
    assert printable(text) == shown


def test_verbose_escapes_the_request_target():
    with cli_server("--verbose") as (proc, url):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /" + RAW_BYTES + b"?Action=GetLoginToken&Version=2020-10-02 HTTP/1.1\r\n")
            sock.sendall(f"Host: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            while sock.recv(65536):
                pass
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    logged = [line for line in err.splitlines() if "Action=GetLoginToken" in line]
    assert len(logged) == 1, err
    assert_escaped(err)
    assert logged[0].startswith('127.0.0.1 "GET /\\x1b[2J\\x1b]0;owned\\x07')


def test_server_logs_escape_messages_and_tracebacks():
    """An internal error whose message carries client text: the logged line and its traceback are escaped."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    for name in ("mockcloud", "waitress"):
        logging.getLogger(name).addHandler(handler)
    try:
        with LiveServer() as live:
            protocol = live.cloud.protocol("licensemanager")

            def broken(exchange):
                raise RuntimeError(f"failed on {NASTY}")

            protocol.invoke = broken
            import requests

            from tests.helpers import lm_client

            with pytest.raises(Exception, match=r"InternalError|internal"):
                lm_client(live.url).list_tokens()
            logging.getLogger("waitress").error("Exception while serving %s", "/" + NASTY)  # as waitress logs a path
            assert requests.get(live.url + "/_mockcloud/health", timeout=10).status_code == 200
    finally:
        for name in ("mockcloud", "waitress"):
            logging.getLogger(name).removeHandler(handler)
    text = out.getvalue()
    assert "failed inside the emulator" in text and "RuntimeError: failed on \\x1b[2J" in text
    assert "Exception while serving /\\x1b[2J" in text and "\\x0aFORGED 200" in text
    assert_escaped(text)


def test_cli_messages_escape_what_the_server_answered():
    arn = "arn=" + NASTY.replace("\n", " ")
    with LiveServer() as live:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mockcloud",
                "call",
                "--url",
                live.url,
                "licensemanager",
                "get_license",
                arn,
                "account_id=1",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "License is not found: \\x1b[2J\\x1b]0;owned\\x07" in done.stderr
    assert_escaped(done.stderr)
