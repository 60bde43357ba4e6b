"""Integrations ("groups"): which LivePerson account syncs into which Salesforce org, and how.

``include/integrations.yaml`` is read when the DAG files are parsed, so a mistake must surface
as one import error that names the file, the integration, the key and the fix, never as a DAG
that half-works. Every setting is declared once here, typed and described; the descriptions
feed the error hints and the README table.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lesync.contracts import CHANNELS, Channel
from lesync.mapping.redaction import RedactionPolicy

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = Path(os.environ.get("LESYNC_INCLUDE_DIR", PROJECT_ROOT / "include"))
DEFAULT_INTEGRATIONS_FILE = INCLUDE_DIR / "integrations.yaml"
MAPPINGS_DIR = INCLUDE_DIR / "mappings"

FREE_MAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "ymail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "outlook.com",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "protonmail.com",
    "proton.me",
    "gmx.com",
    "gmx.de",
    "web.de",
    "mail.com",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "zoho.com",
    "qq.com",
    "163.com",
)

#: Transcript keys an integration once had, and their names in the mapping file's ``transcript:``.
MOVED_TO_MAPPING = {"save_mode": "mode", "include_private": "include_private", "split_parts": "split_parts"}


class IntegrationsError(ValueError):
    """The integrations file is wrong; the message says where and how to fix it."""


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TranscriptSettings(_Settings):
    """Operational limits of transcript files. What goes where in the object (``mode``,
    ``include_private``, ``split_parts``) belongs to the mapping file, next to the fields it
    names, so ``python -m lesync preview`` and a run read the same choice."""

    max_file_mb: float = Field(5, gt=0, le=2000, description="Files larger than this are skipped (logged).")

    @model_validator(mode="before")
    @classmethod
    def _moved_to_mapping(cls, data: object) -> object:
        if isinstance(data, dict):
            for key, mapping_key in MOVED_TO_MAPPING.items():
                if key in data:
                    raise ValueError(
                        f"'transcript.{key}' moved to the mapping file: delete it here and set "
                        f"'transcript: {{{mapping_key}: ...}}' in the integration's mapping file "
                        "(include/mappings/<mapping>)"
                    )
        return data


class ScheduleSettings(_Settings):
    periodic: bool = Field(True, description="Run the periodic sync (every 3 hours, the last 6 hours).")
    daily: bool = Field(True, description="Run the daily sync (the last 48 hours) at daily_hour.")
    daily_hour: int = Field(2, ge=0, le=23, description="Hour of day (in timezone) of the daily sync.")
    timezone: str = Field("UTC", description="IANA time zone of daily_hour, e.g. Europe/Berlin.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
            ) from exc
        return value


class MatchKind(StrEnum):
    """How a rule compares the row's value with the object's fields."""

    EMAIL = "email"  # lower-cased; the block lists apply
    PHONE = "phone"  # digits with the country code (see lesync.salesforce.phones), searched with SOSL
    EXACT = "exact"  # the same text (ignoring case, as SOQL compares), e.g. an order id


#: Each kind's fields when a rule names none.
DEFAULT_MATCH_FIELDS = {MatchKind.EMAIL: ("Email",), MatchKind.PHONE: ("Phone", "MobilePhone")}
_API_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"


class LinkingRule(_Settings):
    """One way to find the record a transcript belongs to (see docs/linking.md)."""

    object: str = Field(
        pattern=_API_NAME,
        description="Object to find: Contact, Lead, Account, Case, Opportunity or a custom object.",
    )
    match: MatchKind = Field(
        description="email (case-insensitive, block lists apply), phone (normalised, SOSL) or exact."
    )
    value: str = Field(
        pattern=_API_NAME,
        description="Staged row field whose value is matched: a field the mapping writes, e.g. "
        "Visitor_Email__c, or an SDE value mapped to a field such as Order_Id__c.",
    )
    fields: tuple[str, ...] = Field(
        (),
        description="The object's fields compared (any may match); default Email for email, "
        "Phone and MobilePhone for phone; required for exact.",
    )
    lookup: str = Field(pattern=_API_NAME, description="Transcript lookup field the match is written into.")
    group: str | None = Field(
        None,
        description="Rules of one group are tried in order, the first unique match wins, and a lookup "
        "of the group set by hand keeps the whole group; default: the lookup field.",
    )
    also_set: dict[str, str] = Field(
        {},
        description="Transcript lookup -> field of the matched record copied into it when empty, "
        "e.g. {Account__c: AccountId}.",
    )
    skip_converted: bool = Field(True, description="Lead rules: never link a converted Lead (IsConverted).")
    skip_flag: str | None = Field(
        None,
        pattern=_API_NAME,
        description="Checkbox field of the object; a record with it checked is never linked ('do not sync').",
    )

    @model_validator(mode="after")
    def _fields_known(self) -> LinkingRule:
        if not self.fields:
            if self.match is MatchKind.EXACT:
                raise ValueError("an exact rule needs 'fields': the object's field(s) holding the value")
            object.__setattr__(self, "fields", DEFAULT_MATCH_FIELDS[self.match])
        for name in (*self.fields, *self.also_set, *self.also_set.values()):
            if not re.fullmatch(_API_NAME, name):
                raise ValueError(f"{name!r} is not a Salesforce field API name")
        return self

    @property
    def group_name(self) -> str:
        return self.group or self.lookup

    @property
    def skips_converted(self) -> bool:
        return self.skip_converted and self.object.lower() == "lead"


#: Today's behaviour: the Contact by email, then by phone (its Account too), else the open Lead.
DEFAULT_LINKING_RULES = (
    LinkingRule(
        object="Contact",
        match=MatchKind.EMAIL,
        value="Visitor_Email__c",
        lookup="Contact__c",
        group="person",
        also_set={"Account__c": "AccountId"},
    ),
    LinkingRule(
        object="Contact",
        match=MatchKind.PHONE,
        value="Visitor_Phone__c",
        lookup="Contact__c",
        group="person",
        also_set={"Account__c": "AccountId"},
    ),
    LinkingRule(
        object="Lead", match=MatchKind.EMAIL, value="Visitor_Email__c", lookup="Lead__c", group="person"
    ),
    LinkingRule(
        object="Lead", match=MatchKind.PHONE, value="Visitor_Phone__c", lookup="Lead__c", group="person"
    ),
)
#: Keys of the old single-purpose ``linking:`` block, replaced by ``rules``.
OLD_LINKING_KEYS = (
    "email_field",
    "phone_field",
    "match_leads",
    "contact_lookup",
    "account_lookup",
    "lead_lookup",
)


class LinkingSettings(_Settings):
    """Linking transcripts to the records they belong to, by rules; the load's settings too."""

    enabled: bool = Field(False, description="Link transcripts to records by the rules below.")
    rules: tuple[LinkingRule, ...] = Field(
        DEFAULT_LINKING_RULES,
        min_length=1,
        description="Ordered rules (docs/linking.md); default: Contact by email, then phone (and its "
        "Account), else the open Lead.",
    )
    default_country_code: str = Field(
        "1",
        pattern=r"^[1-9]\d{0,2}$",
        description="Calling code given to phone numbers written without one (e.g. 1, 44, 49).",
    )
    block_domains: tuple[str, ...] = Field(
        FREE_MAIL_DOMAINS, description="Email domains never matched (free-mail by default)."
    )
    block_addresses: tuple[str, ...] = Field((), description="Email addresses never matched.")

    @model_validator(mode="before")
    @classmethod
    def _old_keys_replaced(cls, data: object) -> object:
        if isinstance(data, dict):
            old = [key for key in OLD_LINKING_KEYS if key in data]
            if old:
                raise ValueError(
                    f"'linking.{old[0]}' was replaced by 'linking.rules' (docs/linking.md): delete "
                    f"{', '.join(old)} and write the rules, e.g. what these keys meant:\n"
                    + old_keys_as_rules(data)
                )
        return data

    @field_validator("block_domains", "block_addresses")
    @classmethod
    def _lowercase(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in values if v.strip())

    @model_validator(mode="after")
    def _one_group_per_lookup(self) -> LinkingSettings:
        groups: dict[str, str] = {}
        for index, rule in enumerate(self.rules):
            known = groups.setdefault(rule.lookup, rule.group_name)
            if known != rule.group_name:
                raise ValueError(
                    f"rules[{index}] writes {rule.lookup} in group {rule.group_name!r}, an earlier rule in "
                    f"group {known!r}; rules writing one lookup must share a group"
                )
        return self


