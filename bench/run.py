"""lesync benchmark: our pipeline against two baselines and the floor, in one run.

    /path/to/python bench/run.py [--conversations 20000] [--mode field|attachment|both]
                                 [--out bench/results/latest.json] [--skip-baselines]
                                 [--naive-sample 2000] [--sweep 5000,20000,50000]
                                 [--profile extract|transform|load] [--days 3]

Starts the emulators in a separate process (bench/emulator_server.py: one LivePerson account
seeded with N conversations, and one empty Salesforce org per contender), then runs each stage in
its own child process (bench/stages.py) so that peak RSS and CPU time are the stage's alone:

  extract -> transform -> load       our pipeline, the functions the DAG tasks call
  floor                              json-decode the raw records + csv-encode the loaded rows
  naive                              baseline (a): one simple-salesforce upsert per transcript
                                     (+ one ContentVersion insert in attachment/both mode)
  bulk1                              baseline (b): Airflow's SalesforceBulkOperator, Bulk API 1.0

API calls come from the emulators' own counters (GET/DELETE /_emulator/calls). Prints a markdown
table, writes it to bench/results/latest.md (and into bench/README.md between the markers) and
everything measured to the JSON file. bench/README.md explains every column.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, RESULTS, add_paths, control_session, machine, per_10k  # noqa: E402

add_paths()
from lesync.contracts import CHANNELS  # noqa: E402  (a leaf module: the orchestrator stays light)

PYTHON = sys.executable
README = REPO / "bench" / "README.md"
TARGETS = {"sf_calls_vs_naive": 10.0, "speed_vs_naive": 5.0, "floor_ratio": 2.0, "rss_100k_mb": 500.0}
#: Under a latency profile (a real network and service) the load targets are the issue's: >= 50x
#: faster than per-record upserts, and faster than the BulkOperator.
LATENCY_TARGETS = {"speed_vs_naive": 50.0, "speed_vs_bulk1": 1.0}
NAIVE_SAMPLE = {"none": 2_000, "latency": 200}  # per-record calls at ~0.2 s each: sample fewer


def targets(latency: str) -> dict[str, float]:
    return {**TARGETS, **(LATENCY_TARGETS if latency != "none" else {})}


# ---- emulators ---------------------------------------------------------------------------------


class Emulators:
    """bench/emulator_server.py in a child process; call counters and CPU read from outside."""

    def __init__(
        self, workdir: Path, conversations: int, days: float, orgs: list[str], latency: str = "none"
    ):
        self.process = subprocess.Popen(
            [
                PYTHON,
                str(REPO / "bench" / "emulator_server.py"),
                "--data-dir",
                str(workdir / "emulators"),
                "--conversations",
                str(conversations),
                "--days",
                str(days),
                "--orgs",
                ",".join(orgs),
                "--latency",
                latency,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(workdir),
        )
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the emulators did not start (see the error above)")
        self.info = json.loads(line)
        self.lp = self.info["liveperson"]
        self.sf = self.info["salesforce"]
        import psutil

        self.ps = psutil.Process(self.process.pid)
        self._lp_http = control_session(self.lp["ca_file"])
        self._sf_http = {name: control_session(org["ca_file"]) for name, org in self.sf.items()}

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def reset(self) -> None:
        self._lp_http.delete(self.lp["domain_api_url"] + "/_emulator/calls", timeout=30).raise_for_status()
        for name, org in self.sf.items():
            self._sf_http[name].delete(
                org["instance_url"] + "/_emulator/calls", timeout=30
            ).raise_for_status()

    def calls(self) -> dict[str, Any]:
        """Calls since the last reset: LivePerson (all), each org (API calls; token calls apart)."""
        lp = self._lp_http.get(self.lp["domain_api_url"] + "/_emulator/calls", timeout=30).json()
        out: dict[str, Any] = {"liveperson": lp["total"], "liveperson_by_endpoint": lp["by_endpoint"]}
        for name, org in self.sf.items():
            by = (
                self._sf_http[name]
                .get(org["instance_url"] + "/_emulator/calls", timeout=30)
                .json()["by_endpoint"]
            )
            tokens = sum(v for k, v in by.items() if "/services/oauth2/" in k)
            out[name] = sum(by.values()) - tokens
            out[f"{name}_tokens"] = tokens
            out[f"{name}_by_endpoint"] = by
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait(30)


def child_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["AIRFLOW_HOME"] = str(workdir / "airflow")  # no airflow.cfg written into the user's home
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ---- stages ------------------------------------------------------------------------------------


def run_stage(
    stage: str, cfg: dict[str, Any], workdir: Path, emulators: Emulators, profile: Path | None = None
) -> dict[str, Any]:
    """One stage in a child process; adds the emulators' calls and CPU spent meanwhile."""
    config_path = workdir / f"{stage}.config.json"
    result_path = workdir / f"{stage}.result.json"
    config_path.write_text(json.dumps(cfg))
    command = [PYTHON, str(REPO / "bench" / "stages.py"), stage, str(config_path), str(result_path)]
    if profile is not None:
        command += ["--profile", str(profile)]
    emulators.reset()
    cpu_before = emulators.cpu()
    started = time.perf_counter()
    print(f"  {stage} ...", end="", flush=True, file=sys.stderr)
    subprocess.run(command, check=True, env=child_env(workdir))
    result = json.loads(result_path.read_text())
    result["process_wall_s"] = round(time.perf_counter() - started, 2)
    result["emulator_cpu_s"] = round(emulators.cpu() - cpu_before, 2)
    result["emulator_calls"] = emulators.calls()
    print(f" {result['wall_s']:.1f} s", file=sys.stderr, flush=True)
    return result


