"""The one clock that every expiry, time stamp and skew check reads."""
from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone


def _checked(timestamp: float) -> float:
    """A time the clock can stand at: finite and a representable date, or ValueError."""
    if not math.isfinite(timestamp):
        raise ValueError(f"not a finite time: {timestamp!r}")
    try:
        datetime.fromtimestamp(timestamp, timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"time out of range: {timestamp!r}") from None
    return timestamp


def _as_timestamp(when: datetime | str | float | int) -> float:
    if isinstance(when, bool):
        raise TypeError("a time must be a datetime, an ISO-8601 string or epoch seconds")
    if isinstance(when, (int, float)):
        return _checked(float(when))
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    if not isinstance(when, datetime):
        raise TypeError("a time must be a datetime, an ISO-8601 string or epoch seconds")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return _checked(when.timestamp())


class Clock:
    """Mock time, optionally shared with the code under test.

    With ``patch_time`` (the in-process default) a moved clock is a
    time-machine traveller, so ``time.time()`` *is* the mock's time for the
    emulator and the code under test alike, and an untouched clock follows
    whatever freezegun or time-machine the test set itself. Without it the
    clock keeps its own offset and touches nothing global.
    """

    def __init__(self, *, patch_time: bool = True) -> None:
        self.patch_time = patch_time
        self._traveller = None  # time_machine.travel while patching
        self._coordinates = None
        self._offset = 0.0
        self._frozen_at: float | None = None

    # reading
    def time(self) -> float:
        """Seconds since the epoch on the mock clock."""
        if self._frozen_at is not None and not self.patch_time:
            return self._frozen_at
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), timezone.utc)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    # moving
    def freeze(self, when: datetime | str | float | None = None) -> datetime:
        target = self.time() if when is None else _as_timestamp(when)
        self._frozen_at = target
        self._move(target, tick=False)
        return self.now()

    def advance(self, seconds: float | None = None, **delta: float) -> datetime:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float, type(None))):
            raise TypeError("advance() takes seconds as a number")
        step = (seconds or 0.0) + timedelta(**delta).total_seconds()
        if self._frozen_at is not None:
            self._frozen_at = _checked(self._frozen_at + step)
            self._move(self._frozen_at, tick=False)
        else:
            self._move(_checked(self.time() + step), tick=True)
        return self.now()

    def unfreeze(self) -> datetime:
        if self._frozen_at is not None:
            at = self._frozen_at
            self._frozen_at = None
            self._move(at, tick=True)
        return self.now()

    def _move(self, target: float, *, tick: bool) -> None:
        if not self.patch_time:
            if tick:
                self._offset = target - time.time()
            return
        import time_machine

        if self._traveller is None:
            self._traveller = time_machine.travel(target, tick=tick)
            self._coordinates = self._traveller.start()
        else:
            self._coordinates.move_to(target, tick=tick)

    def close(self) -> None:
        """Give real time back (the mock stopped)."""
        if self._traveller is not None:
            self._traveller.stop()
        self._traveller = self._coordinates = None
        self._offset = 0.0
        self._frozen_at = None

    def __repr__(self) -> str:
        return f"<Clock {self.now().isoformat()}{' frozen' if self.frozen else ''}>"