def old_keys_as_rules(old: dict) -> str:
    """The ``rules:`` YAML equivalent to an old-style ``linking:`` block (for the error message)."""
    email, phone = old.get("email_field", "Visitor_Email__c"), old.get("phone_field", "Visitor_Phone__c")
    contact, lead = old.get("contact_lookup", "Contact__c"), old.get("lead_lookup", "Lead__c")
    account = old.get("account_lookup", "Account__c")
    also = f", also_set: {{{account}: AccountId}}" if account else ""
    lines = ["  rules:"]
    for obj, lookup, extra in (("Contact", contact, also), ("Lead", lead, "")):
        if obj == "Lead" and old.get("match_leads") is False:
            continue
        for kind, value in (("email", email), ("phone", phone)):
            if value:
                rule = f"object: {obj}, match: {kind}, value: {value}, lookup: {lookup}, group: person{extra}"
                lines.append(f"    - {{{rule}}}")
    return "\n".join(lines)


class LimitSettings(_Settings):
    api_reserve_percent: float = Field(
        10, ge=0, lt=100, description="Share of the org's daily API limit left for its other users."
    )
    bulk_threshold: int = Field(
        2000,
        ge=1,
        description="At or above this many rows a load uses Bulk API 2.0, below it sObject Collections.",
    )
    slice_hours: int = Field(24, ge=1, le=744, description="A manual window is cut into slices this long.")
    liveperson_concurrency: int = Field(
        2,
        ge=1,
        le=16,
        description="At most this many extract tasks of the integration call LivePerson at once, "
        "across all its runs: the slots of its Airflow pool (`python -m lesync pools`).",
    )
    liveperson_requests_per_second: float = Field(
        5,
        gt=0,
        le=100,
        description="LivePerson requests per second for the account, shared by all the "
        "integration's tasks and workers (a token bucket in the state store), so parallel extracts "
        "do not meet 429s.",
    )
    liveperson_burst: int = Field(
        10, ge=1, le=1000, description="Requests the LivePerson rate budget lets through at once (a burst)."
    )
    bulk_jobs_in_flight: int = Field(
        3,
        ge=1,
        le=10,
        description="Bulk API 2.0 jobs (~10,000 rows, ~14 API calls each) one load keeps in flight "
        "at once; 1 runs them one after another.",
    )
    file_calls_in_flight: int = Field(
        4,
        ge=1,
        le=10,
        description="sObject Collections calls (200 transcript files each) one load keeps in flight "
        "at once; 1 sends them one after another.",
    )
    shard_rows: int = Field(
        20_000,
        ge=1,
        description="A run's transform and load are cut into shards of at most about this many "
        "conversations (whole raw files of up to 5,000), each a mapped task that any worker takes (a "
        "shard's load: Bulk jobs of at most 10,000 rows), and a run of up to this many stays one shard. "
        "A longer run gets equal shards in a multiple of `salesforce_concurrency`, so every round of "
        "loads is full.",
    )
    salesforce_concurrency: int = Field(
        2,
        ge=1,
        le=16,
        description="At most this many load tasks of the integration write to Salesforce at once "
        "(fewer UNABLE_TO_LOCK_ROW waits): the slots of its Airflow pool (`python -m lesync pools`).",
    )


