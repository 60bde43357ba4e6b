"""A small LivePerson stand-in on ``requests_mock``: discovery, token, both searches, by-id.

Pages like LivePerson (offset/limit, ``_metadata.count``, ``next`` absent on the last page),
applies ``start``, ``latestUpdateTime``, ``skillIds``, ``engagementId`` / ``conversationId``,
and lets a test hook into each page (to add records mid-paging or answer with faults).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

DOMAIN = "https://domain.test"
HOSTS = {"engHistDomain": "enghist.test", "msgHist": "msghist.test", "sentinel": "sentinel.test"}
ACCOUNT = "123"
CHAT_SEARCH = re.compile(r"https://enghist\.test/interaction_history/api/account/123/interactions/search")
MSG_SEARCH = re.compile(r"https://msghist\.test/messaging_history/api/account/123/conversations/search")
MSG_BY_ID = re.compile(
    r"https://msghist\.test/messaging_history/api/account/123/conversations/conversation/search"
)
TOKEN = "https://sentinel.test/sentinel/api/v2/account/123/app/token"
SECRETS = {
    "consumer_key": "ck-SECRET-1111",
    "consumer_secret": "cs-SECRET-2222",
    "access_token": "at-SECRET-3333",
    "access_token_secret": "ats-SECRET-4444",
}


def chat(n: int, start_ms: int, **info: Any) -> dict[str, Any]:
    return {"info": {"engagementId": f"c{n}", "startTimeL": start_ms, **info}, "transcript": {"lines": []}}


def conversation(n: int, start_ms: int, updated_ms: int | None = None, **info: Any) -> dict[str, Any]:
    record = {"info": {"conversationId": f"m{n}", "startTimeL": start_ms, "status": "CLOSE", **info}}
    record["_updated"] = updated_ms if updated_ms is not None else start_ms
    return record


class FakeLivePerson:
    def __init__(self, mocker: Any):
        self.mocker = mocker
        self.chats: list[dict[str, Any]] = []
        self.conversations: list[dict[str, Any]] = []
        self.bodies: list[dict[str, Any]] = []  # every search body received, in order
        self.params: list[dict[str, list[str]]] = []
        self.on_page: Callable[[str, int], None] | None = None  # (channel, offset) before answering
        self.count_bonus = 0  # report this many more in _metadata.count than exist
        self.by_id: dict[str, dict[str, Any]] = {}  # whole records served by id (partials)
        self.by_id_fail: dict[str, int] = {}  # id -> HTTP status its by-id lookup answers
        for service, host in HOSTS.items():
            mocker.get(
                f"{DOMAIN}/api/account/{ACCOUNT}/service/{service}/baseURI.json",
                json={"service": service, "account": ACCOUNT, "baseURI": host},
            )
        mocker.post(CHAT_SEARCH, json=self._chat_search)
        mocker.post(MSG_SEARCH, json=self._msg_search)
        mocker.post(MSG_BY_ID, json=self._msg_by_id)

    # -- handlers ----------------------------------------------------------------------------

    def _chat_search(self, request: Any, context: Any) -> dict[str, Any]:
        body = json.loads(request.body)
        self._remember(request, body)
        if "engagementId" in body:
            if "start" not in body:  # required on every search, engagementId or not
                return self._fail(context, 400, "Missing required body field 'start'")
            if body["engagementId"] in self.by_id_fail:
                return self._fail(context, self.by_id_fail[body["engagementId"]], "by-id lookup failed")
            found = [
                self._whole(r)
                for r in self.chats
                if r["info"]["engagementId"] == body["engagementId"]
                and body["start"]["from"] <= r["info"]["startTimeL"] <= body["start"]["to"]
            ]
            return self._page(found, 0, 100, "interactionHistoryRecords")
        return self._search("chat", self.chats, body, request, "interactionHistoryRecords")

    def _msg_search(self, request: Any, context: Any) -> dict[str, Any]:
        body = json.loads(request.body)
        self._remember(request, body)
        return self._search("messaging", self.conversations, body, request, "conversationHistoryRecords")

    def _msg_by_id(self, request: Any, context: Any) -> dict[str, Any]:
        body = json.loads(request.body)
        self._remember(request, body)
        if body["conversationId"] in self.by_id_fail:
            return self._fail(context, self.by_id_fail[body["conversationId"]], "by-id lookup failed")
        found = [
            self._whole(r)
            for r in self.conversations
            if r["info"]["conversationId"] == body["conversationId"]
        ]
        return self._page(found, 0, 100, "conversationHistoryRecords")

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _fail(context: Any, status: int, message: str) -> dict[str, Any]:
        context.status_code = status
        return {"error": message}

    def _remember(self, request: Any, body: dict[str, Any]) -> None:
        self.bodies.append(body)
        self.params.append(parse_qs(urlparse(request.url).query))

    def _search(self, channel: str, records: list, body: dict, request: Any, key: str) -> dict[str, Any]:
        query = parse_qs(urlparse(request.url).query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        if self.on_page:
            self.on_page(channel, offset)
        hits = sorted((r for r in records if _matches(r, body)), key=lambda r: r["info"]["startTimeL"])
        return self._page(hits, offset, limit, key)

    def _page(self, hits: list, offset: int, limit: int, key: str) -> dict[str, Any]:
        count = len(hits) + self.count_bonus
        chunk = [{k: v for k, v in r.items() if k != "_updated"} for r in hits[offset : offset + limit]]
        metadata: dict[str, Any] = {"count": count, "self": {"rel": "self", "href": "x"}}
        if offset + limit < count:
            metadata["next"] = {"rel": "next", "href": "x"}
        return {"_metadata": metadata, key: chunk}

    def _whole(self, record: dict[str, Any]) -> dict[str, Any]:
        info = record["info"]
        return self.by_id.get(info.get("engagementId") or info.get("conversationId"), record)


def _matches(record: dict[str, Any], body: dict[str, Any]) -> bool:
    info = record["info"]
    if not body["start"]["from"] <= info["startTimeL"] <= body["start"]["to"]:
        return False
    if "latestUpdateTime" in body and record.get("_updated", 0) < body["latestUpdateTime"]["from"]:
        return False
    if body.get("skillIds") and info.get("skillId") not in body["skillIds"]:
        return False
    return True
