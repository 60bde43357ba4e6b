"""A manual backfill on CeleryExecutor with 1 worker, then with 2 (or as asked): wall time, stages, calls.

    python bench/scaleout_backfill.py [--workers 1,2] [--concurrency 2] [--conversations 600]
                                      [--days 7] [--latency none|realistic|<profile.yaml>]
                                      [--liveperson-slots 16] [--dag manual|probe] [--out PATH] [--json]

Each worker count gets a fresh cluster (tests/scaleout/harness.py: PostgreSQL and Redis on
loopback, fresh database, scheduler, DAG processor, API server, N ``airflow celery worker``
processes, the emulators with the latency profile of ``--latency``). The time measured is from
``POST .../dagRuns`` until the run is ``success``: cluster start-up and DAG parsing are not in
it. Per stage (task id, mapped or not) the task instances give the wall time (first start ->
last end), the summed task time and the hosts they ran on; the emulators count the LivePerson
and Salesforce calls of the run. The table goes to ``bench/results/scaleout-<profile>.md`` (and
everything to the ``.json`` next to it) and is printed; ``--json`` prints one JSON object per
worker count instead. ``--dag probe`` runs the test-only probe DAG (mapped sleeps, no I/O).

On this 2-core machine the workers share the cores with the scheduler, the API server and the
emulators, and ``extract`` is bound by the integration's LivePerson request budget
(``limits.liveperson_requests_per_second``): bench/README.md "Scale-out" says what that means
for the 1 -> 2 worker speed-up and for real deployments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins"), str(REPO / "tests" / "scaleout")]

from bench.common import INTEGRATIONS_FILE, RESULTS, control_session, machine  # noqa: E402
from harness import Cluster, EmulatorOptions, service_unreachable, start_cluster  # noqa: E402

from lesync.config import load_integrations  # noqa: E402
from lesync.emulators.latency import liveperson_route_class  # noqa: E402

PROBE_DAGS = REPO / "tests" / "scaleout" / "dags_probe"
INTEGRATION = "demo"


def seeded_window(summary: dict) -> tuple[str, str]:
    first = min(summary[c]["min_start"] for c in ("chat", "messaging") if summary[c]["total"])
    start = dt.datetime.fromtimestamp(first // 60000 * 60, dt.UTC)
    end = dt.datetime.fromtimestamp(summary["now"] // 60000 * 60, dt.UTC)
    return start.isoformat(), end.isoformat()


# ---- the integration's limits -------------------------------------------------------------------


def integrations_with_limits(overrides: list[str], folder: Path) -> Path:
    """include/integrations.yaml with the demo integration's ``limits`` overridden
    (``liveperson_requests_per_second=10``), written to ``folder``; validated like the real file."""
    data = yaml.safe_load(INTEGRATIONS_FILE.read_text())
    (entry,) = (i for i in data["integrations"] if i["name"] == INTEGRATION)
    (loaded,) = (i for i in load_integrations(INTEGRATIONS_FILE) if i.name == INTEGRATION)
    entry["mapping"] = loaded.mapping  # absolute: the copy is not next to include/mappings/
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--limit {item!r}: write NAME=VALUE, e.g. liveperson_requests_per_second=10")
        entry.setdefault("limits", {})[name.strip()] = yaml.safe_load(value)
    path = folder / "integrations.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    load_integrations(path)  # a bad name or value fails here, naming the field
    return path


def limits_of(path: Path) -> dict[str, Any]:
    (integration,) = (i for i in load_integrations(path) if i.name == INTEGRATION)
    return integration.limits.model_dump()


# ---- what the emulators counted ------------------------------------------------------------------


class EmulatorCalls:
    """The emulators' call counters (``/_emulator/calls``), reset right before the run."""

    def __init__(self, info: dict[str, Any]):
        self.lp_url = info["liveperson"]["domain_api_url"] + "/_emulator/calls"
        self.sf_url = info["salesforce"]["instance_url"] + "/_emulator/calls"
        self.lp = control_session(info["liveperson"]["ca_file"])
        self.sf = control_session(info["salesforce"]["ca_file"])

    def reset(self) -> None:
        self.lp.delete(self.lp_url, timeout=30).raise_for_status()
        self.sf.delete(self.sf_url, timeout=30).raise_for_status()

    def read(self) -> dict[str, Any]:
        """LivePerson calls by route class; Salesforce API calls (token calls apart, as billed)."""
        lp = self.lp.get(self.lp_url, timeout=30).json()["by_endpoint"]
        sf = self.sf.get(self.sf_url, timeout=30).json()["by_endpoint"]
        classes: Counter[str] = Counter()
        for endpoint, count in lp.items():
            classes[liveperson_route_class(endpoint.split(" ", 1)[-1])] += count
        tokens = sum(count for endpoint, count in sf.items() if "/services/oauth2/" in endpoint)
        return {
            "liveperson": sum(lp.values()),
            "liveperson_by_class": dict(classes),
            "salesforce": sum(sf.values()) - tokens,
            "salesforce_tokens": tokens,
            "salesforce_by_endpoint": sf,
        }


