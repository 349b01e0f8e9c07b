"""Shared constants and client factories for the tests (no fixtures: those are in conftest.py files)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import pytest
from botocore.config import Config

T = TypeVar("T")
# How long a test waits for something that happens within milliseconds on a quiet machine: a port that answers,
# a log line, a state. Long enough that a loaded machine never misses it; reached only when something is wrong.
DEADLINE = 60.0
# pytest plugins of this environment that an inner pytest run (pytester) has no use for: hypothesis's alone
# costs a second or more of every inner start (on a loaded machine, several)
UNUSED_PLUGINS = ("-p", "no:hypothesispytest", "-p", "no:anyio", "-p", "no:respx")

DEFAULT_LICENSE_ARN = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef"
REGION = "us-east-1"


def aws_client(
    service: str,
    endpoint_url: str | None = None,
    *,
    key: str = "testing",
    secret: str = "testing",
    region: str = REGION,
    validate: bool = True,
    attempts: int = 1,
    **config,
):
    """A real boto3 client; by default one attempt (no retries), so errors surface at once."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(
            retries={"total_max_attempts": attempts, "mode": "standard"}, parameter_validation=validate, **config
        ),
    )


def lm_client(endpoint_url: str | None = None, **options):
    """A real boto3 License Manager client (see :func:`aws_client`)."""
    return aws_client("license-manager", endpoint_url, **options)


def error_of(excinfo) -> tuple[str, int, str]:
    """A botocore ClientError's code, HTTP status and message, from ``pytest.raises``."""
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


def aws_signed_headers(
    method: str,
    url: str,
    body: bytes,
    service: str,
    headers: dict | None = None,
    *,
    region: str = REGION,
    key: str = "testing",
    secret: str = "testing",
    token: str | None = None,
) -> dict:
    """The headers botocore's own SigV4 signer adds to a request (for bodies and headers boto3 would not send)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method, url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    return dict(request.headers)


@contextlib.contextmanager
def cli_server(*arguments: str):
    """``mockcloud server --port 0 ARGUMENTS`` in a subprocess: yields (the process, its URL); ends it after.

    Its stderr is the process's to read once it has ended (``proc.communicate()``), as a test of its log does.
    """
    import re
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "mockcloud", "server", "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None else "")
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.communicate(timeout=30)


def unavailable(reason: str) -> None:
    """A tool or service the test needs is missing: skip with the reason, or fail in CI (``CI=true``)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must have it")
    pytest.skip(reason)


def wait_for(condition: Callable[[], T], what: str, timeout: float = DEADLINE, interval: float = 0.02) -> T:
    """Poll ``condition`` until it returns something true, and return that; fail naming ``what`` after ``timeout``.

    For the events a test waits on (a port answering, a log line, a state): never a fixed sleep, and a
    deadline that only a broken emulator reaches, so a busy machine is slow but never wrong.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(interval)


def race(calls: list[Callable[[], Any]], timeout: float = DEADLINE) -> list[Any]:
    """Every call at once (each in its own thread, released together); their results (or exceptions) in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait(timeout=timeout)
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout * 3)
    return results
