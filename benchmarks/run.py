"""mockcloud performance benchmarks (informational: always exits 0 unless it crashes).

Run from the repository root (``pip install -e '.[test,bench]'`` first: moto is
the import-time comparison):

    python benchmarks/run.py                 # full run, a few minutes on 2 cores
    python benchmarks/run.py --quick         # smaller counts for CI smoke runs
    python benchmarks/run.py --only server   # one part (call, http-clients, start-stop, import, server,
                                             # concurrency, scale-out); --pinned adds the pinned comparison

It prints one line per figure with its ratio, target and PASS/FAIL:

1. boto3 License Manager ``get_access_token`` inside ``mock_cloud`` against a
   client answered by a canned ``before-send`` handler (the botocore floor),
   and requests / httpx under ``mock_cloud`` against ``responses`` / ``respx``
   answering the same signed request, each timed in CPU time of the calling
   thread (``benchmarks/call_profile.py`` shows where the emulator's part goes);
2. ``mock_cloud()`` start plus stop;
3. ``import mockcloud`` against ``import moto``, each in fresh subprocesses;
4. server-mode requests/s of a signed License Manager GetAccessToken on
   mockcloud's stack (``mockcloud server``: waitress) against the same
   application on werkzeug's development server (the stack before), moto_server
   answering a signed ssm.GetParameter, and a bare WSGI app on mockcloud's
   stack; each server in its own process with its default options and nothing
   pinned, as users run them, loaded by wrk (2 threads, 8 keep-alive
   connections) or, without wrk, keep-alive client processes. ``--pinned``
   adds the same comparison with each server pinned to one CPU and wrk on the
   others, labelled ``[pinned]``;
5. the server under concurrency: ``mockcloud server`` on 1, 8 and 64
   keep-alive connections (wrk, nothing pinned), for ``/_mockcloud/health``
   and the signed GetAccessToken: the rate on many against the rate on one;
6. scale-out: the same GetAccessToken on ``mockcloud server`` in memory with
   one worker, with its state in Redis (a ``redis-server`` of its own on a free
   loopback port) with one worker, and with N workers (N = CPU cores), in one
   run; skipped, saying so, without ``redis-server`` or the redis client.

All network traffic goes to 127.0.0.1 with bounded request counts and times.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Only the standard library at module level: spawned load clients import this
# module as __mp_main__ and should not pay for boto3.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _loadgen

LICENSE_ARN = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef"
REGION = "us-east-1"
KEY = SECRET = "testing"


@dataclass(frozen=True)
class Sizes:
    call_rounds: int
    calls_per_round: int
    call_warmup: int
    start_stop: int
    import_runs: int
    clients: int
    requests_per_client: int
    load_seconds: float
    load_rounds: int


FULL = Sizes(
    call_rounds=15,
    calls_per_round=200,
    call_warmup=200,
    start_stop=2000,
    import_runs=7,
    clients=4,
    requests_per_client=50000,
    load_seconds=5.0,
    load_rounds=3,
)
QUICK = Sizes(
    call_rounds=7,
    calls_per_round=100,
    call_warmup=100,
    start_stop=300,
    import_runs=3,
    clients=4,
    requests_per_client=50000,
    load_seconds=2.0,
    load_rounds=1,
)


def _cpu() -> float:
    """Seconds of CPU this thread has used: the in-process figures count what the calls cost, not the time
    other processes of a busy machine take meanwhile (on a quiet machine the two are the same)."""
    return time.thread_time()


def report(label: str, ratio: float, op: str, target: float) -> str:
    ok = ratio <= target if op == "<=" else ratio >= target
    return f"{label} -> ratio {ratio:.2f} (target {op} {target:.2f}) {'PASS' if ok else 'FAIL'}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lm_client(endpoint_url: str | None = None):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "license-manager",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def canned_reply(body: bytes):
    """A ``before-send`` handler that answers every request with ``body`` (HTTP 200, AWS JSON 1.1)."""
    from botocore.awsrequest import AWSResponse

    from mockcloud.intercept.botocore_send import RawBody

    headers = {
        "content-type": "application/x-amz-json-1.1",
        "content-length": str(len(body)),
        "x-amzn-requestid": "00000000-0000-0000-0000-000000000000",
    }

    def handler(request, **_):
        return AWSResponse(request.url, 200, headers, RawBody(body))

    return handler


def fake_jwt(length: int) -> str:
    return ("eyJhbGciOiJSUzI1NiJ9." + "x" * length)[:length]


# ---- 1. in-process call -----------------------------------------------------
def bench_call(sizes: Sizes) -> list[str]:
    from mockcloud import mock_cloud

    def per_call_us(client, token: str, n: int) -> float:
        call = client.get_access_token
        begin = _cpu()
        for _ in range(n):
            call(Token=token)
        return (_cpu() - begin) / n * 1e6

    def mocked_round(n: int) -> tuple[float, int]:
        # A fresh mock each round, and the floor's rounds outside it: under a mock, mockcloud answers botocore
        # before ``before-send`` is emitted, so a canned handler there would never run.
        with mock_cloud():
            client = lm_client()
            token = client.create_token(LicenseArn=LICENSE_ARN, ClientToken="bench")["Token"]
            size = len(client.get_access_token(Token=token)["AccessToken"])
            per_call_us(client, token, max(1, sizes.call_warmup // 4))
            return per_call_us(client, token, n), size

    _, jwt_size = mocked_round(sizes.call_warmup)
    floor = lm_client()
    floor.meta.events.register(
        "before-send.license-manager.GetAccessToken",
        canned_reply(json.dumps({"AccessToken": fake_jwt(jwt_size)}).encode()),
    )
    per_call_us(floor, "canned", sizes.call_warmup)
    floor_us, mock_us = [], []
    # Interleaved so that CPU frequency or noise drift hits both alike.
    for _ in range(sizes.call_rounds):
        floor_us.append(per_call_us(floor, "canned", sizes.calls_per_round))
        mock_us.append(mocked_round(sizes.calls_per_round)[0])
    real_jwt = "x" * jwt_size
    f, m = statistics.median(floor_us), statistics.median(mock_us)
    return [
        report(
            f"get_access_token in-process: {m:.1f} us/call vs canned before-send floor {f:.1f} us/call "
            f"(access token {len(real_jwt)} chars, median of {sizes.call_rounds}x{sizes.calls_per_round})",
            m / f,
            "<=",
            1.5,
        )
    ]


# ---- 1b. plain HTTP clients against their own minimal mocks --------------------
def _signed_list_tokens() -> tuple[str, bytes, dict]:
    """A License Manager ListTokens request, SigV4-signed once (replays are valid for 5 minutes)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url, body = f"https://license-manager.{REGION}.amazonaws.com/", b"{}"
    request = AWSRequest(
        "POST",
        url,
        data=body,
        headers={"X-Amz-Target": "AWSLicenseManager.ListTokens", "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(KEY, SECRET), "license-manager", REGION).add_auth(request)
    return url, body, dict(request.headers)


def bench_http_clients(sizes: Sizes) -> list[str]:
    """requests vs ``responses`` and httpx vs ``respx``, each answering the same signed request."""
    import httpx
    import requests
    import responses
    import respx

    from mockcloud import mock_cloud

    url, body, headers = _signed_list_tokens()
    reply_headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "x-amzn-RequestId": "00000000-0000-4000-8000-000000000000",
    }
    canned = b'{"Tokens":[]}'
    session, client = requests.Session(), httpx.Client()

    def per_call_us(call, n: int) -> float:
        begin = _cpu()
        for _ in range(n):
            call()
        return (_cpu() - begin) / n * 1e6

    def with_requests():
        assert session.post(url, data=body, headers=headers).content == canned

    def with_httpx():
        assert client.post(url, content=body, headers=headers).content == canned

    def floor_requests(n):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.add(responses.POST, url, body=canned, headers=reply_headers, status=200)
            return per_call_us(with_requests, n)

    def floor_httpx(n):
        with respx.mock(assert_all_called=False) as router:
            router.post(url).mock(return_value=httpx.Response(200, content=canned, headers=reply_headers))
            return per_call_us(with_httpx, n)

    def mocked(call, n):
        with mock_cloud():
            return per_call_us(call, n)

    lines = []
    for label, floor, call, floor_name in (
        ("requests", floor_requests, with_requests, "responses"),
        ("httpx", floor_httpx, with_httpx, "respx"),
    ):
        floor(sizes.call_warmup)
        mocked(call, sizes.call_warmup)
        floor_us, mock_us = [], []
        for _ in range(sizes.call_rounds):  # interleaved, as above
            floor_us.append(floor(sizes.calls_per_round))
            mock_us.append(mocked(call, sizes.calls_per_round))
        f, m = statistics.median(floor_us), statistics.median(mock_us)
        lines.append(
            report(
                f"{label} ListTokens in-process: {m:.1f} us/call vs {floor_name} answering the same "
                f"request {f:.1f} us/call (median of {sizes.call_rounds}x{sizes.calls_per_round})",
                m / f,
                "<=",
                1.5,
            )
        )
    session.close()
    client.close()
    return lines


# ---- 2. start + stop ----------------------------------------------------------
def bench_start_stop(sizes: Sizes) -> list[str]:
    import botocore.endpoint  # noqa: F401  (the interceptor patches it; not part of the cost)

    from mockcloud import mock_cloud

    for _ in range(20):
        m = mock_cloud()
        m.start()
        m.stop()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(sizes.start_stop):
        begin = clock()
        m = mock_cloud()
        m.start()
        m.stop()
        samples.append((clock() - begin) / 1000)
    med, p90 = statistics.median(samples), percentile(samples, 0.9)
    target_us = 1000.0
    return [
        f"mock_cloud() start+stop: median {med:.1f} us, p90 {p90:.1f} us over {sizes.start_stop} "
        f"(target median <= {target_us:.0f} us) -> ratio {med / target_us:.2f} of target "
        f"{'PASS' if med <= target_us else 'FAIL'}"
    ]


# ---- 3. import time -----------------------------------------------------------
def _import_seconds(code: str) -> float:
    timed = f"import time; _t = time.perf_counter(); {code}; print(time.perf_counter() - _t)"
    out = subprocess.run([sys.executable, "-c", timed], capture_output=True, text=True, check=True, timeout=60)
    return float(out.stdout.strip().splitlines()[-1])


def bench_import(sizes: Sizes) -> list[str]:
    import importlib.util

    cases = {
        "mockcloud": "import mockcloud",
        "moto": "import moto",
        "mockcloud.mock_cloud": "import mockcloud; mockcloud.mock_cloud",
    }
    have_moto = importlib.util.find_spec("moto") is not None
    if not have_moto:  # the comparison needs moto; the figures for mockcloud stand alone
        del cases["moto"]
    for code in cases.values():  # warm the bytecode caches
        _import_seconds(code)
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(sizes.import_runs):
        for name, code in cases.items():
            runs[name].append(_import_seconds(code) * 1000)
    ms = {name: statistics.median(values) for name, values in runs.items()}
    if not have_moto:
        return [
            f"import mockcloud: {ms['mockcloud']:.2f} ms; "
            f"with mockcloud.mock_cloud {ms['mockcloud.mock_cloud']:.2f} ms "
            f"(moto is not installed: no ratio; pip install moto to compare)"
        ]
    return [
        report(
            f"import mockcloud: {ms['mockcloud']:.2f} ms vs import moto {ms['moto']:.2f} ms "
            f"(fresh subprocess, median of {sizes.import_runs})",
            ms["mockcloud"] / ms["moto"],
            "<=",
            0.5,
        ),
        f"import mockcloud + mockcloud.mock_cloud (lazy attribute): {ms['mockcloud.mock_cloud']:.2f} ms "
        f"(informational, {ms['mockcloud.mock_cloud'] / ms['moto']:.2f}x import moto)",
    ]


# ---- 4. server requests/s -----------------------------------------------------
def capture_signed(client, operation: str, **params) -> tuple[str, bytes, dict]:
    """The request botocore signs for ``operation`` (path, body, headers), captured before it is sent.

    A SigV4 signature stays valid for 5 minutes, so the request can be replayed.
    """
    from urllib.parse import urlsplit

    captured = {}

    def capture(request, **_):
        captured.update(url=request.url, headers=dict(request.headers), body=request.body)
        return canned_reply(b"{}")(request)

    event = f"before-send.{client.meta.service_model.endpoint_prefix}.{operation}"
    client.meta.events.register(event, capture)
    try:
        getattr(client, _snake(operation))(**params)
    finally:
        client.meta.events.unregister(event, capture)
    parts = urlsplit(captured["url"])
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = captured["body"] or b""
    body = body.encode() if isinstance(body, str) else bytes(body)
    headers = {
        k: v.decode() if isinstance(v, bytes) else v for k, v in captured["headers"].items() if k.lower() != "host"
    }  # the load client sends the same host:port botocore signed
    return path, body, headers


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def signed_get_access_token(url: str) -> tuple[str, bytes, dict, str]:
    """A signed GetAccessToken for a refresh token made on the server at ``url``, and a real reply's JWT."""
    client = lm_client(url)
    token = client.create_token(LicenseArn=LICENSE_ARN, ClientToken="bench")["Token"]
    real_jwt = client.get_access_token(Token=token)["AccessToken"]
    return (*capture_signed(client, "GetAccessToken", Token=token), real_jwt)


def signed_ssm_get_parameter(url: str) -> tuple[str, bytes, dict]:
    """A signed ssm.GetParameter of a parameter put on the moto_server at ``url``."""
    import boto3

    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=url, aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    ssm.put_parameter(Name="/bench/parameter", Value="value", Type="String", Overwrite=True)
    assert ssm.get_parameter(Name="/bench/parameter")["Parameter"]["Value"] == "value"
    return capture_signed(ssm, "GetParameter", Name="/bench/parameter")


def run_load(ctx, port: int, path: str, body: bytes, headers: dict, sizes: Sizes) -> dict:
    """Keep-alive load from ``sizes.clients`` client processes (the fallback without wrk)."""
    ready, start, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=_loadgen.worker,
            daemon=True,
            args=(
                port,
                "POST",
                path,
                body,
                headers,
                sizes.requests_per_client,
                sizes.load_seconds,
                ready,
                start,
                results,
            ),
        )
        for _ in range(sizes.clients)
    ]
    reports = []
    try:
        for p in procs:
            p.start()
        for _ in procs:
            if not ready.acquire(timeout=30):
                raise RuntimeError("a load client did not get ready within 30 s")
        start.set()
        deadline = time.monotonic() + sizes.load_seconds + 15
        for _ in procs:
            reports.append(results.get(timeout=max(0.1, deadline - time.monotonic())))
    finally:
        start.set()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    sent = sum(r["sent"] for r in reports)
    span = max(r["end"] for r in reports) - min(r["begin"] for r in reports)
    non200 = sum(r["non200"] for r in reports)
    return {
        "rps": (sent - non200) / span if span > 0 else 0.0,
        "sent": sent,
        "seconds": span,
        "non200": non200,
        "errors": sum(r["errors"] for r in reports),
    }


