"""A simulated day of near-real-time sync: how long from a conversation's end to its record.

    python bench/realtime_day.py                        # 3,000 conversations, 10-minute runs
    python bench/realtime_day.py --conversations 2000 --interval 5

The emulators run in their own process (bench/emulator_server.py), seeded with conversations
that start over the day and the hours before it (``--days``), so their ends are spread over the
24 hours: chats end minutes after they start, messaging conversations close minutes to two days
later (many stay open for hours; some still open when the day ends). The LivePerson emulator's
clock starts at the day's first moment and moves only when told to
(``POST /_emulator/liveperson/clock``).

Every ``--interval`` simulated minutes the incremental pipeline runs once, in this process, as
the DAG's tasks do (``lesync.pipeline.tasks``: plan, extract per unit, transform, load,
reconcile, report_incremental with the high-water mark in a state store of its own), with the
``demo`` integration of include/integrations.yaml. The clock is set to the run's scheduled time
before it starts; the run's real duration is added to it: the run "finishes" at simulated time
+ real seconds. After each run the org's SQLite is read (not timed): a chat is delivered once
its record is there, a messaging conversation once its record says Closed.

Delay = when the run that delivered it finished - when the conversation ended. Reported: median,
95th percentile and maximum over the conversations that ended in the day, what never arrived,
and LivePerson and Salesforce calls per hour (the emulators' counters; Salesforce's token calls
apart, as Salesforce does not bill them). The table goes to stdout and
bench/results/realtime-day.md, and between the markers in bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    RESULTS,
    add_paths,
    control_session,
    integration,
    liveperson_settings,
    machine,
    salesforce_settings,
)

add_paths()

REPO = Path(__file__).resolve().parents[1]
README = REPO / "bench" / "README.md"
MINUTE_MS = 60_000
TARGET_P95_MINUTES = 15.0


@dataclass
class Conversation:
    channel: str
    started_ms: int
    ended_ms: int
    delivered_ms: int | None = None


@dataclass
class Day:
    """What the simulation saw: per conversation its end and delivery, per run its cost."""

    start: dt.datetime
    conversations: dict[str, Conversation]
    runs: list[dict[str, Any]] = field(default_factory=list)
    lookback_ms: int = 0
    liveperson_by_endpoint: dict[str, int] = field(default_factory=dict)


# ---- the emulators -----------------------------------------------------------------------------


class Emulators:
    """bench/emulator_server.py in a child process, seeded so that its "now" is the day's end."""

    def __init__(self, workdir: Path, conversations: int, days: float, end_ms: int, seed: int):
        env = {**os.environ, "AIRFLOW_HOME": str(workdir / "airflow"), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "bench" / "emulator_server.py"),
                *("--data-dir", str(workdir / "emulators"), "--conversations", str(conversations)),
                *("--days", str(days), "--now-ms", str(end_ms), "--seed", str(seed), "--orgs", "ours"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the emulators did not start (see the error above)")
        info = json.loads(line)
        self.lp, self.sf = info["liveperson"], info["salesforce"]["ours"]
        self._lp_http = control_session(self.lp["ca_file"])
        self._sf_http = control_session(self.sf["ca_file"])

    def set_clock(self, moment_ms: int) -> None:
        url = self.lp["domain_api_url"] + "/_emulator/liveperson/clock"
        self._lp_http.post(url, json={"now_ms": moment_ms}, timeout=30).raise_for_status()

    def calls(self) -> tuple[int, int]:
        """(LivePerson calls, Salesforce API calls) so far; Salesforce's token calls left out."""
        lp = self._lp_http.get(self.lp["domain_api_url"] + "/_emulator/calls", timeout=30).json()["total"]
        by = self._sf_http.get(self.sf["instance_url"] + "/_emulator/calls", timeout=30).json()["by_endpoint"]
        return lp, sum(v for k, v in by.items() if "/services/oauth2/" not in k)

    def liveperson_by_endpoint(self) -> dict[str, int]:
        return self._lp_http.get(self.lp["domain_api_url"] + "/_emulator/calls", timeout=30).json()[
            "by_endpoint"
        ]

    def landed(self) -> dict[str, str | None]:
        """LivePerson id -> Status__c of every transcript in the org (read from its SQLite)."""
        with sqlite3.connect(f"file:{self.sf['db_path']}?mode=ro", uri=True) as db:
            rows = db.execute(
                'SELECT "LP_Conversation_Id__c", "Status__c" FROM "Chat_Transcript__c" WHERE IsDeleted = 0'
            )
            return dict(rows.fetchall())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait(30)


def seeded_conversations(conversations: int, days: float, end_ms: int, seed: int) -> dict[str, Conversation]:
    """The emulator's conversations, rebuilt here from the same seed and clock (deterministic):
    every one that ends (or closes) by ``end_ms``, with its end."""
    from lesync.emulators.liveperson import LivePersonEmulatorConfig
    from lesync.emulators.liveperson.state import LivePersonState

    state = LivePersonState(
        LivePersonEmulatorConfig(seed=seed, conversations=conversations, days=days, now_ms=end_ms)
    )
    found = {}
    for channel, index in state.store.indexes.items():
        for ordinal in range(len(index)):
            entry = state.store.entry(channel, ordinal)
            found[entry.conversation_id] = Conversation(channel, entry.start_ms, entry.end_ms)
    return found


# ---- one incremental run, as the DAG's tasks do it ----------------------------------------------


def run_once(integ: Any, emulators: Emulators, moment: dt.datetime) -> dict[str, Any]:
    """plan -> extract (each unit) -> transform -> load -> reconcile -> report_incremental."""
    from lesync.liveperson import LivePersonClient
    from lesync.pipeline import tasks
    from lesync.salesforce import build_client

    run_id = f"scheduled__{moment.isoformat()}"
    began = time.perf_counter()
    units = tasks.plan(integ, "incremental", {}, moment, now=moment, run_id=run_id)
    summary: dict[str, Any] = {}
    if units:
        with LivePersonClient(liveperson_settings(emulators.lp)) as client:
            extracted = [tasks.extract(integ, unit, run_id, client=client) for unit in units]
        sf = build_client(salesforce_settings(emulators.sf))
        transformed = tasks.transform(integ, extracted, run_id, client=sf)
        loaded = tasks.load(integ, transformed, run_id, client=sf, kind="incremental")
        reconcile_units = tasks.incremental_reconcile_units(units)
        verdict = tasks.reconcile(integ, "incremental", run_id, reconcile_units, client=sf)
        summary = tasks.report_incremental(integ, extracted, transformed, loaded, run_id, verdict)
    seconds = time.perf_counter() - began
    return {
        "at": moment.isoformat(),
        "seconds": round(seconds, 3),
        "units": len(units),
        "records": summary.get("extracted", 0),
        "agrees": bool((summary.get("verdict") or {}).get("agrees", True)),
    }


def simulate(args: argparse.Namespace, workdir: Path) -> Day:
    os.environ["LESYNC_STATE_URL"] = f"sqlite:///{workdir / 'state.db'}"
    from lesync.pipeline import operations

    operations._store.cache_clear()
    start = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=3)
    end = start + dt.timedelta(hours=args.hours)
    end_ms = int(end.timestamp() * 1000)
    days = args.hours / 24 + args.before_hours / 24
    day = Day(start, seeded_conversations(args.conversations, days, end_ms, args.seed))
    day.lookback_ms = int(integration("both").incremental.chat_lookback_minutes * MINUTE_MS)
    integ = integration("both", linking=True, staging_root=str(workdir / "staging"))
    integ = integ.model_copy(
        update={"incremental": integ.incremental.model_copy(update={"interval_minutes": args.interval})}
    )
    emulators = Emulators(workdir, args.conversations, days, end_ms, args.seed)
    try:
        moment = start
        last = end + dt.timedelta(minutes=args.tail_minutes)
        while moment <= last:
            emulators.set_clock(int(moment.timestamp() * 1000))
            lp_before, sf_before = emulators.calls()
            run = run_once(integ, emulators, moment)
            lp_after, sf_after = emulators.calls()
            run.update(liveperson_calls=lp_after - lp_before, salesforce_calls=sf_after - sf_before)
            finished_ms = int(moment.timestamp() * 1000 + run["seconds"] * 1000)
            run["delivered"] = _deliver(day, emulators.landed(), finished_ms)
            day.runs.append(run)
            _progress(run, len(day.runs))
            moment += dt.timedelta(minutes=args.interval)
        day.liveperson_by_endpoint = emulators.liveperson_by_endpoint()
    finally:
        emulators.stop()
    return day


