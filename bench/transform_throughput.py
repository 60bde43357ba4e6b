"""Transform throughput: conversations per second on one core, default mapping, 20-line records.

Synthesises chat and messaging records by copying LivePerson's documented examples and
perturbing them (ids, times, texts with unicode), then times ``transform_record`` over them.

    PYTHONPATH=plugins python bench/transform_throughput.py [--count 20000] [--profile]
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import json
import pstats
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

from lesync.mapping import fields_meta_from_schema, load_mapping, transform_record  # noqa: E402

EXAMPLES = REPO / "tests" / "fixtures" / "lp_docs_examples"
TEXTS = [
    "Hello, I need help with my order",
    "Sure — let me check that for you 👍",
    "מה מספר ההזמנה?",
    "<b>Order</b> #12345 shipped &amp; on its way",
    "Thanks!",
    "Can I change the address?",
]


def _chat_template() -> dict:
    data = json.loads(
        (EXAMPLES / "enghist_interactions_search_response.docs_example_surveys.json").read_text()
    )
    record = data["interactionHistoryRecords"][0]
    sdes = json.loads(
        (EXAMPLES / "enghist_interactions_search_response.docs_example_all_sdes.REPAIRED.json").read_text()
    )["interactionHistoryRecords"][0]["sdes"]["events"]
    record["sdes"]["events"] += sdes
    return record


def _messaging_template() -> dict:
    data = json.loads((EXAMPLES / "msghist_conversations_search_response.docs_example.json").read_text())
    return data["conversationHistoryRecords"][0]


def synth_chat(template: dict, index: int, rng: random.Random, lines: int = 20) -> dict:
    record = copy.deepcopy(template)
    start = 1_700_000_000_000 + index * 60_000
    record["info"].update(engagementId=f"bench{index:09d}", startTimeL=start, endTimeL=start + 900_000)
    base = record["transcript"]["lines"]
    record["transcript"]["lines"] = [
        dict(
            base[i % len(base)],
            timeL=start + i * 20_000,
            text=rng.choice(TEXTS),
            textType="html" if i % 5 == 0 else "plain",
        )
        for i in range(lines)
    ]
    return record


def synth_messaging(template: dict, index: int, rng: random.Random, lines: int = 20) -> dict:
    record = copy.deepcopy(template)
    start = 1_700_000_000_000 + index * 60_000
    record["info"].update(conversationId=f"bench-{index:09d}", startTimeL=start, endTimeL=start + 900_000)
    base = record["messageRecords"]
    messages = []
    for i in range(lines):
        message = copy.deepcopy(base[i % len(base)])
        message.update(seq=i, timeL=start + i * 20_000)
        if "msg" in message["messageData"]:
            message["messageData"]["msg"]["text"] = rng.choice(TEXTS)
        messages.append(message)
    record["messageRecords"] = messages
    return record


def build_records(count: int) -> list[tuple[dict, str]]:
    rng = random.Random(7)
    chat, msg = _chat_template(), _messaging_template()
    return [
        (synth_chat(chat, i, rng), "chat") if i % 2 == 0 else (synth_messaging(msg, i, rng), "messaging")
        for i in range(count)
    ]


def run(records: list[tuple[dict, str]], mapping, meta) -> tuple[float, float]:
    """``(wall seconds, CPU seconds)``: CPU time is the fairer number on a shared machine."""
    started, cpu_started = time.perf_counter(), time.process_time()
    errors = 0
    for record, channel in records:
        errors += bool(transform_record(record, channel, mapping, meta).errors)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if errors:
        print(f"warning: {errors} rows with errors", file=sys.stderr)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best one is reported (like timeit)")
    parser.add_argument("--profile", action="store_true", help="profile one run with cProfile")
    args = parser.parse_args()
    mapping = load_mapping(REPO / "include" / "mappings" / "chat_transcript.yaml")
    meta = fields_meta_from_schema("Chat_Transcript__c")
    records = build_records(args.count)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(records, mapping, meta)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        return
    run(records[:500], mapping, meta)  # warm-up
    runs = [run(records, mapping, meta) for _ in range(max(1, args.repeat))]
    wall = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs)
    print(
        f"{args.count} conversations (20 lines each, half chat, half messaging), best of {len(runs)}: "
        f"wall {wall:.2f} s = {args.count / wall:,.0f} conversations/s; "
        f"CPU {cpu:.2f} s = {args.count / cpu:,.0f} conversations/s on one core"
    )


if __name__ == "__main__":
    main()
