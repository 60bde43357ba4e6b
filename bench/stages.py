"""One benchmark stage in its own process, so its peak RSS and CPU time are its own.

    python bench/stages.py STAGE CONFIG.json RESULT.json [--profile OUT.txt]

STAGE is ``extract``, ``transform``, ``load`` (our pipeline: the DAG task functions of
lesync/pipeline/tasks.py, given clients built from the emulators' settings), ``floor``
(json-decode the staged raw records and csv-encode the loaded rows, plus our own CSV
serialisation for comparison), ``naive``
(baseline (a)) or ``bulk1`` (baseline (b), Airflow's SalesforceBulkOperator). bench/run.py calls
this; it is not meant to be run by hand, but it can be (CONFIG is a JSON object, see run.py).

Every stage reports ``wall_s`` and ``cpu_s`` of the work itself (imports and client set-up
excluded unless said), ``rss_before_mb`` (after imports, before the work) and ``peak_rss_mb``
(``ru_maxrss`` of this process: the true peak, imports included).
"""

from __future__ import annotations

import base64
import contextlib
import cProfile
import csv
import gzip
import io
import json
import logging
import os
import pstats
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import MB, add_paths, control_session, integration, liveperson_settings, salesforce_settings  # noqa: E402

add_paths()

CHUNK = 2_000  # rows encoded per timed chunk (floor and our CSV)


def local(path: str) -> str:
    """A staged path as a local file name (staging hands out ``file://`` URLs)."""
    return path.removeprefix("file://")


class Timer:
    """Accumulates wall and CPU seconds over any number of ``with timer:`` blocks."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}wall_s": round(self.wall, 3), f"{prefix}cpu_s": round(self.cpu, 3)}


# ---- our pipeline ------------------------------------------------------------------------------
# The stages call the DAG task functions themselves (lesync/pipeline/tasks.py) with a client built
# from the emulator's settings, so the benchmark measures exactly what a DAG run does.

RUN_ID = "bench"


def _integration(cfg: dict[str, Any]):
    return integration(cfg["mode"], cfg.get("linking", False), cfg["staging_root"])


@contextlib.contextmanager
def timed(module: Any, name: str, timer: Timer):
    """Time every call of ``module.name`` (a function a task imports when it runs) into ``timer``."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with timer:
            return original(*args, **kwargs)

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def stage_extract(cfg: dict[str, Any], timer: Timer) -> dict[str, Any]:
    """tasks.plan + tasks.extract: one LivePerson client per unit (each mapped task has its own)."""
    import datetime as dt

    from lesync.liveperson import LivePersonClient
    from lesync.pipeline import tasks

    integ = _integration(cfg)
    now = dt.datetime.fromisoformat(cfg["now"])
    settings = liveperson_settings(cfg["liveperson"])
    with timer:
        units = tasks.plan(integ, "manual", {"start": cfg["start"], "end": cfg["end"]}, None, now=now)
        reports = []
        for unit in units:
            with LivePersonClient(settings) as client:
                reports.append(tasks.extract(integ, unit, RUN_ID, client=client))
    return {
        "units": len(units),
        "extracted": reports,
        "records": sum(r["records"] for r in reports),
        "paths": [p for r in reports for p in r["paths"]],
        "client_calls": sum(r["calls"] for r in reports),
        "pages": sum(r["pages"] for r in reports),
        "retries": sum(r["retries"] for r in reports),
        "partial_refetched": sum(r["partial_refetched"] for r in reports),
        "raw_bytes": sum(os.path.getsize(local(p)) for r in reports for p in r["paths"]),
    }


def stage_shard(cfg: dict[str, Any], timer: Timer) -> dict[str, Any]:
    """tasks.shard: the newest copy of each conversation for the run, shards of limits.shard_rows."""
    from lesync.pipeline import tasks

    with timer:
        planned = tasks.shard(_integration(cfg), cfg["extracted"], RUN_ID)
    return {"shards": planned, "rows": sum(one["rows"] for one in planned)}