def _deliver(day: Day, landed: dict[str, str | None], finished_ms: int) -> int:
    """Mark what this run made whole in Salesforce: a chat once there, messaging once Closed."""
    count = 0
    for conversation_id, status in landed.items():
        conversation = day.conversations.get(conversation_id)
        if conversation is None or conversation.delivered_ms is not None:
            continue
        if conversation.channel == "messaging" and status != "Closed":
            continue
        conversation.delivered_ms = finished_ms
        count += 1
    return count


def _progress(run: dict[str, Any], number: int) -> None:
    if number % 12 == 1:
        print(
            f"  run {number:3d} at {run['at'][11:16]}: {run['records']} records, {run['seconds']:.2f} s, "
            f"{run['liveperson_calls']} LivePerson / {run['salesforce_calls']} Salesforce calls",
            file=sys.stderr,
            flush=True,
        )


# ---- the numbers -------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation): a value some conversation really had."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(day: Day, args: argparse.Namespace) -> dict[str, Any]:
    start_ms = int(day.start.timestamp() * 1000)
    end_ms = start_ms + args.hours * 60 * MINUTE_MS
    in_day = [c for c in day.conversations.values() if start_ms < c.ended_ms <= end_ms]
    missing = [c for c in in_day if c.delivered_ms is None]
    # Chats that began before the lookback are the periodic run's (searchable by start only).
    too_long = [c for c in missing if c.channel == "chat" and c.ended_ms - c.started_ms > day.lookback_ms]
    delays = [(c.delivered_ms - c.ended_ms) / MINUTE_MS for c in in_day if c.delivered_ms is not None]
    by_channel = {
        channel: [
            (c.delivered_ms - c.ended_ms) / MINUTE_MS
            for c in in_day
            if c.channel == channel and c.delivered_ms is not None
        ]
        for channel in ("chat", "messaging")
    }
    day_runs = [r for r in day.runs if r["at"] < (day.start + dt.timedelta(hours=args.hours)).isoformat()]
    hourly_lp, hourly_sf = _per_hour(day_runs, "liveperson_calls"), _per_hour(day_runs, "salesforce_calls")
    seconds = [r["seconds"] for r in day.runs if r["units"]]
    return {
        "conversations_seeded": len(day.conversations),
        "ended_in_day": len(in_day),
        "chat_ended": sum(1 for c in in_day if c.channel == "chat"),
        "messaging_closed": sum(1 for c in in_day if c.channel == "messaging"),
        "delivered": len(delays),
        "never_delivered": len(missing),
        "never_delivered_chats_longer_than_lookback": len(too_long),
        "never_delivered_sample": [
            {"id": key, "channel": c.channel, "started": _iso(c.started_ms), "ended": _iso(c.ended_ms)}
            for key, c in day.conversations.items()
            if c.delivered_ms is None and c in missing
        ][:10],
        "liveperson_by_endpoint": day.liveperson_by_endpoint,
        "liveperson_by_id_share": round(_by_id_share(day.liveperson_by_endpoint), 2),
        "median_min": round(statistics.median(delays), 2),
        "p95_min": round(percentile(delays, 0.95), 2),
        "max_min": round(max(delays), 2),
        "chat_p95_min": round(percentile(by_channel["chat"], 0.95), 2),
        "messaging_p95_min": round(percentile(by_channel["messaging"], 0.95), 2),
        "runs": len(day.runs),
        "runs_without_work": sum(1 for r in day.runs if not r["units"]),
        "runs_disagreeing": sum(1 for r in day.runs if not r["agrees"]),
        "run_seconds_median": round(statistics.median(seconds), 2),
        "run_seconds_max": round(max(seconds), 2),
        "records_per_run_median": statistics.median(r["records"] for r in day.runs),
        "liveperson_calls_per_hour": round(sum(hourly_lp) / len(hourly_lp), 1),
        "liveperson_calls_per_hour_max": max(hourly_lp),
        "salesforce_calls_per_hour": round(sum(hourly_sf) / len(hourly_sf), 1),
        "salesforce_calls_per_hour_max": max(hourly_sf),
        "interval_minutes": args.interval,
        "hours": args.hours,
    }


