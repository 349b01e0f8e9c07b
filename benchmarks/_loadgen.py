"""Keep-alive HTTP load client, run in child processes by ``run.py``.

Standard library only, so that a spawned child starts quickly and does not
share the parent's interpreter (and GIL) with the server under test.
"""

from __future__ import annotations

import http.client
import time

LOOPBACK = "127.0.0.1"
WARMUP_REQUESTS = 20
MAX_ERRORS = 20


def _send(conn: http.client.HTTPConnection, method: str, path: str, body: bytes, headers: dict) -> int:
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    response.read()
    return response.status


def worker(
    port: int, method: str, path: str, body: bytes, headers: dict, requests: int, seconds: float, ready, start, results
) -> None:
    """Send up to ``requests`` requests (at most ``seconds`` long) on one connection, then report.

    ``ready`` is released once connected and warmed up; the load starts when
    ``start`` is set, so that every client begins together.
    """
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    report = {"sent": 0, "non200": 0, "errors": 0, "statuses": {}, "begin": 0.0, "end": 0.0}
    try:
        for _ in range(WARMUP_REQUESTS):
            _send(conn, method, path, body, headers)
    except Exception as exc:  # reported, not raised: the parent decides
        report["errors"] += 1
        report["error"] = repr(exc)
    ready.release()
    if not start.wait(timeout=60):
        results.put(report)
        return
    begin = time.monotonic()
    deadline = begin + seconds
    for _ in range(requests):
        if time.monotonic() > deadline:
            break
        try:
            status = _send(conn, method, path, body, headers)
        except Exception as exc:
            report["errors"] += 1
            report["error"] = repr(exc)
            conn.close()
            if report["errors"] >= MAX_ERRORS:
                break
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
            continue
        report["sent"] += 1
        if status != 200:
            report["non200"] += 1
            report["statuses"][status] = report["statuses"].get(status, 0) + 1
    report["begin"], report["end"] = begin, time.monotonic()
    conn.close()
    results.put(report)