def stage_transform(cfg: dict[str, Any], timer: Timer) -> dict[str, Any]:
    """tasks.transform of one shard, or of the whole run (given the extract results): the org's
    describe for field limits, then the dedupe (``plan_shards``, when the whole run) and
    ``transform_shard``, timed alone too as ``transform_files_*`` (what one call did before shards)."""
    import lesync.pipeline.shards
    import lesync.pipeline.transform
    from lesync.pipeline import tasks
    from lesync.salesforce import build_client

    integ = _integration(cfg)
    client = build_client(salesforce_settings(cfg["salesforce"]))
    only = Timer()
    with (
        timer,
        timed(lesync.pipeline.transform, "transform_shard", only),
        timed(lesync.pipeline.shards, "plan_shards", only),
    ):
        transformed = tasks.transform(integ, cfg["work"], RUN_ID, client=client)
    return {
        **transformed,
        "transformed": transformed,  # the load stage's input, as XCom would carry it
        "rows_bytes": os.path.getsize(local(transformed["rows_path"])),
        **only.as_dict("transform_files_"),
    }


def stage_load(cfg: dict[str, Any], timer: Timer) -> dict[str, Any]:
    """tasks.load: load_rows with the integration's load options."""
    from bench.http_trace import HttpTrace

    from lesync.pipeline import tasks
    from lesync.salesforce import build_client

    integ = _integration(cfg)
    trace = HttpTrace()
    client = build_client(salesforce_settings(cfg["salesforce"]), sleep=trace.sleep)
    with timer, trace:
        result = tasks.load(integ, cfg["transformed"], RUN_ID, client=client)
    result["http_trace"] = trace.as_dict()
    return result


# ---- the floor ---------------------------------------------------------------------------------


def _records(rows_path: str, mode: str):
    """The records our load sends for each row (same function), in file order."""
    from lesync.pipeline.load import record_for
    from lesync.pipeline.staging import read_jsonl_gz
    from lesync.pipeline.tasks import load_options

    options = load_options(integration(mode))
    for row in read_jsonl_gz(rows_path):
        if not row.get("errors"):
            yield row, record_for(row, options)


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def stage_floor(cfg: dict[str, Any], timer: Timer) -> dict[str, Any]:
    """json-decode every staged raw record; csv-encode the loaded rows; our CSV writer for comparison.

    The floor is what any pipeline must pay at least: reading the raw records (gunzip + json) and
    writing the rows as CSV bytes (``csv`` module). Only the encoding is timed for the CSV parts
    (rows are read untimed, in chunks of 2,000).
    """
    from lesync.pipeline.tasks import load_options
    from lesync.salesforce.upsert import BulkUpload, csv_value

    decode = Timer()
    records = 0
    with decode:
        for path in cfg["raw_paths"]:
            with gzip.open(local(path), "rt", encoding="utf-8") as lines:
                for line in lines:
                    if line.strip():
                        json.loads(line)
                        records += 1
    key = load_options(integration(cfg["mode"])).upsert.external_id_field
    names: set[str] = set()
    rows = 0
    for _, record in _records(cfg["rows_path"], cfg["mode"]):
        names.update(record)
        rows += 1
    header = [key, *sorted(names - {key})]
    floor_csv, ours_csv = Timer(), Timer()
    floor_bytes = 0
    upload = BulkUpload(header, key)
    for chunk in _chunks((record for _, record in _records(cfg["rows_path"], cfg["mode"])), CHUNK):
        with floor_csv:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(header)
            for record in chunk:
                writer.writerow([csv_value(record.get(name)) for name in header])
            floor_bytes += len(buffer.getvalue().encode("utf-8"))
        with ours_csv:
            for record in chunk:
                upload.add(record)
    our_bytes = upload.size
    upload.close()
    timer.wall, timer.cpu = decode.wall + floor_csv.wall, decode.cpu + floor_csv.cpu
    return {
        "raw_records": records,
        "rows": rows,
        "columns": len(header),
        **decode.as_dict("decode_"),
        **floor_csv.as_dict("csv_"),
        **ours_csv.as_dict("our_csv_"),
        "csv_mb": round(floor_bytes / MB, 1),
        "our_csv_mb": round(our_bytes / MB, 1),
    }


# ---- baseline (a): one REST call per record ----------------------------------------------------


