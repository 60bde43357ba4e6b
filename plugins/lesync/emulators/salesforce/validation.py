"""Field-level validation as an org applies it: names, writability, types, lengths, picklists.

Values arrive from JSON (REST, Collections) or as strings (Bulk CSV) and leave as the Python
values the store keeps: ``str`` for text, ids and datetimes (Salesforce's own format), ``float``,
``int``, ``bool`` and ``bytes`` for base64 fields.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from lesync.text import utf16_length

from .errors import error
from .ids import normalize_id
from .schema import SYSTEM_FIELDS, TEXT_TYPES, FieldDef, ObjectDef

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
SYSTEM_FIELD_SET = {name.lower(): name for name in SYSTEM_FIELDS}


class InvalidValueError(Exception):
    """One field's value is not acceptable; carries the Salesforce error."""

    def __init__(self, err: dict[str, Any]):
        self.err = err
        super().__init__(err["message"])


@dataclass(frozen=True)
class ObjectFields:
    """Case-insensitive field lookup for one object (Salesforce resolves names that way)."""

    name: str
    definition: ObjectDef

    def canonical(self, field_name: str) -> str | None:
        if field_name in self.definition.fields:
            return field_name
        lowered = field_name.lower()
        if lowered in SYSTEM_FIELD_SET:
            return SYSTEM_FIELD_SET[lowered]
        for name in self.definition.fields:
            if name.lower() == lowered:
                return name
        return None

    def field(self, name: str) -> FieldDef | None:
        return self.definition.fields.get(name)

    def label(self, name: str) -> str:
        field = self.field(name)
        return (field.label if field and field.label else None) or name.removesuffix("__c").replace("_", " ")


def format_datetime(value: dt.datetime) -> str:
    """Salesforce's datetime format, always UTC: ``2024-05-01T10:00:00.000+0000``."""
    value = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return value.strftime(DATETIME_FORMAT) + f".{value.microsecond // 1000:03d}+0000"


def now_text() -> str:
    """``format_datetime`` of the current time, spelled out directly (every write stamps it)."""
    v = dt.datetime.now(dt.UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond // 1000:03d}+0000"
    )


