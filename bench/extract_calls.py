"""LivePerson calls and peak memory of the extract stage, against the emulator.

    python bench/extract_calls.py --conversations 10000
    python bench/extract_calls.py --conversations 100000

The emulator runs in a child process, so the peak RSS reported is the extractor's own. The call
count is the emulator's (its CallCounter over /_emulator/calls), checked against the client's.
Expected: calls = pages + discovery (+ one by-id call per partial record), pages = ceil(chats /
100) + ceil(messaging / 100) + 1 (messaging's "updated since the window start" search).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def run_emulator(conversations: int, days: float, partial_share: float, data_dir: str, pipe) -> None:
    from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson

    config = LivePersonEmulatorConfig(
        seed=7,
        conversations=conversations,
        days=days,
        now_ms=int(NOW.timestamp() * 1000),
        partial_share=partial_share,
    )
    emulator = start_liveperson(config, data_dir=Path(data_dir))
    pipe.send(emulator.connection_info())
    pipe.recv()  # wait until the benchmark is done
    emulator.stop()


def emulator_calls(client, domain_api_url: str) -> dict:
    response = client.transport.session.get(f"{domain_api_url}/_emulator/calls", timeout=30)
    response.raise_for_status()
    return response.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--partial-share", type=float, default=0.0)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    args = parser.parse_args(argv)

    from lesync.liveperson import LivePersonClient, LivePersonSettings
    from lesync.pipeline.extract import extract_window

    work = Path(tempfile.mkdtemp(prefix="lesync-bench-"))
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=run_emulator, args=(args.conversations, args.days, args.partial_share, str(work), child)
    )
    process.start()
    info = parent.recv()
    keys = ("account_id", "consumer_key", "consumer_secret", "access_token", "access_token_secret")
    settings = LivePersonSettings(
        **{key: info[key] for key in keys}, domain_api_url=info["domain_api_url"], ca_file=info["ca_file"]
    )
    if args.tracemalloc:
        tracemalloc.start()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    try:
        with LivePersonClient(settings) as client:
            window = (NOW - timedelta(days=args.days + 1), NOW)
            reports = [extract_window(client, ch, *window, work / "out") for ch in ("chat", "messaging")]
            counted = emulator_calls(client, info["domain_api_url"])
    finally:
        parent.send("stop")
        process.join(30)
    seconds = time.monotonic() - started
    stats = client.stats
    records = sum(r.records for r in reports)
    result = {
        "conversations_seeded": args.conversations,
        "records_staged": records,
        "files": sum(len(r.paths) for r in reports),
        "client_calls": stats["calls"],
        "emulator_calls": counted["total"],
        "pages": stats["pages"],
        "discovery": stats["discovery"],
        "by_id": stats["by_id"],
        "partial_refetched": stats["partial_refetched"],
        "partial_failed": stats["partial_failed"],
        "retries": stats["retries"],
        "calls_per_10000": round(stats["calls"] * 10_000 / max(records, 1), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_mb": round(rss_before / 1024, 1),
        "seconds": round(seconds, 1),
    }
    if args.tracemalloc:
        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    print(json.dumps(result, indent=2))
    expected = stats["pages"] + stats["discovery"] + stats["by_id"] + stats["retries"]
    if counted["total"] != stats["calls"] or stats["calls"] != expected:
        print("call counts disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
