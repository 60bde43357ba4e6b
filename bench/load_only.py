"""The load alone, ours against SalesforceBulkOperator, on rows staged by an earlier bench run.

    python bench/load_only.py ROWS.jsonl.gz [--latency realistic] [--out bench/results/x.json]

Under a latency profile a full ``bench/run.py`` at 100,000 conversations spends half an hour in
the extract (LivePerson pages at 0.5 s each); the load comparison needs only the staged rows.
This runs the same ``load`` and ``bulk1`` stages as ``run.py`` (``bench/stages.py``, each in its
own process, each into its own empty org of one emulator process under the profile) on an
existing rows file, e.g. ``<workdir>/main/staging/.../rows/rows.jsonl.gz``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine  # noqa: E402
from bench.run import Emulators, fmt, run_stage, time_breakdown  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rows", type=Path, help="a staged rows file (gzip JSON lines) of an earlier run")
    parser.add_argument("--latency", default="realistic", help="none, realistic or a YAML profile")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (a .md table next to it)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="lesync-load-only-"))).resolve()
    started = time.monotonic()
    facts = machine()
    emulators = Emulators(workdir, 10, 1.0, ["ours", "bulk1"], args.latency)
    common = {"mode": "field", "linking": False}
    rows_path = str(args.rows.resolve())
    results: dict = {"latency": emulators.info.get("latency"), "rows_path": rows_path}
    try:
        transformed = {"rows_path": rows_path, "rows": 0}
        results["load"] = run_stage(
            "load",
            {
                **common,
                "staging_root": str(workdir / "staging"),
                "salesforce": emulators.sf["ours"],
                "transformed": transformed,
            },
            workdir,
            emulators,
        )
        results["bulk1"] = run_stage(
            "bulk1",
            {
                **common,
                "salesforce": emulators.sf["bulk1"],
                "rows_path": rows_path,
                "max_rows": 0,
                "batch_size": "auto",
            },
            workdir,
            emulators,
        )
    finally:
        emulators.stop()
    report = {
        "command": "python bench/load_only.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": facts,
        "results": results,
        "bench_wall_s": round(time.monotonic() - started, 1),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    table = markdown(report, args.latency)
    print(table)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, default=str))
        args.out.with_suffix(".md").write_text(table)
    return 0


def markdown(report: dict, latency: str) -> str:
    r, m = report["results"], report["machine"]
    ours, op = r["load"], r["bulk1"]
    rows = ours["created"] + ours["updated"] + ours["failed"]
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### lesync load alone: {rows:,} staged rows, latency profile `{latency}`",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, Python "
        f"{m.get('python')}; {when}; load average at the start {m.get('load_average')} and the end "
        f"{report['load_average_end']}. Command: `{report['command']}`",
        "",
        "| contender | wall s | Salesforce calls | peak RSS MB | failed rows |",
        "|---|---:|---:|---:|---:|",
        f"| lesync load_rows ({ours.get('mode')}) | {ours['wall_s']:.2f} | "
        f"{ours['emulator_calls']['ours']:,} | {ours['peak_rss_mb']:,.0f} | {ours['failed']:,} |",
        f"| (b) SalesforceBulkOperator, Bulk API 1.0 | {op['wall_s']:.2f} | "
        f"{op['emulator_calls']['bulk1']:,} | {op['peak_rss_mb']:,.0f} | {op['failed']:,} |",
        "",
        f"**load time, (b) / ours: {fmt(op['wall_s'] / ours['wall_s'], 2)}x**",
        "",
        *time_breakdown(r),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
