"""An in-memory stand-in for ``lesync.state.StateStore`` (test-only) until the real store lands.

Same method names and row keys as the store's agreed interface; it keeps rows in lists and
filters them like the store's queries do. ``save``/``load`` carry a seeded store into the API
server process of the browser test.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

_MOMENTS = ("window_start", "window_end", "started_at", "finished_at", "first_failed_at", "last_attempt_at")


class FakeStateStore:
    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []

    def migrate(self) -> None:
        """Nothing to create in memory."""

    def start_run(
        self, run_id: str, integration: str, kind: str, window_start=None, window_end=None, started_at=None
    ) -> None:
        self.runs.append(
            {
                "run_id": run_id,
                "integration": integration,
                "kind": kind,
                "state": "running",
                "window_start": window_start,
                "window_end": window_end,
                "started_at": started_at or dt.datetime.now(dt.UTC),
                "finished_at": None,
                "counts": {},
                "liveperson_calls": None,
                "salesforce_calls": None,
                "verdict": None,
            }
        )

    def finish_run(self, run_id: str, summary: dict, state: str, verdict: dict | None = None) -> None:
        run = next(r for r in self.runs if r["run_id"] == run_id)
        run.update(
            state=state,
            verdict=verdict,
            finished_at=summary.get("finished_at", dt.datetime.now(dt.UTC)),
            counts=dict(summary.get("counts", {})),
            liveperson_calls=summary.get("liveperson_calls"),
            salesforce_calls=summary.get("salesforce_calls"),
        )

    def record_outcomes(self, run_id: str, integration: str, outcomes: list[dict]) -> None:
        """Failed outcomes become (or bump) a failed record; a later success resolves it."""
        now = dt.datetime.now(dt.UTC)
        for outcome in outcomes:
            existing = next(
                (
                    f
                    for f in self.failures
                    if f["liveperson_id"] == outcome["liveperson_id"] and not f["resolved_at"]
                ),
                None,
            )
            if outcome["operation"] != "failed":
                if existing:
                    existing["resolved_at"] = now
                continue
            if existing:
                existing.update(attempts=existing["attempts"] + 1, last_attempt_at=now, run_id=run_id)
                continue
            self.failures.append(
                {
                    "integration": integration,
                    "liveperson_id": outcome["liveperson_id"],
                    "channel": outcome["channel"],
                    "salesforce_id": outcome.get("salesforce_id"),
                    "error_code": outcome["error_code"],
                    "message": outcome["message"],
                    "fields": list(outcome.get("fields", [])),
                    "attempts": 1,
                    "run_id": run_id,
                    "first_failed_at": outcome.get("at", now),
                    "last_attempt_at": outcome.get("at", now),
                    "resolved_at": None,
                }
            )

    def latest_runs(self, integration: str, limit: int = 20) -> list[dict[str, Any]]:
        mine = [dict(r) for r in self.runs if r["integration"] == integration]
        return sorted(mine, key=lambda r: r["started_at"], reverse=True)[:limit]

    def failed_records(
        self,
        integration: str,
        *,
        run_id=None,
        error_code=None,
        channel=None,
        since=None,
        until=None,
        resolved=False,
        limit=200,
        offset=0,
    ) -> list[dict[str, Any]]:
        def wanted(f: dict) -> bool:
            return (
                f["integration"] == integration
                and (resolved or f["resolved_at"] is None)
                and run_id in (None, f["run_id"])
                and error_code in (None, f["error_code"])
                and channel in (None, f["channel"])
                and (since is None or f["last_attempt_at"] >= since)
                and (until is None or f["first_failed_at"] < until)
            )

        rows = [{k: v for k, v in f.items() if k != "integration"} for f in self.failures if wanted(f)]
        rows.sort(key=lambda f: (f["last_attempt_at"], f["liveperson_id"]), reverse=True)
        return rows[offset : offset + limit]

    # --- carrying a seeded store into another process ---------------------------------------

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps({"runs": self.runs, "failures": self.failures}, default=_iso))

    @classmethod
    def load(cls, path: Path) -> FakeStateStore:
        raw = json.loads(Path(path).read_text())
        store = cls()
        store.runs = [_parse_moments(r) for r in raw["runs"]]
        store.failures = [_parse_moments(f) for f in raw["failures"]]
        return store


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {value!r} as JSON")


def _parse_moments(row: dict) -> dict:
    for key in _MOMENTS + ("resolved_at",):
        if isinstance(row.get(key), str):
            row[key] = dt.datetime.fromisoformat(row[key])
    return row
