"""Wall time of one manual backfill on CeleryExecutor with 1 worker, then with 2 (or as asked).

    python bench/scaleout_backfill.py [--workers 1,2] [--concurrency 2] [--conversations 600]
                                      [--days 7] [--dag manual|probe] [--json]

Each worker count gets a fresh cluster (tests/scaleout/harness.py: PostgreSQL and Redis on
loopback, fresh database, scheduler, DAG processor, API server, N ``airflow celery worker``
processes, the emulators). The time measured is from ``POST .../dagRuns`` until the run is
``success``: cluster start-up and DAG parsing are not in it. ``--dag probe`` runs the test-only
probe DAG (mapped sleeps, no I/O) instead of ``lesync__demo__manual``.

On a 2-core machine expect little gain for the real DAG: the workers share the same 2 cores
with the scheduler, the API server and the emulators, and ``extract`` is capped per run by the
integration's ``limits.liveperson_concurrency``. The numbers that matter come from real
deployments, where workers are separate machines and the APIs are remote.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "scaleout"))

from harness import REPO, EmulatorOptions, service_unreachable, start_cluster  # noqa: E402

PROBE_DAGS = REPO / "tests" / "scaleout" / "dags_probe"


def seeded_window(summary: dict) -> tuple[str, str]:
    first = min(summary[c]["min_start"] for c in ("chat", "messaging") if summary[c]["total"])
    start = dt.datetime.fromtimestamp(first // 60000 * 60, dt.UTC)
    end = dt.datetime.fromtimestamp(summary["now"] // 60000 * 60, dt.UTC)
    return start.isoformat(), end.isoformat()


def measure(workers: int, args: argparse.Namespace) -> dict:
    probe = args.dag == "probe"
    cluster = start_cluster(
        workers=workers,
        concurrency=args.concurrency,
        dags_folder=PROBE_DAGS if probe else REPO / "dags",
        emulators=None if probe else EmulatorOptions(conversations=args.conversations, days=args.days),
        pools={"lesync_demo_liveperson": 16, "lesync_demo_salesforce": 2},
    )
    with cluster:
        if probe:
            dag_id, conf = "lesync_scaleout_probe", {"slices": args.slices, "sleep": args.sleep}
        else:
            start, end = seeded_window(cluster.emulator_info["liveperson"]["summary"])
            dag_id, conf = "lesync__demo__manual", {"start": start, "end": end}
        cluster.wait_for_dag(dag_id)
        began = time.monotonic()
        run_id = cluster.trigger(dag_id, conf)
        state = cluster.wait_for_run(dag_id, run_id, timeout=args.timeout)
        seconds = time.monotonic() - began
        tis = cluster.task_instances(dag_id, run_id)
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
        "conf": conf,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to time")
    parser.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
    parser.add_argument("--dag", choices=("manual", "probe"), default="manual")
    parser.add_argument("--conversations", type=int, default=600, help="seeded conversations (manual)")
    parser.add_argument("--days", type=float, default=7, help="seeded range in days (manual)")
    parser.add_argument("--slices", type=int, default=8, help="mapped instances (probe)")
    parser.add_argument("--sleep", type=float, default=5, help="seconds each probe instance sleeps")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the run")
    parser.add_argument("--json", action="store_true", help="print one JSON object per worker count")
    args = parser.parse_args(argv)
    if reason := service_unreachable():
        print(f"scaleout_backfill: {reason}", file=sys.stderr)
        return 2
    failed = False
    for workers in (int(n) for n in args.workers.split(",")):
        result = measure(workers, args)
        failed |= result["state"] != "success"
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(
                f"{result['dag_id']}: {workers} worker(s) x {args.concurrency} slots: "
                f"{result['seconds']:.1f} s "
                f"({result['state']}, {result['mapped_instances']} mapped instances on {result['hosts']})",
                flush=True,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
