"""Windows of the four DAG kinds and the manual form's validation."""

from __future__ import annotations

import datetime as dt

import pytest

from lesync.pipeline.plan import (
    DAILY_LOOKBACK,
    PERIODIC_LOOKBACK,
    Window,
    WindowError,
    daily_cron,
    lookback_window,
    manual_window,
    periodic_cron,
    slices,
    stable_minute,
)

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_scheduled_windows_end_at_the_interval_end():
    periodic = lookback_window(NOW, PERIODIC_LOOKBACK)
    assert (periodic.start, periodic.end) == (NOW - dt.timedelta(hours=6), NOW)
    daily = lookback_window(NOW, DAILY_LOOKBACK)
    assert daily.end - daily.start == dt.timedelta(hours=48)


def test_minute_offset_is_stable_and_spread():
    assert stable_minute("emea") == stable_minute("emea")
    assert 0 <= stable_minute("emea") < 60
    assert len({stable_minute(f"group{i}") for i in range(50)}) > 20
    assert periodic_cron("emea") == f"{stable_minute('emea')} */3 * * *"
    assert daily_cron("emea", 2) == f"{stable_minute('emea')} 2 * * *"


def test_manual_window_accepts_iso_with_offsets_and_normalises_to_utc():
    window = manual_window("2026-11-01T02:00:00+02:00", "2026-11-02T00:00:00Z", NOW)
    assert window.start == dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)
    assert window.end == dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    assert Window.from_dict(window.as_dict()) == window


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-11-02T00:00:00+00:00", "2026-11-01T00:00:00+00:00", "end .* must be after start"),
        ("2026-11-02T00:00:00+00:00", "2026-11-02T00:00:00+00:00", "must be after start"),
        ("2026-11-24T11:00:00+00:00", "2026-11-24T13:00:00+00:00", "end .* is in the future"),
        ("2026-11-25T00:00:00+00:00", "2026-11-26T00:00:00+00:00", "start .* is in the future"),
        (
            "2026-10-24T00:00:00+00:00",
            "2026-11-24T00:00:00+00:00",
            "31.0 days; a manual sync covers at most 30",
        ),
        ("yesterday", "2026-11-24T00:00:00+00:00", "start 'yesterday' is not a date-time; use ISO-8601"),
        ("2026-11-01T00:00:00", "2026-11-02T00:00:00+00:00", "start .* has no time zone"),
    ],
)
def test_manual_window_refusals_name_the_problem(start, end, message):
    with pytest.raises(WindowError, match=message):
        manual_window(start, end, NOW)


def test_exactly_thirty_days_is_allowed():
    window = manual_window("2026-10-25T00:00:00+00:00", "2026-11-24T00:00:00+00:00", NOW)
    assert window.end - window.start == dt.timedelta(days=30)


def test_slices_cover_the_window_without_gaps_or_overlap():
    window = Window(NOW - dt.timedelta(days=30), NOW - dt.timedelta(hours=5))
    cuts = slices(window, 24)
    assert len(cuts) == 30
    assert cuts[0].start == window.start and cuts[-1].end == window.end
    assert all(a.end == b.start for a, b in zip(cuts, cuts[1:], strict=False))
    assert all(c.end - c.start <= dt.timedelta(hours=24) for c in cuts)
    with pytest.raises(WindowError):
        slices(window, 0)


def test_naive_datetimes_are_refused():
    with pytest.raises(WindowError, match="no time zone"):
        Window(dt.datetime(2026, 1, 1), NOW)
