"""Salesforce field metadata, and fitting a value to the field that will hold it.

Metadata always comes from a describe (the org's, or the emulator's schema), never from
constants here: orgs differ (a Text(80) email, a 32,768-character Long Text Area). A value the
field cannot take raises ``FieldValueError`` with Salesforce's own error code, so the load
report reads the same whether we or Salesforce rejected it.

Lengths are counted in UTF-16 code units, as Salesforce (Java) counts them, so an emoji takes
two; truncation never splits a surrogate pair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

from lesync.mapping.convert import (
    ConversionError,
    to_boolean,
    to_date,
    to_datetime,
    to_number,
    to_string,
)
from lesync.text import utf16_length

TRUNCATION_MARKER = " …[truncated]"

TEXT_TYPES = frozenset({"string", "textarea", "phone", "url", "encryptedstring", "combobox"})

# Characters Salesforce's APIs reject in text (XML 1.0 forbids them); tabs and newlines stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_SALESFORCE_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


class FieldValueError(ValueError):
    """A value the Salesforce field cannot take (``code`` is Salesforce's error code)."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class FieldMeta:
    """The parts of a describe field the transform needs."""

    name: str
    type: str
    length: int = 0
    label: str = ""
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    picklist_values: frozenset[str] = frozenset()
    restricted_picklist: bool = True

    @classmethod
    def from_describe(cls, field: Mapping[str, Any]) -> FieldMeta:
        values = frozenset(
            str(p["value"])
            for p in field.get("picklistValues") or ()
            if p.get("active", True) and "value" in p
        )
        return cls(
            name=field["name"],
            type=str(field.get("type") or "string"),
            length=int(field.get("length") or 0),
            label=str(field.get("label") or field["name"]),
            createable=bool(field.get("createable", True)),
            updateable=bool(field.get("updateable", True)),
            nillable=bool(field.get("nillable", True)),
            picklist_values=values,
            restricted_picklist=bool(field.get("restrictedPicklist", True)),
        )


FieldsMeta = Mapping[str, FieldMeta]


def fields_meta_from_describe(describe: Mapping[str, Any]) -> dict[str, FieldMeta]:
    """``{field name: FieldMeta}`` from a ``/sobjects/{Object}/describe`` answer."""
    return {field["name"]: FieldMeta.from_describe(field) for field in describe.get("fields") or ()}


#: The default org's describe answers (``{object: describe}``): the emulated org's schema as
#: JSON, packaged here so the product path (preview, defaults) never imports the emulators.
#: tests/unit/mapping/test_default_describe.py keeps it equal to the emulator's schema.yaml and
#: rewrites it with ``LESYNC_WRITE_DEFAULT_DESCRIBE=1``.
DEFAULT_DESCRIBE_PATH = Path(__file__).with_name("default_describe.json")


@cache
def default_describes() -> dict[str, Any]:
    return json.loads(DEFAULT_DESCRIBE_PATH.read_text(encoding="utf-8"))


def fields_meta_from_schema(object_name: str = "Chat_Transcript__c") -> dict[str, FieldMeta]:
    """Field metadata of the default org (the one the emulator serves; the preview's default)."""
    describes = {name.lower(): describe for name, describe in default_describes().items()}
    describe = describes.get(object_name.lower())
    if describe is None:
        raise ValueError(f"object {object_name!r} is not in the default org's describe")
    return fields_meta_from_describe(describe)


# --------------------------------------------------------------------------------------------
# Length


def fits(text: str, limit: int) -> bool:
    size = len(text)
    if size > limit:  # every character takes at least one unit
        return False
    return size * 2 <= limit or utf16_length(text) <= limit


def cut(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-16 units (no split surrogate pair).

    Works at C speed on the UTF-16 encoding of at most ``limit`` characters (the prefix can be no
    longer): the first ``limit`` units, decoded back, end in half an emoji only when the cut
    fell inside a surrogate pair, and that half is dropped."""
    if fits(text, limit):
        return text
    if limit <= 0:
        return text[:limit] if text.isascii() else ""  # as it always did (callers pass limit > 0)
    head = text[:limit]
    if head.isascii():
        return head
    units = head.encode("utf-16-le", "surrogatepass")
    if len(units) <= 2 * limit:
        return head
    kept = units[: 2 * limit].decode("utf-16-le", "surrogatepass")
    if head.startswith(kept):
        return kept
    if "\ud800" <= kept[-1] <= "\udbff" and head.startswith(kept[:-1]):
        return kept[:-1]  # the cut fell inside a surrogate pair
    return _cut_slowly(head, limit)  # lone surrogates that the round trip paired up


def _cut_slowly(text: str, limit: int) -> str:
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text


def truncate(text: str, limit: int, marker: str = TRUNCATION_MARKER) -> tuple[str, bool]:
    """``(text within limit, truncated?)``; the marker counts within the limit."""
    if limit <= 0 or fits(text, limit):
        return text, False
    room = limit - utf16_length(marker)
    if room < 1:
        return cut(text, limit), True
    return cut(text, room).rstrip() + marker, True


def split_text(text: str, limits: Iterable[int]) -> tuple[list[str], bool]:
    """``text`` cut into parts of the given sizes, on line breaks where possible; the last part
    carries the truncation marker when the text is longer than all parts together."""
    sizes = list(limits)
    parts: list[str] = []
    rest = text
    for index, size in enumerate(sizes):
        if not rest:
            break
        if size <= 0 or index == len(sizes) - 1 or fits(rest, size):
            piece, truncated = truncate(rest, size)
            parts.append(piece)
            return parts, truncated
        piece = cut(rest, size)
        newline = piece.rfind("\n")
        if newline >= len(piece) // 2:
            piece = piece[: newline + 1]
        parts.append(piece)
        rest = rest[len(piece) :]
    return parts, bool(rest)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_UNCLEAN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")  # either of the two


def clean_text(text: str) -> str:
    """Text Salesforce can store: no control characters, and a lone UTF-16 surrogate (JSON such
    as ``"\\ud83d"`` decodes to one; it has no UTF-8 form) becomes U+FFFD instead of failing.
    Clean text (nearly all of it) costs one scan."""
    if _UNCLEAN.search(text) is None:
        return text
    return _LONE_SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


# --------------------------------------------------------------------------------------------
# Fitting a value to a field


def fit_value(value: Any, meta: FieldMeta) -> Any:
    """``value`` as the field takes it (converted by type, text truncated with a marker), or
    ``FieldValueError``. ``value`` is never empty here."""
    return fitter(meta)(value)


def fitter(meta: FieldMeta) -> Callable[[Any], Any]:
    """``fit_value`` for one field, resolved once (the transform fits every record's values)."""
    if not meta.createable:
        return partial(_refuse, meta)
    fit = _FITTERS.get(meta.type, _fit_text)
    if fit is _fit_text:  # text never raises ConversionError: no wrapper to pay for every value
        return partial(_fit_text, meta=meta)

    def fitted(value: Any) -> Any:
        try:
            return fit(value, meta)
        except ConversionError as error:
            raise FieldValueError(error.code, f"{meta.name} ({meta.type}): {error}") from None

    return fitted


def _refuse(meta: FieldMeta, value: Any) -> Any:
    raise FieldValueError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"{meta.name} cannot be written by the integration (not createable); remove it from the mapping",
    )


def _fit_text(value: Any, meta: FieldMeta) -> str:
    text = clean_text(value if type(value) is str else to_string(value))
    if meta.length and len(text) * 2 > meta.length:  # shorter text fits, whatever it holds
        text, _ = truncate(text, meta.length)
    return text


def _fit_email(value: Any, meta: FieldMeta) -> str:
    text = to_string(value).strip()
    if not _EMAIL.match(text):
        raise FieldValueError("INVALID_EMAIL_ADDRESS", f"{meta.name}: not an email address: {text[:80]!r}")
    if meta.length and not fits(text, meta.length):
        raise FieldValueError(
            "STRING_TOO_LONG", f"{meta.name}: email longer than {meta.length} characters (not truncated)"
        )
    return text


def _fit_picklist(value: Any, meta: FieldMeta) -> str:
    text = to_string(value).strip()
    if meta.picklist_values and meta.restricted_picklist and text not in meta.picklist_values:
        allowed = ", ".join(sorted(meta.picklist_values))
        raise FieldValueError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{meta.name}: {text[:80]!r} is not a picklist value ({allowed}); map it with 'map:'",
        )
    return _fit_text(text, meta)


def _fit_multipicklist(value: Any, meta: FieldMeta) -> str:
    items = value if type(value) is list else to_string(value).split(";")
    texts = [to_string(v).strip() for v in items if to_string(v).strip()]
    for text in texts:
        _fit_picklist(text, meta)
    return ";".join(texts)


def _fit_number(value: Any, meta: FieldMeta) -> int | float:
    return to_number(value)


def _fit_integer(value: Any, meta: FieldMeta) -> int:
    number = to_number(value)
    if not float(number).is_integer():
        raise FieldValueError(
            "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{meta.name}: not a whole number: {value!r}"
        )
    return int(number)


def _fit_boolean(value: Any, meta: FieldMeta) -> bool:
    return to_boolean(value)


def _fit_datetime(value: Any, meta: FieldMeta) -> str | None:
    if type(value) is str and _ISO_UTC.match(value):
        return value  # already converted
    return to_datetime(value)


def _fit_date(value: Any, meta: FieldMeta) -> str:
    return to_date(value)


def _fit_id(value: Any, meta: FieldMeta) -> str:
    text = to_string(value).strip()
    if not _SALESFORCE_ID.match(text):
        raise FieldValueError("MALFORMED_ID", f"{meta.name}: not a Salesforce id: {text[:40]!r}")
    return text


_FITTERS = {
    "email": _fit_email,
    "picklist": _fit_picklist,
    "multipicklist": _fit_multipicklist,
    "double": _fit_number,
    "currency": _fit_number,
    "percent": _fit_number,
    "int": _fit_integer,
    "long": _fit_integer,
    "boolean": _fit_boolean,
    "datetime": _fit_datetime,
    "date": _fit_date,
    "reference": _fit_id,
    "id": _fit_id,
}