class StagingSettings(_Settings):
    root: str | None = Field(
        None, description="Staging root URL (s3://, gs://, file://); default $AIRFLOW_HOME/lesync/staging."
    )
    conn_id: str | None = Field(None, description="Airflow connection for the staging store's credentials.")
    retention_days: float = Field(7, ge=0, description="Staging folders older than this are removed.")
    archive_days: float = Field(
        30,
        ge=0,
        description="The raw extracts (a run's raw/ folder) are kept this long for replays, "
        "then removed; a replay after that fetches the record from LivePerson by id.",
    )


class OperationsSettings(_Settings):
    """The state store and what runs do with it: replays, open conversations, retention."""

    state_conn_id: str = Field(
        "lesync_state",
        description="Airflow connection to lesync's state store (PostgreSQL or SQLite); absent: "
        "the SQLite file .lesync/state.db.",
    )
    replay_max_attempts: int = Field(
        8, ge=1, le=100, description="A record failing transiently is retried by later runs up to this often."
    )
    replays_per_run: int = Field(
        2000, ge=0, description="At most this many pending records are taken by one run (0: none)."
    )
    recheck_open_per_run: int = Field(
        500,
        ge=0,
        description="Messaging conversations synced while open are re-checked by id, this many per "
        "run (one LivePerson call each), until they close.",
    )
    ledger_retention_days: float = Field(
        90, ge=1, description="Run summaries and resolved ledger rows older than this are purged."
    )
    reconcile: bool = Field(
        True, description="Compare LivePerson's and Salesforce's counts after every window run."
    )


