"""The ledger's rules, pure: what an outcome is, how it moves a record's status, what is a secret.

A record's status is a small state machine over its outcomes:

- a success (created / updated / unchanged) closes an open failure (``resolved_at`` = now);
- a failure opens a failure episode (``failures`` = 1, ``first_failure_at`` = now) or extends
  the open one (``failures`` + 1); a transient one gets ``next_retry_at`` by exponential backoff;
- ``skipped`` (a duplicate in the run, a file over the size limit) never overrides what the
  record already is;
- any outcome answers a replay request and releases a replay taken by a run.

Replacing an attempt's outcome (the same task try reporting again) moves the status the same
way but does not count as another attempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lesync.contracts import RecordError

SUCCESS = ("created", "updated", "unchanged")
FAILED = "failed"
SKIPPED = "skipped"
QUEUED = "queued"  # status only: queued for replay, never attempted
OPERATIONS = (*SUCCESS, FAILED, SKIPPED)
TARGETS = ("record", "file")
MESSAGE_LIMIT = 4000
SECRET_KEY_PATTERN = re.compile(r"pass(word)?|secret|token|authori[sz]ation|api[_-]?key|cookie|sid\b", re.I)
SECRET_TEXT_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|oauth)\s+[A-Za-z0-9._~+/=!-]{6,}"), r"\1 ***"),
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|client_secret|password|passwd|sid|oauth_token|"
            r"oauth_signature|token_secret|api_key)(\"?\s*[=:]\s*\"?)[^\"&\s,;}]+"
        ),
        r"\1\2***",
    ),
    (re.compile(r"(://[^:/@\s]+):[^@\s/]+@"), r"\1:***@"),
)


@dataclass(frozen=True)
class LedgerOutcome:
    """What happened to one record (or its transcript file) in one attempt."""

    channel: str
    liveperson_id: str
    operation: str
    salesforce_id: str | None = None
    error_code: str | None = None
    message: str | None = None
    fields: tuple[str, ...] = ()
    transient: bool = False
    target: str = "record"  # "file": the record's transcript file (ContentVersion), counted apart

    @classmethod
    def failure(
        cls, channel: str, liveperson_id: str, error: RecordError, *, transient: bool, target: str = "record"
    ) -> LedgerOutcome:
        """A failed outcome from the one shape of a per-record error (mapping or Salesforce)."""
        return cls(
            channel,
            liveperson_id,
            FAILED,
            error_code=error.code,
            message=error.message,
            fields=tuple(error.fields),
            transient=transient,
            target=target,
        )

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(
                f"LedgerOutcome.operation {self.operation!r}: use one of {', '.join(OPERATIONS)}"
            )
        if self.target not in TARGETS:
            raise ValueError(f"LedgerOutcome.target {self.target!r}: use one of {', '.join(TARGETS)}")
        if not self.liveperson_id:
            raise ValueError(
                "LedgerOutcome.liveperson_id is empty: every outcome names its LivePerson record"
            )
        if not self.channel:
            raise ValueError("LedgerOutcome.channel is empty: use 'chat' or 'messaging'")


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of transient failures across runs: base x 2^(failures-1), capped."""

    base: timedelta = field(default=timedelta(minutes=15))
    cap: timedelta = field(default=timedelta(hours=24))

    def next_retry(self, now: datetime, failures: int) -> datetime:
        delay = self.base * (2 ** max(0, min(failures - 1, 30)))
        return now + min(delay, self.cap)


def unique_outcomes(outcomes: Iterable[LedgerOutcome]) -> list[LedgerOutcome]:
    """One outcome per (record, target): the last reported, except that ``skipped`` never hides
    a real outcome of the same record (the run's duplicate copy of it)."""
    chosen: dict[tuple[str, str], LedgerOutcome] = {}
    for outcome in outcomes:
        key = (outcome.liveperson_id, outcome.target)
        if outcome.operation == SKIPPED and key in chosen:
            continue
        chosen[key] = outcome
    return list(chosen.values())


def supersedes(new: LedgerOutcome, old_operation: str) -> bool:
    """Whether ``new`` replaces an outcome already stored for the same attempt."""
    return not (new.operation == SKIPPED and old_operation != SKIPPED)


def next_status(
    previous: dict[str, Any] | None,
    outcome: LedgerOutcome,
    *,
    run_id: str,
    now: datetime,
    mapping_version: str | None,
    policy: RetryPolicy,
    new_attempt: bool,
) -> dict[str, Any] | None:
    """The record's status after ``outcome``; None when it leaves the status as it is."""
    if outcome.operation == SKIPPED and previous is not None and previous["operation"] != QUEUED:
        return None
    status = dict(previous or {"failures": 0, "first_failure_at": None, "resolved_at": None})
    status.update(
        channel=outcome.channel,
        operation=outcome.operation,
        salesforce_id=outcome.salesforce_id or status.get("salesforce_id"),
        last_attempt_at=now,
        last_run_id=run_id,
        replay_requested=False,
        replay_taken_by=None,
        replay_taken_at=None,
        transient=False,
        next_retry_at=None,
    )
    if outcome.operation in SUCCESS:
        if previous is not None and previous["operation"] in (FAILED, QUEUED):
            status["resolved_at"] = now
    elif outcome.operation == FAILED:
        _fail(status, previous, outcome, now, mapping_version, policy, new_attempt)
    return status


def _fail(
    status: dict[str, Any],
    previous: dict[str, Any] | None,
    outcome: LedgerOutcome,
    now: datetime,
    mapping_version: str | None,
    policy: RetryPolicy,
    new_attempt: bool,
) -> None:
    episode_open = previous is not None and previous["operation"] == FAILED
    if episode_open:
        status["failures"] = previous["failures"] + (1 if new_attempt else 0)
    else:
        status["failures"] = 1
        status["first_failure_at"] = now
    status.update(
        resolved_at=None,
        error_code=outcome.error_code or "UNKNOWN",
        message=scrub_text(outcome.message),
        fields=list(outcome.fields),
        transient=outcome.transient,
        next_retry_at=policy.next_retry(now, status["failures"]) if outcome.transient else None,
        mapping_version=mapping_version,
    )


def scrub_text(text: str | None) -> str | None:
    """A message as it may be stored: tokens, passwords and URL credentials replaced, length capped."""
    if text is None:
        return None
    for pattern, replacement in SECRET_TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "…"


def scrub_document(value: Any) -> Any:
    """A JSON-able summary or verdict with secret-looking keys blanked and strings scrubbed."""
    if isinstance(value, dict):
        return {
            key: "***" if SECRET_KEY_PATTERN.search(str(key)) else scrub_document(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_document(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
