"""Salesforce calls and memory of the load stage, against the emulator in a separate process.

    python bench/load_calls.py [--rows 10000] [--memory-rows 100000]

Calls are read from the emulator's own counter (``/_emulator/calls``), not from the client's
bookkeeping. Memory is the loading process's peak RSS (psutil, sampled) and tracemalloc peak;
the emulator runs in another process so its SQLite and CSV parsing do not count.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from lesync.pipeline.load import LoadOptions, load_rows  # noqa: E402
from lesync.pipeline.staging import JsonlGzWriter  # noqa: E402
from lesync.salesforce import SalesforceConnectionSettings, TranscriptMode, build_client  # noqa: E402


def serve(data_dir: str, queue, stop) -> None:
    from lesync.emulators.salesforce import start_salesforce

    emu = start_salesforce(data_dir=Path(data_dir))
    queue.put(emu.connection_info())
    stop.wait()
    emu.stop()


def write_rows(path: Path, count: int, prefix: str) -> None:
    line = (
        'Agent: Thank you for contacting us, how can I help?\nVisitor: Order #{n} has not arrived, "again".\n'
    )
    with JsonlGzWriter(path) as writer:
        for n in range(count):
            cid = f"{prefix}-{n:07d}"
            transcript = line.format(n=n) * (20 + n % 30)  # ~2-6 KB
            fields = {
                "LP_Conversation_Id__c": cid,
                "SDK_API_Type__c": "Messaging",
                "Status__c": "Closed",
                "Agent_Name__c": f"Agent {n % 50}",
                "Skill_Name__c": "Billing",
                "Visitor_Name__c": f"Visitor {n}",
                "Start_Time__c": "2026-11-20T10:00:00.000Z",
                "Duration_Seconds__c": float(n % 900),
                "Transcript__c": transcript,
            }
            writer.write(
                {
                    "conversation_id": cid,
                    "channel": "messaging",
                    "status": "closed",
                    "fields": fields,
                    "transcript_file": {
                        "title": f"Transcript {cid}",
                        "path_on_client": f"{cid}.txt",
                        "content": transcript,
                    },
                    "errors": [],
                }
            )


class PeakRss:
    """Samples this process's RSS every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--memory-rows", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lesync-bench-"))
    ctx = multiprocessing.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(str(work / "emu"), queue, stop), daemon=True)
    server.start()
    info = queue.get(timeout=120)
    control = requests.Session()
    control.verify, control.trust_env = info["ca_file"], False
    settings = SalesforceConnectionSettings(
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        token_url=info["token_url"],
        ca_file=info["ca_file"],
    )
    client = build_client(settings)

    def measured(label: str, path: Path, mode: TranscriptMode) -> dict:
        control.delete(info["instance_url"] + "/_emulator/calls")
        started = time.monotonic()
        result = load_rows(client, [path], work / "out", LoadOptions(transcript_mode=mode))
        calls = control.get(info["instance_url"] + "/_emulator/calls").json()["by_endpoint"]
        total = sum(v for k, v in calls.items() if "/services/data/" in k)  # the token call is not billed
        print(f"{label}: {time.monotonic() - started:.1f} s, emulator calls {total}, result {result}")
        print(f"    by endpoint: {calls}")
        return result

    for mode in (TranscriptMode.FIELD, TranscriptMode.ATTACHMENT):
        path = work / f"rows-{mode.value}.jsonl.gz"
        write_rows(path, args.rows, f"bench-{mode.value}")
        measured(f"{args.rows} rows, {mode.value} mode, first load", path, mode)
        measured(f"{args.rows} rows, {mode.value} mode, rerun", path, mode)

    if args.memory_rows:
        path = work / "rows-memory.jsonl.gz"
        write_rows(path, args.memory_rows, "bench-memory")
        baseline = psutil.Process().memory_info().rss
        tracemalloc.start()
        with PeakRss() as rss:
            measured(f"{args.memory_rows} rows, both modes", path, TranscriptMode.BOTH)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        mib = 1024 * 1024
        print(
            f"memory, {args.memory_rows} rows: RSS before {baseline / mib:.0f} MiB, "
            f"peak {rss.peak / mib:.0f} MiB "
            f"(+{(rss.peak - baseline) / mib:.0f} MiB); tracemalloc peak {traced_peak / mib:.0f} MiB; "
            f"staged file {path.stat().st_size / mib:.0f} MiB gz"
        )
    stop.set()
    server.join(30)


if __name__ == "__main__":
    main()