class IncrementalSettings(_Settings):
    """The near-real-time DAG: every few minutes, from a high-water mark (``lesync__<name>__incremental``)."""

    enabled: bool = Field(
        False,
        description="Run the incremental DAG: ended conversations reach Salesforce within minutes "
        "(periodic and daily stay the safety net).",
    )
    interval_minutes: int = Field(10, ge=1, le=180, description="Minutes between incremental runs.")
    overlap_minutes: float = Field(
        5, ge=0, le=120, description="Each run starts this long before the mark (late-indexed records)."
    )
    settle_minutes: float = Field(
        5, ge=0, le=120, description="A run's window ends this long before now (LivePerson still indexing)."
    )
    chat_lookback_minutes: float = Field(
        120,
        ge=0,
        le=1440,
        description="Chats are searched by their start: from this long before the window, so a "
        "chat that began earlier and ended since is in the run.",
    )
    first_lookback_minutes: float = Field(
        60, gt=0, le=1440, description="The first run (no mark yet) starts this long before now."
    )
    recheck_open_every_minutes: int = Field(
        60,
        ge=0,
        le=1440,
        description="Messaging conversations synced while open are re-checked by id (one call each) "
        "about this often, a share of them per run, least recently checked first; the update search "
        "finds most closes at the next run. 0: all of them every run.",
    )
    max_catch_up_hours: float = Field(
        6,
        gt=0,
        le=72,
        description="A mark far behind (the DAG was paused) is caught up at most this far per run.",
    )

    def planner_settings(self) -> dict[str, dt.timedelta]:
        """The keyword arguments of ``lesync.pipeline.incremental.incremental_plan``."""
        return {
            "overlap": dt.timedelta(minutes=self.overlap_minutes),
            "settle": dt.timedelta(minutes=self.settle_minutes),
            "chat_lookback": dt.timedelta(minutes=self.chat_lookback_minutes),
            "first_lookback": dt.timedelta(minutes=self.first_lookback_minutes),
            "max_catch_up": dt.timedelta(hours=self.max_catch_up_hours),
        }


