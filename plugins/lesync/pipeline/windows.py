"""Time windows: validation, slicing, LivePerson's 10-minute rounding and per-channel maximum.

A pure leaf module (no Airflow, no HTTP): the DAGs slice long windows into mapped tasks with it,
and the LivePerson client splits a slice that is still longer than the API allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

ROUNDING = timedelta(minutes=10)  # LivePerson rounds search bounds to 10-minute boundaries
RETENTION = timedelta(days=395)  # 13 months of history

# "One month" / "three months" as LivePerson counts them is not specified; the shortest reading
# (February: 28 days; February to April: 89 days) minus the 10-minute rounding at both ends is
# never rejected, whatever the calendar.
CHAT_MAX_INTERVAL = timedelta(days=28) - 2 * ROUNDING
MESSAGING_MAX_INTERVAL = timedelta(days=89) - 2 * ROUNDING
MAX_INTERVAL = {"chat": CHAT_MAX_INTERVAL, "messaging": MESSAGING_MAX_INTERVAL}
CHANNELS = tuple(MAX_INTERVAL)


class Window(NamedTuple):
    """A half-open interval [start, end) of aware datetimes."""

    start: datetime
    end: datetime

    def iso(self) -> list[str]:
        return [self.start.isoformat(), self.end.isoformat()]


def ensure_aware(moment: datetime, name: str = "datetime") -> datetime:
    """The same moment in UTC; a naive datetime is refused (its time zone would be a guess)."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} {moment.isoformat()} has no time zone; pass an aware datetime")
    utc = moment.astimezone(UTC)
    # A plain datetime, whatever came in: Airflow hands out pendulum DateTimes, which lose
    # their tzinfo in arithmetic once it is datetime.UTC (pendulum 3).
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, UTC)


def validate_window(start: datetime, end: datetime) -> Window:
    """A checked window in UTC: both aware, end after start."""
    start, end = ensure_aware(start, "start"), ensure_aware(end, "end")
    if end <= start:
        raise ValueError(f"window end {end.isoformat()} must be after start {start.isoformat()}")
    return Window(start, end)


def split_window(start: datetime, end: datetime, longest: timedelta) -> list[Window]:
    """[start, end) cut into consecutive slices of at most ``longest`` (the last may be shorter)."""
    window = validate_window(start, end)
    if longest <= timedelta(0):
        raise ValueError(f"slice length must be positive, got {longest}")
    return list(_cut(window, longest))


def max_interval(channel: str) -> timedelta:
    """Longest search interval LivePerson accepts for ``chat`` or ``messaging``."""
    try:
        return MAX_INTERVAL[channel]
    except KeyError:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}") from None


def api_slices(channel: str, start: datetime, end: datetime) -> list[Window]:
    """[start, end) cut so that every slice, once rounded, is a search the API accepts."""
    return split_window(start, end, max_interval(channel))


def round_down(moment: datetime, step: timedelta = ROUNDING) -> datetime:
    moment = ensure_aware(moment)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step) * step


def round_up(moment: datetime, step: timedelta = ROUNDING) -> datetime:
    lower = round_down(moment, step)
    return lower if lower == ensure_aware(moment) else lower + step


def to_epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds, LivePerson's time format."""
    delta = ensure_aware(moment) - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_epoch_ms(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)


def _cut(window: Window, longest: timedelta) -> Iterator[Window]:
    cursor = window.start
    while cursor < window.end:
        upper = min(cursor + longest, window.end)
        yield Window(cursor, upper)
        cursor = upper
