"""One LivePerson record -> one Salesforce row: a pure function, no I/O.

The row is the contract with the load stage::

    {"conversation_id": str, "channel": "chat"|"messaging", "status": "open"|"closed",
     "fields": {SalesforceField: value, ...},          # only non-empty values, external id included
     "clear": [SalesforceField, ...],                   # on_empty: clear entries with no value
     "transcript_file": {"title", "path_on_client", "content"} | None,
     "errors": [{"code", "message", "fields": [SalesforceField]}, ...]}   # RecordError.as_dict()

A value that cannot be written becomes an error naming the field; the rest of the row is still
produced, and a row with errors is still written (the load reports it as failed). Empty values
are never in ``fields``; an entry that says ``on_empty: clear`` puts its field in ``clear`` so
the load sets it to null (Bulk ``#N/A``, Collections ``null``).

When the mapping carries a redaction policy (``CompiledMapping.with_redaction``), what people
typed is redacted before it is in the row: each transcript line for the field and/or the file,
and the mapped fields the policy's scope names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lesync.contracts import RecordError
from lesync.mapping.convert import EMPTY_STRINGS, ConversionError, is_empty, to_string
from lesync.mapping.limits import (
    FieldMeta,
    FieldsMeta,
    FieldValueError,
    clean_text,
    fit_value,
    fitter,
    split_text,
)
from lesync.mapping.paths import Getter
from lesync.mapping.spec import CompiledEntry, CompiledMapping, TranscriptSettings
from lesync.mapping.transcript import render

ID_PATHS = {"chat": "engagementId", "messaging": "conversationId"}


@dataclass
class TransformedRow:
    conversation_id: str
    channel: str
    status: str
    fields: dict[str, Any] = field(default_factory=dict)
    transcript_file: dict[str, str] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    clear: list[str] = field(default_factory=list)

    def error(self, field_name: str, code: str, message: str) -> None:
        self.errors.append(RecordError(code, message, (field_name,)).as_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "status": self.status,
            "fields": self.fields,
            "clear": self.clear,
            "transcript_file": self.transcript_file,
            "errors": self.errors,
        }


def detect_channel(record: Any) -> str | None:
    """``chat`` or ``messaging`` from the record's shape (engagementId vs conversationId)."""
    info = record.get("info") if type(record) is dict else None
    if type(info) is not dict:
        if type(record) is dict and ("messageRecords" in record or "consumerParticipants" in record):
            return "messaging"
        if type(record) is dict and "transcript" in record:
            return "chat"
        return None
    if info.get("conversationId") is not None:
        return "messaging"
    if info.get("engagementId") is not None:
        return "chat"
    return None


def conversation_id(record: Any, channel: str) -> str:
    """The LivePerson id ('' when the record has none)."""
    info = record.get("info") if type(record) is dict else None
    value = info.get(ID_PATHS[channel]) if type(info) is dict else None
    return "" if is_empty(value) else to_string(value)


def conversation_status(record: Any, channel: str) -> str:
    """``open`` or ``closed``: chats in history have ended; messaging says OPEN or CLOSE."""
    info = record.get("info") if type(record) is dict else None
    if type(info) is not dict:
        return "closed"
    if channel == "chat":
        return "open" if info.get("ended") is False else "closed"
    return "open" if str(info.get("status") or "").upper() == "OPEN" else "closed"


