"""The state benchmarks of issue 25: cost flat as the state grows, Redis keeping up, memory that comes back.

Run from the repository root (redis-server and wrk on PATH for the server figures):

    python benchmarks/state.py            # every figure, a few minutes on 2 cores
    python benchmarks/state.py --quick    # smaller counts and shorter loads
    python benchmarks/state.py --only memory

Each figure is a ratio against a floor measured in the same run, printed with
its target and PASS/FAIL (informational: it always exits 0 unless it crashes):

1. ``flat``: a User API login followed by a refresh, sequential (wrk, one
   connection), with no other session and with 100,000 live sessions (made
   through the model, carried to the server as a snapshot: ``PUT
   /_mockcloud/state``), for ``mockcloud server`` in memory, with ``--state``
   and with ``--store redis://``; the cost with them is at most 1.5 times the
   cost without, in each.
2. ``redis``: the same mix, concurrent (wrk, 4 connections), on one worker:
   Redis at least half the in-memory rate.
3. ``workers``: refreshes only, each connection rotating its own token family
   (writes, not reads), Redis with two workers against one: at least 1.6 times.
4. ``checkout``: License Manager CheckoutLicense, sequential (wrk, one
   connection, each request signed beforehand with its own ClientToken), with
   no checkout and with 100,000 live ones of the same license (one made
   through the model, the rest copies of it under their own tokens, carried to
   the server as a snapshot), in memory, with ``--state`` and with ``--store
   redis://``: at most 1.5 times the cost with none, in each.
5. ``memory``: 1,000,000 live sessions in one process in memory fit in 2 GiB
   of RSS; once they expire and the clock moves past them, a second million
   adds at most a quarter of the RSS the first added.

Everything runs on 127.0.0.1, bounded in requests and seconds.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import Child

USER = {"username": "api_user", "password": "secure_password_123"}
MIX = r"""
-- each connection: login, then (pairs) refresh once and login again, or (chain) refresh on and on
local mode = os.getenv("MOCKCLOUD_MIX") or "pairs"
local state, access, refresh = "login", nil, nil
local login_body = '{"username":"api_user","password":"secure_password_123"}'
function request()
  if state == "login" then
    return wrk.format("POST", "/User/Login", {["Content-Type"] = "application/json", ["Version"] = "2.0"}, login_body)
  end
  return wrk.format("POST", "/User/RefreshToken", {
    ["Content-Type"] = "application/json", ["Version"] = "2.0", ["Authorization"] = "Bearer " .. access
  }, '{"refreshToken":"' .. refresh .. '"}')
end
function response(status, headers, body)
  if status ~= 200 then
    state = "login"
    return
  end
  access = string.match(body, '"accessToken":"([^"]+)"')
  refresh = string.match(body, '"refreshToken":"([^"]+)"')
  if mode == "chain" or state == "login" then state = "refresh" else state = "login" end
end
"""


def report(label: str, ratio: float, op: str, target: float) -> str:
    ok = ratio <= target if op == "<=" else ratio >= target
    return f"{label}: ratio {ratio:.2f} (target {op} {target:g}) {'PASS' if ok else 'FAIL'}"


def sessions_snapshot(count: int) -> dict:
    """A snapshot of ``count`` live User API sessions, made through the model (one password hash for all)."""
    from mockcloud import mock_cloud
    from mockcloud.services.userapi import model

    model._hash_password = functools.lru_cache(maxsize=None)(model._hash_password)  # type: ignore[assignment]
    with mock_cloud(services=["userapi"], intercept=False, patch_time=False) as cloud:
        api = cloud.userapi
        mount = api.get_mount()
        for _ in range(count):
            api.login(mount, "api_user", "secure_password_123")
        return cloud.snapshot()


def start_redis(folder: str) -> tuple[subprocess.Popen, str] | None:
    """A redis-server of the benchmark's own on 127.0.0.1 and a free port, without persistence."""
    import socket

    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None


SKU = "BENCH-SEAT"
ISSUER = "Bench Co"


