"""Near-real-time windows: from a high-water mark to a moment LivePerson has settled.

The incremental DAG runs every few minutes. Its window starts at the mark the last successful
run left (minus a small overlap, so a record LivePerson indexed a little late is not skipped)
and ends a few minutes before now (99.5 % of transcripts are complete within 5 minutes of the
end). A chat is searchable by its *start* only, so chats are searched from ``chat_lookback``
before the window: a chat that began an hour ago and ended a minute ago is in this run. Chats
longer than that are caught by the periodic run, which stays the safety net. A mark far behind
(the DAG was paused) is caught up in steps of ``max_catch_up``, never skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class IncrementalPlan:
    """One incremental run: the window to search per channel and the mark it earns on success."""

    chat_start: dt.datetime
    messaging_start: dt.datetime
    end: dt.datetime

    @property
    def next_mark(self) -> dt.datetime:
        return self.end


def incremental_plan(
    mark: dt.datetime | None,
    now: dt.datetime,
    *,
    overlap: dt.timedelta,
    settle: dt.timedelta,
    chat_lookback: dt.timedelta,
    first_lookback: dt.timedelta,
    max_catch_up: dt.timedelta,
) -> IncrementalPlan | None:
    """The next window, or ``None`` when nothing has settled since the mark."""
    end = now - settle
    start = (mark if mark is not None else end - first_lookback) - overlap
    if end - start > max_catch_up + overlap:
        end = start + overlap + max_catch_up
    if end <= start + overlap and mark is not None:
        return None
    return IncrementalPlan(chat_start=start - chat_lookback, messaging_start=start, end=end)
