"""Service-level metrics of one conversation, computed from the record alone (no extra calls).

Both channels are first reduced to one timeline of message events, each ``(millis, who, agent)``:

- chat: ``transcript.lines[]`` with ``source`` visitor (consumer) or agent; system lines and
  agent-only lines (``subType`` ONLY_TO_REP) are not messages to the visitor and are skipped.
- messaging: ``messageRecords[]`` with ``sentBy`` Consumer or Agent, ordered by time then
  ``seq``; private messages (``audience`` AGENTS_AND_MANAGERS) are skipped. A message from a
  participant that ``agentParticipants`` marks as a bot (``userTypeName``/``userType`` Bot) is a
  bot message, not an agent message.

Enumerations are compared case-insensitively (LivePerson's docs spell ``Agent`` and ``agent``).

Definitions (seconds, rounded to milliseconds; ``None`` when the record cannot say):

- ``queue_wait``: from the request (chat ``info.chatRequestedTime``, else the start; messaging
  the start) to the first human agent message.
- ``first_response``: from the first consumer message to the first agent message after it.
- ``average_response`` / ``longest_response``: every time the consumer writes while not waiting
  already (the first consumer message after an agent message, or the first at all), the wait
  until the next agent message; the mean and the maximum over the waits that were answered.
- ``handle_time``: from the first agent message to the end of the conversation (open: None).
- ``agents_involved``: distinct human agents who wrote, plus (messaging) those
  ``agentParticipants`` lists as agent or assigned agent.
- ``abandoned``: a closed conversation whose consumer wrote and whom nobody (agent or bot)
  answered afterwards; open: None (not decided yet).
- ``close_after_last_message``: from the last consumer, agent or bot message to the end
  (open: None).

Bots answer (so a bot-handled conversation is not abandoned) but are not agents: queue wait and
response times measure people. Chat records do not mark bots; every chat agent line is an agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lesync.mapping.convert import folded, parse_instant

CONSUMER, AGENT, BOT = "consumer", "agent", "bot"
_AGENT_ROLES = frozenset({"agent", "assigned_agent"})


@dataclass(frozen=True)
class Event:
    millis: int
    who: str  # CONSUMER, AGENT or BOT
    agent: str | None = None  # who wrote (agent id or name), for agents_involved


@dataclass(frozen=True)
class Timeline:
    """What every metric reads: the message events, the request, the end, open or closed."""

    events: tuple[Event, ...]
    requested: int | None
    ended: int | None  # None while open
    listed_agents: frozenset[str] = frozenset()


def millis_of(value: Any) -> int | None:
    if type(value) is int:
        return value if abs(value) >= 100_000_000_000 else value * 1000
    instant = parse_instant(value) if value is not None else None
    return None if instant is None else instant[0] * 1000 + instant[1]


def _time(item: dict, key: str = "time") -> int | None:
    exact = item.get(key + "L")
    return millis_of(exact if exact is not None else item.get(key))


def _items(record: dict, key: str) -> list[dict]:
    value = record.get(key)
    return [item for item in value if type(item) is dict] if type(value) is list else []


def _info(record: dict) -> dict:
    info = record.get("info")
    return info if type(info) is dict else {}


# --------------------------------------------------------------------------------------------
# Timelines


def chat_timeline(record: dict) -> Timeline:
    info = _info(record)
    transcript = record.get("transcript")
    lines = transcript.get("lines") if type(transcript) is dict else None
    events = []
    for line in lines if type(lines) is list else ():
        if type(line) is not dict or folded(line.get("subType")) == "only_to_rep":
            continue
        source = folded(line.get("source"))
        when = _time(line)
        if when is None or source not in (CONSUMER, AGENT, "visitor"):
            continue
        who = AGENT if source == AGENT else CONSUMER
        events.append(Event(when, who, str(line.get("by")) if who == AGENT else None))
    requested = _time(info, "chatRequestedTime") or _time(info, "startTime")
    ended = None if info.get("ended") is False else _time(info, "endTime")
    return Timeline(tuple(events), requested, ended)


def messaging_timeline(record: dict) -> Timeline:
    info = _info(record)
    bots, listed = _agent_participants(record)
    ordered = []
    for index, message in enumerate(_items(record, "messageRecords")):
        if folded(message.get("audience")) == "agents_and_managers":
            continue
        sent_by, when = folded(message.get("sentBy")), _time(message)
        if when is None or sent_by not in (CONSUMER, AGENT):
            continue
        seq = message.get("seq") if type(message.get("seq")) is int else index
        sender = str(message.get("participantId"))
        who = CONSUMER if sent_by == CONSUMER else BOT if sender in bots else AGENT
        ordered.append((when, seq, Event(when, who, sender if who == AGENT else None)))
    ordered.sort(key=lambda item: item[:2])
    closed = folded(info.get("status")) == "close"
    ended = _time(info, "endTime") if closed else None
    return Timeline(tuple(item[2] for item in ordered), _time(info, "startTime"), ended, listed)


def _agent_participants(record: dict) -> tuple[frozenset[str], frozenset[str]]:
    """``(bot participant ids, human agent ids listed as agent / assigned agent)``."""
    bots, listed = set(), set()
    for person in _items(record, "agentParticipants"):
        ids = {str(person[key]) for key in ("agentId", "participantId") if person.get(key) is not None}
        if "bot" in (folded(person.get("userTypeName")), folded(person.get("userType"))):
            bots |= ids
        elif folded(person.get("role")) in _AGENT_ROLES or folded(person.get("permission")) in _AGENT_ROLES:
            listed.add(str(person.get("agentId") or person.get("participantId")))
    return frozenset(bots), frozenset(listed)


def timeline(record: dict, channel: str) -> Timeline:
    """The record's timeline; the last one is kept, as every metric of a row reads the same."""
    global _LAST
    last_record, last_channel, last_timeline = _LAST
    if last_record is record and last_channel == channel:
        return last_timeline
    result = chat_timeline(record) if channel == "chat" else messaging_timeline(record)
    _LAST = (record, channel, result)
    return result