def checkouts_snapshot(count: int) -> dict:
    """A snapshot of a license with ``count`` live PROVISIONAL checkouts (a day each): one made through the model,
    the others copies of it under tokens of their own."""
    import secrets

    from mockcloud import mock_cloud

    with mock_cloud(services=["licensemanager"], intercept=False, patch_time=False) as cloud:
        cloud.licensemanager.create_license(
            product_sku=SKU,
            issuer={"Name": ISSUER},
            entitlements=[{"Name": "Seats", "Unit": "Count", "MaxCount": 100_000_000, "AllowCheckIn": True}],
            consumption_configuration={
                "RenewType": "None",
                "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 1440},
            },
        )
        document = cloud.snapshot()
        if count:
            made = cloud.licensemanager.checkout_license(**checkout_params(cloud.licensemanager.licenses[0].account_id))
            document = cloud.snapshot()
            (one,) = document["licensemanager"]["consumptions"]
            assert one["token"] == made["LicenseConsumptionToken"]
            copies = [{**one, "token": secrets.token_hex(16)} for _ in range(count - 1)]
            document["licensemanager"]["consumptions"].extend(copies)
        return document


def checkout_params(account_id: str) -> dict:
    import uuid

    return {
        "account_id": account_id,
        "product_sku": SKU,
        "checkout_type": "PROVISIONAL",
        "key_fingerprint": f"aws:{account_id}:{ISSUER}:issuer-fingerprint",
        "beneficiary": "user@example.com",
        "entitlements": [{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        "client_token": uuid.uuid4().hex,
    }


def signed_checkouts(port: int, count: int, path: str) -> None:
    """A wrk script of ``count`` CheckoutLicense requests signed now (SigV4, the default test keys), each with a
    ClientToken of its own, sent in turn."""
    import uuid

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials("testing", "testing"), "license-manager", "us-east-1")
    fingerprint = f"aws:123456789012:{ISSUER}:issuer-fingerprint"
    entries = []
    for _ in range(count):
        body = json.dumps(
            {
                "ProductSKU": SKU,
                "CheckoutType": "PROVISIONAL",
                "KeyFingerprint": fingerprint,
                "Beneficiary": "user@example.com",
                "Entitlements": [{"Name": "Seats", "Unit": "Count", "Value": "1"}],
                "ClientToken": uuid.uuid4().hex,
            }
        )
        request = AWSRequest(
            "POST",
            f"http://127.0.0.1:{port}/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "AWSLicenseManager.CheckoutLicense",
            },
        )
        signer.add_auth(request)
        headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in request.headers.items() if k != "Host")
        entries.append(f"{{body = {json.dumps(body)}, headers = {{{headers}}}}}")
    script = "local requests = {\n" + ",\n".join(entries) + "\n}\n" + _IN_TURN
    Path(path).write_text(script)


_IN_TURN = r"""
local i = 0
function request()
  i = i + 1
  if i > #requests then i = 1 end
  local r = requests[i]
  return wrk.format("POST", "/", r.headers, r.body)
end
"""


def storage_modes(options: tuple[str, ...], folder: str, redis_url: str, name: str) -> dict[str, tuple[str, ...]]:
    """The server's options for each place the state can be kept: memory, a ``--state`` file, Redis."""
    return {
        "in memory": options,
        "--state": (*options, "--state", str(Path(folder) / f"{name}.db")),
        "--store redis": (*options, "--store", f"{redis_url}?prefix={name}"),
    }


