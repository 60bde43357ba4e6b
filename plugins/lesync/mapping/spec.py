"""Mapping files (``include/mappings/*.yaml``): validated models, and the compiled mapping.

A mapping file is checked whole when loaded (DAG files load them at parse time): every problem
is collected into one ``MappingError`` naming the file, the entry (index and target field) and
the fix. Nothing is returned until everything is valid, so a half-applied mapping cannot exist.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lesync.contracts import CHANNELS, Channel
from lesync.mapping.catalog import CATALOG, catalog_getter, path_root, source_parts
from lesync.mapping.convert import CONVERTERS, Converter, value_map
from lesync.mapping.paths import Getter, PathSyntaxError, compile_path
from lesync.mapping.redaction import RedactionPolicy, Redactor
from lesync.mapping.redaction import redactor as compile_redactor

ConvertName = Literal["string", "datetime", "date", "number", "integer", "boolean", "picklist"]


class MappingError(ValueError):
    """A mapping file that cannot be used; the message says where and how to fix it."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        listing = problems[0] if len(problems) == 1 else "\n  - " + "\n  - ".join(problems)
        super().__init__(f"{source}: {listing}")


# --------------------------------------------------------------------------------------------
# The file's shape


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldEntry(_Strict):
    """One Salesforce field and where its value comes from."""

    target: str = Field(description="Salesforce field API name, e.g. Agent_Name__c")
    lp_field: str | None = Field(None, description="A predefined LivePerson field (see the catalog)")
    api_field: str | None = Field(None, description="Custom chat path ('Other'), e.g. info.startTime")
    msg_api_field: str | None = Field(None, description="Custom messaging path ('Other')")
    default: Any = Field(None, description="Used when the LivePerson value is missing or empty")
    convert: ConvertName | None = Field(None, description="Conversion; by default the field's type decides")
    map: dict[str, Any] | None = Field(
        None, description="Picklist value map {LivePerson value: Salesforce value}"
    )
    on_empty: Literal["keep", "clear"] = Field(
        "keep", description="When LivePerson has no value: keep the Salesforce value, or clear it"
    )
    redact: bool | None = Field(
        None, description="Redact this field's text (default: the integration's redaction policy decides)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> FieldEntry:
        if self.lp_field and (self.api_field or self.msg_api_field):
            raise ValueError("give either lp_field or api_field/msg_api_field, not both")
        if not (self.lp_field or self.api_field or self.msg_api_field or self.default is not None):
            raise ValueError("needs a source: lp_field, api_field and/or msg_api_field (or a default)")
        if self.convert == "picklist" and not self.map:
            raise ValueError("convert: picklist needs a 'map:' of {LivePerson value: picklist value}")
        return self


class TranscriptSettings(_Strict):
    """Where the rendered transcript goes."""

    field: str | None = Field("Transcript__c", description="Long Text Area for the transcript")
    mode: Literal["field", "attachment", "both"] = Field(
        "both", description="field: in the record; attachment: as a Salesforce File; both"
    )
    include_private: bool = Field(False, description="Keep agent-only lines and private messages (marked)")
    split_parts: bool = Field(
        False, description="Continue a long transcript in part_fields instead of truncating"
    )
    part_fields: list[str] = Field(
        default_factory=list, description="Fields for parts 2, 3, ... (split_parts)"
    )
    truncated_flag_field: str | None = Field(None, description="Checkbox set true when the field was cut")
    file_name: str = Field(
        "{channel}-{conversation_id}.txt", description="File name; {channel}, {conversation_id}"
    )

    @model_validator(mode="after")
    def _consistent(self) -> TranscriptSettings:
        if self.mode in ("field", "both") and not self.field:
            raise ValueError(f"mode '{self.mode}' needs 'field:' (e.g. Transcript__c)")
        if self.split_parts and not self.part_fields:
            raise ValueError("split_parts: true needs part_fields (e.g. [Transcript_2__c, Transcript_3__c])")
        try:
            self.file_name.format(channel="chat", conversation_id="x")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"file_name may only use {{channel}} and {{conversation_id}} (problem: {error})"
            ) from None
        return self


class ChannelField(_Strict):
    """The picklist that records whether a row came from chat or messaging."""

    field: str = "SDK_API_Type__c"
    values: dict[Channel, str] = Field(default_factory=lambda: {"chat": "Chat", "messaging": "Messaging"})


