"""Reconciliation: counts and ids per window, against the Salesforce emulator's SOQL."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator_clients import salesforce_settings
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce
from lesync.pipeline.reconcile import Seen, reconcile_channel, started_in
from lesync.salesforce import build_client
from lesync.salesforce.reconcile import WindowQuery, count_started, ids_started, soql_datetime

OBJECT = "Chat_Transcript__c"
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    emulator = start_salesforce(SalesforceEmulatorConfig(), data_dir=tmp_path_factory.mktemp("sf"))
    settings = salesforce_settings(emulator)
    client = build_client(settings)
    records = [
        {
            "LP_Conversation_Id__c": f"c{i}",
            "SDK_API_Type__c": "Chat",
            "Start_Time__c": _iso(T0 + dt.timedelta(hours=i)),
        }
        for i in range(5)
    ] + [{"LP_Conversation_Id__c": "m0", "SDK_API_Type__c": "Messaging", "Start_Time__c": _iso(T0)}]
    for record in records:
        client.rest("POST", f"sobjects/{OBJECT}/", json=record)
    yield client
    emulator.stop()


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def window(hours: int, channel_value: str | None = "Chat") -> WindowQuery:
    return WindowQuery(
        OBJECT, "LP_Conversation_Id__c", "Start_Time__c", T0, T0 + dt.timedelta(hours=hours),
        channel_field="SDK_API_Type__c", channel_value=channel_value,
    )  # fmt: skip


def test_count_is_one_call_and_respects_window_and_channel(client):
    before = client.api_calls
    assert count_started(client, window(3)) == 3  # c0, c1, c2: the end is exclusive
    assert client.api_calls - before == 1
    assert count_started(client, window(24, "Messaging")) == 1


def test_ids_of_the_window(client):
    assert ids_started(client, window(2)) == {"c0", "c1"}


def test_soql_datetime_refuses_naive_and_writes_utc():
    assert (
        soql_datetime(dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))))
        == "2026-01-01T00:00:00Z"
    )
    with pytest.raises(ValueError, match="time zone"):
        soql_datetime(dt.datetime(2026, 1, 1))


def test_missing_and_extra_named_when_counts_differ(client):
    liveperson = {"c0", "c1", "c2", "c3", "lost-1"}  # c4 only in Salesforce, lost-1 only in LivePerson

    def count():
        return count_started(client, window(24))

    def ids():
        return ids_started(client, window(24))

    verdict, missing = reconcile_channel("chat", liveperson, count, ids)
    assert (verdict.liveperson, verdict.salesforce) == (5, 5)
    assert verdict.agrees and missing == set()  # equal counts end the cheap check...
    verdict, missing = reconcile_channel("chat", liveperson, count, ids, compare_ids=True)
    assert not verdict.agrees  # ...a full compare finds the pair
    assert missing == {"lost-1"} and verdict.extra == ["c4"]
    assert (verdict.missing_total, verdict.extra_total) == (1, 1)


def test_counts_differ_fetch_ids_and_queue_missing():
    calls = []
    verdict, missing = reconcile_channel(
        "messaging", {"a", "b", "c"}, lambda: 2, lambda: calls.append("ids") or {"a", "b"}
    )
    assert calls == ["ids"] and missing == {"c"}
    assert verdict.missing == ["c"] and not verdict.agrees


def test_equal_counts_spend_no_id_query():
    verdict, missing = reconcile_channel("chat", {"a"}, lambda: 1, lambda: pytest.fail("ids fetched"))
    assert verdict.agrees and missing == set()


def test_started_in_keeps_only_the_windows_own_conversations():
    seen = [
        Seen("chat", "early", T0 - dt.timedelta(minutes=5)),  # staged by 10-minute rounding
        Seen("chat", "in", T0),
        Seen("messaging", "m", T0 + dt.timedelta(hours=1)),
        Seen("chat", "late", T0 + dt.timedelta(hours=2)),
        Seen("chat", "", T0),
    ]
    assert started_in(seen, T0, T0 + dt.timedelta(hours=2)) == {"chat": {"in"}, "messaging": {"m"}}
