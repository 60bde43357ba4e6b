"""Conversions from LivePerson values to the values Salesforce fields take.

Each converter takes one raw JSON value (never ``None``) and returns the converted value, or
raises ``ConversionError`` with a Salesforce-style code; the transform turns that into a
per-record error naming the field instead of failing the run.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

Converter = Callable[[Any], Any]

#: JavaScript's ``undefined``/``null`` as LivePerson sometimes serialises them (the documented
#: messaging example has ``"email": "undefined"``); they mean "no value", not text.
EMPTY_STRINGS = frozenset({"", "undefined", "null"})


class ConversionError(ValueError):
    """A value the target cannot take; ``code`` follows Salesforce's error codes."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def is_empty(value: Any) -> bool:
    """True for values that must never reach Salesforce (they would blank a field)."""
    if value is None:
        return True
    if type(value) is str:
        return value.strip() in EMPTY_STRINGS
    if type(value) in (list, dict):
        return not value
    return False


def folded(value: Any) -> str:
    """An enumeration value for comparison (``sentBy``, ``audience``, ``source``, statuses...):
    LivePerson's docs spell ``Agent`` and ``agent``, so they are one value. Non-text: ``""``."""
    return value.casefold() if type(value) is str else ""


# --------------------------------------------------------------------------------------------
# Text


def to_string(value: Any) -> str:
    """Text for a string field: scalars as JSON spells them, lists joined with '; '."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if kind is list:
        return "; ".join(to_string(v) for v in value if not is_empty(v))
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# --------------------------------------------------------------------------------------------
# Time

_LP_TIME = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
EPOCH_MS_THRESHOLD = 100_000_000_000  # below this a number is read as epoch seconds


def parse_instant(value: Any) -> tuple[int, int] | None:
    """``(epoch_seconds, milliseconds)`` of a LivePerson time: epoch ms (number or digit string),
    epoch seconds, or a time string such as ``2017-02-01 17:11:59.916+0000``."""
    if type(value) is bool:
        return None
    if isinstance(value, (int, float)):
        return _from_number(value)
    if type(value) is not str:
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return _from_number(int(text))
    match = _LP_TIME.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
        )
    except ValueError:
        return None
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    return int(moment.timestamp()) - _zone_offset_seconds(zone), millis


def _zone_offset_seconds(zone: str | None) -> int:
    if not zone or zone == "Z":
        return 0
    digits = zone[1:].replace(":", "")
    seconds = int(digits[:2]) * 3600 + int(digits[2:]) * 60
    return -seconds if zone[0] == "-" else seconds


def _from_number(number: float) -> tuple[int, int] | None:
    if isinstance(number, float) and not math.isfinite(number):
        return None
    if abs(number) >= EPOCH_MS_THRESHOLD:
        total_ms = int(number)
        return total_ms // 1000, total_ms % 1000
    return int(number), int(round((number - int(number)) * 1000)) % 1000


def to_datetime(value: Any) -> str | None:
    """Salesforce ISO-8601 in UTC, ``2017-02-01T17:11:59.916Z``; None for "no time yet".

    LivePerson marks a time that has not happened (an open conversation's end) as ``-1`` (or
    0): that is no value, not a moment in 1969, and must never reach Salesforce.
    """
    instant = parse_instant(value)
    if instant is None:
        raise ConversionError("INVALID_DATE_TIME", f"not a date/time: {_preview(value)}")
    seconds, millis = instant
    if seconds * 1000 + millis <= 0:
        return None
    day, second_of_day = divmod(seconds, 86400)
    date = _day_text(day)  # the day from the cache: a run's times fall on a few days
    if date is None:
        raise ConversionError("INVALID_DATE_TIME", f"date/time out of range: {_preview(value)}")
    hours, second_of_hour = divmod(second_of_day, 3600)
    minutes, second = divmod(second_of_hour, 60)
    return f"{date}T{hours:02d}:{minutes:02d}:{second:02d}.{millis:03d}Z"


def to_date(value: Any) -> str | None:
    """``YYYY-MM-DD``; also LivePerson's ``{"year", "month", "day"}`` SDE dates."""
    if type(value) is dict and {"year", "month", "day"} <= value.keys():
        try:
            return datetime(int(value["year"]), int(value["month"]), int(value["day"])).strftime("%Y-%m-%d")
        except (TypeError, ValueError):
            raise ConversionError("INVALID_DATE", f"not a date: {_preview(value)}") from None
    moment = to_datetime(value)
    return moment[:10] if moment else None


def format_transcript_time(value: Any) -> str | None:
    """``2017-02-01 17:12:03 UTC`` for transcript lines (None when unreadable)."""
    if type(value) is int and value >= EPOCH_MS_THRESHOLD:  # the usual timeL: skip the parsing
        seconds = value // 1000
    else:
        instant = parse_instant(value)
        if instant is None:
            return None
        seconds = instant[0]
    minute, second = divmod(seconds, 60)
    prefix = transcript_minute(minute)
    return None if prefix is None else prefix + _SECOND_TEXT[second]


_SECOND_TEXT = tuple(f"{second:02d} UTC" for second in range(60))


@lru_cache(maxsize=8192)
def transcript_minute(minute: int) -> str | None:
    """``YYYY-MM-DD HH:MM:`` of a minute since 1970 (cached: a transcript's lines share minutes)."""
    day, minute_of_day = divmod(minute, 1440)
    date = _day_text(day)
    if date is None:
        return None
    hours, minutes = divmod(minute_of_day, 60)
    return f"{date} {hours:02d}:{minutes:02d}:"


@lru_cache(maxsize=4096)
def _day_text(day: int) -> str | None:
    """``YYYY-MM-DD`` of a day number since 1970 (cached: a run's times share a few days)."""
    try:
        return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Numbers and booleans


def to_number(value: Any) -> int | float:
    """A finite number; numeric text (``"-400.99"``) is accepted."""
    if type(value) in (int, float):
        number = value
    elif type(value) is str:
        try:
            number = float(value.strip().replace(",", "")) if value.strip() else None
        except ValueError:
            number = None
    else:
        number = None
    if number is None or not math.isfinite(number):
        raise ConversionError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"not a number: {_preview(value)}")
    return number


def to_integer(value: Any) -> int:
    """A whole number (``"35.0"`` is 35; ``1.5`` is an error rather than a silent rounding)."""
    number = to_number(value)
    if float(number).is_integer():
        return int(number)
    raise ConversionError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"not a whole number: {_preview(value)}")


_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


def to_boolean(value: Any) -> bool:
    if type(value) is bool:
        return value
    text = to_string(value).strip().lower() if type(value) in (str, int, float) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConversionError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"not a true/false value: {_preview(value)}")


# --------------------------------------------------------------------------------------------
# Picklist maps


def value_map(mapping: Mapping[str, str]) -> Converter:
    """A converter that maps LivePerson values to picklist values (exact, then case-insensitive;
    a ``"*"`` key catches the rest; unmapped values pass through for the picklist check)."""
    exact = {str(k): v for k, v in mapping.items()}
    folded = {str(k).strip().casefold(): v for k, v in mapping.items()}
    fallback = exact.get("*")

    def convert(value: Any) -> Any:
        text = to_string(value)
        if text in exact:
            return exact[text]
        hit = folded.get(text.strip().casefold())
        if hit is not None:
            return hit
        return fallback if fallback is not None else value

    return convert


CONVERTERS: dict[str, Converter] = {
    "string": to_string,
    "datetime": to_datetime,
    "date": to_date,
    "number": to_number,
    "integer": to_integer,
    "boolean": to_boolean,
}


def _preview(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
