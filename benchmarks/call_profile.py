"""Where the microseconds of one in-process boto3 ``get_access_token`` go: the emulator's steps, one by one.

Informational (always exits 0 unless it crashes). Run from the repository root:

    python benchmarks/call_profile.py [--calls 300] [--rounds 15]

The call is timed bare, in the same run, against the canned ``before-send``
floor of ``benchmarks/run.py``; then each step of the request path is timed
on its own (one timer at a time, its own cost measured and taken off; a
step's figure includes the steps under it). Times are the CPU time of this
thread, so what other processes of a busy machine take is not counted. Per
round it takes the mean of ``--calls`` calls, and prints the median over
rounds (which interleave) and each step's share of what the emulator adds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import LICENSE_ARN, canned_reply, fake_jwt, lm_client

# CPU time of this thread: what other processes on a busy machine take is not counted
_clock = time.thread_time_ns
_spent: dict[str, int] = defaultdict(int)


def _timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = _clock()
        try:
            return function(*args, **kwargs)
        finally:
            _spent[label] += _clock() - began

    timed.__wrapped__ = function  # type: ignore[attr-defined]
    return timed


_TIMER_COST: list[float] = []


def _timer_cost_us() -> float:
    """What a timer adds to the figure it takes (measured once, on a function that does nothing)."""
    if not _TIMER_COST:

        def nothing() -> None:
            pass

        timed = _timed("nothing", nothing)
        samples = []
        for _ in range(7):
            _spent.clear()
            for _ in range(2000):
                timed()
            samples.append(_spent["nothing"] / 2000 / 1000)
        _TIMER_COST.append(statistics.median(samples))
    return _TIMER_COST[0]


# (label, owner, attribute, depth): the steps of the path, in the order a request meets them; an owner of None
# is a line derived from the others. A name a module imported from another is timed where it is called from.
def _steps() -> list[tuple[str, Any, str, int]]:
    from mockcloud import intercept
    from mockcloud.core import app, jwt_signing, router
    from mockcloud.core.auth import sigv4
    from mockcloud.intercept import botocore_send
    from mockcloud.services.licensemanager import model, protocol

    lm = protocol.LicenseManagerProtocol
    return [
        ("the emulator's part of _do_get_response", None, "", 0),
        ("  interceptor: read_timeout, header_pairs, AWSResponse, ...", None, "", 1),
        ("  intercept.answer", botocore_send, "answer", 1),
        ("    build_environ", intercept, "build_environ", 2),
        ("    Application.handle_environ", app.Application, "handle_environ", 2),
        ("      werkzeug Request", None, "", 3),
        ("      Application.handle", app.Application, "handle", 3),
        ("        router.route", router.Router, "route", 4),
        ("        _respond", app.Application, "_respond", 4),
        ("          operation_of", lm, "operation_of", 5),
        ("          exchange, faults.judge", None, "", 5),
        ("          authenticate (SigV4)", lm, "authenticate", 5),
        ("            sigv4.verify", sigv4, "verify", 6),
        ("              canonical_request", sigv4, "canonical_request", 7),
        ("              signing key", sigv4, "_signing_key", 7),
        ("          parse (JSON body)", lm, "parse", 5),
        ("          validate (schema)", lm, "validate", 5),
        ("          invoke", lm, "invoke", 5),
        ("            model.get_access_token", model.LicenseManagerModel, "get_access_token", 6),
        ("              JWT signing (ES256)", jwt_signing.JwtSigner, "sign", 7),
        ("          render (JSON reply)", lm, "render", 5),
        ("        _record (request log)", app.Application, "_record", 4),
        ("          log.capture", app, "capture", 5),
    ]


_DO_GET_RESPONSE = "_do_get_response"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per round (default 300)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds (default 15)")
    args = parser.parse_args(argv)

    import botocore.endpoint

    from mockcloud import mock_cloud

    steps = _steps()
    timed_steps = [(label, owner, attribute) for label, owner, attribute, _ in steps if owner is not None]
    endpoint = botocore.endpoint.Endpoint
    runs: dict[str, list[float]] = defaultdict(list)

    def call_us(client: Any, token: str, n: int) -> float:
        call = client.get_access_token
        began = _clock()
        for _ in range(n):
            call(Token=token)
        return (_clock() - began) / n / 1000

    def timed_us(client: Any, token: str, n: int, label: str, owner: Any, attribute: str) -> float:
        """The CPU time of ``owner.attribute`` per call, the timer's own cost taken off."""
        original = getattr(owner, attribute)
        setattr(owner, attribute, _timed(label, original))
        _spent.clear()
        try:
            call_us(client, token, n)
        finally:
            setattr(owner, attribute, original)
        return _spent[label] / n / 1000 - _timer_cost_us()

    floor = lm_client()
    with mock_cloud():  # the size of a real access token, for the floor's canned reply
        client = lm_client()
        token = client.create_token(LicenseArn=LICENSE_ARN, ClientToken="profile")["Token"]
        size = len(client.get_access_token(Token=token)["AccessToken"])
    floor.meta.events.register(
        "before-send.license-manager.GetAccessToken",
        canned_reply(json.dumps({"AccessToken": fake_jwt(size)}).encode()),
    )
    call_us(floor, "canned", args.calls)
    for _ in range(args.rounds):  # interleaved: drift hits every figure alike
        runs["floor"].append(call_us(floor, "canned", args.calls))
        runs["floor get"].append(timed_us(floor, "canned", args.calls, "get", endpoint, _DO_GET_RESPONSE))
        with mock_cloud():
            client = lm_client()
            token = client.create_token(LicenseArn=LICENSE_ARN, ClientToken="profile")["Token"]
            call_us(client, token, args.calls // 4)
            runs["mock"].append(call_us(client, token, args.calls))
            runs["mock get"].append(timed_us(client, token, args.calls, "get", endpoint, _DO_GET_RESPONSE))
            for label, owner, attribute in timed_steps:  # one timer at a time: none inside another's figure
                runs[label].append(timed_us(client, token, args.calls, label, owner, attribute))
    med = {label: statistics.median(values) for label, values in runs.items()}
    f, m = med["floor"], med["mock"]
    emulator = med["mock get"] - med["floor get"]
    med["the emulator's part of _do_get_response"] = emulator
    med["  interceptor: read_timeout, header_pairs, AWSResponse, ..."] = emulator - med["  intercept.answer"]
    med["      werkzeug Request"] = med["    Application.handle_environ"] - med["      Application.handle"]
    inner = (
        "          operation_of",
        "          authenticate (SigV4)",
        "          parse (JSON body)",
        "          validate (schema)",
        "          invoke",
        "          render (JSON reply)",
    )
    med["          exchange, faults.judge"] = med["        _respond"] - sum(med[label] for label in inner)
    added = m - f
    print(
        f"get_access_token: {m:.1f} us/call under the mock vs {f:.1f} us/call canned floor (CPU time of this "
        f"thread): the emulator adds {added:.1f} us ({m / f:.2f}x); median of {args.rounds} rounds x {args.calls} calls"
    )
    print(f"{'step (inclusive: a line holds the lines indented under it)':<64} {'us/call':>8} {'of added':>9}")
    for label, _, _, _ in steps:
        print(f"{label:<64} {med[label]:>8.1f} {med[label] / added:>9.0%}")
    rest = added - emulator
    print(f"{'outside _do_get_response (botocore around a real reply, GC)':<64} {rest:>8.1f} {rest / added:>9.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