def transcripts_in_org(cluster: Cluster) -> int:
    db = cluster.emulator_dir / "salesforce.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute("SELECT COUNT(*) FROM Chat_Transcript__c").fetchone()[0]


# ---- stages from the task instances --------------------------------------------------------------


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def stages(tis: list[dict[str, Any]], triggered: dt.datetime) -> list[dict[str, Any]]:
    """One entry per task id, in the order the stages started: instances, first start and last
    end (seconds after the trigger), wall = last end - first start, summed task seconds, hosts.
    Mapped or not is the same to it, so a stage that becomes mapped needs no change here."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for ti in tis:
        by_task.setdefault(ti["task_id"], []).append(ti)
    found = []
    for task_id, instances in by_task.items():
        starts = [m for m in (_moment(ti.get("start_date")) for ti in instances) if m]
        ends = [m for m in (_moment(ti.get("end_date")) for ti in instances) if m]
        first, last = (min(starts) if starts else None), (max(ends) if ends else None)
        found.append(
            {
                "task_id": task_id,
                "instances": len(instances),
                "mapped": any(ti["map_index"] >= 0 for ti in instances),
                "states": dict(Counter(ti["state"] for ti in instances)),
                "from_s": _seconds(first - triggered) if first else None,
                "to_s": _seconds(last - triggered) if last else None,
                "wall_s": _seconds(last - first) if first and last else None,
                "task_s": round(sum(ti.get("duration") or 0 for ti in instances), 1),
                "queued_s": round(sum(_queued_seconds(ti) for ti in instances), 1),
                "hosts": dict(Counter(ti.get("hostname") or "?" for ti in instances)),
            }
        )
    return sorted(found, key=lambda s: (s["from_s"] is None, s["from_s"] or 0.0))


def _queued_seconds(ti: dict[str, Any]) -> float:
    """Seconds from queued (sent to Celery) to running: the executor's and the worker's overhead."""
    queued, started = _moment(ti.get("queued_when")), _moment(ti.get("start_date"))
    return (started - queued).total_seconds() if queued and started else 0.0


def _seconds(delta: dt.timedelta) -> float:
    return round(delta.total_seconds(), 1)


# ---- one worker count ----------------------------------------------------------------------------


def measure(workers: int, args: argparse.Namespace, integrations: Path) -> dict[str, Any]:
    probe = args.dag == "probe"
    cluster = start_cluster(
        workers=workers,
        concurrency=args.concurrency,
        dags_folder=PROBE_DAGS if probe else REPO / "dags",
        emulators=None
        if probe
        else EmulatorOptions(conversations=args.conversations, days=args.days, latency=args.latency),
        pools={
            f"lesync_{INTEGRATION}_liveperson": args.liveperson_slots,
            f"lesync_{INTEGRATION}_salesforce": args.salesforce_slots,
        },
        extra_env={"LESYNC_INTEGRATIONS_FILE": str(integrations)},
    )
    calls, loaded, seeded = None, None, None
    with cluster:
        if probe:
            dag_id, conf = "lesync_scaleout_probe", {"slices": args.slices, "sleep": args.sleep}
        else:
            seeded = cluster.emulator_info["liveperson"]["summary"]
            start, end = seeded_window(seeded)
            dag_id, conf = f"lesync__{INTEGRATION}__manual", {"start": start, "end": end}
            counter = EmulatorCalls(cluster.emulator_info)
        cluster.wait_for_dag(dag_id)
        if not probe:
            counter.reset()
        load_before = os.getloadavg()
        triggered = dt.datetime.now(dt.UTC)
        began = time.monotonic()
        run_id = cluster.trigger(dag_id, conf)
        state = cluster.wait_for_run(dag_id, run_id, timeout=args.timeout)
        seconds = time.monotonic() - began
        load_after = os.getloadavg()
        tis = cluster.task_instances(dag_id, run_id)
        if not probe:
            calls = counter.read()
            loaded = transcripts_in_org(cluster)
        if state != "success":
            print(cluster.diagnostics(dag_id, run_id), file=sys.stderr)
    mapped = [ti for ti in tis if ti["map_index"] >= 0]
    return {
        "dag_id": dag_id,
        "workers": workers,
        "concurrency": args.concurrency,
        "state": state,
        "seconds": round(seconds, 1),
        "mapped_instances": len(mapped),
        "hosts": dict(Counter(ti["hostname"] for ti in mapped)),
        "stages": stages(tis, triggered),
        "calls": calls,
        "transcripts_in_org": loaded,
        "seeded": seeded,
        "load_average": [round(x, 2) for x in (*load_before[:1], *load_after[:1])],
        "conf": conf,
    }


# ---- the report ----------------------------------------------------------------------------------


def markdown(results: list[dict[str, Any]], args: argparse.Namespace, facts: dict[str, Any]) -> str:
    base = results[0]["seconds"]
    title = (
        f"### Scale-out backfill: `{results[0]['dag_id']}`, {args.conversations:,} conversations over "
        f"{args.days:g} days, latency profile `{args.latency}`"
        if args.dag == "manual"
        else f"### Scale-out: the probe DAG, {args.slices} mapped {args.sleep:g}-second sleeps"
    )
    lines = [
        title,
        "",
        f"Machine: {facts['cpu']}, {facts['cores']} cores, Python {facts['python']}; {facts['date']}. "
        f"Each worker count on a fresh cluster; {args.concurrency} task slots per worker; pools "
        f"`lesync_{INTEGRATION}_liveperson` {args.liveperson_slots} slots, "
        f"`lesync_{INTEGRATION}_salesforce` {args.salesforce_slots}. Wall = trigger -> run success. "
        f"Command: `{facts['command']}`",
        "",
        f"Limits of the `{INTEGRATION}` integration: "
        + ", ".join(f"`{name}` {value:g}" for name, value in facts["limits"].items())
        + ".",
        "",
        "| workers | task slots | wall s | speed-up | state | LivePerson calls (search / by id / other) "
        "| Salesforce calls | transcripts in org | load average (start, end) |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['workers']} | {r['workers'] * r['concurrency']} | {r['seconds']:,.1f} | "
            f"{base / r['seconds']:.2f}x | {r['state']} | {_lp_calls(r['calls'])} | "
            f"{_value(r['calls'] and r['calls']['salesforce'])} | {_value(r['transcripts_in_org'])} | "
            f"{', '.join(f'{x:g}' for x in r['load_average'])} |"
        )
    lines += [
        "",
        "**Stages** (from the task instances: *wall* = first start -> last end, *from* = seconds "
        "after the trigger, *task* = summed task-instance seconds, *queued* = summed seconds from "
        "queued to running)",
        "",
        "| stage | instances | "
        + " | ".join(f"{r['workers']} worker(s): wall (from) / task / queued s" for r in results)
        + " |",
        "|---|---:|" + "---:|" * len(results),
    ]
    for task_id in _stage_order(results):
        cells, counts = [], set()
        for r in results:
            stage = next((s for s in r["stages"] if s["task_id"] == task_id), None)
            counts.add(stage["instances"] if stage else 0)
            cells.append(_stage_cell(stage))
        instances = "/".join(str(n) for n in sorted(counts))
        lines.append(f"| {task_id} | {instances} | " + " | ".join(cells) + " |")
    lines += ["", "**Hosts** (task instances per worker)", "", "| stage | workers | hosts |"]
    lines.append("|---|---:|---|")
    for task_id in _stage_order(results):
        for r in results:
            stage = next((s for s in r["stages"] if s["task_id"] == task_id), None)
            if stage:
                hosts = ", ".join(f"{host} x{n}" for host, n in sorted(stage["hosts"].items()))
                lines.append(f"| {task_id} | {r['workers']} | {hosts} |")
    return "\n".join(lines) + "\n"


def _stage_order(results: list[dict[str, Any]]) -> list[str]:
    order: list[str] = []
    for r in results:
        order += [s["task_id"] for s in r["stages"] if s["task_id"] not in order]
    return order


def _stage_cell(stage: dict[str, Any] | None) -> str:
    if stage is None or stage["wall_s"] is None:
        return "-" if stage is None else f"({', '.join(stage['states'])})"
    seconds = " / ".join(f"{stage[key]:,.1f}" for key in ("task_s", "queued_s"))
    return f"{stage['wall_s']:,.1f} (+{stage['from_s']:,.1f}) / {seconds}"


def _lp_calls(calls: dict[str, Any] | None) -> str:
    if not calls:
        return "-"
    by = calls["liveperson_by_class"]
    other = calls["liveperson"] - by.get("search", 0) - by.get("by_id", 0)
    return f"{calls['liveperson']:,} ({by.get('search', 0):,} / {by.get('by_id', 0):,} / {other:,})"


def _value(number: int | None) -> str:
    return "-" if number is None else f"{number:,}"


def one_line(result: dict[str, Any]) -> str:
    return f"{result['workers']} worker(s): {result['seconds']:.1f} s ({result['state']})"


def default_out(args: argparse.Namespace) -> Path:
    name = "probe" if args.dag == "probe" else Path(args.latency).stem
    return RESULTS / f"scaleout-{name}.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to time")
    parser.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
    parser.add_argument("--dag", choices=("manual", "probe"), default="manual")
    parser.add_argument("--conversations", type=int, default=600, help="seeded conversations (manual)")
    parser.add_argument("--days", type=float, default=7, help="seeded range in days (manual; at most 30)")
    parser.add_argument(
        "--latency",
        default="none",
        help="latency profile of the emulators: none, realistic or a YAML file (bench/README.md)",
    )
    parser.add_argument(
        "--liveperson-slots",
        type=int,
        default=16,
        help="slots of the LivePerson pool (extract); more than every worker slot, so workers decide",
    )
    parser.add_argument(
        "--salesforce-slots",
        type=int,
        default=None,
        help="slots of the Salesforce pool, and limits.salesforce_concurrency with them (as "
        "`python -m lesync pools` makes the pool; the shards fill rounds of it); default: the limit",
    )
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one of the demo integration's limits, e.g. liveperson_requests_per_second=10",
    )
    parser.add_argument("--slices", type=int, default=8, help="mapped instances (probe)")
    parser.add_argument("--sleep", type=float, default=5, help="seconds each probe instance sleeps")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the run")
    parser.add_argument("--out", type=Path, default=None, help="markdown table (default bench/results/...)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per worker count")
    args = parser.parse_args(argv)
    if args.dag == "manual" and args.days > 30:
        parser.error("--days: a manual run covers at most 30 days")
    if reason := service_unreachable():
        print(f"scaleout_backfill: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="lesync-scaleout-bench-") as scratch:
        if args.salesforce_slots is not None:
            args.limit.append(f"salesforce_concurrency={args.salesforce_slots}")
        integrations = integrations_with_limits(args.limit, Path(scratch))
        args.salesforce_slots = limits_of(integrations)["salesforce_concurrency"]
        facts = {
            **machine(),
            "command": "python bench/scaleout_backfill.py " + " ".join(argv or sys.argv[1:]),
            "limits": limits_of(integrations),
        }
        results = []
        for workers in (int(n) for n in args.workers.split(",")):
            results.append(measure(workers, args, integrations))
            print(json.dumps(results[-1]) if args.json else one_line(results[-1]), flush=True)
    table = markdown(results, args, facts)
    out = args.out or default_out(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)
    out.with_suffix(".json").write_text(json.dumps({"machine": facts, "results": results}, indent=1))
    if not args.json:
        print(table)
    return 0 if all(r["state"] == "success" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
