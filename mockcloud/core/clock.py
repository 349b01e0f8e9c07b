"""The one clock that every expiry, time stamp and skew check reads."""

from __future__ import annotations

import math
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Protocol

    class _Traveller(Protocol):
        """An entry of time-machine's stack of travellers (time-machine ships no types)."""

        def time_ns(self) -> int: ...
        def move_to(self, destination: float, tick: bool | None = None) -> None: ...
        def shift(self, delta: float) -> None: ...

    class _FrozenFactory(Protocol):
        """One of freezegun's active frozen times (``freeze_factories``)."""

        def __call__(self) -> datetime: ...
        def move_to(self, target_datetime: datetime) -> None: ...


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

    With ``patch_time`` (the in-process default) ``time.time()`` *is* the
    mock's time, for the emulator and the code under test alike. An
    untouched clock follows whatever freezegun or time-machine the test set
    itself. A move (``advance``, ``freeze``, ``unfreeze``) applies to every
    timeline the mock can see from where it started: the mock's own
    time-machine traveller, slipped in beneath any the test started inside
    the mock so that their end never undoes the move, those travellers
    themselves, and freezegun's frozen times while freezegun is active
    (moves on a freezegun begun before the mock are taken back when the mock
    stops). Without ``patch_time`` the clock keeps its own offset and
    touches nothing global.
    """

    def __init__(self, *, patch_time: bool = True, clients_elsewhere: bool = False) -> None:
        self.patch_time = patch_time
        # a server's clock: its clients live in other processes, with clocks of their own (see host_time)
        self.clients_elsewhere = clients_elsewhere and not patch_time
        self._travel: Any = None  # our time_machine.travel while patching
        self._traveller: Any = None  # its entry in time-machine's stack
        self._offset = 0.0
        self._frozen_at: float | None = None
        # what the test had running when the mock started: ours goes above those, below later ones
        self._travellers_before = len(_travellers() or ())
        self._factories_before = list(_freezegun_factories() or ())
        # id -> (freezegun factory older than the mock, seconds moved)
        self._outer_moves: dict[int, tuple[_FrozenFactory, float]] = {}

    # reading
    def time(self) -> float:
        """Seconds since the epoch on the mock clock."""
        if self._frozen_at is not None and not self.patch_time:
            return self._frozen_at
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), timezone.utc)

    def host_time(self) -> float | None:
        """The host's own time for a server's clock (its clients live in other processes), else None.

        It is what a client in another process signs with; see :func:`mockcloud.core.auth.fresh`.
        """
        return time.time() if self.clients_elsewhere else None

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    # sharing (a clock of its own, patch_time=False): what other processes take over
    def shared_state(self) -> dict[str, float]:
        """Where the clock stands, for a mock in another process or host: frozen at a time, or running at an offset.

        A running clock is kept as its offset from the real time, so every host's
        mock reads the same time while their real clocks agree.
        """
        if self._frozen_at is not None:
            return {"frozen_at": self._frozen_at}
        return {"offset": self._offset}

    def take_shared_state(self, state: dict[str, float]) -> None:
        """Stand where :meth:`shared_state` of another mock's clock says."""
        if self.patch_time:
            raise ValueError("a clock that moves time.time() cannot be shared")
        frozen_at = state.get("frozen_at")
        self._frozen_at = None if frozen_at is None else _checked(float(frozen_at))
        self._offset = float(state.get("offset", 0.0))

    # moving
    def freeze(self, when: datetime | str | float | None = None) -> datetime:
        """Stop the clock, where it stands or at ``when``."""
        now = self.time()
        target = now if when is None else _as_timestamp(when)
        self._move(target - now, tick=False, to=None if when is None else target)
        self._frozen_at = target
        return self.now()

    def advance(self, seconds: float | None = None, **delta: float) -> datetime:
        """Move the clock forward (or back), frozen or running."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float, type(None))):
            raise TypeError("advance() takes seconds as a number")
        step = (seconds or 0.0) + timedelta(**delta).total_seconds()
        target = _checked(self.time() + step)
        self._move(step, tick=None, to=None)
        if self._frozen_at is not None:
            self._frozen_at = target
        return self.now()

    def unfreeze(self) -> datetime:
        """Let time run on from where it stands."""
        if self._frozen_at is not None:
            self._move(0.0, tick=True, to=None)
            self._frozen_at = None
        return self.now()

    def _move(self, step: float, *, tick: bool | None, to: float | None) -> None:
        """Apply one move: ``step`` seconds, then stop (False) or run (True) or keep (None).

        ``to`` sets the time absolutely instead.
        """
        if not self.patch_time:
            if self._frozen_at is None or tick is True:
                base = self._frozen_at if self._frozen_at is not None else self.time()
                self._offset = (to if to is not None else base + step) - time.time()
            return
        factories = _freezegun_factories()
        if factories:
            self._move_freezegun(factories, step, tick)
            if self._traveller is not None:  # the mock's own timeline beneath keeps the move too
                _move_traveller(self._traveller, step, tick, to)
            return
        self._move_time_machine(step, tick, to)

    def _move_time_machine(self, step: float, tick: bool | None, to: float | None) -> None:
        import time_machine

        stack = _travellers()
        assert stack is not None
        if self._traveller is None or not any(t is self._traveller for t in stack):
            position = min(self._travellers_before, len(stack))
            # the time beneath the test's own travellers: the one the mock started in, or real time
            if position:
                beneath = stack[position - 1].time_ns() / 1e9
            else:
                beneath = time_machine.escape_hatch.time.time() if stack else time.time()
            target = to if to is not None else _checked(beneath + step)
            running = self._frozen_at is None if tick is None else tick
            self._travel = time_machine.travel(target, tick=running)
            self._traveller = self._travel.start()  # on top; moved down beneath the test's own
            if stack[position] is not self._traveller:
                stack.remove(self._traveller)
                stack.insert(position, self._traveller)
            above = stack[position + 1 :]
        else:
            position = next(i for i, t in enumerate(stack) if t is self._traveller)
            above = stack[position:]
        for traveller in above:
            _move_traveller(traveller, step, tick, to)

    def _move_freezegun(self, factories: list[_FrozenFactory], step: float, tick: bool | None) -> None:
        from ..core.errors import MockCloudError

        for factory in factories:
            running = type(factory).__name__ != "FrozenDateTimeFactory"
            if tick is False and running:
                raise MockCloudError(
                    "freezegun's freeze_time(tick=True) (or auto_tick_seconds) is active: its time keeps running and "
                    "mockcloud cannot stop it. Freeze with freezegun's freeze_time() without tick, or move time with "
                    "cloud.clock.advance()."
                )
            if tick is True and not running:
                raise MockCloudError(
                    "freezegun's freeze_time() holds time still and mockcloud cannot make it run. Use "
                    "freeze_time(..., tick=True), or leave the clock frozen and move it with cloud.clock.advance()."
                )
        for factory in factories:
            if step:
                factory.move_to(factory() + timedelta(seconds=step))
                if any(factory is outer for outer in self._factories_before):
                    moved = self._outer_moves.get(id(factory), (factory, 0.0))[1] + step
                    self._outer_moves[id(factory)] = (factory, moved)

    def close(self) -> None:
        """Give real time back (the mock stopped)."""
        stack = _travellers()
        if self._traveller is not None and stack:
            if stack[-1] is self._traveller:
                self._travel.stop()
            elif any(t is self._traveller for t in stack):
                stack[:] = [t for t in stack if t is not self._traveller]
        factories = _freezegun_factories() or []
        for factory, moved in self._outer_moves.values():  # a freezegun older than the mock: its moves undone
            if any(f is factory for f in factories):
                factory.move_to(factory() - timedelta(seconds=moved))
        self._outer_moves = {}
        self._travel = self._traveller = None
        self._offset = 0.0
        self._frozen_at = None

    def __repr__(self) -> str:
        return f"<Clock {self.now().isoformat()}{' frozen' if self.frozen else ''}>"


def _travellers() -> list[_Traveller] | None:
    """time-machine's stack of active travellers (its module global), or None when it is not imported."""
    module = sys.modules.get("time_machine")
    if module is None:
        return None
    stack = getattr(module, "traveller_stack", None)
    return stack if stack is not None else getattr(module, "coordinates_stack", None)


def _freezegun_factories() -> list[_FrozenFactory] | None:
    """freezegun's active frozen times, innermost last, or None when freezegun is not active."""
    api = sys.modules.get("freezegun.api")
    factories = getattr(api, "freeze_factories", None)
    return factories or None


def _move_traveller(traveller: _Traveller, step: float, tick: bool | None, to: float | None) -> None:
    if to is not None:
        traveller.move_to(to, tick=tick)
        return
    if step:
        traveller.shift(step)
    if tick is not None:
        traveller.move_to(traveller.time_ns() / 1e9, tick=tick)