_LAST: tuple[Any, str, Timeline] = (None, "", Timeline((), None, None))


# --------------------------------------------------------------------------------------------
# Metrics


def _seconds(start: int | None, end: int | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return round((end - start) / 1000, 3)


def _first(events: tuple[Event, ...], who: str, start: int = 0) -> int | None:
    """The position of the first event by ``who`` at or after position ``start``."""
    for index in range(start, len(events)):
        if events[index].who == who:
            return index
    return None


def _millis_at(events: tuple[Event, ...], index: int | None) -> int | None:
    return None if index is None else events[index].millis


def queue_wait(line: Timeline) -> float | None:
    return _seconds(line.requested, _millis_at(line.events, _first(line.events, AGENT)))


def first_response(line: Timeline) -> float | None:
    asked = _first(line.events, CONSUMER)
    if asked is None:
        return None
    answer = _first(line.events, AGENT, asked + 1)
    return _seconds(line.events[asked].millis, _millis_at(line.events, answer))


def response_waits(line: Timeline) -> list[float]:
    """Each answered wait: from a consumer message that starts waiting to the next agent message."""
    waits, waiting_since = [], None
    for event in line.events:
        if event.who == CONSUMER and waiting_since is None:
            waiting_since = event.millis
        elif event.who == AGENT and waiting_since is not None:
            wait = _seconds(waiting_since, event.millis)
            if wait is not None:
                waits.append(wait)
            waiting_since = None
    return waits


def average_response(line: Timeline) -> float | None:
    waits = response_waits(line)
    return round(sum(waits) / len(waits), 3) if waits else None


def longest_response(line: Timeline) -> float | None:
    return max(response_waits(line), default=None)


def handle_time(line: Timeline) -> float | None:
    return _seconds(_millis_at(line.events, _first(line.events, AGENT)), line.ended)


def agents_involved(line: Timeline) -> int:
    writers = {event.agent for event in line.events if event.who == AGENT and event.agent}
    return len(writers | line.listed_agents)


def abandoned(line: Timeline) -> bool | None:
    if line.ended is None:
        return None
    asked = _first(line.events, CONSUMER)
    if asked is None:
        return False
    return not any(event.who != CONSUMER for event in line.events[asked + 1 :])


def close_after_last_message(line: Timeline) -> float | None:
    if line.ended is None or not line.events:
        return None
    return _seconds(max(event.millis for event in line.events), line.ended)


METRICS = {
    "queueWaitSeconds": queue_wait,
    "firstResponseSeconds": first_response,
    "averageResponseSeconds": average_response,
    "longestResponseSeconds": longest_response,
    "handleTimeSeconds": handle_time,
    "agentsInvolved": agents_involved,
    "abandoned": abandoned,
    "closeAfterLastMessageSeconds": close_after_last_message,
}
