"""Messaging Interactions: paging, required source, status and latestUpdateTime against the
emulator clock, contentToRetrieve, latest vs. all SDEs, partial records, conversation by id."""

from __future__ import annotations

import pytest

DAY_MS = 86_400_000
DEFAULT_PARTS = {
    "messageRecords", "agentParticipants", "consumerParticipants", "transfers", "interactions",
    "messageScores", "conversationSurveys", "sdes", "campaign",
}  # fmt: skip


def _page_all(lp_api, body, limit=100, **params):
    records, counts, offset = [], set(), 0
    while True:
        response = lp_api.messaging(body, offset=offset, limit=limit, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        counts.add(page["_metadata"]["count"])
        records.extend(page["conversationHistoryRecords"])
        if "next" not in page["_metadata"]:
            return records, counts
        offset += limit


def test_paging_returns_open_and_closed_conversations_once(lp_api, lp_emulator):
    records, counts = _page_all(lp_api, lp_api.window(), limit=70)
    ids = [r["info"]["conversationId"] for r in records]
    assert counts == {len(ids)} and len(set(ids)) == len(ids)
    assert len(ids) == lp_emulator.state.summary()["messaging"]["total"]
    statuses = {r["info"]["status"] for r in records}
    assert statuses == {"OPEN", "CLOSE"}
    for record in records:
        info = record["info"]
        assert (info["endTimeL"] == -1) == (info["status"] == "OPEN")


@pytest.mark.parametrize(
    ("params", "days", "message"),
    [
        ({"source": None}, 3, "Missing required query parameter 'source'"),
        ({"limit": 500}, 3, "limit must be between 1 and 100"),
        ({"source": "a-very-long-source-name"}, 3, "at most 20"),
        ({}, 94, "at most 93 days"),
    ],
)
def test_bad_requests_are_400(lp_api, params, days, message):
    if params.get("source", "") is None:
        response = lp_api.session.post(lp_api.messaging_url(), json=lp_api.window(days), auth=lp_api.auth)
    else:
        response = lp_api.messaging(lp_api.window(days), **params)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_93_days_is_accepted_and_start_is_required(lp_api):
    assert lp_api.messaging(lp_api.window(93), limit=1).status_code == 200
    response = lp_api.messaging({"status": ["OPEN"]})
    assert response.status_code == 400 and "start" in response.json()["message"]


def test_content_to_retrieve_limits_the_parts(lp_api):
    body = {**lp_api.window(), "contentToRetrieve": ["messageRecords", "sdes"]}
    record = lp_api.messaging(body, limit=1).json()["conversationHistoryRecords"][0]
    assert set(record) == {"info", "messageRecords", "sdes"}
    default = lp_api.messaging(lp_api.window(), limit=1).json()["conversationHistoryRecords"][0]
    assert DEFAULT_PARTS <= set(default)
    assert "dialogs" not in default and "monitoring" not in default
    body = {**lp_api.window(), "contentToRetrieve": ["dialogs", "monitoring"]}
    record = lp_api.messaging(body, limit=1).json()["conversationHistoryRecords"][0]
    assert set(record) == {"info", "dialogs", "monitoring"}
    bad = lp_api.messaging({**lp_api.window(), "contentToRetrieve": ["everything"]})
    assert bad.status_code == 400


def test_v2_adds_unauthenticated_sdes(lp_api):
    body = {**lp_api.window(), "contentToRetrieve": ["sdes", "unAuthSdes"]}
    v1 = lp_api.messaging(body, limit=50).json()["conversationHistoryRecords"]
    v2 = lp_api.messaging(body, limit=50, v=2).json()["conversationHistoryRecords"]
    assert not any("unAuthSdes" in r for r in v1)
    assert any(r.get("unAuthSdes", {}).get("events") for r in v2)


def test_search_has_latest_sdes_and_by_id_has_all(lp_api):
    records, _ = _page_all(lp_api, lp_api.window())
    for record in records:
        keys = [_container(e) for e in record.get("sdes", {}).get("events", [])]
        assert len(keys) == len(set(keys))
    whole = [_by_id(lp_api, r["info"]["conversationId"]) for r in records[:80]]
    assert any(len(w["sdes"]["events"]) > len({_container(e) for e in w["sdes"]["events"]}) for w in whole)


def _container(event):
    return next(k for k in event if k not in ("sdeType", "serverTimeStamp", "isAuthenticated"))


def _by_id(lp_api, conversation_id, **body):
    response = lp_api.messaging({"conversationId": conversation_id, **body}, by_id=True)
    assert response.status_code == 200, response.text
    (record,) = response.json()["conversationHistoryRecords"]
    return record


def test_conversation_by_id_and_unknown_id(lp_api, lp_emulator):
    entry = lp_emulator.state.store.entry("messaging", 3)
    record = _by_id(lp_api, entry.conversation_id, contentToRetrieve=["messageRecords"])
    assert record["info"]["conversationId"] == entry.conversation_id
    assert set(record) == {"info", "messageRecords"}
    unknown = lp_api.messaging({"conversationId": "00000000-0000-4000-8000-000000000001"}, by_id=True)
    assert unknown.status_code == 200 and unknown.json()["_metadata"]["count"] == 0
    several = lp_api.messaging({"conversationIds": [entry.conversation_id]}, by_id=True).json()
    assert several["_metadata"]["count"] == 1
    assert lp_api.messaging({}, by_id=True).status_code == 400


def test_partial_records_come_whole_by_id(lp_api):
    records, _ = _page_all(lp_api, lp_api.window())
    partial = [r for r in records if r["info"]["isPartial"]]
    assert 0 < len(partial) < len(records) * 0.06
    for record in partial[:3]:
        assert "sdes" not in record
        whole = _by_id(lp_api, record["info"]["conversationId"])
        assert whole["info"]["isPartial"] is False and "sdes" in whole
        assert len(whole["messageRecords"]) > len(record["messageRecords"])


def test_records_are_realistic(lp_api):
    records, _ = _page_all(lp_api, lp_api.window())
    messages = [m for r in records for m in r["messageRecords"]]
    assert {m["sentBy"] for m in messages} == {"Consumer", "Agent"}
    assert any(m["audience"] == "AGENTS_AND_MANAGERS" for m in messages)
    assert {"TEXT_PLAIN", "RICH_CONTENT"} <= {m["type"] for m in messages}
    assert any(r["transfers"] and len(r["agentParticipants"]) > 1 for r in records)
    emails = [c["email"] for r in records for c in r["consumerParticipants"]]
    assert any(e.endswith("@gmail.com") for e in emails) and any(e.endswith("@acme-corp.com") for e in emails)
    questions = {d["question"] for r in records for s in r["conversationSurveys"] for d in s["surveyData"]}
    assert {"How would you rate us?", "What is your Account Number?"} <= questions
    assert any(r["info"]["csatRate"] for r in records)


def test_status_and_latest_update_follow_the_clock(lp_api, lp_emulator):
    """Open conversations close as the clock moves; latestUpdateTime then finds them."""
    state = lp_emulator.state
    open_before = _ids(lp_api, {**lp_api.window(), "status": ["OPEN"]})
    assert open_before
    since = state.clock.now()
    body = {**lp_api.window(4), "latestUpdateTime": {"from": since}}
    assert not _ids(lp_api, body) & open_before
    state.clock.advance(4 * DAY_MS / 1000)
    body = {"start": {"from": since - 7 * DAY_MS, "to": since}, "latestUpdateTime": {"from": since}}
    updated = _ids(lp_api, body)
    assert open_before <= updated
    closed = _ids(lp_api, {"start": body["start"], "status": ["CLOSE"]})
    assert open_before <= closed
    assert not _ids(lp_api, {"start": body["start"], "status": ["OPEN"]})


def _ids(lp_api, body):
    records, _ = _page_all(lp_api, body)
    return {r["info"]["conversationId"] for r in records}


# -- fidelity (issue 17): documented values, v=2 personal info, ambiguous readings ------------------

DOCUMENTED_CONTENT = [
    "campaign", "messageRecords", "agentParticipants", "agentParticipantsLeave", "agentParticipantsActive",
    "consumerParticipants", "transfers", "interactions", "messageScores", "messageStatuses",
    "conversationSurveys", "coBrowseSessions", "summary", "sdes", "unAuthSdes", "monitoring", "responseTime",
    "dialogs", "skillChanges", "intents", "uniqueIntents", "latestAgentSurvey",
    "previouslySubmittedAgentSurveys",
]  # fmt: skip


@pytest.mark.parametrize("part", DOCUMENTED_CONTENT)
def test_every_documented_content_value_is_accepted_alone(lp_api, part):
    response = lp_api.messaging({**lp_api.window(10), "contentToRetrieve": [part]}, limit=5, v=2)
    assert response.status_code == 200, response.text


def test_all_documented_content_values_together_and_unknown_ones_refused(lp_api):
    body = {**lp_api.window(10), "contentToRetrieve": DOCUMENTED_CONTENT}
    assert lp_api.messaging(body, limit=5).status_code == 200
    bad = lp_api.messaging({**lp_api.window(10), "contentToRetrieve": ["monitoring", "monitor"]})
    assert bad.status_code == 400 and "monitor" in bad.text


def _personal_info(event):
    info = event.get("personalInfo") or {}
    return info.get("personalInfo", info)


def test_web_visitors_personal_info_is_unauthenticated_and_needs_v2(lp_api):
    body = {**lp_api.window(10), "contentToRetrieve": ["sdes", "unAuthSdes", "consumerParticipants"]}
    v2, _ = _page_all(lp_api, body, v=2)
    web = [r for r in v2 if r["info"]["source"] == "WEB_SITE" and not r["info"].get("isPartial")]
    with_info = [r for r in web if any(_personal_info(e) for e in r["unAuthSdes"]["events"])]
    assert len(with_info) >= 0.5 * len(web) > 0  # most web visitors: personal info, unauthenticated
    record = with_info[0]
    person = next(_personal_info(e) for e in record["unAuthSdes"]["events"] if _personal_info(e))
    assert person["contacts"][0]["personalContact"]["email"] == record["consumerParticipants"][0]["email"]
    assert all(not e["isAuthenticated"] for r in v2 for e in r.get("unAuthSdes", {}).get("events", []))
    v1, _ = _page_all(lp_api, body)
    assert not any("unAuthSdes" in r for r in v1)  # only v=2 returns them


def test_latest_update_time_can_be_ignored_as_one_reading_of_the_docs(lp_api, lp_emulator):
    state = lp_emulator.state
    since = state.clock.now()
    body = {"start": {"from": since - 7 * DAY_MS, "to": since}, "latestUpdateTime": {"from": since}}
    everything = _ids(lp_api, {"start": body["start"]})
    honoured = _ids(lp_api, body)
    assert honoured < everything
    switch = lp_api.session.post(
        f"{lp_emulator.url}/_emulator/liveperson/readings", json={"ignore_latest_update_time": True}
    )
    try:
        assert switch.json()["ignore_latest_update_time"] is True
        assert _ids(lp_api, body) == everything
        bad = lp_api.messaging({**body, "latestUpdateTime": {"from": "soon"}})
        assert bad.status_code == 400  # still checked for shape
    finally:
        state.ignore_latest_update_time = False


def test_enumerations_can_come_in_the_other_documented_spelling(lp_api, lp_emulator):
    state = lp_emulator.state
    body = {**lp_api.window(10), "contentToRetrieve": ["messageRecords"]}
    documented, _ = _page_all(lp_api, body)
    assert {m["sentBy"] for r in documented for m in r["messageRecords"]} == {"Agent", "Consumer"}
    state.alternative_enum_share = 0.5
    try:
        mixed, _ = _page_all(lp_api, body)
    finally:
        state.alternative_enum_share = 0.0
    assert {m["sentBy"] for r in mixed for m in r["messageRecords"]} == {
        "Agent",
        "Consumer",
        "agent",
        "consumer",
    }
    assert {r["info"]["status"] for r in mixed} >= {"CLOSE", "close"}
    by_status = _ids(lp_api, {**lp_api.window(10), "status": ["close"]})  # the filter takes either spelling
    assert by_status == _ids(lp_api, {**lp_api.window(10), "status": ["CLOSE"]})