def split_cpus() -> tuple[set[int], set[int]] | None:
    """(the server's CPU, the load generator's CPUs) on a Linux machine with two or more; else None.

    On 2 cores a server left to the scheduler shares its core with wrk and
    with whatever else runs; one core each makes the figures steadier, for
    every server alike.
    """
    import os

    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return ({cpus[-1]}, set(cpus[:-1])) if len(cpus) >= 2 else None


def run_wrk(
    port: int,
    path: str,
    body: bytes,
    headers: dict,
    sizes: Sizes,
    connections: int = 8,
    *,
    pin: bool = False,
    method: str = "POST",
) -> dict:
    """wrk, ``connections`` keep-alive connections (on up to 2 threads), replaying one request; 200s per second.

    ``pin``: wrk on the CPUs :func:`split_cpus` leaves it (for the pinned figures, the server being pinned to the
    other); by default nothing is pinned, as users run a server.
    """
    import os
    import tempfile

    def lua(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    script = [f"wrk.method = {lua(method)}"]
    if body:
        script.append(f"wrk.body = {lua(body.decode('latin-1'))}")
    script += [f"wrk.headers[{lua(k)}] = {lua(v)}" for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("\n".join(script) + "\n")
    try:
        split = split_cpus() if pin else None
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{sizes.load_seconds:g}s",
                "-s",
                f.name,
                f"http://127.0.0.1:{port}{path}",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=sizes.load_seconds + 30,
            preexec_fn=(lambda: os.sched_setaffinity(0, split[1])) if split else None,
        ).stdout
    finally:
        os.unlink(f.name)
    total = next(int(line.split()[0]) for line in out.splitlines() if " requests in " in line)
    seconds = next(
        float(line.split(" in ")[1].split("s,")[0].rstrip("m")) for line in out.splitlines() if " requests in " in line
    )
    non200 = next((int(line.split()[-1]) for line in out.splitlines() if "Non-2xx" in line), 0)
    errors = next(
        (
            sum(int(x.split()[-1]) for x in line.split(":", 1)[1].split(","))
            for line in out.splitlines()
            if line.strip().startswith("Socket errors")
        ),
        0,
    )
    return {
        "rps": (total - non200) / seconds if seconds else 0.0,
        "sent": total,
        "seconds": seconds,
        "non200": non200,
        "errors": errors,
    }


WRK_CONNECTIONS = 8


def _rounds(targets: dict[str, tuple], load, sizes: Sizes) -> dict[str, list[dict]]:
    """Each target loaded ``sizes.load_rounds`` times after a warm-up, interleaved in a rotating order."""
    warm = Sizes(**{**sizes.__dict__, "load_seconds": 1.0, "requests_per_client": 200})
    for target in targets.values():
        load(*target, warm)
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for round_ in range(sizes.load_rounds):  # drift and the neighbours' load hit every figure alike
        names = list(targets)
        names = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in names:
            runs[name].append(load(*targets[name], sizes))
    return runs


def _round_lines(runs: dict[str, list[dict]]) -> list[str]:
    lines = []
    for name, rounds in runs.items():
        for i, r in enumerate(rounds, 1):
            detail = f"{name} round {i}: {r['sent']} requests in {r['seconds']:.2f} s, {r['rps']:.0f} ok/s"
            if r["non200"]:
                detail += f", non-200 {r['non200']}"
            if r["errors"]:
                detail += f", connection errors {r['errors']}"
            lines.append("  " + detail)
    return lines


def bench_server(sizes: Sizes, pinned: bool = False) -> list[str]:
    """Signed GetAccessToken on mockcloud's stack against today's stack, moto_server and a bare app, one run.

    As users run servers: default options, nothing pinned. ``pinned``: each server on one CPU and wrk on the
    others (steadier figures on a small machine, but not how anyone runs a server), labelled so.
    """
    import importlib.util
    import shutil

    from _servers import BARE_REPLY_ENV, Child

    use_wrk = shutil.which("wrk") is not None
    split = split_cpus() if use_wrk and pinned else None
    load = (
        functools.partial(run_wrk, pin=split is not None)
        if use_wrk
        else functools.partial(run_load, multiprocessing.get_context("spawn"))
    )
    how = (
        f"wrk, 2 threads, {WRK_CONNECTIONS} keep-alive connections"
        if use_wrk
        else f"{sizes.clients} keep-alive client processes (no wrk)"
    )
    targets: dict[str, tuple] = {}
    children = []
    try:
        new = Child("mockcloud")
        children.append(new)
        path, body, headers, real_jwt = signed_get_access_token(new.url)
        targets["mockcloud"] = (new.port, path, body, headers)
        old = Child("werkzeug-dev")
        children.append(old)
        targets["today"] = (old.port, *signed_get_access_token(old.url)[:3])
        reply = json.dumps({"AccessToken": fake_jwt(len(real_jwt))})
        bare = Child("bare", env={BARE_REPLY_ENV: reply})
        children.append(bare)
        targets["bare"] = (bare.port, path, body, headers)
        if importlib.util.find_spec("moto") is not None:
            moto = Child("moto")
            children.append(moto)
            targets["moto"] = (moto.port, *signed_ssm_get_parameter(moto.url))
        if split:
            for child in children:
                child.pin(split[0])
            how += f"; PINNED: each server on CPU {min(split[0])}, wrk on the other{'s' if len(split[1]) > 1 else ''}"
        else:
            how += "; nothing pinned, default options, as users run them"
        runs = _rounds(targets, load, sizes)
    finally:
        for child in children:
            child.stop()
    rps = {name: statistics.median(r["rps"] for r in rounds) for name, rounds in runs.items()}
    mine = rps["mockcloud"]
    label = f"({how}, {sizes.load_seconds:g} s, median of {sizes.load_rounds})"
    mark = "[pinned] " if split else ""
    lines = [
        report(
            f"{mark}server GetAccessToken: mockcloud's stack (waitress) {mine:.0f} req/s vs today's stack "
            f"(werkzeug's development server) {rps['today']:.0f} req/s {label}",
            mine / rps["today"],
            ">=",
            1.5,
        ),
        report(
            f"{mark}server GetAccessToken: mockcloud {mine:.0f} req/s vs a bare WSGI app on the same stack "
            f"{rps['bare']:.0f} req/s",
            mine / rps["bare"],
            ">=",
            0.6,
        ),
    ]
    if "moto" in rps:
        lines.append(
            report(
                f"{mark}server: mockcloud GetAccessToken {mine:.0f} req/s vs moto_server ssm.GetParameter "
                f"{rps['moto']:.0f} req/s",
                mine / rps["moto"],
                ">=",
                6.0,
            )
        )
    else:
        lines.append("moto is not installed: no moto_server figure (pip install -e '.[bench]')")
    return lines + _round_lines(runs)


CONCURRENCY = (1, 8, 64)


def bench_concurrency(sizes: Sizes) -> list[str]:
    """``mockcloud server`` (default options, nothing pinned) on 1, 8 and 64 keep-alive connections: the rate on
    many connections against the rate on one, for the health check and a signed GetAccessToken."""
    import shutil

    from _servers import Child

    if shutil.which("wrk") is None:
        return ["server concurrency: wrk is not installed: no figure (apt-get install wrk)"]
    targets: dict[str, tuple] = {}
    with Child("mockcloud") as server:
        path, body, headers, _ = signed_get_access_token(server.url)
        for connections in CONCURRENCY:
            health = functools.partial(run_wrk, connections=connections, method="GET")
            targets[f"health c{connections}"] = (health, server.port, "/_mockcloud/health", b"", {})
            signed = functools.partial(run_wrk, connections=connections)
            targets[f"GetAccessToken c{connections}"] = (signed, server.port, path, body, headers)
        runs = _rounds(targets, lambda load, *target: load(*target), sizes)
    rps = {name: statistics.median(r["rps"] for r in rounds) for name, rounds in runs.items()}
    how = f"wrk, nothing pinned, default options, {sizes.load_seconds:g} s, median of {sizes.load_rounds}"
    lines = []
    for what in ("health", "GetAccessToken"):
        one = rps[f"{what} c1"]
        rates = ", ".join(f"{rps[f'{what} c{c}']:.0f} req/s on {c}" for c in CONCURRENCY)
        lines.append(f"server concurrency, {what}: {rates} keep-alive connections ({how})")
        for connections in CONCURRENCY[1:]:
            many = rps[f"{what} c{connections}"]
            lines.append(
                report(
                    f"server concurrency, {what}: {many:.0f} req/s on {connections} connections vs {one:.0f} on 1",
                    many / one,
                    ">=",
                    0.9,
                )
            )
    return lines + _round_lines(runs)


# ---- 6. scale-out -------------------------------------------------------------
def start_redis() -> tuple[subprocess.Popen, str] | None:
    """A redis-server of the benchmark's own on 127.0.0.1 and a free port, without persistence; None without one."""
    import shutil
    import socket
    import tempfile

    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="mockcloud-bench-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            return None
        time.sleep(0.05)


def bench_scale_out(sizes: Sizes) -> list[str]:
    """GetAccessToken requests/s: in memory with 1 worker, Redis with 1 worker, Redis with N workers (N = cores)."""
    import importlib.util
    import os
    import shutil

    from _servers import Child

    if importlib.util.find_spec("redis") is None:
        return ["scale-out: the redis client is not installed (pip install -e '.[redis]'): no figure"]
    if shutil.which("wrk") is None:
        return ["scale-out: wrk is not installed: no figure (the Python load clients would be the bottleneck)"]
    started = start_redis()
    if started is None:
        return ["scale-out: no redis-server (apt-get install redis-server): no figure"]
    redis, url = started
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    configurations = {
        "memory-1": (),
        "redis-1": ("--store", f"{url}?prefix=bench-1"),
        f"redis-{cores}": ("--workers", str(cores), "--store", f"{url}?prefix=bench-{cores}"),
    }
    connections = 4 * cores
    children: list[Child] = []
    targets: dict[str, tuple] = {}
    try:
        for name, args in configurations.items():
            child = Child("mockcloud", args=args)
            children.append(child)
            targets[name] = (child.port, *signed_get_access_token(child.url)[:3])
        warm = Sizes(**{**sizes.__dict__, "load_seconds": 1.0})
        for target in targets.values():
            run_wrk(*target, warm, connections=connections)
        runs: dict[str, list[dict]] = {name: [] for name in targets}
        for round_ in range(sizes.load_rounds):  # interleaved, in a rotating order: drift hits all alike
            names = list(targets)
            names = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in names:
                runs[name].append(run_wrk(*targets[name], sizes, connections=connections))
    finally:
        for child in children:
            child.stop()
        redis.terminate()
        redis.wait(timeout=10)
    rps = {name: statistics.median(r["rps"] for r in rounds) for name, rounds in runs.items()}
    memory, one, many = rps["memory-1"], rps["redis-1"], rps[f"redis-{cores}"]
    how = (
        f"(wrk, 2 threads, {connections} keep-alive connections, nothing pinned, {sizes.load_seconds:g} s, "
        f"median of {sizes.load_rounds})"
    )
    lines = [
        f"scale-out GetAccessToken {how}: in memory 1 worker {memory:.0f} req/s, Redis 1 worker {one:.0f} req/s, "
        f"Redis {cores} workers {many:.0f} req/s",
        report(
            f"scale-out: Redis 1 worker {one:.0f} req/s vs in memory 1 worker {memory:.0f} req/s",
            one / memory,
            ">=",
            0.5,
        ),
        report(
            f"scale-out: Redis {cores} workers {many:.0f} req/s vs Redis 1 worker {one:.0f} req/s",
            many / one,
            ">=",
            1.6 if cores == 2 else 0.8 * cores,
        ),
    ]
    for name, rounds in runs.items():
        for i, r in enumerate(rounds, 1):
            detail = f"{name} round {i}: {r['sent']} requests in {r['seconds']:.2f} s, {r['rps']:.0f} ok/s"
            if r["non200"] or r["errors"]:
                detail += f", non-200 {r['non200']}, connection errors {r['errors']}"
            lines.append("  " + detail)
    return lines


PARTS = {
    "call": bench_call,
    "http-clients": bench_http_clients,
    "start-stop": bench_start_stop,
    "import": bench_import,
    "server": bench_server,
    "concurrency": bench_concurrency,
    "scale-out": bench_scale_out,
}
PINNED = functools.partial(bench_server, pinned=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, for CI smoke runs")
    parser.add_argument("--only", choices=sorted(PARTS), help="run one part only")
    parser.add_argument(
        "--pinned",
        action="store_true",
        help="also the server comparison with each server pinned to one CPU and wrk on the others (labelled)",
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    sizes = QUICK if args.quick else FULL
    benches = [PARTS[args.only]] if args.only else list(PARTS.values())
    if args.pinned:
        benches.insert(benches.index(bench_server) + 1 if bench_server in benches else len(benches), PINNED)
    for bench in benches:
        for line in bench(sizes):
            print(line, flush=True)
    print(f"total benchmark time {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