def _token(info: dict[str, Any]) -> str:
    session = control_session(info["ca_file"])
    response = session.post(
        info["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def stage_naive(cfg: dict[str, Any], timer: Timer) -> dict[str, Any]:
    """What people write first: per transcript one simple-salesforce upsert (+ one file insert)."""
    from simple_salesforce import Salesforce
    from simple_salesforce.exceptions import SalesforceError

    info, mode = cfg["salesforce"], cfg["mode"]
    sf = Salesforce(
        instance_url=info["instance_url"],
        session_id=_token(info),
        version=info["api_version"],
        session=control_session(info["ca_file"]),
    )
    key = "LP_Conversation_Id__c"
    sample = []
    for row, record in _records(cfg["rows_path"], mode):
        sample.append((row, record))
        if len(sample) == cfg["sample"]:
            break
    from bench.http_trace import HttpTrace

    outcomes: Counter = Counter()
    errors: Counter = Counter()
    calls = 0
    trace = HttpTrace()
    with timer, trace:
        for row, record in sample:
            fields = {k: v for k, v in record.items() if k != key}
            try:
                calls += 1
                response = sf.Chat_Transcript__c.upsert(f"{key}/{record[key]}", fields, raw_response=True)
            except SalesforceError as exc:
                outcomes["failed"] += 1
                content = exc.content[0] if isinstance(exc.content, list) and exc.content else {}
                errors[content.get("errorCode", str(exc.status))] += 1
                continue
            outcomes["created" if response.status_code == 201 else "updated"] += 1
            spec = row.get("transcript_file")
            if mode != "field" and spec and response.status_code == 201:
                data = str(spec.get("content") or "").encode("utf-8")
                calls += 1
                try:
                    sf.ContentVersion.create(
                        {
                            "Title": spec["title"],
                            "PathOnClient": spec["path_on_client"],
                            "VersionData": base64.b64encode(data).decode("ascii"),
                            "FirstPublishLocationId": response.json()["id"],
                        }
                    )
                    outcomes["files"] += 1
                except SalesforceError:
                    outcomes["files_failed"] += 1
    return {
        "sample": len(sample),
        "client_calls": calls,
        **outcomes,
        "errors": dict(errors),
        "http_trace": trace.as_dict(),
    }


# ---- baseline (b): Airflow's SalesforceBulkOperator (Bulk API 1.0) ------------------------------


def stage_bulk1(cfg: dict[str, Any], timer: Timer) -> dict[str, Any]:
    """SalesforceBulkOperator(operation="upsert") with the same records, as one payload list.

    The operator's hook builds simple-salesforce from an Airflow connection (here an
    ``AIRFLOW_CONN_BENCH_BULK1`` environment variable with the instance URL) plus the hook's
    ``session_id`` (its "Direct Session" option) and ``session`` (trusting the emulator's CA);
    the operator creates the hook without them, so the bench supplies them as defaults.
    """
    from airflow.providers.salesforce.hooks.salesforce import SalesforceHook
    from airflow.providers.salesforce.operators.bulk import SalesforceBulkOperator

    info, mode = cfg["salesforce"], cfg["mode"]
    os.environ["AIRFLOW_CONN_BENCH_BULK1"] = json.dumps(
        {
            "conn_type": "salesforce",
            "extra": {"instance_url": info["instance_url"], "version": info["api_version"]},
        }
    )
    token, http = _token(info), control_session(info["ca_file"])
    original_init = SalesforceHook.__init__

    def init(self, salesforce_conn_id="salesforce_default", session_id=None, session=None):
        original_init(self, salesforce_conn_id, session_id=session_id or token, session=session or http)

    SalesforceHook.__init__ = init  # type: ignore[method-assign]
    payload = []
    for _, record in _records(cfg["rows_path"], mode):
        payload.append(record)
        if cfg.get("max_rows") and len(payload) == cfg["max_rows"]:
            break
    payload_bytes = len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    # The operator's default batch_size (10,000) makes batches of ~30 MB of transcripts, over Bulk
    # API 1.0's 10,000,000 characters per batch: every batch fails whole. "auto" (passed through to
    # simple-salesforce) sizes batches under both limits: the fair configuration.
    size = cfg.get("batch_size", "auto")
    batch_size = size if size == "auto" else int(size)
    from bench.http_trace import HttpTrace

    trace = HttpTrace()
    with timer, trace:
        operator = SalesforceBulkOperator(
            task_id="bulk1_baseline",
            operation="upsert",
            object_name="Chat_Transcript__c",
            payload=payload,
            external_id_field="LP_Conversation_Id__c",
            salesforce_conn_id="bench_bulk1",
            batch_size=batch_size,
        )
        result = operator.execute(context={}) or []
    result_bytes = len(json.dumps(result, default=str).encode("utf-8"))
    failed = [r for r in result if not r.get("success")]
    codes = Counter((r.get("errors") or [{}])[0].get("statusCode", "?") for r in failed)
    return {
        "rows": len(payload),
        "batch_size": batch_size,
        "results": len(result),
        "created": sum(1 for r in result if r.get("success") and r.get("created")),
        "failed": len(failed),
        "errors": dict(codes),
        "payload_mb": round(payload_bytes / MB, 1),
        "result_xcom_mb": round(result_bytes / MB, 1),
        "http_trace": trace.as_dict(),
    }


PIPELINE_MODULES = (
    "lesync.pipeline.tasks",
    "lesync.pipeline.staging",
    "lesync.pipeline.extract",
    "lesync.pipeline.transform",
    "lesync.pipeline.load",
    "lesync.liveperson",
    "lesync.salesforce",
    "lesync.mapping",
    "lesync.config",
)
PREIMPORT = {
    "extract": PIPELINE_MODULES,
    "shard": PIPELINE_MODULES,
    "transform": PIPELINE_MODULES,
    "load": PIPELINE_MODULES,
    "floor": PIPELINE_MODULES,
    "naive": (*PIPELINE_MODULES, "simple_salesforce"),
    "bulk1": (
        *PIPELINE_MODULES,
        "airflow.providers.salesforce.operators.bulk",
        "airflow.providers.salesforce.hooks.salesforce",
    ),
}

#: The stages that run DAG task functions. Airflow's task runner loads the plugins before a task's
#: function starts (``get_template_context`` -> ``integrate_macros_plugins``); outside it, the first
#: read of a staged file does (ObjectStoragePath's lineage hook asks for the plugins), inside the
#: stage's timer. Loaded first, like the other imports, so the timer holds the task's own work.
TASK_STAGES = frozenset({"extract", "shard", "transform", "load"})


def load_plugins_as_the_task_runner_does() -> None:
    from airflow.sdk.plugins_manager import integrate_macros_plugins

    integrate_macros_plugins()


STAGES = {
    "extract": stage_extract,
    "shard": stage_shard,
    "transform": stage_transform,
    "load": stage_load,
    "floor": stage_floor,
    "naive": stage_naive,
    "bulk1": stage_bulk1,
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    profile_out = None
    if "--profile" in args:
        at = args.index("--profile")
        profile_out = args[at + 1]
        del args[at : at + 2]
    stage, config_path, result_path = args
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("lesync").setLevel(logging.WARNING)  # per-stage info lines; warnings stay
    cfg = json.loads(Path(config_path).read_text())
    import importlib

    import psutil

    for module in PREIMPORT.get(stage, ()):  # imports are not the stage's memory: RSS before counts them
        importlib.import_module(module)
    if stage in TASK_STAGES:
        load_plugins_as_the_task_runner_does()
    rss_before = psutil.Process().memory_info().rss
    timer = Timer()
    profiler = cProfile.Profile() if profile_out else None
    with profiler or contextlib.nullcontext():
        result = STAGES[stage](cfg, timer)
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(15)
        tottime = io.StringIO()
        pstats.Stats(profiler, stream=tottime).sort_stats("tottime").print_stats(15)
        Path(profile_out).write_text(
            f"# cProfile of stage {stage}: top 15 by cumulative time\n{text.getvalue()}\n"
            f"# top 15 by own time\n{tottime.getvalue()}"
        )
        profiler.dump_stats(str(Path(profile_out).with_suffix(".prof")))
    result.update(timer.as_dict())
    result["rss_before_mb"] = round(rss_before / MB, 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["profiled"] = profiler is not None
    Path(result_path).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
