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

from typing import Any, NamedTuple

from lesync.mapping.convert import EPOCH_MS_THRESHOLD, folded, parse_instant

CONSUMER, AGENT, BOT = "consumer", "agent", "bot"
_AGENT_ROLES = frozenset({"agent", "assigned_agent"})


#: An event is ``(millis, who, agent)``: who is CONSUMER, AGENT or BOT; agent the writer's id or
#: name (agents only), for agents_involved. Plain tuples: a record makes dozens of them.
Event = tuple[int, str, str | None]


class Timeline(NamedTuple):
    """What every metric reads: the message events, the request, the end, open or closed."""

    events: tuple[Event, ...]
    requested: int | None
    ended: int | None  # None while open
    listed_agents: frozenset[str] = frozenset()


def millis_of(value: Any) -> int | None:
    if type(value) is int:
        return value if abs(value) >= EPOCH_MS_THRESHOLD else value * 1000
    instant = parse_instant(value) if value is not None else None
    return None if instant is None else instant[0] * 1000 + instant[1]


def _time(item: dict, key: str = "time") -> int | None:
    exact = item.get(key + "L")
    if type(exact) is int and exact >= EPOCH_MS_THRESHOLD:
        return exact  # the usual case, without a call
    return millis_of(exact if exact is not None else item.get(key))


def _list(container: Any, key: str) -> list:
    value = container.get(key) if type(container) is dict else None
    return value if type(value) is list else []


def _info(record: dict) -> dict:
    info = record.get("info")
    return info if type(info) is dict else {}


# --------------------------------------------------------------------------------------------
# Timelines (the loops are written out: they run for every record)


def _who(value: Any, known: dict[str, str]) -> str | None:
    """An enumeration value's canonical spelling: the usual spellings by lookup, others folded."""
    if type(value) is not str:
        return None
    hit = known.get(value)
    return hit if hit is not None else known.get(value.casefold())


_SOURCES = {"agent": AGENT, "Agent": AGENT, "AGENT": AGENT, "visitor": CONSUMER, "Visitor": CONSUMER}
_SOURCES |= {"VISITOR": CONSUMER, "consumer": CONSUMER}
_SENT_BY = {"Agent": AGENT, "agent": AGENT, "AGENT": AGENT, "Consumer": CONSUMER, "consumer": CONSUMER}
_SENT_BY |= {"CONSUMER": CONSUMER}
#: audience / subType texts that need no folding (a value of another type, even a list, is visible)
_VISIBLE = frozenset({"ALL", "REGULAR"})


def chat_timeline(record: dict) -> Timeline:
    info = _info(record)
    events = []
    for line in _list(record.get("transcript"), "lines"):
        if type(line) is not dict:
            continue
        source = line.get("source")
        who = _SOURCES.get(source) if type(source) is str else None
        if who is None:
            who = _who(source, _SOURCES)
            if who is None:
                continue
        sub_type = line.get("subType")
        if type(sub_type) is str and sub_type not in _VISIBLE and folded(sub_type) == "only_to_rep":
            continue
        when = line.get("timeL")
        if type(when) is not int or when < EPOCH_MS_THRESHOLD:
            when = _time(line)
        if when is not None:
            events.append((when, who, str(line.get("by")) if who == AGENT else None))
    requested = _time(info, "chatRequestedTime") or _time(info, "startTime")
    ended = None if info.get("ended") is False else _time(info, "endTime")
    return Timeline(tuple(events), requested, ended, frozenset())


def messaging_timeline(record: dict) -> Timeline:
    info = _info(record)
    bots, listed = _agent_participants(record)
    events, keys = [], []
    in_order, last_key = True, (0, -1)
    for index, message in enumerate(_list(record, "messageRecords")):
        if type(message) is not dict:
            continue
        sent_by = message.get("sentBy")
        who = _SENT_BY.get(sent_by) if type(sent_by) is str else None
        if who is None:
            who = _who(sent_by, _SENT_BY)
            if who is None:
                continue
        audience = message.get("audience")
        if type(audience) is str and audience not in _VISIBLE and folded(audience) == "agents_and_managers":
            continue
        when = message.get("timeL")
        if type(when) is not int or when < EPOCH_MS_THRESHOLD:
            when = _time(message)
            if when is None:
                continue
        seq = message.get("seq")
        key = (when, seq if type(seq) is int else index)
        if key < last_key:
            in_order = False
        keys.append(key)
        last_key = key
        if who == AGENT:
            sender = message.get("participantId")
            sender = sender if type(sender) is str else str(sender)
            events.append((when, BOT, None) if sender in bots else (when, AGENT, sender))
        else:
            events.append((when, CONSUMER, None))
    if not in_order:  # by time, then sequence (LivePerson pages are usually in order already)
        events = [event for _, event in sorted(zip(keys, events, strict=True), key=lambda pair: pair[0])]
    ended = _time(info, "endTime") if folded(info.get("status")) == "close" else None
    return Timeline(tuple(events), _time(info, "startTime"), ended, listed)


