"""LivePerson's time rules: 10-minute rounding, 13-month retention, per-API search maxima.

Searches are cut here so that every one, once LivePerson rounds its bounds, is accepted; the
generic ``Window`` type and slicing live in ``lesync.window``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lesync.contracts import CHANNELS
from lesync.window import EPOCH, Window, ensure_aware, split_window

ROUNDING = timedelta(minutes=10)  # LivePerson rounds search bounds to 10-minute boundaries
RETENTION = timedelta(days=395)  # 13 months of history

# "One month" / "three months" as LivePerson counts them is not specified; the shortest reading
# (February: 28 days; February to April: 89 days) minus the 10-minute rounding at both ends is
# never rejected, whatever the calendar.
CHAT_MAX_INTERVAL = timedelta(days=28) - 2 * ROUNDING
MESSAGING_MAX_INTERVAL = timedelta(days=89) - 2 * ROUNDING
MAX_INTERVAL = {"chat": CHAT_MAX_INTERVAL, "messaging": MESSAGING_MAX_INTERVAL}


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
    return EPOCH + ((moment - EPOCH) // step) * step


def round_up(moment: datetime, step: timedelta = ROUNDING) -> datetime:
    lower = round_down(moment, step)
    return lower if lower == ensure_aware(moment) else lower + step


def retention_window(now: datetime) -> Window:
    """Everything LivePerson still holds at ``now`` (13 months), rounded outward; for lookups by
    id, which lift the length limits but still need ``start``. The end reaches one rounding step
    past ``now`` so a small clock difference with LivePerson loses nothing."""
    return Window(round_down(now - RETENTION), round_up(now) + ROUNDING)