class MappingFile(_Strict):
    """A whole mapping file."""

    object: str = Field("Chat_Transcript__c", description="Salesforce object the rows are upserted into")
    external_id_field: str = Field(
        "LP_Conversation_Id__c", description="External id holding the LivePerson id"
    )
    description: str | None = None
    transcript: TranscriptSettings | None = Field(default_factory=TranscriptSettings)
    channel_field: ChannelField | None = Field(default_factory=ChannelField)
    fields: list[FieldEntry] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------
# The compiled mapping


@dataclass(frozen=True)
class CompiledEntry:
    target: str
    getters: Mapping[str, Getter | None]  # channel -> getter (None: no value in this channel)
    default: Any
    converter: Converter | None
    clear_when_empty: bool = False  # on_empty: clear
    free_text: bool = False  # typed by people (surveys, summaries, custom paths): redaction's business
    redact: bool | None = None  # the entry's own say; None: the policy's scope decides
    parts: Mapping[str, frozenset[str]] = field(default_factory=dict)  # channel -> record parts read


@dataclass(frozen=True)
class CompiledMapping:
    """A validated mapping with every path compiled once; shared read-only by all records."""

    source: str
    object: str
    external_id_field: str
    entries: tuple[CompiledEntry, ...]
    transcript: TranscriptSettings | None
    channel_field: ChannelField | None
    spec: MappingFile = field(repr=False)
    redaction: RedactionPolicy | None = None
    redacted_targets: frozenset[str] = frozenset()  # the mapped fields the policy applies to
    redactor: Redactor | None = field(default=None, repr=False, compare=False)  # the policy, compiled

    def targets(self) -> list[str]:
        """Every Salesforce field this mapping can write."""
        names = [self.external_id_field]
        if self.channel_field:
            names.append(self.channel_field.field)
        names += [entry.target for entry in self.entries]
        t = self.transcript
        if t and t.mode != "attachment":
            names += [t.field, *(t.part_fields if t.split_parts else ()), t.truncated_flag_field]
        return [name for name in names if name]

    def with_transcript(self, **changes: Any) -> CompiledMapping:
        """The same mapping with transcript settings overridden (an integration's choice)."""
        base = self.transcript or TranscriptSettings()
        settings = TranscriptSettings.model_validate({**base.model_dump(), **changes})
        return dataclasses.replace(self, transcript=settings)

    def with_redaction(self, policy: RedactionPolicy | None) -> CompiledMapping:
        """The same mapping redacting by an integration's policy (None or disabled: no redaction)."""
        if policy is None or not policy.enabled:
            return dataclasses.replace(self, redaction=None, redacted_targets=frozenset(), redactor=None)
        scope = policy.apply_to.mapped_fields
        targets = frozenset(
            entry.target
            for entry in self.entries
            if (
                entry.redact
                if entry.redact is not None
                else scope == "all" or (scope == "free_text" and entry.free_text)
            )
        )
        return dataclasses.replace(
            self, redaction=policy, redacted_targets=targets, redactor=compile_redactor(policy)
        )