def transform_record(
    record: dict, channel: str, spec: CompiledMapping, fields_meta: FieldsMeta | None
) -> TransformedRow:
    """Map one record to one row. ``fields_meta`` (from a describe) drives type checks and
    truncation; ``None`` skips them (tests, previews without an org)."""
    if channel not in ID_PATHS:
        raise ValueError(f"channel must be 'chat' or 'messaging', got {channel!r}")
    conv_id = conversation_id(record, channel)
    row = TransformedRow(conv_id, channel, conversation_status(record, channel))
    if conv_id:
        _put(row, spec.external_id_field, conv_id, fields_meta)
    else:
        row.error(spec.external_id_field, "MISSING_ID", f"the record has no info.{ID_PATHS[channel]}")
    if spec.channel_field:
        _put(row, spec.channel_field.field, spec.channel_field.values.get(channel, channel), fields_meta)
    for slot in _slots(spec, fields_meta)[channel]:
        value = slot.get(record) if slot.get is not None else None
        if value is None or _empty(value):
            value = slot.default
            if value is None:
                if slot.entry.clear_when_empty:
                    _clear(row, slot.target, fields_meta)
                continue
        if slot.convert is not None:
            try:
                value = slot.convert(value)
            except ConversionError as error:
                row.error(slot.target, error.code, f"{slot.target}: {error}")
                continue
            if value is None or _empty(value):
                if slot.entry.clear_when_empty:
                    _clear(row, slot.target, fields_meta)
                continue
        if slot.redact is not None:
            value = slot.redact(value)
        if slot.fit is None:
            _put_unfitted(row, slot, value)
            continue
        try:  # _put with the field's fitter resolved in advance (written out: 45 times a record)
            fitted = slot.fit(value)
        except FieldValueError as error:
            row.error(slot.target, error.code, str(error))
            continue
        # A value the fit gave back as it was is known non-empty already (unless redacted since).
        if (fitted is not value or slot.redact is not None) and _empty(fitted):
            continue
        row.fields[slot.target] = fitted
    if spec.transcript:
        _add_transcript(row, record, spec, fields_meta)
    return row


def _empty(value: Any) -> bool:
    """``convert.is_empty``, with the common answers first (it runs for every mapped value)."""
    if value is None:
        return True
    kind = type(value)
    if kind is str:
        return value.strip() in EMPTY_STRINGS
    return (kind is list or kind is dict) and not value


class _Slot(NamedTuple):
    """One mapped entry resolved for one channel and one describe: done once per run, not per record."""

    entry: CompiledEntry
    target: str  # entry.target, entry.converter: read once per value, without the extra lookup
    convert: Callable[[Any], Any] | None
    get: Getter | None
    default: Any  # None when the entry's default is empty
    redact: Callable[[Any], Any] | None
    fit: Callable[[Any], Any] | None  # None: no describe, the value goes as it is
    missing: bool  # the target is not on the object


def _slots(spec: CompiledMapping, fields_meta: FieldsMeta | None) -> dict[str, tuple[_Slot, ...]]:
    """``{channel: slots}`` of the last mapping and describe seen (a run has one of each)."""
    global _LAST_SLOTS
    last_spec, last_meta, slots = _LAST_SLOTS
    if last_spec is not spec or last_meta is not fields_meta:
        slots = {
            channel: tuple(_slot(entry, channel, spec, fields_meta) for entry in spec.entries)
            for channel in ID_PATHS
        }
        _LAST_SLOTS = (spec, fields_meta, slots)
    return slots


def _slot(entry: CompiledEntry, channel: str, spec: CompiledMapping, fields_meta: FieldsMeta | None) -> _Slot:
    meta = fields_meta.get(entry.target) if fields_meta is not None else None
    redacting = spec.redactor is not None and entry.target in spec.redacted_targets
    return _Slot(
        entry=entry,
        target=entry.target,
        convert=entry.converter,
        get=entry.getters[channel],
        default=None if is_empty(entry.default) else entry.default,
        redact=spec.redactor.value if redacting and spec.redactor is not None else None,
        fit=fitter(meta) if meta is not None else None,
        missing=fields_meta is not None and meta is None,
    )


_LAST_SLOTS: tuple[Any, Any, dict[str, tuple[_Slot, ...]]] = (None, None, {})


def _put_unfitted(row: TransformedRow, slot: _Slot, value: Any) -> None:
    """A value with no field metadata: as it is without a describe, an error when the describe
    has no such field."""
    name = slot.target
    if slot.missing:
        row.error(name, "INVALID_FIELD", f"{name} does not exist on the object (check the mapping's target)")
    else:
        row.fields[name] = value


