"""The container image against its goals: MB over its base, and seconds from `docker run` to the first answer.

    python benchmarks/container.py [--image TAG --base TAG] [--runs 10]

Without --image it builds the image as the tests do (tests/container/images.py: a Debian base made with
debootstrap, the checkout's Dockerfile built offline from a wheelhouse; root and Docker needed, dockerd
started if none runs). Each run starts a container on the host's network bound to 127.0.0.1 on a free
port, times `docker run` until GET /_mockcloud/health answers 200, then stops it with SIGTERM and times
that too. Goals: at most 60 MB over the base, at most 1 s to the first answer, at most 2 s to stop. The
floor, measured in the same run, is the base's own `python3 -m http.server` started the same way: what a
container with Python costs to answer at all on this machine now (the ratio holds when the machine is busy).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.container import images  # the same base and image as the tests

GOAL_MB = 60.0
GOAL_FIRST_ANSWER = 1.0
GOAL_STOP = 2.0


def size(tag: str) -> int:
    return int(images.docker("image", "inspect", "--format", "{{.Size}}", tag).stdout)


def first_answer(image: str, *args: str, path: str = "/_mockcloud/health") -> tuple[str, float]:
    """Start ``image`` on the host's network (127.0.0.1, a free port): the container, and the seconds from
    `docker run` until ``path`` answers 200."""
    port = images.free_port()
    started = time.monotonic()
    run = ["run", "-d", "--network", "host", "-e", "MOCKCLOUD_HOST=127.0.0.1", "-e", f"MOCKCLOUD_PORT={port}"]
    container = images.docker(*run, image, *(a.replace("PORT", str(port)) for a in args)).stdout.strip()
    deadline = started + 60
    while not images.health_answers(port, path):
        if time.monotonic() > deadline:
            logs = images.docker("logs", container, check=False).stderr
            images.docker("rm", "--force", "--volumes", container, check=False)
            raise SystemExit(f"no answer within 60 s:\n{logs}")
        time.sleep(0.005)
    return container, time.monotonic() - started


def one_run(image: str, base: str) -> tuple[float, float, float]:
    """The image's first answer, its SIGTERM to exit, and the floor: the base's own `python3 -m http.server`."""
    container, answer = first_answer(image)
    try:
        stopping = time.monotonic()
        images.docker("kill", "--signal", "TERM", container)
        status = images.docker("wait", container).stdout.strip()
        stop = time.monotonic() - stopping
        if status != "0":
            raise SystemExit(f"exit status {status} after SIGTERM")
    finally:
        images.docker("rm", "--force", "--volumes", container, check=False)
    floor_container, floor = first_answer(
        base, "python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", "/", "PORT", path="/"
    )
    images.docker("rm", "--force", floor_container, check=False)
    return answer, stop, floor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", help="an image already built (default: build it as the tests do)")
    parser.add_argument("--base", help="its base image (needed with --image)")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    daemon = images.Daemon().start()
    try:
        base = args.base or images.base_image()
        image = args.image or images.build_image(base)
        over = (size(image) - size(base)) / 1e6
        images.docker("run", "--rm", "--network", "none", "--entrypoint", "true", image)  # layers on disk, warm
        runs = [one_run(image, base) for _ in range(args.runs)]
    finally:
        daemon.stop()
    answers, stops = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
    floor = statistics.median(r[2] for r in runs)
    rows = [
        ("image over its base", f"{over:.1f} MB", f"<= {GOAL_MB:g} MB", over <= GOAL_MB),
        (
            "docker run to first answer (median)",
            f"{statistics.median(answers):.2f} s",
            f"<= {GOAL_FIRST_ANSWER:g} s",
            statistics.median(answers) <= GOAL_FIRST_ANSWER,
        ),
        ("  slowest of the runs", f"{answers[-1]:.2f} s", "", None),
        ("  floor: the base's python3 -m http.server", f"{floor:.2f} s", "", None),
        ("  first answer / floor", f"{statistics.median(answers) / floor:.2f}x", "", None),
        ("SIGTERM to exit (median)", f"{statistics.median(stops):.2f} s", f"<= {GOAL_STOP:g} s", None),
    ]
    rows[-1] = (*rows[-1][:3], statistics.median(stops) <= GOAL_STOP)
    print(f"image {image} on {base}, {args.runs} runs")
    print(f"{'measure':40} {'value':>10} {'goal':>10}  met")
    for name, value, goal, met in rows:
        print(f"{name:40} {value:>10} {goal:>10}  {'' if met is None else ('yes' if met else 'NO')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