def seeded_window(summary: dict[str, Any]) -> tuple[str, str, str]:
    """(start, end, now): from the first seeded conversation's start to the emulator's now."""
    first = min(summary[c]["min_start"] for c in CHANNELS if summary[c]["total"])
    start = dt.datetime.fromtimestamp(first // 60000 * 60, dt.UTC)
    now = dt.datetime.fromtimestamp(summary["now"] // 60000 * 60, dt.UTC)
    return start.isoformat(), now.isoformat(), now.isoformat()


def run_pipeline(
    n: int, args: argparse.Namespace, workdir: Path, baselines: bool, profile: str | None
) -> dict[str, Any]:
    """Emulators seeded with ``n``; our three stages, then (optionally) floor and baselines."""
    orgs = ["ours", "naive", "bulk1"] if baselines else ["ours"]
    print(f"lesync bench: N={n:,}, mode {args.mode}, workdir {workdir}", file=sys.stderr, flush=True)
    emulators = Emulators(workdir, n, args.days, orgs, args.latency)
    results: dict[str, Any] = {"conversations_seeded": n, "latency": emulators.info.get("latency")}
    try:
        start, end, now = seeded_window(emulators.lp["summary"])
        results["window"] = [start, end]
        common = {"mode": args.mode, "linking": args.linking == "on"}

        def prof(stage: str) -> Path | None:
            return RESULTS / f"profile-{stage}.txt" if profile == stage else None

        staging = {"staging_root": str(workdir / "staging")}
        results["extract"] = run_stage(
            "extract",
            {**common, **staging, "liveperson": emulators.lp, "start": start, "end": end, "now": now},
            workdir,
            emulators,
            prof("extract"),
        )
        raw_paths = results["extract"]["paths"]
        extracted = results["extract"].pop("extracted")
        if args.sharded:
            results.update(run_shards(extracted, {**common, **staging}, workdir, emulators))
            return results
        results["transform"] = run_stage(
            "transform",
            {**common, **staging, "salesforce": emulators.sf["ours"], "work": extracted},
            workdir,
            emulators,
            prof("transform"),
        )
        transformed = results["transform"].pop("transformed")
        rows_path = transformed["rows_path"].removeprefix("file://")
        results["load"] = run_stage(
            "load",
            {**common, **staging, "salesforce": emulators.sf["ours"], "transformed": transformed},
            workdir,
            emulators,
            prof("load"),
        )
        if baselines:
            results["floor"] = run_stage(
                "floor", {**common, "raw_paths": raw_paths, "rows_path": rows_path}, workdir, emulators
            )
            rows = results["transform"]["rows"]
            if args.naive_sample:
                results["naive"] = run_stage(
                    "naive",
                    {
                        **common,
                        "salesforce": emulators.sf["naive"],
                        "rows_path": rows_path,
                        "sample": min(args.naive_sample, rows),
                    },
                    workdir,
                    emulators,
                )
            if not args.skip_bulk1:
                results["bulk1"] = run_stage(
                    "bulk1",
                    {
                        **common,
                        "salesforce": emulators.sf["bulk1"],
                        "rows_path": rows_path,
                        "max_rows": args.bulk1_max_rows,
                        "batch_size": args.bulk1_batch_size,
                    },
                    workdir,
                    emulators,
                )
    finally:
        emulators.stop()
    return results


def run_shards(
    extracted: list[dict[str, Any]], cfg: dict[str, Any], workdir: Path, emulators: Emulators
) -> dict[str, Any]:
    """As the DAG runs it: the shard task, then each shard's transform and load in its own process
    (a mapped task instance each); ``transform`` and ``load`` add the shards up (peaks: the
    largest), ``per_shard`` keeps each."""
    sf = {**cfg, "salesforce": emulators.sf["ours"]}
    planned = run_stage("shard", {**cfg, "extracted": extracted}, workdir, emulators)
    transforms, loads = [], []
    for work in planned["shards"]:
        transforms.append(run_stage("transform", {**sf, "work": work}, workdir, emulators))
        transformed = transforms[-1].pop("transformed")
        loads.append(run_stage("load", {**sf, "transformed": transformed}, workdir, emulators))
    return {
        "shard": planned,
        "transform": merged_stages(transforms),
        "load": merged_stages(loads),
        "per_shard": [
            {
                "rows": t["rows"],
                "transform_peak_rss_mb": t["peak_rss_mb"],
                "load_peak_rss_mb": ld["peak_rss_mb"],
                "load_salesforce_calls": ld["emulator_calls"]["ours"],
            }
            for t, ld in zip(transforms, loads, strict=True)
        ],
    }


def merged_stages(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of one stage as one: numbers added up, RSS the largest, the rest the first's."""
    merged: dict[str, Any] = {}
    for key, value in results[0].items():
        values = [result.get(key) for result in results]
        if isinstance(value, dict):
            merged[key] = merged_stages([v or {} for v in values])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            numbers = [v for v in values if isinstance(v, int | float)]
            merged[key] = max(numbers) if "rss" in key else round(sum(numbers), 3)
        else:
            merged[key] = value
    return merged


# ---- summary -----------------------------------------------------------------------------------


def summarise(r: dict[str, Any], mode: str, linking: str = "off", latency: str = "none") -> dict[str, Any]:
    """The headline numbers (ratios first) from one run's raw results."""
    ex, tr, ld = r["extract"], r["transform"], r["load"]
    rows = tr["rows"]
    e2e = ex["wall_s"] + tr["wall_s"] + ld["wall_s"]
    lp_calls = ex["emulator_calls"]["liveperson"]
    sf_calls = tr["emulator_calls"]["ours"] + ld["emulator_calls"]["ours"]
    s: dict[str, Any] = {
        "conversations": rows,
        "mode": mode,
        "linking": linking,
        "end_to_end_s": round(e2e, 2),
        "conversations_per_s": round(rows / e2e, 1),
        "liveperson_calls": lp_calls,
        "salesforce_calls": sf_calls,
        "liveperson_calls_per_10k": per_10k(lp_calls, rows),
        "salesforce_calls_per_10k": per_10k(sf_calls, rows),
        "load_salesforce_calls": ld["emulator_calls"]["ours"],
        "peak_rss_mb": max(ex["peak_rss_mb"], tr["peak_rss_mb"], ld["peak_rss_mb"]),
        "load_failed": ld.get("failed", 0),
        "latency": latency,
        "liveperson_call_check": liveperson_call_check(ex),
    }
    if "floor" in r:
        fl = r["floor"]
        floor = fl["decode_wall_s"] + fl["csv_wall_s"]
        ours = tr["transform_files_wall_s"] + fl["our_csv_wall_s"]
        s["floor_s"] = round(floor, 2)
        s["ours_transform_serialize_s"] = round(ours, 2)
        s["floor_ratio"] = round(ours / floor, 2) if floor else None
        floor_cpu = fl["decode_cpu_s"] + fl["csv_cpu_s"]
        ours_cpu = tr["transform_files_cpu_s"] + fl["our_csv_cpu_s"]
        s["floor_ratio_cpu"] = round(ours_cpu / floor_cpu, 2) if floor_cpu else None
    if "naive" in r:
        nv = r["naive"]
        scale = rows / max(nv["sample"], 1)
        naive_calls = nv["emulator_calls"]["naive"] * scale
        naive_s = nv["wall_s"] * scale
        s["naive"] = {
            "sample": nv["sample"],
            "extrapolated": nv["sample"] < rows,
            "wall_s": round(naive_s, 1),
            "salesforce_calls": round(naive_calls),
            "salesforce_calls_per_10k": per_10k(naive_calls, rows),
            "peak_rss_mb": nv["peak_rss_mb"],
            "failed_in_sample": nv.get("failed", 0),
        }
        s["sf_calls_vs_naive"] = round(naive_calls / max(ld["emulator_calls"]["ours"], 1), 1)
        s["speed_vs_naive"] = round(naive_s / ld["wall_s"], 1)
        s["e2e_speed_vs_naive_load"] = round((ex["wall_s"] + tr["wall_s"] + naive_s) / e2e, 1)
    if "bulk1" in r:
        b1 = r["bulk1"]
        scale = rows / max(b1["rows"], 1)
        s["bulk1"] = {
            "rows": b1["rows"],
            "extrapolated": b1["rows"] < rows,
            "wall_s": round(b1["wall_s"] * scale, 1),
            "salesforce_calls": round(b1["emulator_calls"]["bulk1"] * scale),
            "salesforce_calls_per_10k": per_10k(b1["emulator_calls"]["bulk1"], b1["rows"]),
            "peak_rss_mb": b1["peak_rss_mb"],
            "failed": b1["failed"],
            "errors": b1["errors"],
            "payload_xcom_mb": b1["payload_mb"],
            "result_xcom_mb": b1["result_xcom_mb"],
        }
        s["sf_calls_vs_bulk1"] = round(
            s["bulk1"]["salesforce_calls"] / max(ld["emulator_calls"]["ours"], 1), 2
        )
        s["speed_vs_bulk1"] = round(s["bulk1"]["wall_s"] / ld["wall_s"], 2)
    return s


def liveperson_call_check(extract: dict[str, Any]) -> dict[str, Any] | None:
    """LivePerson calls (the emulator's count) against pages + discovery + 1 per partial record.

    Pages are the search pages our client read (its own count: a chat refetched by engagementId
    uses the same endpoint); discovery is the emulator's count of Domain API and token calls;
    partial records are those the client saw with ``isPartial`` (each may cost one call). A total
    above the bound means retries (429, 5xx) or calls that should not be there.
    """
    calls = extract.get("emulator_calls", {})
    by_endpoint = calls.get("liveperson_by_endpoint")
    if by_endpoint is None or "pages" not in extract:
        return None
    discovery = sum(v for k, v in by_endpoint.items() if k.endswith("baseURI.json") or "/sentinel/" in k)
    pages, partial = extract["pages"], extract.get("partial_refetched", 0)
    total = calls.get("liveperson", 0)
    bound = pages + discovery + partial
    return {
        "calls": total,
        "pages": pages,
        "discovery": discovery,
        "partial_records": partial,
        "bound": bound,
        "met": total <= bound,
        "retries": extract.get("retries", 0),
    }


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def check(value: float | None, target: float, above: bool) -> str:
    if value is None:
        return "not measured"
    return "met" if (value >= target if above else value <= target) else "**not met**"


def markdown(report: dict[str, Any]) -> str:
    r, s, m = report["results"], report["summary"], report["machine"]
    n = s["conversations"]
    latency = s.get("latency", "none")
    goal = targets(latency)
    out = [
        f"### lesync benchmark: {n:,} conversations, transcript mode `{s['mode']}`, "
        f"linking {s.get('linking', 'off')}, latency profile `{latency}`",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}; "
        f"{m['date']}; load average at the start {m.get('load_average')} and the end "
        f"{report.get('load_average_end')}. Command: `{report['command']}`",
        "",
        "**Headline (ratios)**",
        "",
        "| measure | value | target | |",
        "|---|---:|---:|---|",
    ]
    if "sf_calls_vs_naive" in s:
        out.append(
            f"| Salesforce calls, baseline (a) / ours (load) | {fmt(s['sf_calls_vs_naive'])}x | >= 10x "
            f"| {check(s['sf_calls_vs_naive'], TARGETS['sf_calls_vs_naive'], True)} |"
        )
        out.append(
            f"| load time, baseline (a) / ours | {fmt(s['speed_vs_naive'])}x "
            f"| >= {goal['speed_vs_naive']:g}x | {check(s['speed_vs_naive'], goal['speed_vs_naive'], True)} |"
        )
    if "sf_calls_vs_bulk1" in s:
        out.append(
            f"| Salesforce calls, baseline (b) / ours (load) | {fmt(s['sf_calls_vs_bulk1'], 2)}x | | |"
        )
        if "speed_vs_bulk1" in goal:
            out.append(
                f"| load time, baseline (b) / ours | {fmt(s['speed_vs_bulk1'], 2)}x | > 1x "
                f"| {'met' if s['speed_vs_bulk1'] > goal['speed_vs_bulk1'] else '**not met**'} |"
            )
        else:
            out.append(f"| load time, baseline (b) / ours | {fmt(s['speed_vs_bulk1'], 2)}x | | |")
        out.append(
            f"| rows (b) failed without failing its task (silently) | {fmt(s['bulk1']['failed'])} | 0 "
            f"| {'met' if not s['bulk1']['failed'] else '**not met** (by the operator)'} |"
        )
        out.append(
            f"| rows our load failed (every one reported, the task fails) | {fmt(s['load_failed'])} | 0 "
            f"| {'met' if not s['load_failed'] else '**not met**'} |"
        )
    lp = s.get("liveperson_call_check")
    if lp:
        out.append(
            f"| LivePerson calls <= pages + discovery + 1 per partial record | {lp['calls']:,} <= "
            f"{lp['pages']:,} + {lp['discovery']:,} + {lp['partial_records']:,} = {lp['bound']:,} | | "
            f"{'met' if lp['met'] else '**not met**'} |"
        )
    if s.get("floor_ratio") is not None:
        out.append(
            f"| (transform + CSV serialisation) / floor, wall | {fmt(s['floor_ratio'], 2)}x "
            f"| <= {TARGETS['floor_ratio']:g}x "
            f"| {check(s['floor_ratio'], TARGETS['floor_ratio'], False)} |"
        )
        out.append(
            f"| (transform + CSV serialisation) / floor, CPU | {fmt(s['floor_ratio_cpu'], 2)}x "
            f"| <= {TARGETS['floor_ratio']:g}x "
            f"| {check(s['floor_ratio_cpu'], TARGETS['floor_ratio'], False)} |"
        )
    rss_note = "at 100k" if n >= 100_000 else f"at {n:,} (target is for 100k)"
    out.append(
        f"| peak RSS of any stage ({rss_note}) | {fmt(s['peak_rss_mb'], 0)} MB | < 500 MB "
        f"| {check(s['peak_rss_mb'], TARGETS['rss_100k_mb'], False)} |"
    )
    out += [
        "",
        f"**Our pipeline** ({fmt(s['conversations_per_s'])} conversations/s end to end; "
        f"{fmt(s['liveperson_calls_per_10k'])} LivePerson and "
        f"{fmt(s['salesforce_calls_per_10k'])} Salesforce "
        "calls per 10,000 conversations)",
        "",
        "| stage | wall s | CPU s | emulator CPU s | conv/s | LivePerson calls | Salesforce calls "
        "| RSS before MB | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for stage in ("extract", "transform", "load"):
        x = r[stage]
        calls = x["emulator_calls"]
        out.append(
            f"| {stage} | {fmt(x['wall_s'], 2)} | {fmt(x['cpu_s'], 2)} | {fmt(x['emulator_cpu_s'], 2)} "
            f"| {fmt(n / x['wall_s'] if x['wall_s'] else None, 0)} | {fmt(calls['liveperson'])} "
            f"| {fmt(calls['ours'])} | {fmt(x['rss_before_mb'], 0)} | {fmt(x['peak_rss_mb'], 0)} |"
        )
    out.append(
        f"| **end to end** | {fmt(s['end_to_end_s'], 2)} | | | {fmt(s['conversations_per_s'], 0)} "
        f"| {fmt(s['liveperson_calls'])} | {fmt(s['salesforce_calls'])} | | {fmt(s['peak_rss_mb'], 0)} |"
    )
    if "naive" in s or "bulk1" in s:
        ld = r["load"]
        out += [
            "",
            "**Load of the same rows: ours against the baselines** (each into an empty org)",
            "",
            "| contender | wall s | Salesforce calls | calls per 10k | peak RSS MB | failed rows | notes |",
            "|---|---:|---:|---:|---:|---:|---|",
            f"| lesync load_rows ({ld.get('mode')}) | {fmt(ld['wall_s'], 2)} "
            f"| {fmt(ld['emulator_calls']['ours'])} "
            f"| {fmt(per_10k(ld['emulator_calls']['ours'], n))} | {fmt(ld['peak_rss_mb'], 0)} "
            f"| {fmt(ld.get('failed', 0))} | run |",
        ]
        if "naive" in s:
            nv = s["naive"]
            note = f"extrapolated from n={nv['sample']:,}" if nv["extrapolated"] else "run"
            out.append(
                f"| (a) per-record simple-salesforce upsert"
                f"{' + file insert' if s['mode'] != 'field' else ''} "
                f"| {fmt(nv['wall_s'], 1)} | {fmt(nv['salesforce_calls'])} "
                f"| {fmt(nv['salesforce_calls_per_10k'])} "
                f"| {fmt(nv['peak_rss_mb'], 0)} | {fmt(nv['failed_in_sample'])} (in sample) | {note} |"
            )
        if "bulk1" in s:
            b1 = s["bulk1"]
            note = f"extrapolated from n={b1['rows']:,}" if b1["extrapolated"] else "run"
            files = "; no transcript files (the operator cannot)" if s["mode"] != "field" else ""
            out.append(
                f"| (b) SalesforceBulkOperator, Bulk API 1.0 | {fmt(b1['wall_s'], 1)} "
                f"| {fmt(b1['salesforce_calls'])} "
                f"| {fmt(b1['salesforce_calls_per_10k'])} | {fmt(b1['peak_rss_mb'], 0)} "
                f"| {fmt(b1['failed'])} "
                f"| {note}; payload through XCom {fmt(b1['payload_xcom_mb'])} MB, result to XCom "
                f"{fmt(b1['result_xcom_mb'])} MB{files} |"
            )
    out += time_breakdown(r)
    if "floor" in r:
        fl, tr = r["floor"], r["transform"]
        out += [
            "",
            "**The floor** (wall seconds; CPU in brackets)",
            "",
            "| work | s |",
            "|---|---:|",
            f"| json-decode the {fl['raw_records']:,} staged raw records (gunzip + json.loads) "
            f"| {fmt(fl['decode_wall_s'], 2)} ({fmt(fl['decode_cpu_s'], 2)}) |",
            f"| csv-encode the {fl['rows']:,} loaded rows ({fl['columns']} columns, {fmt(fl['csv_mb'])} MB) "
            f"| {fmt(fl['csv_wall_s'], 2)} ({fmt(fl['csv_cpu_s'], 2)}) |",
            f"| **floor** | **{fmt(s['floor_s'], 2)}** |",
            f"| our transform_files (2 passes over raw, map, rows as gzip JSON lines) "
            f"| {fmt(tr['transform_files_wall_s'], 2)} ({fmt(tr['transform_files_cpu_s'], 2)}) |",
            f"| our CSV serialisation (BulkUpload.add, spooled) "
            f"| {fmt(fl['our_csv_wall_s'], 2)} ({fmt(fl['our_csv_cpu_s'], 2)}) |",
            f"| **ratio (ours / floor)** | **{fmt(s['floor_ratio'], 2)}x** |",
        ]
    if report.get("sweep"):
        out += [
            "",
            "**Peak RSS as N grows** (MB; each stage in its own process; RSS after imports in brackets)",
            "",
            "| N | extract | shard (shards) | transform | load | conv/s end to end |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for point in report["sweep"]:
            shard = f"{fmt(point['shard'], 0)} ({point['shards']})" if "shard" in point else "-"
            out.append(
                f"| {point['n']:,} | {fmt(point['extract'], 0)} ({fmt(point['extract_before'], 0)}) "
                f"| {shard} | {fmt(point['transform'], 0)} ({fmt(point['transform_before'], 0)}) "
                f"| {fmt(point['load'], 0)} ({fmt(point['load_before'], 0)}) "
                f"| {fmt(point['conv_per_s'], 0)} |"
            )
    return "\n".join(out) + "\n"


def time_breakdown(r: dict[str, Any]) -> list[str]:
    """Where each contender's load time went: HTTP by Salesforce route class, the client's sleeps."""
    contenders = (("load", "lesync load_rows"), ("naive", "(a) naive, the sample"), ("bulk1", "(b) operator"))
    rows = []
    for key, label in contenders:
        stage = r.get(key) or {}
        trace = stage.get("http_trace")
        if not trace:
            continue
        ranked = sorted(trace["by_class"].items(), key=lambda item: -item[1]["s"])
        classes = ", ".join(f"{name} {v['calls']:,} calls {v['s']:.1f} s" for name, v in ranked)
        rest = stage["wall_s"] - trace["http_s"] - trace["slept_s"]
        rows.append(
            f"| {label} | {stage['wall_s']:.1f} | {trace['http_s']:.1f} | {classes} "
            f"| {trace['slept_s']:.1f} ({trace['sleeps']}) | {rest:.1f} |"
        )
    if not rows:
        return []
    return [
        "",
        "**Where the load time goes** (seconds in HTTP calls by route class, in the client's own "
        "sleeps (job polls, backoff: ours only; simple-salesforce's are in the rest), and the rest: "
        "CPU and streamed downloads)",
        "",
        "| contender | wall s | HTTP s | by route class | slept s (sleeps) | rest s |",
        "|---|---:|---:|---|---:|---:|",
        *rows,
    ]


def sweep_point(results: dict[str, Any]) -> dict[str, Any]:
    point = {"n": results["transform"]["rows"]}
    if "shard" in results:
        point["shard"] = results["shard"]["peak_rss_mb"]
        point["shards"] = len(results["per_shard"])
    for stage in ("extract", "transform", "load"):
        point[stage] = results[stage]["peak_rss_mb"]
        point[f"{stage}_before"] = results[stage]["rss_before_mb"]
    e2e = sum(results[stage]["wall_s"] for stage in ("extract", "transform", "load"))
    point["conv_per_s"] = round(point["n"] / e2e, 1)
    return point


def update_readme(table: str, name: str = "latest", readme: Path = README) -> None:
    """Put ``table`` between ``<!-- results:NAME:start/end -->`` in the README (appended if absent)."""
    if not readme.exists():
        return
    start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
    text = readme.read_text()
    block = f"{start}\n{table}{end}"
    if start in text and end in text:
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    readme.write_text(text)


def render(path: Path, no_readme: bool) -> int:
    """Rebuild the markdown of a results JSON (after a change to the table layout)."""
    report = json.loads(path.read_text())
    if report.get("sweep"):
        main_point = sweep_point(report["results"])
        if all(p["n"] != main_point["n"] for p in report["sweep"]):
            report["sweep"] = sorted([*report["sweep"], main_point], key=lambda p: p["n"])
    table = markdown(report)
    print(table)
    path.write_text(json.dumps(report, indent=1, default=str))
    path.with_suffix(".md").write_text(table)
    if not no_readme and path.resolve().parent == RESULTS.resolve():
        update_readme(table, path.stem)
    return 0


def latency_name(spec: str) -> str:
    """``none``, ``realistic`` or a YAML profile's file stem (names the results file too)."""
    return spec if spec in ("none", "realistic") else Path(spec).stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=20_000, help="seeded conversations (N)")
    parser.add_argument(
        "--mode",
        choices=("field", "attachment", "both"),
        default="field",
        help="transcript mode: the field, a file, or both",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON results file (default bench/results/latest.json, latest-realistic.json under "
        "--latency realistic); under bench/results/ its table also goes into bench/README.md",
    )
    parser.add_argument(
        "--latency",
        default="none",
        help="latency profile of the emulators: none (loopback), realistic (a real network and "
        "service; see bench/README.md) or a YAML profile",
    )
    parser.add_argument("--skip-baselines", action="store_true", help="only our pipeline (no floor, no a/b)")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=None,
        help="rows baseline (a) really sends; the rest is extrapolated linearly (0: skip; default "
        "2,000, or 200 under a latency profile)",
    )
    parser.add_argument("--skip-bulk1", action="store_true", help="no baseline (b)")
    parser.add_argument(
        "--bulk1-max-rows",
        type=int,
        default=0,
        help="rows given to baseline (b) (0: all); fewer are extrapolated",
    )
    parser.add_argument(
        "--bulk1-batch-size",
        default="auto",
        help="the operator's batch_size: 'auto' (fits Bulk 1.0's limits) or a number "
        "(its default 10000 makes batches over 10,000,000 characters, which fail whole)",
    )
    parser.add_argument(
        "--sweep", default="", help="also run our pipeline alone at these N, e.g. 5000,20000,50000"
    )
    parser.add_argument(
        "--sharded",
        action="store_true",
        help="run our pipeline as the DAG does: a shard stage, then transform and load per shard of "
        "limits.shard_rows, each in its own process (with --skip-baselines)",
    )
    parser.add_argument(
        "--profile",
        choices=("extract", "transform", "load"),
        default=None,
        help="cProfile this stage (its times then include the profiler's overhead)",
    )
    parser.add_argument(
        "--linking",
        choices=("on", "off"),
        default="off",
        help="Contact/Lead linking in our load (off: the baselines do not link either)",
    )
    parser.add_argument("--days", type=float, default=3.0, help="the seeded conversations span these days")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a new temp dir)")
    parser.add_argument("--no-readme", action="store_true", help="do not update bench/README.md")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        help="only re-render the table of an earlier JSON results file (no run)",
    )
    args = parser.parse_args(argv)
    if args.sharded and not args.skip_baselines:
        parser.error("--sharded compares shards with one shard: give --skip-baselines too")
    latency = latency_name(args.latency)
    if args.naive_sample is None:
        args.naive_sample = NAIVE_SAMPLE["none" if latency == "none" else "latency"]
    if args.out is None:
        args.out = RESULTS / ("latest.json" if latency == "none" else f"latest-{latency}.json")

    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.render:
        return render(args.render, args.no_readme)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="lesync-bench-"))).resolve()
    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    started = time.monotonic()
    machine_facts = machine()
    results = run_pipeline(args.conversations, args, workdir / "main", not args.skip_baselines, args.profile)
    report: dict[str, Any] = {
        "command": command.strip(),
        "machine": machine_facts,
        "results": results,
        "summary": summarise(results, args.mode, args.linking, latency_name(args.latency)),
    }
    if args.sweep:
        points = [sweep_point(results)]  # the main run is one point of the sweep
        for n in (int(x) for x in args.sweep.split(",") if x.strip()):
            if n == args.conversations:
                continue
            points.append(sweep_point(run_pipeline(n, args, workdir / f"sweep-{n}", False, None)))
        points.sort(key=lambda p: p["n"])
        report["sweep"] = points
    report["bench_wall_s"] = round(time.monotonic() - started, 1)
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    table = markdown(report)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    md_path = args.out.with_suffix(".md")
    md_path.write_text(table)
    if args.profile and (RESULTS / f"profile-{args.profile}.txt").exists():
        print((RESULTS / f"profile-{args.profile}.txt").read_text()[:6000])
    if not args.no_readme and args.out.resolve().parent == RESULTS.resolve():
        update_readme(table, args.out.stem)
    print(f"wrote {args.out} and {md_path} ({report['bench_wall_s']} s in all)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