def _clear(row: TransformedRow, name: str, fields_meta: FieldsMeta | None) -> None:
    """Ask the load to set ``name`` to null, if the field can be null."""
    meta = fields_meta.get(name) if fields_meta is not None else None
    if fields_meta is not None and meta is None:
        row.error(name, "INVALID_FIELD", f"{name} does not exist on the object (check the mapping's target)")
    elif meta is not None and (not meta.nillable or meta.type == "boolean" or not meta.updateable):
        row.error(
            name,
            "INVALID_CLEAR",
            f"{name} cannot be cleared (not nillable, a checkbox, or read-only); "
            "remove 'on_empty: clear' from its entry",
        )
    else:
        row.clear.append(name)


def _put(row: TransformedRow, name: str, value: Any, fields_meta: FieldsMeta | None) -> None:
    """Fit ``value`` to the field and set it, or record why it cannot be set."""
    if fields_meta is None:
        row.fields[name] = value
        return
    meta = fields_meta.get(name)
    if meta is None:
        row.error(name, "INVALID_FIELD", f"{name} does not exist on the object (check the mapping's target)")
        return
    try:
        fitted = fit_value(value, meta)
    except FieldValueError as error:
        row.error(name, error.code, str(error))
        return
    if not is_empty(fitted):
        row.fields[name] = fitted


def _add_transcript(
    row: TransformedRow, record: dict, spec: CompiledMapping, fields_meta: FieldsMeta | None
) -> None:
    settings = spec.transcript
    assert settings is not None
    to_file = settings.mode in ("attachment", "both")
    to_field = settings.mode in ("field", "both") and bool(settings.field)
    file_text, field_text = _transcript_texts(record, row.channel, spec, to_file, to_field)
    if to_file and file_text:
        name = settings.file_name.format(
            channel=row.channel, conversation_id=row.conversation_id or "unknown"
        )
        title = name.rsplit(".", 1)[0] if "." in name else name
        row.transcript_file = {"title": title, "path_on_client": name, "content": file_text}
    if to_field and field_text:
        _transcript_fields(row, field_text, settings, fields_meta)


def _transcript_texts(
    record: dict, channel: str, spec: CompiledMapping, to_file: bool, to_field: bool
) -> tuple[str, str]:
    """``(file text, field text)``, each redacted when the policy says so; rendered once when
    both read the same."""
    include_private = spec.transcript.include_private if spec.transcript else False
    policy = spec.redaction
    redact_file = policy is not None and to_file and policy.apply_to.transcript_file
    redact_field = policy is not None and to_field and policy.apply_to.transcript_text
    plain = redacted = ""
    if (to_file and not redact_file) or (to_field and not redact_field):
        plain = clean_text(render(record, channel, include_private))
    if redact_file or redact_field:
        assert spec.redactor is not None
        redacted = clean_text(render(record, channel, include_private, spec.redactor.text))
    return (redacted if redact_file else plain), (redacted if redact_field else plain)


def _transcript_fields(
    row: TransformedRow, text: str, settings: TranscriptSettings, fields_meta: FieldsMeta | None
) -> None:
    names = [settings.field, *(settings.part_fields if settings.split_parts else ())]
    metas = [(fields_meta or {}).get(name) for name in names]
    for name, meta in zip(names, metas, strict=True):
        if fields_meta is not None and meta is None:
            row.error(name, "INVALID_FIELD", f"{name} does not exist on the object (transcript setting)")
            return
        if meta is not None and not meta.createable:
            row.error(
                name, "INVALID_FIELD_FOR_INSERT_UPDATE", f"{name} is not createable (transcript setting)"
            )
            return
    sizes = [_text_length(meta) for meta in metas]
    parts, truncated = split_text(text, sizes)
    for name, part in zip(names, parts, strict=False):
        row.fields[name] = part
    if settings.truncated_flag_field:
        _put(row, settings.truncated_flag_field, truncated, fields_meta)


def _text_length(meta: FieldMeta | None) -> int:
    return meta.length if meta is not None and meta.length else 0