def bench_checkouts(sizes: argparse.Namespace, folder: str, redis_url: str) -> list[str]:
    began = time.monotonic()
    document = checkouts_snapshot(sizes.checkouts)
    empty = checkouts_snapshot(0)
    lines = [f"  {sizes.checkouts} checkouts in a snapshot in {time.monotonic() - began:.1f} s"]
    script = str(Path(folder) / "checkout.lua")
    wide = ("--max-body-size", str(1 << 30), "--request-log-size", "1000")
    modes = storage_modes(wide, folder, redis_url, "checkout")
    for name, args in modes.items():
        with Child("mockcloud", args=args, start_timeout=120) as child:
            cost = {}
            for label, state in (("0", empty), (f"{sizes.checkouts}", document), ("0 again", empty)):
                began = time.monotonic()
                load(child, state)
                loaded = time.monotonic() - began
                signed_checkouts(child.port, 500, script)
                wrk(child.port, 1.0, 1, "", script)  # warm
                signed_checkouts(child.port, sizes.signed, script)  # signed now (the server's clock), none sent yet
                found = wrk(child.port, sizes.seconds, 1, "", script)
                cost[label] = 1e6 / found["rps"] if found["rps"] else float("inf")
                repeated = (
                    " (more requests than were signed: some were retries)" if found["requests"] > sizes.signed else ""
                )
                lines.append(
                    f"  {name}, N = {label}: {cost[label]:.0f} µs per CheckoutLicense "
                    f"({found['requests']} requests, {found['failed']} failed; state put in {loaded:.1f} s){repeated}"
                )
            floor = min(cost["0"], cost["0 again"])
            lines.append(
                report(
                    f"checkout, {name}: CheckoutLicense with {sizes.checkouts} checkouts "
                    f"{cost[str(sizes.checkouts)]:.0f} µs vs none {floor:.0f} µs",
                    cost[str(sizes.checkouts)] / floor,
                    "<=",
                    1.5,
                )
            )
    return lines


def load(child: Child, document: dict | None) -> None:
    """Put ``document`` into the server's state (the whole emulator), or reset it."""
    import urllib.request

    if document is None:
        request = urllib.request.Request(f"{child.url}/_mockcloud/reset", data=b"{}", method="POST")
    else:
        body = json.dumps(document).encode()
        request = urllib.request.Request(f"{child.url}/_mockcloud/state", data=body, method="PUT")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=600) as reply:
        reply.read()


def wrk(port: int, seconds: float, connections: int, mode: str, script: str) -> dict:
    """wrk on the mix: one thread per connection (each keeps its own tokens); successful requests per second."""
    argv = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds:g}s", "-s", script, f"http://127.0.0.1:{port}/"]
    out = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
        env={**os.environ, "MOCKCLOUD_MIX": mode},
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = int(bad.group(1)) if bad else 0
    return {"rps": rps * (total - failed) / total if total else 0.0, "requests": total, "failed": failed}


def bench_servers(sizes: argparse.Namespace, only: str | None) -> list[str]:
    if shutil.which("wrk") is None:
        return ["server figures: wrk is not installed (apt-get install wrk): no figure"]
    folder = tempfile.mkdtemp(prefix="mockcloud-bench-state-")
    started = start_redis(folder)
    if started is None:
        return ["server figures: no redis-server (apt-get install redis-server): no figure"]
    redis, redis_url = started
    script = str(Path(folder) / "mix.lua")
    Path(script).write_text(MIX)
    lines = []
    wide = ("--max-body-size", str(1 << 30), "--request-log-size", "1000")
    try:
        if only in (None, "checkout"):
            lines.extend(bench_checkouts(sizes, folder, redis_url))
        if only in (None, "flat"):
            began = time.monotonic()
            document = sessions_snapshot(sizes.sessions)
            lines.append(f"  {sizes.sessions} sessions made through the model in {time.monotonic() - began:.1f} s")
            modes = storage_modes(wide, folder, redis_url, "flat")
            for name, args in modes.items():
                with Child("mockcloud", args=args, start_timeout=120) as child:
                    cost = {}
                    for label, state in (("0", None), (f"{sizes.sessions}", document), ("0 again", None)):
                        began = time.monotonic()
                        load(child, state)
                        loaded = time.monotonic() - began
                        wrk(child.port, 1.0, 1, "pairs", script)  # warm
                        found = wrk(child.port, sizes.seconds, 1, "pairs", script)
                        cost[label] = 2e6 / found["rps"] if found["rps"] else float("inf")
                        lines.append(
                            f"  {name}, N = {label}: {cost[label]:.0f} µs per login+refresh "
                            f"({found['requests']} requests, {found['failed']} failed; state put in {loaded:.1f} s)"
                        )
                    floor = min(cost["0"], cost["0 again"])
                    lines.append(
                        report(
                            f"flat, {name}: login+refresh with {sizes.sessions} sessions "
                            f"{cost[str(sizes.sessions)]:.0f} µs vs none {floor:.0f} µs",
                            cost[str(sizes.sessions)] / floor,
                            "<=",
                            1.5,
                        )
                    )
        if only in (None, "redis"):
            rates = {}
            for name, args in {"memory": (), "redis": ("--store", f"{redis_url}?prefix=mix")}.items():
                with Child("mockcloud", args=args) as child:
                    wrk(child.port, 1.0, 4, "pairs", script)
                    rates[name] = [wrk(child.port, sizes.seconds, 4, "pairs", script)["rps"] for _ in range(3)]
            memory, one = max(rates["memory"]), max(rates["redis"])
            lines.append(
                report(
                    f"redis: login+refresh, 4 connections, Redis 1 worker {one:.0f} req/s "
                    f"vs in memory {memory:.0f} req/s",
                    one / memory,
                    ">=",
                    0.5,
                )
            )
        if only in (None, "workers"):
            rates = {}
            for workers in (1, 2):
                args = ("--workers", str(workers), "--store", f"{redis_url}?prefix=w{workers}")
                with Child("mockcloud", args=args) as child:
                    wrk(child.port, 1.0, 8, "chain", script)
                    rates[workers] = [wrk(child.port, sizes.seconds, 8, "chain", script)["rps"] for _ in range(3)]
            one, two = max(rates[1]), max(rates[2])
            lines.append(
                report(
                    f"workers: refreshes of 8 token families, Redis 2 workers {two:.0f} req/s "
                    f"vs 1 worker {one:.0f} req/s",
                    two / one,
                    ">=",
                    1.6,
                )
            )
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    return lines