def load_mapping(path: str | Path) -> CompiledMapping:
    """Read, validate and compile a mapping file; ``MappingError`` names every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(source, [f"cannot read the file ({error.strerror or error})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MappingError(source, [f"not valid YAML{where}: {getattr(error, 'problem', error)}"]) from None
    return compile_mapping(data, source)


def compile_mapping(data: Any, source: str = "<mapping>") -> CompiledMapping:
    """Validate a mapping given as data (the parsed YAML) and compile it."""
    if not isinstance(data, dict):
        raise MappingError(source, ["expected a mapping with 'object', 'fields', ... at the top level"])
    try:
        spec = MappingFile.model_validate(data)
    except ValidationError as error:
        raise MappingError(source, _explain(error, data)) from None
    problems: list[str] = []
    entries = tuple(_compile_entry(i, entry, problems) for i, entry in enumerate(spec.fields))
    problems += _duplicate_targets(spec)
    if problems:
        raise MappingError(source, problems)
    return CompiledMapping(
        source, spec.object, spec.external_id_field, entries, spec.transcript, spec.channel_field, spec
    )


def _entry_label(index: int, target: Any) -> str:
    return f"fields[{index}] (target {target})" if target else f"fields[{index}]"


def _compile_entry(index: int, entry: FieldEntry, problems: list[str]) -> CompiledEntry:
    label = _entry_label(index, entry.target)
    getters: dict[str, Getter | None] = {"chat": None, "messaging": None}
    parts: dict[str, frozenset[str]] = {"chat": frozenset(), "messaging": frozenset()}
    free_text = False
    if entry.lp_field:
        if entry.lp_field not in CATALOG:
            problems.append(
                f"{label}: unknown predefined field {entry.lp_field!r}{_suggest(entry.lp_field, CATALOG)}"
            )
        else:
            known = CATALOG[entry.lp_field]
            getters = {channel: catalog_getter(entry.lp_field, channel) for channel in CHANNELS}
            parts = {channel: source_parts(known.source(channel)) for channel in CHANNELS}
            free_text = known.free_text
    for key, channel in (("api_field", "chat"), ("msg_api_field", "messaging")):
        path = getattr(entry, key)
        if path:
            try:
                getters[channel] = compile_path(path)
            except PathSyntaxError as error:
                problems.append(f"{label}: {key} {error}")
                continue
            parts[channel] = frozenset(filter(None, [path_root(path)]))
            free_text = True  # a custom path: survey answers and the like, typed by people
    return CompiledEntry(
        entry.target,
        getters,
        entry.default,
        _converter(entry),
        clear_when_empty=entry.on_empty == "clear",
        free_text=free_text,
        redact=entry.redact,
        parts=parts,
    )


def _converter(entry: FieldEntry) -> Converter | None:
    if entry.map:
        mapped = value_map(entry.map)
        if entry.convert and entry.convert not in ("picklist", "string"):
            then = CONVERTERS[entry.convert]
            return lambda value: then(mapped(value))
        return mapped
    if entry.convert and entry.convert != "picklist":
        return CONVERTERS[entry.convert]
    return None


def _duplicate_targets(spec: MappingFile) -> list[str]:
    problems = []
    reserved = {spec.external_id_field: "external_id_field"}
    if spec.channel_field:
        reserved[spec.channel_field.field] = "channel_field"
    t = spec.transcript
    if t and t.mode != "attachment":
        for name, role in (
            (t.field, "transcript.field"),
            (t.truncated_flag_field, "transcript.truncated_flag_field"),
        ):
            if name:
                reserved[name] = role
        for name in t.part_fields if t.split_parts else ():
            reserved[name] = "transcript.part_fields"
    seen: dict[str, int] = {}
    for index, entry in enumerate(spec.fields):
        label = _entry_label(index, entry.target)
        if entry.target in reserved:
            problems.append(
                f"{label}: {entry.target} is already written by {reserved[entry.target]}; remove this entry"
            )
        elif entry.target in seen:
            problems.append(
                f"{label}: {entry.target} is already mapped by fields[{seen[entry.target]}]; keep one"
            )
        else:
            seen[entry.target] = index
    return problems


def _suggest(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f" — did you mean {close[0]!r}?" if close else " — see the predefined field list in the README"


_MODEL_KEYS: dict[str, Any] = {
    "": MappingFile,
    "transcript": TranscriptSettings,
    "channel_field": ChannelField,
    "fields": FieldEntry,
}


def _explain(error: ValidationError, data: dict) -> list[str]:
    """Pydantic's errors in the admin's terms: where (entry and target) and what to do."""
    problems = []
    for item in error.errors():
        loc = list(item["loc"])
        if item["type"] == "extra_forbidden":
            key = str(loc[-1])
            model = _MODEL_KEYS.get(str(loc[0]) if len(loc) > 1 else "", MappingFile)
            problems.append(f"{_where(loc[:-1], data)}unknown key {key!r}{_suggest_key(key, model)}")
        elif item["type"] == "literal_error":
            expected = item["msg"].replace("Input should be", "must be")
            problems.append(f"{_where(loc, data)}{expected}, got {item['input']!r}")
        else:
            problems.append(f"{_where(loc, data)}{item['msg'].removeprefix('Value error, ')}")
    return problems


def _where(loc: list, data: dict) -> str:
    """``fields[3] (target Agent_Name__c) convert: `` or ``transcript.mode: ``."""
    if len(loc) > 1 and loc[0] == "fields" and isinstance(loc[1], int):
        entries = data.get("fields") if isinstance(data.get("fields"), list) else []
        entry = entries[loc[1]] if loc[1] < len(entries) else None
        target = entry.get("target") if isinstance(entry, dict) else None
        rest = ".".join(str(part) for part in loc[2:])
        return f"{_entry_label(loc[1], target)}{' ' + rest if rest else ''}: "
    path = ".".join(str(part) for part in loc)
    return f"{path}: " if path else ""


def _suggest_key(key: str, model: Any) -> str:
    close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
    allowed = ", ".join(model.model_fields)
    return f" — did you mean {close[0]!r}?" if close else f" — allowed keys: {allowed}"


__all__ = [
    "CHANNELS",
    "ChannelField",
    "CompiledEntry",
    "CompiledMapping",
    "FieldEntry",
    "MappingError",
    "MappingFile",
    "TranscriptSettings",
    "compile_mapping",
    "load_mapping",
]