def _agent_participants(record: dict) -> tuple[frozenset[str], frozenset[str]]:
    """``(bot participant ids, human agent ids listed as agent / assigned agent)``."""
    bots, listed = set(), set()
    for person in _list(record, "agentParticipants"):
        if type(person) is not dict:
            continue
        ids = {str(person[key]) for key in ("agentId", "participantId") if person.get(key) is not None}
        if "bot" in (folded(person.get("userTypeName")), folded(person.get("userType"))):
            bots |= ids
        elif folded(person.get("role")) in _AGENT_ROLES or folded(person.get("permission")) in _AGENT_ROLES:
            listed.add(str(person.get("agentId") or person.get("participantId")))
    return frozenset(bots), frozenset(listed)


def timeline(record: dict, channel: str) -> Timeline:
    return chat_timeline(record) if channel == "chat" else messaging_timeline(record)


# --------------------------------------------------------------------------------------------
# Metrics, in one pass over the timeline


def _seconds(start: int | None, end: int | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return round((end - start) / 1000, 3)


def summarize(line: Timeline) -> dict[str, Any]:
    """Every metric of a timeline (definitions in the module docstring), in one loop."""
    first_agent = first_consumer = first_answer = waiting_since = None
    answered = False
    waits: list[int] = []  # milliseconds
    writers = set(line.listed_agents)
    for millis, who, agent in line.events:
        if who == CONSUMER:
            if first_consumer is None:
                first_consumer = millis
            if waiting_since is None:
                waiting_since = millis
            continue
        if first_consumer is not None:
            answered = True
        if who != AGENT:
            continue
        writers.add(agent)
        if first_agent is None:
            first_agent = millis
        if waiting_since is not None:
            if first_answer is None:
                first_answer = millis
            if millis >= waiting_since:
                waits.append(millis - waiting_since)
            waiting_since = None
    ended = line.ended
    return {
        "queueWaitSeconds": _seconds(line.requested, first_agent),
        "firstResponseSeconds": _seconds(first_consumer, first_answer),
        "averageResponseSeconds": round(sum(waits) / len(waits) / 1000, 3) if waits else None,
        "longestResponseSeconds": round(max(waits) / 1000, 3) if waits else None,
        "handleTimeSeconds": _seconds(first_agent, ended),
        "agentsInvolved": len(writers - {None}),
        "abandoned": None if ended is None else (first_consumer is not None and not answered),
        "closeAfterLastMessageSeconds": _seconds(line.events[-1][0], ended) if line.events else None,
    }


#: The metrics ``measure`` returns (catalog field names).
METRICS = (
    "queueWaitSeconds",
    "firstResponseSeconds",
    "averageResponseSeconds",
    "longestResponseSeconds",
    "handleTimeSeconds",
    "agentsInvolved",
    "abandoned",
    "closeAfterLastMessageSeconds",
)


def measure(record: dict, channel: str) -> dict[str, Any]:
    """Every metric of one record; the last record's are kept, as the catalog asks once per
    mapped metric of the same row."""
    global _LAST
    last_record, last_channel, last_values = _LAST
    if last_record is record and last_channel == channel:
        return last_values
    values = summarize(timeline(record, channel))
    _LAST = (record, channel, values)
    return values


_LAST: tuple[Any, str, dict[str, Any]] = (None, "", {})


def message_counts(record: dict, channel: str) -> dict[str, int]:
    """``visitorMessageCount``, ``agentMessageCount`` and ``messageCount`` as LivePerson labels
    messages (chat ``source``, messaging ``sentBy``; private ones and bots' included): a cheaper
    walk than the timeline, for mappings that count without measuring."""
    global _LAST_COUNTS
    last_record, last_channel, last_values = _LAST_COUNTS
    if last_record is record and last_channel == channel:
        return last_values
    if channel == "chat":
        items, key, known = _list(record.get("transcript"), "lines"), "source", _SOURCES
    else:
        items, key, known = _list(record, "messageRecords"), "sentBy", _SENT_BY
    visitors = agents = 0
    for item in items:
        value = item.get(key) if type(item) is dict else None
        if type(value) is not str:
            continue
        who = known.get(value)  # _who, written out: it runs for every line
        if who is None:
            who = known.get(value.casefold())
        if who == AGENT:
            agents += 1
        elif who == CONSUMER:
            visitors += 1
    values = {"visitorMessageCount": visitors, "agentMessageCount": agents, "messageCount": visitors + agents}
    _LAST_COUNTS = (record, channel, values)
    return values


_LAST_COUNTS: tuple[Any, str, dict[str, int]] = (None, "", {})
