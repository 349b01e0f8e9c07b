"""Calendar arithmetic that cannot overflow: what clients send and what expiries reach.

``datetime`` stops at years 1 and 9999, so a time stamp a client sends near
either end (with an offset that crosses it) or an expiry far ahead (License
Manager's ``ExpirationInDays`` is a 32-bit integer: up to ~5.9 million
years) would raise in the middle of a request. These helpers work on epoch
seconds with integer arithmetic and answer None for a calendar time that
does not exist, never an exception.
"""

from __future__ import annotations

import calendar
import math

__all__ = ["utc_epoch", "utc_iso", "valid_offset"]


def utc_epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int | None:
    """Epoch seconds of a UTC calendar time; None when there is no such time (year 0, 31 February, 25:00).

    A leap second (``:60``) is accepted, as ISO 8601 allows it, and counts as the next second.
    """
    if not (1 <= year <= 9999 and 1 <= month <= 12 and 0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 60):
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def valid_offset(hours: int, minutes: int) -> bool:
    """A UTC offset XML Schema allows: at most 14:00 either way, minutes below 60."""
    return 0 <= minutes <= 59 and (hours < 14 or (hours == 14 and minutes == 0))


def utc_iso(seconds: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` for any finite epoch seconds, with ISO 8601's expanded years past 9999.

    (Howard Hinnant's days-to-civil algorithm, proleptic Gregorian calendar.)
    """
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite time: {seconds!r}")
    days, rest = divmod(math.floor(seconds), 86400)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    shown = f"{year:04d}" if year >= 0 else f"-{-year:04d}"
    return f"{shown}-{month:02d}-{day:02d}T{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}Z"