class Integration(_Settings):
    name: str = Field(description="Unique group name; lowercase letters, digits and _ (used in DAG ids).")
    enabled: bool = Field(True, description="Status toggle: a disabled integration builds no scheduled DAGs.")
    description: str = Field("", description="Free text for people reading the file.")
    liveperson_conn_id: str = Field("liveperson_default", description="Airflow connection to LivePerson.")
    salesforce_conn_id: str = Field("salesforce_default", description="Airflow connection to Salesforce.")
    channels: tuple[Channel, ...] = Field(CHANNELS, min_length=1, description="Channels to sync.")
    skills: tuple[int, ...] = Field((), description="LivePerson skill ids to sync; empty means all skills.")
    mapping: str = Field("chat_transcript.yaml", description="Mapping file under include/mappings/.")
    transcript: TranscriptSettings = TranscriptSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    linking: LinkingSettings = LinkingSettings()
    limits: LimitSettings = LimitSettings()
    staging: StagingSettings = StagingSettings()
    operations: OperationsSettings = OperationsSettings()
    redaction: RedactionPolicy | None = Field(
        None,
        description="What is redacted before Salesforce (card numbers, CVV, SSN, IBAN, emails, phones) "
        "and where: see docs/mappings.md. Absent: nothing is redacted.",
    )
    incremental: IncrementalSettings = IncrementalSettings()

    @field_validator("name")
    @classmethod
    def _dag_id_safe(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", value):
            raise ValueError(
                f"{value!r} is not a valid name: "
                "use 1-40 lowercase letters, digits or _, starting with a letter"
            )
        return value

    @field_validator("channels")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    def mapping_path(self, mappings_dir: Path | None = None) -> Path:
        """The mapping file: absolute as loaded (next to the integrations file), else under include/."""
        mapping = Path(self.mapping)
        return mapping if mapping.is_absolute() else (mappings_dir or MAPPINGS_DIR) / mapping


class IntegrationsFile(_Settings):
    integrations: list[Integration] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> IntegrationsFile:
        seen: set[str] = set()
        for integration in self.integrations:
            if integration.name in seen:
                raise ValueError(f"two integrations are named {integration.name!r}; names must be unique")
            seen.add(integration.name)
        return self


def load_integrations(path: Path | str | None = None, check_mappings: bool = True) -> list[Integration]:
    """All integrations of the file, validated; raises IntegrationsError naming file, entry and fix."""
    path = Path(path or os.environ.get("LESYNC_INTEGRATIONS_FILE") or DEFAULT_INTEGRATIONS_FILE)
    raw = _read_yaml(path)
    try:
        parsed = IntegrationsFile.model_validate(raw)
    except ValidationError as exc:
        raise IntegrationsError(_explain(path, raw, exc)) from None
    resolved = [
        integration.model_copy(
            update={"mapping": str(integration.mapping_path(path.parent.resolve() / "mappings"))}
        )
        for integration in parsed.integrations
    ]
    if check_mappings:
        for integration in resolved:
            mapping = integration.mapping_path()
            if not mapping.is_file():
                known = ", ".join(sorted(p.name for p in mapping.parent.glob("*.y*ml"))) or "(none)"
                raise IntegrationsError(
                    f"{path}: integration {integration.name!r}, key 'mapping': "
                    f"file {mapping} does not exist; create it or name one of: {known}"
                )
    return resolved


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IntegrationsError(f"{path}: file not found; create it (see README, 'Integrations')") from None
    except yaml.YAMLError as exc:
        raise IntegrationsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise IntegrationsError(f"{path}: expected a mapping with a top-level 'integrations:' list")
    return raw


def _explain(path: Path, raw: dict, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s):"]
    for error in exc.errors():
        lines.append("  - " + _describe_error(raw, error))
    return "\n".join(lines)


def _describe_error(raw: dict, error: dict) -> str:
    loc = list(error["loc"])
    where = "the file"
    if loc[:1] == ["integrations"] and len(loc) > 1 and isinstance(loc[1], int):
        index = loc[1]
        entries = raw.get("integrations") or []
        name = (
            entries[index].get("name") if index < len(entries) and isinstance(entries[index], dict) else None
        )
        where = f"integration {name!r}" if name else f"integration #{index + 1}"
        loc = loc[2:]
    key = ".".join(str(part) for part in loc) or "(entry)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = f"unknown key; allowed here: {', '.join(_allowed_keys(error['loc']))}"
    elif error["type"] == "missing":
        message = "required key is missing"
    return f"{where}, key {key!r}: {message}"


def _allowed_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] = IntegrationsFile
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return sorted(model.model_fields)


def settings_table() -> str:
    """The README's table of integration settings, made from the field declarations above."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    rows += _table_rows(Integration, "")
    return "\n".join(rows)


def _table_rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _table_rows(annotation, f"{prefix}{name}.")
            continue
        default = "required" if info.is_required() else _show_default(info.default)
        rows.append(f"| `{prefix}{name}` | {default} | {info.description or ''} |")
        item = _model_items(annotation)
        if item is not None:
            rows += _table_rows(item, f"{prefix}{name}[].")
    return rows


def _model_items(annotation: object) -> type[BaseModel] | None:
    """The model of a ``tuple[Model, ...]`` setting (its keys get rows of their own)."""
    args = getattr(annotation, "__args__", ())
    item = args[0] if args else None
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _show_default(value: object) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} rules"
    if isinstance(value, dict):
        return "`{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}`" if value else "—"
    if isinstance(value, tuple):
        if len(value) > 4:
            return f"{len(value)} free-mail domains"
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    return f"`{value}`" if value not in (None, "") else "—"
