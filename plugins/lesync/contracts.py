"""The typed contracts between stages: what extract, transform, load and report hand each other.

Every stage result is a frozen-ish dataclass that turns into a JSON-able dict for XCom
(``as_xcom``) and back (``from_xcom``). A typo in a key is an error here, not a silent
``.get(key, 0)``. ``RecordError`` is the one shape of a per-record error, whoever found it:
the mapping (a value a field cannot take) or Salesforce (a rejected upsert or file).

This module is a leaf: it imports nothing from lesync, so every layer may use it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypeVar

T = TypeVar("T", bound="XComResult")

#: The LivePerson channels lesync syncs: chat (Engagement History), messaging (Messaging Interactions).
Channel = Literal["chat", "messaging"]
CHANNELS: tuple[Channel, ...] = ("chat", "messaging")


#: Messaging ``contentToRetrieve``: every value LivePerson documents, in the docs' order (the
#: Messaging Interactions method page, plus the newer values of later pages; api-facts.md). The
#: mapping says which it reads, the LivePerson client refuses any other before calling.
CONTENT_PARTS = (
    "campaign",
    "messageRecords",
    "agentParticipants",
    "agentParticipantsLeave",
    "agentParticipantsActive",
    "consumerParticipants",
    "transfers",
    "interactions",
    "messageScores",
    "messageStatuses",
    "conversationSurveys",
    "coBrowseSessions",
    "summary",
    "sdes",
    "unAuthSdes",
    "monitoring",
    "responseTime",
    "dialogs",
    "skillChanges",
    "intents",
    "uniqueIntents",
    "latestAgentSurvey",
    "previouslySubmittedAgentSurveys",
)


def dag_id(integration: str, kind: str) -> str:
    """``lesync__<integration>__<kind>``: the DAGs, the state store's run keys and the UI agree on it."""
    return f"lesync__{integration}__{kind}"


class SchemaMismatchError(ValueError):
    """The mapping writes fields the Salesforce object lacks; fix the mapping or the org (no retry helps)."""


class XComResult:
    """Dataclass <-> JSON-able dict, refusing unknown keys (a stage out of step with another)."""

    def as_xcom(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_xcom(cls, data: dict[str, Any] | Self) -> Self:
        if isinstance(data, cls):
            return data
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"{cls.__name__} got unknown key(s) {sorted(unknown)}; expected {sorted(names)}")
        return cls(**{key: _revive(cls, key, value) for key, value in data.items()})


def _revive(cls: type, key: str, value: Any) -> Any:
    """Nested contracts (lists of RecordError) come back as their type."""
    if key == "errors" and isinstance(value, list):
        return [RecordError.from_dict(item) if isinstance(item, dict) else item for item in value]
    return value


@dataclass(frozen=True)
class RecordError:
    """One reason one record was not written as asked: Salesforce's code, message and fields."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": list(self.fields)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordError:
        return cls(
            str(data.get("code") or "UNKNOWN"),
            str(data.get("message") or ""),
            tuple(data.get("fields") or ()),
        )


@dataclass
class ExtractResult(XComResult):
    """One extract unit (a channel's slice, or one conversation): staged files and LivePerson calls."""

    channel: str
    paths: list[str]
    records: int
    calls: int = 0
    pages: int = 0
    retries: int = 0
    partial_refetched: int = 0
    partial_failed: int = 0
    window: list[str] | None = None
    conversation_id: str | None = None
    #: By-id units (replays, re-checks): ids found neither in the raw archive nor in LivePerson.
    not_found: list[str] = field(default_factory=list)
    from_archive: int = 0


@dataclass
class TransformResult(XComResult):
    """The staged rows of a run's shard and what became of the records read."""

    rows_path: str
    rows: int
    with_errors: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    records_read: int = 0
    duplicates: int = 0
    unrecognised: int = 0
    salesforce_calls: int = 0
    #: The shard (``000``...) these rows are; its load names its files after it.
    shard: str = ""


@dataclass
class LoadResult(XComResult):
    """What Salesforce did with a run's rows and files."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    files_uploaded: int = 0
    files_unchanged: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    linked: int = 0
    api_calls: int = 0
    failed_path: str | None = None
    mode: str = ""


@dataclass
class RunSummary(XComResult):
    """The run's account: the report task's log, its XCom, and (wave 2) the ledger's run row."""

    integration: str
    kind: str
    extracted: int = 0
    conversations: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    skipped: int = 0
    files_uploaded: int = 0
    files_unchanged: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    liveperson_calls: int = 0
    salesforce_calls: int = 0
    failed_path: str | None = None
    #: The reconcile task's verdict (window runs), or None.
    verdict: dict[str, Any] | None = None