def parse_datetime(text: str) -> str | None:
    """ISO 8601 (``Z``, ``+00:00``, ``+0000``, fractions, or a bare date) to Salesforce's format."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00Z"
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text.replace("Z", "+00:00").replace("z", "+00:00"))
    try:
        return format_datetime(dt.datetime.fromisoformat(text))
    except ValueError:
        return None


def parse_date(text: str) -> str | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10]).isoformat()
    except ValueError:
        return None


def coerce(fields: ObjectFields, name: str, value: Any, text_cap: int | None = None) -> Any:
    """The stored form of ``value`` for field ``name``; raises InvalidValueError like the org would.

    ``text_cap`` is a stricter length for every text value (the Bulk API's per-field cap).
    """
    field = fields.field(name)
    if value is None:
        return False if field.type == "boolean" else None
    coerce_type = _COERCERS.get(field.type, _coerce_text)
    return coerce_type(fields, name, field, value, text_cap)


def _type_problem(fields: ObjectFields, name: str, value: Any) -> InvalidValueError:
    return InvalidValueError(
        error(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{fields.label(name)}: value not of required type: {str(value)[:100]}",
            [name],
        )
    )


def _coerce_text(fields: ObjectFields, name: str, field: FieldDef, value: Any, cap: int | None) -> str:
    if isinstance(value, dict | list):
        raise _type_problem(fields, name, value)
    text = _plain_text(value)
    limit = min(field.length, cap) if cap else field.length
    if field.length and len(text) > limit // 2 and utf16_length(text) > limit:  # api-facts: UTF-16 units
        shown = text[:100] + ("..." if len(text) > 100 else "")
        raise InvalidValueError(
            error(
                "STRING_TOO_LONG",
                f"{fields.label(name)}: data value too large: {shown} (max length={limit})",
                [name],
            )
        )
    if field.type == "email" and text and not EMAIL_PATTERN.match(text):
        raise InvalidValueError(
            error("INVALID_EMAIL_ADDRESS", f"{fields.label(name)}: invalid email address: {text}", [name])
        )
    if field.type == "picklist":
        return _picklist_value(fields, name, field, text)
    return text


def _plain_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _picklist_value(fields: ObjectFields, name: str, field: FieldDef, text: str) -> str:
    for allowed in field.picklist:
        if allowed.lower() == text.lower():
            return allowed
    raise InvalidValueError(
        error(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{fields.label(name)}: bad value for restricted picklist field: {text}",
            [name],
        )
    )


def _coerce_number(fields: ObjectFields, name: str, field: FieldDef, value: Any, cap: int | None) -> Any:
    if isinstance(value, bool):
        raise _type_problem(fields, name, value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _type_problem(fields, name, value) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _type_problem(fields, name, value)
    if field.type == "int":
        if not number.is_integer():
            raise _type_problem(fields, name, value)
        return int(number)
    return number


def _coerce_boolean(fields: ObjectFields, name: str, field: FieldDef, value: Any, cap: int | None) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise _type_problem(fields, name, value)


def _coerce_datetime(fields: ObjectFields, name: str, field: FieldDef, value: Any, cap: int | None) -> str:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise _type_problem(fields, name, value)
    return parsed


def _coerce_date(fields: ObjectFields, name: str, field: FieldDef, value: Any, cap: int | None) -> str:
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise _type_problem(fields, name, value)
    return parsed


def _coerce_reference(fields: ObjectFields, name: str, field: FieldDef, value: Any, cap: int | None) -> str:
    record_id = normalize_id(value) if isinstance(value, str) else None
    if record_id is None:
        raise InvalidValueError(
            error("MALFORMED_ID", f"{fields.label(name)}: id value of incorrect type: {value}", [name])
        )
    return record_id


def _coerce_base64(fields: ObjectFields, name: str, field: FieldDef, value: Any, cap: int | None) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(str(value), validate=False)
    except (binascii.Error, ValueError):
        raise _type_problem(fields, name, "(base64)") from None


_COERCERS = {
    "double": _coerce_number,
    "int": _coerce_number,
    "boolean": _coerce_boolean,
    "datetime": _coerce_datetime,
    "date": _coerce_date,
    "reference": _coerce_reference,
    "id": _coerce_reference,
    "base64": _coerce_base64,
}


def check_names(fields: ObjectFields, names: list[str]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Map given names to canonical ones; INVALID_FIELD for unknown names."""
    mapping: dict[str, str] = {}
    for name in names:
        canonical = fields.canonical(name)
        if canonical is None:
            return mapping, [
                error("INVALID_FIELD", f"No such column '{name}' on sobject of type {fields.name}", [name])
            ]
        mapping[name] = canonical
    return mapping, []


def check_writable(fields: ObjectFields, names: list[str], creating: bool) -> list[dict[str, Any]]:
    """INVALID_FIELD_FOR_INSERT_UPDATE for system, auto-number and read-only fields."""
    refused = []
    for name in names:
        field = fields.field(name)
        if field is None or field.auto_number or not (field.createable if creating else field.updateable):
            refused.append(name)
    if not refused:
        return []
    return [
        error(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(refused)}. Please check the security settings "
            "of this field and verify that it is read/write for your profile or permission set.",
            refused,
        )
    ]


def missing_required(fields: ObjectFields, record: dict[str, Any]) -> list[dict[str, Any]]:
    """REQUIRED_FIELD_MISSING for required fields that are null or empty in the merged record."""
    missing = [
        name
        for name, field in fields.definition.fields.items()
        if field.required and field.type != "boolean" and record.get(name) in (None, "", b"")
    ]
    if not missing:
        return []
    return [error("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)]


def is_text_field(field: FieldDef) -> bool:
    return field.type in TEXT_TYPES
