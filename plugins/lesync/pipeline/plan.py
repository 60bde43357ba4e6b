"""Which time window a DAG run syncs, and the schedules that produce those runs.

The four DAG kinds differ only here: periodic (every 3 h, the last 6 h), daily (once a day,
the last 48 h), manual (a typed start and end, at most 30 days, never in the future) and the
single conversation of "Sync Chat". Everything after the plan is one shared pipeline.
``Window`` is the project's one window type (``lesync.window``).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from lesync.window import Window, WindowError, split_window

PERIODIC_EVERY_HOURS = 3
PERIODIC_LOOKBACK = dt.timedelta(hours=6)
DAILY_LOOKBACK = dt.timedelta(hours=48)
MANUAL_MAX = dt.timedelta(days=30)


def stable_minute(name: str) -> int:
    """A minute 0-59 that is the same for an integration on every machine and every parse.

    Spreads integrations over the hour (as the vendor's scheduler does) so they do not all call
    LivePerson and Salesforce at :00. Python's hash() is salted per process, so use sha256.
    """
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 60


def periodic_cron(name: str) -> str:
    return f"{stable_minute(name)} */{PERIODIC_EVERY_HOURS} * * *"


def daily_cron(name: str, hour: int) -> str:
    return f"{stable_minute(name)} {hour} * * *"


def lookback_window(end: dt.datetime, lookback: dt.timedelta) -> Window:
    """The window of a scheduled run: ``lookback`` ending at the run's data interval end."""
    return Window(end - lookback, end)


def manual_window(start: str | dt.datetime, end: str | dt.datetime, now: dt.datetime) -> Window:
    """Validate the trigger form's start and end; every refusal names the field and the fix."""
    start_at = _parse_moment("start", start)
    end_at = _parse_moment("end", end)
    if end_at <= start_at:
        raise WindowError(f"end ({end_at.isoformat()}) must be after start ({start_at.isoformat()})")
    if start_at > now:
        raise WindowError(f"start ({start_at.isoformat()}) is in the future; LivePerson has no data yet")
    if end_at > now:
        raise WindowError(
            f"end ({end_at.isoformat()}) is in the future (now is {now.isoformat(timespec='seconds')}); "
            "choose an end in the past"
        )
    if end_at - start_at > MANUAL_MAX:
        days = (end_at - start_at) / dt.timedelta(days=1)
        raise WindowError(
            f"the window is {days:.1f} days; a manual sync covers at most 30 days: split it into several runs"
        )
    return Window(start_at, end_at)


def _parse_moment(field: str, value: str | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise WindowError(
                f"{field} {value!r} is not a date-time; use ISO-8601 such as 2026-11-01T00:00:00+00:00"
            ) from None
    if moment.tzinfo is None:
        raise WindowError(f"{field} {value!r} has no time zone; add one, e.g. +00:00 for UTC")
    return moment.astimezone(dt.UTC)


def slices(window: Window, hours: int) -> list[Window]:
    """Cut a window into consecutive slices of at most ``hours`` (the last one may be shorter).

    Each slice becomes one mapped extract task, so a 30-day backfill spreads over workers.
    """
    if hours < 1:
        raise WindowError("slice length must be at least one hour")
    return split_window(window.start, window.end, dt.timedelta(hours=hours))
