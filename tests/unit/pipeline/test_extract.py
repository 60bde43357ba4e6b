"""Extract stage (pipeline/extract.py): staging layout and Sync Chat rules with a stub client,
then end to end against the LivePerson emulator (every conversation once, faults included)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lesync.contracts import ExtractResult
from lesync.liveperson.errors import ConversationNotEndedError, ConversationNotFoundError
from lesync.liveperson.messaging import is_open
from lesync.pipeline import extract
from lesync.pipeline.extract import extract_conversation, extract_window, recheck_open
from lesync.pipeline.staging import read_jsonl_gz

END = datetime(2026, 11, 20, 12, tzinfo=UTC)
START = END - timedelta(hours=6)


class StubClient:
    """Just what the extract stage uses: the four streams and ``stats``."""

    def __init__(self, records: list[dict[str, Any]] | None = None):
        self.records = records or []
        self.asked: list[tuple] = []
        self.stats = {"calls": 0, "pages": 0, "retries": 0, "partial_refetched": 0, "partial_failed": 0}

    def _stream(self, *args: Any) -> Iterator[dict[str, Any]]:
        self.asked.append(args)
        for record in self.records:
            self.stats = {**self.stats, "calls": self.stats["calls"] + 1, "pages": self.stats["pages"] + 1}
            yield record

    def chats(self, start, end, skills=None):
        return self._stream("chats", start, end, skills)

    def conversations(self, start, end, skills=None, update_search=True, content=None):
        return self._stream("conversations", start, end, skills, *(() if update_search else ("no updates",)))

    def chat(self, engagement_id):
        return next((r for r in self.records if r["info"]["engagementId"] == engagement_id), None)

    def conversation(self, conversation_id, content=None):
        return next((r for r in self.records if r["info"]["conversationId"] == conversation_id), None)


def chats(n: int) -> list[dict[str, Any]]:
    return [{"info": {"engagementId": f"c{i}", "text": "é ✓"}} for i in range(n)]


def test_records_are_staged_untouched_in_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(extract, "RECORDS_PER_PART", 4)
    records = chats(10)
    report = extract_window(StubClient(records), "chat", START, END, tmp_path, skills=[3], slice_id="s1")
    names = [p.rsplit("/", 1)[-1] for p in report.paths]
    assert names == ["chat-s1-0000.jsonl.gz", "chat-s1-0001.jsonl.gz", "chat-s1-0002.jsonl.gz"]
    staged = [r for p in report.paths for r in read_jsonl_gz(p)]
    assert staged == records
    assert report == ExtractResult(
        channel="chat",
        paths=report.paths,
        records=10,
        pages=10,
        calls=10,
        window=[START.isoformat(), END.isoformat()],
    )


def test_a_rerun_leaves_no_stale_part_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(extract, "RECORDS_PER_PART", 2)
    extract_window(StubClient(chats(5)), "messaging", START, END, tmp_path)
    report = extract_window(StubClient(chats(2)), "messaging", START, END, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "messaging-0-0000.jsonl.gz"]
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == ["messaging-0-0000.jsonl.gz"]
    assert report.records == 2


def test_empty_window_stages_nothing(tmp_path):
    report = extract_window(StubClient([]), "chat", START, END, tmp_path)
    assert report.paths == [] and report.records == 0


def test_skills_and_window_reach_the_client(tmp_path):
    client = StubClient([])
    extract_window(client, "messaging", START, END, tmp_path, skills=[1, 2])
    assert client.asked == [("conversations", START, END, [1, 2])]


def test_update_search_reaches_the_messaging_stream_only(tmp_path):
    client = StubClient([])
    extract_window(client, "messaging", START, END, tmp_path, update_search=False)
    extract_window(client, "chat", START, END, tmp_path, update_search=False)
    assert client.asked == [("conversations", START, END, None, "no updates"), ("chats", START, END, None)]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2026, 1, 1), datetime(2026, 1, 2), "no time zone"),
        (END, START, "must be after start"),
    ],
)
def test_bad_windows_are_refused(tmp_path, start, end, message):
    with pytest.raises(ValueError, match=message):
        extract_window(StubClient([]), "chat", start, end, tmp_path)


def test_unknown_channel_is_refused(tmp_path):
    with pytest.raises(ValueError, match="channel must be one of chat, messaging"):
        extract_window(StubClient([]), "voice", START, END, tmp_path)


def test_sync_chat_stages_one_ended_conversation(tmp_path):
    record = {"info": {"conversationId": "m-1", "status": "CLOSE"}}
    report = extract_conversation(StubClient([record]), "messaging", "m-1", tmp_path)
    assert [p.rsplit("/", 1)[-1] for p in report.paths] == ["messaging-m-1-0000.jsonl.gz"]
    assert list(read_jsonl_gz(report.paths[0])) == [record]
    assert report.records == 1 and report.conversation_id == "m-1"


def test_sync_chat_refuses_an_open_messaging_conversation(tmp_path):
    client = StubClient([{"info": {"conversationId": "m-2", "status": "OPEN"}}])
    with pytest.raises(ConversationNotEndedError) as raised:
        extract_conversation(client, "messaging", "m-2", tmp_path)
    assert str(raised.value) == "conversation m-2 is still open; Sync Chat works only on ended conversations"
    assert list(tmp_path.iterdir()) == []


def test_sync_chat_missing_chat_says_not_found_or_not_ended(tmp_path):
    with pytest.raises(ConversationNotFoundError, match="chat c9 not found or not ended"):
        extract_conversation(StubClient(chats(1)), "chat", "c9", tmp_path)


# -- against the LivePerson emulator -------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
ALL = (NOW - timedelta(days=4), NOW)  # the emulator seeds the 3 days before its clock
CHAT_SEARCH = r"/interactions/search$"
MSG_SEARCH = r"/conversations/search$"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def start_emulator(tmp_path, **config: Any):
    from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson

    fields = {"seed": 7, "conversations": 1000, "days": 3, "now_ms": NOW_MS, **config}
    return start_liveperson(LivePersonEmulatorConfig(**fields), data_dir=tmp_path / "lp")


def emulator_client(emu, **overrides: Any):
    from lesync.liveperson import LivePersonClient, LivePersonSettings, clear_discovery_cache

    clear_discovery_cache()  # so every test counts its own discovery calls
    info = emu.connection_info()
    keys = ("account_id", "consumer_key", "consumer_secret", "access_token", "access_token_secret")
    fields = {key: info[key] for key in keys}
    fields.update(domain_api_url=info["domain_api_url"], ca_file=info["ca_file"], sleep=Sleeps())
    fields.update(overrides)
    return LivePersonClient(LivePersonSettings(**fields))


@pytest.fixture
def emu(tmp_path):
    emulator = start_emulator(tmp_path)
    yield emulator
    emulator.stop()


def staged_ids(report: ExtractResult) -> list[str]:
    key = "engagementId" if report.channel == "chat" else "conversationId"
    return [r["info"][key] for path in report.paths for r in read_jsonl_gz(path)]


@pytest.mark.parametrize(("channel", "search"), [("chat", CHAT_SEARCH), ("messaging", MSG_SEARCH)])
def test_every_conversation_exactly_once_through_429_500_and_drops(emu, tmp_path, channel, search):
    summary = emu.state.summary()[channel]
    expected = summary["closed"] if channel == "chat" else summary["total"]  # chat: ended ones only
    faults = emu.state.faults
    # FaultPlan.take() lets a request pass a skipping rule and counts it against every later
    # skipping rule too: the 4 pages run 429, 429, ok | 500, ok | drop, drop, ok | 503, ok.
    faults.add(path=search, status=429, retry_after=1, times=2)
    faults.add(path=search, status=500, times=1, skip=1)
    faults.add(path=search, drop=True, times=2, skip=2)
    faults.add(path=search, status=503, times=1, skip=3)
    client = emulator_client(emu)
    report = extract_window(client, channel, *ALL, tmp_path / "out")
    ids = staged_ids(report)
    assert len(ids) == len(set(ids)) == expected == report.records
    assert report.retries == 6
    sleeps = client.settings.sleep
    assert sleeps[:2] == [1.0, 1.0]  # Retry-After honoured
    assert sorted(sleeps[2:]) == [5, 5, 5, 10]  # 5xx and drops: LivePerson's 5, 10, 15 s schedule
    assert emu.state.calls.total() == report.calls


def test_conversations_added_while_paging_arrive_once(emu, tmp_path):
    from lesync.emulators.liveperson import PageRule

    before = emu.state.summary()["chat"]["closed"]
    early = NOW_MS - 3 * 86_400_000 + 60_000  # before most of the pages: pushes offsets down
    emu.state.add_page_rule(
        PageRule(after_pages=3, count=40, channel="chat", start_from=early, start_to=early + 600_000)
    )
    report = extract_window(emulator_client(emu), "chat", *ALL, tmp_path / "out")
    ids = staged_ids(report)
    assert emu.state.summary()["chat"]["closed"] == before + 40
    assert len(ids) == len(set(ids)) == before + 40


def test_open_messaging_conversation_is_extracted_again_once_closed(emu, tmp_path):
    client = emulator_client(emu)
    first = extract_window(client, "messaging", *ALL, tmp_path / "w1", slice_id="w1")
    records = [r for path in first.paths for r in read_jsonl_gz(path)]
    open_ids = {r["info"]["conversationId"] for r in records if r["info"]["status"] == "OPEN"}
    assert open_ids
    emu.state.clock.advance(4 * 86_400)  # four days on: the emulator closes them
    later = NOW + timedelta(days=4)
    closed_now = {i for i in open_ids if client.conversation(i)["info"]["status"] == "CLOSE"}
    assert closed_now
    second = extract_window(client, "messaging", NOW, later, tmp_path / "w2", slice_id="w2")
    again = {r["info"]["conversationId"]: r for path in second.paths for r in read_jsonl_gz(path)}
    assert closed_now <= set(again)
    assert all(again[i]["info"]["status"] == "CLOSE" for i in closed_now)


def test_sync_chat_refuses_open_and_takes_closed_messaging_conversations(emu, tmp_path):
    client = emulator_client(emu)
    records = list(client.conversations(*ALL))
    open_one = next(r["info"]["conversationId"] for r in records if r["info"]["status"] == "OPEN")
    closed_one = next(r["info"]["conversationId"] for r in records if r["info"]["status"] == "CLOSE")
    with pytest.raises(ConversationNotEndedError, match=f"conversation {open_one} is still open"):
        extract_conversation(client, "messaging", open_one, tmp_path)
    report = extract_conversation(client, "messaging", closed_one, tmp_path)
    assert staged_ids(report) == [closed_one]


def test_calls_are_pages_plus_discovery_as_the_emulator_counts_them(tmp_path, capsys):
    """The real 10,000 and 100,000 runs are in bench/extract_calls.py (the emulator needs ~3 s
    per 1,000 records); this one proves the formula on 2,000."""
    emulator = start_emulator(tmp_path, conversations=2_000, partial_share=0.0)
    try:
        client = emulator_client(emulator)
        reports = [extract_window(client, ch, *ALL, tmp_path / "out") for ch in ("chat", "messaging")]
        counted = emulator.state.calls.total()
    finally:
        emulator.stop()
    stats = client.stats
    records = sum(r.records for r in reports)
    with capsys.disabled():
        print(
            f"\nLivePerson calls for {records} conversations: {stats['calls']} = {stats['pages']} pages"
            f" + {stats['discovery']} discovery (~{stats['calls'] * 10_000 / records:.0f} per 10,000)"
        )
    assert stats["retries"] == 0 and stats["calls"] == counted == sum(r.calls for r in reports)
    assert stats["calls"] == stats["pages"] + stats["discovery"]
    # chat: ceil(n/100) pages; messaging: ceil(n/100) by start + 1 page of "updated since"
    chat_pages = -(-reports[0].records // 100)
    msg_pages = -(-reports[1].records // 100) + 1
    assert stats["pages"] == chat_pages + msg_pages and stats["discovery"] == 2


def test_partial_records_cost_one_by_id_call_each(emu, tmp_path):
    client = emulator_client(emu)
    report = extract_window(client, "messaging", *ALL, tmp_path / "out")
    stats = client.stats
    assert report.partial_refetched > 0 and stats["by_id"] == report.partial_refetched
    assert stats["calls"] == stats["pages"] + stats["discovery"] + stats["by_id"]
    records = [r for path in report.paths for r in read_jsonl_gz(path)]
    assert not any(r["info"].get("isPartial") for r in records)


# -- a run cut into slices: the "updated since" search once per run -------------------------------

RUN = (NOW - timedelta(hours=60), NOW)  # 3 slices of 24 h (the last 12 h); seeded history before it


def sliced_run(client, out_dir, first_slice_only: bool) -> list[dict[str, Any]]:
    """What the DAG does for one channel: one extract_window per slice, as tasks.extract calls it."""
    from lesync.pipeline.plan import Window, slices

    pieces = slices(Window(*RUN), 24)
    assert len(pieces) == 3 and pieces[0].start == RUN[0]
    return [
        extract_window(
            client,
            "messaging",
            piece.start,
            piece.end,
            out_dir,
            slice_id=f"{index:03d}",
            update_search=index == 0 if first_slice_only else True,
        )
        for index, piece in enumerate(pieces)
    ]


def conversations_of_run(emu) -> dict[str, tuple[int, int, bool]]:
    """Ground truth from the emulator's store: id -> (start, update time, closed) of every messaging
    conversation that started in the run or started before it and changed since its start."""
    store, now = emu.state.store, emu.state.clock.now()
    run_start, run_end = (int(moment.timestamp() * 1000) for moment in RUN)
    found = {}
    for ordinal in range(len(store.indexes["messaging"])):
        entry = store.entry("messaging", ordinal)
        updated = entry.update_time(now)
        if run_start <= entry.start_ms < run_end or (entry.start_ms < run_start and updated >= run_start):
            found[entry.conversation_id] = (entry.start_ms, updated, entry.is_closed(now))
    return found


def test_a_sliced_messaging_run_stages_every_conversation_once(tmp_path):
    emulator = start_emulator(tmp_path, conversations=1500, days=4, partial_share=0.0)
    try:
        truth = conversations_of_run(emulator)
        reports = sliced_run(emulator_client(emulator), tmp_path / "new", first_slice_only=True)
        per_slice = [staged_ids(report) for report in reports]
        old = sliced_run(emulator_client(emulator), tmp_path / "old", first_slice_only=False)
    finally:
        emulator.stop()
    ids = [i for slice_ids in per_slice for i in slice_ids]
    assert len(ids) == len(set(ids))  # no conversation staged twice across the slices
    assert set(ids) == set(truth)  # and none lost
    old_ids = [i for report in old for i in staged_ids(report)]
    assert set(old_ids) == set(ids) and len(old_ids) > len(ids)  # same conversations, no duplicates

    run_start = int(RUN[0].timestamp() * 1000)
    slice_1_end, slice_3 = run_start + 86_400_000, run_start + 2 * 86_400_000
    # started in slice 1, closed during slice 3: staged once, by slice 1's search by start
    late = {
        i for i, (start, upd, closed) in truth.items() if closed and run_start <= start < slice_1_end <= upd
    }
    late = {i for i in late if truth[i][1] >= slice_3}
    assert late
    # started before the run, closed during it: staged once, by slice 1's update search, even when
    # the close came after slice 1 had ended (latestUpdateTime has no upper bound)
    earlier = {i for i, (start, upd, closed) in truth.items() if start < run_start and closed}
    assert earlier and any(truth[i][1] >= slice_1_end for i in earlier)
    assert late | earlier <= set(per_slice[0])
    assert not (late | earlier) & set(per_slice[1] + per_slice[2])
    # today's per-slice update searches staged the late closers again in slice 3
    assert late & set(staged_ids(old[2]))

    # the LivePerson cost: slice 1 unchanged, slices 2 and 3 without their update-search pages
    assert reports[0].pages == old[0].pages
    assert all(old[k].pages > reports[k].pages for k in (1, 2))


# -- fidelity (issue 17): strict emulator, both readings of latestUpdateTime ------------------------

MSG_BY_ID = r"/conversations/conversation/search$"


def staged(report: ExtractResult) -> list[dict[str, Any]]:
    return [r for path in report.paths for r in read_jsonl_gz(path)]


def test_partial_chats_are_completed_against_an_emulator_that_requires_start(emu, tmp_path):
    report = extract_window(emulator_client(emu), "chat", *ALL, tmp_path / "out")
    assert report.partial_refetched > 0 and report.partial_failed == 0
    assert not any(r["info"].get("isPartial") for r in staged(report))


def test_sync_chat_finds_a_chat_by_id_with_the_start_the_api_requires(emu, tmp_path):
    now = emu.state.clock.now()
    entry = next(e for o in range(100) if (e := emu.state.store.entry("chat", o)).is_closed(now))
    report = extract_conversation(emulator_client(emu), "chat", entry.conversation_id, tmp_path)
    assert staged_ids(report) == [entry.conversation_id] and report.calls == 2  # discovery + by id


def test_a_failing_by_id_lookup_keeps_the_partial_record_marked_and_counted(emu, tmp_path):
    emu.state.faults.add(path=MSG_BY_ID, status=400, times=2)
    client = emulator_client(emu)
    report = extract_window(client, "messaging", *ALL, tmp_path / "out")
    records = staged(report)
    marked = [r for r in records if r.get("_lesync", {}).get("partial")]
    assert report.partial_failed == len(marked) == 2
    assert all(r["info"]["isPartial"] and "400" in r["_lesync"]["reason"] for r in marked)
    assert not any(r["info"].get("isPartial") for r in records if not r.get("_lesync"))
    # calls <= pages + discovery + 1 per partial record
    stats = client.stats
    assert stats["calls"] == stats["pages"] + stats["discovery"] + report.partial_refetched + 2


def test_messaging_records_carry_monitoring_and_only_the_parts_asked_for(emu, tmp_path):
    client = emulator_client(emu)
    records = list(client.conversations(*ALL, update_search=False))
    assert records and all("monitoring" in r for r in records if not r["info"].get("isPartial"))
    only = next(iter(client.conversations(*ALL, update_search=False, content=["messageRecords"])))
    assert set(only) == {"info", "messageRecords"}


@pytest.mark.parametrize("ignore_filter", [False, True], ids=["filter-honoured", "filter-ignored"])
def test_a_conversation_closing_later_is_caught_by_the_recheck_under_both_readings(
    emu, tmp_path, ignore_filter
):
    emu.state.ignore_latest_update_time = ignore_filter
    client = emulator_client(emu)
    first = extract_window(client, "messaging", *ALL, tmp_path / "w1", slice_id="w1")
    open_ids = [r["info"]["conversationId"] for r in staged(first) if is_open(r)]
    assert open_ids
    emu.state.clock.advance(4 * 86_400)  # four days on: the emulator closes them
    later = NOW + timedelta(days=4)
    # the next run: its window holds none of them, and with no update search only the re-check
    # can see them close
    second = extract_window(client, "messaging", NOW, later, tmp_path / "w2", update_search=False)
    assert not set(open_ids) & set(staged_ids(second))
    before = client.stats["calls"]
    rechecked = recheck_open(client, open_ids, tmp_path / "w2")
    assert client.stats["calls"] - before == len(open_ids) == rechecked.calls  # one by-id call each
    again = {r["info"]["conversationId"]: r for r in staged(rechecked)}
    assert set(again) == set(open_ids) and rechecked.records == len(open_ids)
    assert not any(is_open(r) for r in again.values())
    # and the update search, whichever way the filter is read, brings back every close too
    third = extract_window(client, "messaging", NOW, later, tmp_path / "w3", slice_id="w3")
    assert set(open_ids) <= set(staged_ids(third))


def test_recheck_is_bounded_and_says_what_waits(emu, tmp_path, caplog):
    client = emulator_client(emu)
    ids = [emu.state.store.entry("messaging", o).conversation_id for o in range(5)]
    report = recheck_open(client, ids, tmp_path, limit=3)
    assert report.records == 3 and client.stats["rechecked"] == 3 and client.stats["by_id"] == 3
    assert "the other 2 wait for the next run" in caplog.text
