"""``mockcloud server --workers N --store URL``: N worker processes on one port, one emulator in the store.

The parent binds the listening socket once, then forks the workers; each
inherits the socket and accepts from it with its own waitress server, its own
interpreter (and GIL), and its own local copy of the shared state, kept in
step with the store request by request (:mod:`mockcloud.state.shared`). The
parent serves nothing: it restarts a worker that dies (a SIGKILL, a crash)
and passes SIGTERM and SIGINT on to every worker, then waits for them to end.

When the parent dies without that (SIGKILL, an OOM kill, a crash), its
workers must not serve on as orphans: each watches the read end of a pipe
whose only write end the parent holds. The parent's death closes it; the
worker reads end-of-file, stops accepting and ends as on SIGTERM, and is
made to exit a few seconds later if it has not (a portable stand-in for
Linux's ``PR_SET_PDEATHSIG``, which only watches the thread that forked).

POSIX only (``os.fork``). The parent stays single-threaded, so forking is safe.
"""

from __future__ import annotations

import mmap
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

# a worker that dies sooner than this after it started counts as failing to start
_QUICK_DEATH = 2.0
_MAX_BACKOFF = 5.0
_FORWARDED = (signal.SIGTERM, signal.SIGINT)
_ORPHAN_GRACE = 5.0  # seconds an orphaned worker has to finish its requests before it is made to exit


class AcceptBalance:
    """The open connections of each worker, in memory the forked workers share: the one with fewest accepts.

    Keep-alive connections stay with the worker that accepted them; left to
    the race of accept(), one worker may take most of a burst (a load
    generator's eight connections) and the others idle. A worker starting,
    gone, or not heard from for a while (stopped, stuck) holds no one back.
    """

    _ABSENT = 1 << 30
    _STALE = 3.0  # seconds: a serving worker's loop says how many it has at least every second

    def __init__(self, workers: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # CLOCK_MONOTONIC: one clock for every process (a test passes its own)
        self._memory = mmap.mmap(-1, 16 * workers)  # anonymous and shared: the same pages after fork
        self._counts = memoryview(self._memory)[: 8 * workers].cast("q")
        self._seen = memoryview(self._memory)[8 * workers :].cast("d")  # when each worker last said, on the clock
        for index in range(workers):
            self.absent(index)

    def absent(self, index: int) -> None:
        self._counts[index] = self._ABSENT

    def gate(self, index: int) -> Callable[[int], bool]:
        """``may_accept(open_connections)`` of worker ``index``: no other worker that is there has fewer."""
        counts, seen, clock = self._counts, self._seen, self._clock

        def may_accept(open_connections: int) -> bool:
            now = clock()
            counts[index], seen[index] = open_connections, now
            return all(
                open_connections <= counts[i] or now - seen[i] > self._STALE for i in range(len(counts)) if i != index
            )

        return may_accept


def watch_parent(lifeline: int, grace: float = _ORPHAN_GRACE) -> threading.Thread:
    """In a worker: when the parent dies (``lifeline``, the read end of its pipe, reads end-of-file),
    stop as on SIGTERM, and exit after ``grace`` seconds whatever is left."""

    def watch() -> None:
        try:
            while os.read(lifeline, 64):
                pass  # the parent never writes; anything read is no death
        except OSError:
            pass
        print(f"mockcloud: worker {os.getpid()}: the server process is gone; stopping", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # the worker's own SIGTERM handler: stop accepting, then end
        time.sleep(grace)
        os._exit(1)

    thread = threading.Thread(target=watch, name="mockcloud-parent-watch", daemon=True)
    thread.start()
    return thread


def _worker(index: int, run: Callable[[int], int], lifeline: tuple[int, int]) -> None:
    """In the forked child: serve until told to stop or orphaned, then leave without the parent's clean-up."""
    code = 1
    try:
        for sig in _FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        os.close(lifeline[1])  # only the parent holds the write end: its death is our end-of-file
        watch_parent(lifeline[0])
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)
        code = run(index)
    except BaseException as exc:
        print(f"mockcloud: worker {index} failed: {exc!r}", file=sys.stderr, flush=True)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def supervise(
    workers: int,
    listener: socket.socket,
    run: Callable[[int], int],
    balance: AcceptBalance | None = None,
    ready: Callable[[], None] | None = None,
) -> int:
    """Fork ``workers`` processes that each call ``run(index)`` on the inherited ``listener``; keep them running.

    ``ready`` is called once the signal handlers are in place (so a stop after what it prints is a clean
    one). Returns when SIGTERM or SIGINT came and every worker has ended.
    """
    children: dict[int, tuple[int, float]] = {}  # pid -> (index, when it started)
    failures = dict.fromkeys(range(workers), 0)
    stopping = False
    lifeline = os.pipe()  # read end: every worker's; write end: ours alone, closed by the kernel when we die

    def start(index: int) -> None:
        # signals wait until the child is on the list, so a SIGTERM now reaches it too
        signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
        if balance is not None:
            balance.absent(index)  # until it serves
        try:
            pid = os.fork()
            if pid == 0:
                _worker(index, run, lifeline)
            children[pid] = (index, time.monotonic())
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, stop) for sig in _FORWARDED}
    try:
        if ready is not None:
            ready()
        for index in range(workers):
            start(index)
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid not in children:
                continue
            index, started = children.pop(pid)
            if balance is not None:
                balance.absent(index)
            if stopping:
                continue
            how = (
                f"signal {-os.waitstatus_to_exitcode(status)}"
                if os.WIFSIGNALED(status)
                else f"exit {os.waitstatus_to_exitcode(status)}"
            )
            quick = time.monotonic() - started < _QUICK_DEATH
            failures[index] = failures[index] + 1 if quick else 0
            delay = min(_MAX_BACKOFF, 0.1 * 2 ** failures[index]) if quick else 0.0
            print(
                f"mockcloud: worker {index} (pid {pid}) ended ({how}); starting another"
                + (f" in {delay:.1f} s" if delay else ""),
                file=sys.stderr,
                flush=True,
            )
            if delay:
                time.sleep(delay)
            if not stopping:
                start(index)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.close()
        for end in lifeline:
            os.close(end)
    return 0