def _by_id_share(by_endpoint: dict[str, int]) -> float:
    """Share of LivePerson calls that read one conversation by id (open re-checks, partial records)."""
    total = sum(by_endpoint.values())
    by_id = sum(v for k, v in by_endpoint.items() if "/conversation/search" in k)
    return by_id / total if total else 0.0


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def _per_hour(runs: list[dict[str, Any]], key: str) -> list[int]:
    hours: dict[str, int] = {}
    for run in runs:
        hours[run["at"][:13]] = hours.get(run["at"][:13], 0) + run[key]
    return list(hours.values())


def markdown(s: dict[str, Any], host: dict[str, Any]) -> str:
    met = "met" if s["p95_min"] <= TARGET_P95_MINUTES else "NOT met"
    rows = [
        ("delay, end -> record in Salesforce: median", f"{s['median_min']:.1f} min", ""),
        ("delay: 95th percentile", f"**{s['p95_min']:.1f} min**", f"<= {TARGET_P95_MINUTES:.0f} min: {met}"),
        ("delay: 95th percentile chat / messaging",
         f"{s['chat_p95_min']:.1f} / {s['messaging_p95_min']:.1f} min", ""),
        ("delay: maximum", f"{s['max_min']:.1f} min", ""),
        ("conversations that ended in the day / not delivered by the incremental runs",
         f"{s['ended_in_day']:,} ({s['chat_ended']:,} chats, {s['messaging_closed']:,} messaging) / "
         f"{s['never_delivered']} ({s['never_delivered_chats_longer_than_lookback']} chats longer than "
         "the chat lookback: the periodic run's)", "none lost otherwise"),
        ("LivePerson calls per hour: mean / busiest hour (share by id: open re-checks, partial records)",
         f"{s['liveperson_calls_per_hour']:.0f} / {s['liveperson_calls_per_hour_max']} "
         f"({s['liveperson_by_id_share']:.0%})", "bounded"),
        ("Salesforce calls per hour: mean / busiest hour",
         f"{s['salesforce_calls_per_hour']:.0f} / {s['salesforce_calls_per_hour_max']}", ""),
        (f"runs (every {s['interval_minutes']} simulated min) / nothing settled / reconcile differed",
         f"{s['runs']} / {s['runs_without_work']} / {s['runs_disagreeing']}", ""),
        ("run duration: median / max; records per run (median)",
         f"{s['run_seconds_median']:.2f} s / {s['run_seconds_max']:.2f} s; "
         f"{s['records_per_run_median']:.0f}", ""),
    ]  # fmt: skip
    lines = [
        f"Simulated day: {s['conversations_seeded']:,} conversations seeded, one incremental run every "
        f"{s['interval_minutes']} simulated minutes over {s['hours']} hours (+ the tail); "
        f"{host['cpu']}, {host['cores']} cores, Python {host['python']}, {host['date']}.",
        "",
        "| measure | value | target |",
        "| --- | ---: | --- |",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    return "\n".join(lines) + "\n"


def update_readme(table: str, readme: Path = README, name: str = "realtime-day") -> None:
    start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
    text = readme.read_text()
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + f"{start}\n{table}{end}" + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{start}\n{table}{end}\n"
    readme.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=3000, help="seeded over the day and before it")
    parser.add_argument("--hours", type=int, default=24, help="length of the simulated day")
    parser.add_argument(
        "--before-hours", type=float, default=6, help="conversations also start this long before"
    )
    parser.add_argument("--interval", type=int, default=10, help="simulated minutes between runs")
    parser.add_argument("--tail-minutes", type=int, default=30, help="runs go on this long after the day")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "realtime-day.md")
    args = parser.parse_args(argv)
    for name in ("lesync", "alembic"):  # the runs' own logs would drown the progress lines
        logging.getLogger(name).setLevel(logging.WARNING)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lesync-realtime-"))
    workdir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    day = simulate(args, workdir)
    summary = summarise(day, args)
    summary["bench_seconds"] = round(time.perf_counter() - began, 1)
    table = markdown(summary, machine())
    print(table)
    print(json.dumps(summary, indent=2), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    (workdir / "realtime-day.json").write_text(json.dumps({"summary": summary, "runs": day.runs}, indent=2))
    if args.out.resolve().parent == RESULTS.resolve():
        update_readme(table)
    lost = summary["never_delivered"] - summary["never_delivered_chats_longer_than_lookback"]
    return 0 if summary["p95_min"] <= TARGET_P95_MINUTES and not lost else 1


if __name__ == "__main__":
    sys.exit(main())