_MEMORY = r"""
import functools, json, sys, time
from mockcloud import mock_cloud
from mockcloud.core.entities import KEPT_SECONDS
from mockcloud.services.userapi import model

model._hash_password = functools.lru_cache(maxsize=None)(model._hash_password)
count = int(sys.argv[1])

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

with mock_cloud(services=["userapi"], intercept=False, patch_time=False) as cloud:
    api = cloud.userapi
    mount = api.get_mount()
    base = rss()
    began = time.monotonic()
    for _ in range(count):
        api.login(mount, "api_user", "secure_password_123")
    first = rss()
    made = time.monotonic() - began
    cloud.clock.advance(mount.settings["refresh_token_seconds"] + KEPT_SECONDS + 3600)
    for _ in range(count):
        api.login(mount, "api_user", "secure_password_123")
    second = rss()
    held = len(api._sessions)
    print(json.dumps({"base": base, "first": first, "second": second, "held": held, "seconds": made}))
"""


def bench_memory(sizes: argparse.Namespace) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY, str(sizes.million)], capture_output=True, text=True, timeout=3600, check=True
    ).stdout
    found = json.loads(out)
    first = found["first"] - found["base"]
    second = found["second"] - found["first"]
    gib = 1 << 30
    return [
        f"  memory: {sizes.million} sessions made in {found['seconds']:.0f} s; RSS {found['base'] / gib:.2f} GiB "
        f"-> {found['first'] / gib:.2f} GiB -> {found['second'] / gib:.2f} GiB after the second lot "
        f"({found['held']} sessions held then)",
        report(
            f"memory: RSS with {sizes.million} live sessions {found['first'] / gib:.2f} GiB vs 2 GiB",
            found["first"] / (2 * gib * sizes.million / 1_000_000),
            "<=",
            1.0,
        ),
        report(
            f"memory: the second lot, made once the first expired, added {second / (1 << 20):.0f} MiB "
            f"vs the first's {first / (1 << 20):.0f} MiB",
            second / first,
            "<=",
            0.25,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts and shorter loads")
    parser.add_argument("--only", choices=["flat", "redis", "workers", "checkout", "memory"], help="one figure only")
    args = parser.parse_args(argv)
    sizes = argparse.Namespace(
        sessions=20_000 if args.quick else 100_000,
        checkouts=20_000 if args.quick else 100_000,
        signed=3_000 if args.quick else 6_000,
        million=200_000 if args.quick else 1_000_000,
        seconds=3.0 if args.quick else 8.0,
    )
    began = time.perf_counter()
    if args.only != "memory":
        for line in bench_servers(sizes, args.only):
            print(line, flush=True)
    if args.only in (None, "memory"):
        for line in bench_memory(sizes):
            print(line, flush=True)
    print(f"total benchmark time {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
