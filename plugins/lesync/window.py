"""The one ``Window`` type of lesync: a half-open interval [start, end) of aware datetimes.

A leaf module (imports nothing from lesync), so ``liveperson/`` (which splits searches by
LivePerson's rules, see ``liveperson/windows.py``) and ``pipeline/`` (which plans runs and
slices them into tasks) share one type without importing each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class WindowError(ValueError):
    """A requested window cannot be used; the message says why and what to enter instead."""


@dataclass(frozen=True)
class Window:
    """[start, end), both aware; ``validate_window`` also puts them in UTC and orders them."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if not isinstance(value, dt.datetime):
                raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
            if value.tzinfo is None or value.utcoffset() is None:
                raise WindowError(f"{name} {value.isoformat()} has no time zone; give a UTC offset")

    def iso(self) -> list[str]:
        return [self.start.isoformat(), self.end.isoformat()]

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Window:
        return cls(dt.datetime.fromisoformat(data["start"]), dt.datetime.fromisoformat(data["end"]))


def ensure_aware(moment: dt.datetime, name: str = "datetime") -> dt.datetime:
    """The same moment in UTC; a naive datetime is refused (its time zone would be a guess)."""
    if not isinstance(moment, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise WindowError(f"{name} {moment.isoformat()} has no time zone; pass an aware datetime")
    utc = moment.astimezone(dt.UTC)
    # A plain datetime, whatever came in: Airflow hands out pendulum DateTimes, which lose
    # their tzinfo in arithmetic once it is datetime.UTC (pendulum 3).
    return dt.datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, dt.UTC
    )


def validate_window(start: dt.datetime, end: dt.datetime) -> Window:
    """A checked window in UTC: both aware, end after start."""
    start, end = ensure_aware(start, "start"), ensure_aware(end, "end")
    if end <= start:
        raise WindowError(f"window end {end.isoformat()} must be after start {start.isoformat()}")
    return Window(start, end)


def split_window(start: dt.datetime, end: dt.datetime, longest: dt.timedelta) -> list[Window]:
    """[start, end) cut into consecutive slices of at most ``longest`` (the last may be shorter)."""
    window = validate_window(start, end)
    if longest <= dt.timedelta(0):
        raise WindowError(f"slice length must be positive, got {longest}")
    return list(_cut(window, longest))


def to_epoch_ms(moment: dt.datetime) -> int:
    """Epoch milliseconds (LivePerson's time format)."""
    delta = ensure_aware(moment) - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_epoch_ms(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=value)


def _cut(window: Window, longest: dt.timedelta) -> Iterator[Window]:
    cursor = window.start
    while cursor < window.end:
        upper = min(cursor + longest, window.end)
        yield Window(cursor, upper)
        cursor = upper
