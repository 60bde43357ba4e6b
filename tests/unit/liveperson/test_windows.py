"""Window validation and slicing (lesync/window.py); LivePerson's rounding and per-channel API
maxima (liveperson/windows.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lesync.liveperson.windows import (
    RETENTION,
    api_slices,
    max_interval,
    retention_window,
    round_down,
    round_up,
)
from lesync.window import Window, WindowError, split_window, to_epoch_ms, validate_window

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_split_window_covers_the_window_without_gaps_or_overlaps():
    got = split_window(T0, T0 + timedelta(days=2, hours=3), timedelta(hours=12))
    assert [w.end - w.start for w in got] == [timedelta(hours=12)] * 4 + [timedelta(hours=3)]
    assert got[0].start == T0 and got[-1].end == T0 + timedelta(days=2, hours=3)
    assert all(a.end == b.start for a, b in zip(got, got[1:], strict=False))


def test_split_window_by_days_and_argument_checks():
    assert len(split_window(T0, T0 + timedelta(days=30), timedelta(days=1))) == 30
    with pytest.raises(ValueError, match="positive"):
        split_window(T0, T0 + timedelta(days=1), timedelta(0))


def test_window_must_be_aware_and_end_after_start():
    with pytest.raises(ValueError, match="no time zone"):
        validate_window(datetime(2026, 1, 1), T0)
    with pytest.raises(ValueError, match="must be after start"):
        validate_window(T0, T0)


def test_other_time_zones_become_utc():
    paris = timezone(timedelta(hours=1))
    window = validate_window(datetime(2026, 1, 1, 1, tzinfo=paris), datetime(2026, 1, 1, 2, tzinfo=paris))
    assert window == Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC))
    assert window.iso() == ["2026-01-01T00:00:00+00:00", "2026-01-01T01:00:00+00:00"]


def test_channel_maxima_fit_the_shortest_month_after_rounding():
    assert max_interval("chat") + timedelta(minutes=20) <= timedelta(days=28)
    assert max_interval("messaging") + timedelta(minutes=20) <= timedelta(days=89)
    assert len(api_slices("chat", T0, T0 + timedelta(days=30))) == 2
    assert len(api_slices("messaging", T0, T0 + timedelta(days=30))) == 1
    with pytest.raises(ValueError, match="channel must be one of chat, messaging"):
        max_interval("voice")


def test_rounding_to_ten_minutes():
    moment = T0 + timedelta(minutes=13, seconds=5)
    assert round_down(moment) == T0 + timedelta(minutes=10)
    assert round_up(moment) == T0 + timedelta(minutes=20)
    assert round_up(T0) == T0 == round_down(T0)
    assert to_epoch_ms(T0 + timedelta(microseconds=1500)) == int(T0.timestamp()) * 1000 + 1


@settings(max_examples=60, deadline=None, database=None)
@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400)),
    piece=st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=100)),
)
def test_split_is_a_partition(start, length, piece):
    got = split_window(start, start + length, piece)
    assert got[0].start == start and got[-1].end == start + length
    assert all(w.end - w.start <= piece and w.end > w.start for w in got)
    assert all(a.end == b.start for a, b in zip(got, got[1:], strict=False))


def test_one_window_type_checks_time_zones_and_round_trips_through_xcom():
    window = Window(T0, T0 + timedelta(hours=1))
    assert Window.from_dict(window.as_dict()) == window
    with pytest.raises(WindowError, match="no time zone"):
        Window(datetime(2026, 1, 1), T0)


def test_retention_window_covers_13_months_rounded_outward_and_a_little_past_now():
    now = T0 + timedelta(minutes=3)
    window = retention_window(now)
    assert window.start == round_down(now - RETENTION) and window.start <= now - timedelta(days=395)
    assert window.end == T0 + timedelta(minutes=20) and window.end > now


def _imports(path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text())
    found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return found | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_layers_point_one_way():
    """liveperson/ never imports pipeline/ (its rules live under it); the Window type is a leaf."""
    import pathlib

    import lesync

    root = pathlib.Path(lesync.__file__).parent
    for path in (root / "liveperson").glob("*.py"):
        assert not any(name.startswith("lesync.pipeline") for name in _imports(path)), path.name
    assert not any(name.startswith("lesync") for name in _imports(root / "window.py"))
