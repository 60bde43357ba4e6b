"""Engagement History (chat) records, built on demand from a conversation's own seed."""

from __future__ import annotations

import random
from typing import Any

from lesync.emulators.liveperson import people
from lesync.emulators.liveperson.content import (
    AGENT_ONLY_PHRASES,
    AGENTS,
    BROWSERS,
    DEVICES,
    END_REASONS,
    HTML_PHRASES,
    RICH_CONTENT,
    SKILLS,
    URL_PHRASES,
    Agent,
    lp_time,
)
from lesync.emulators.liveperson.sdes import sde_events
from lesync.emulators.liveperson.seeded import SeededRandom
from lesync.emulators.liveperson.store import Entry

SURVEY_META = {
    "preChat": ("Pre-Chat", "Pre-Chat Survey", 195991),
    "postChat": ("Exit", "Post-chat Survey v2 (All Channels)", 222726),
    "operator": ("Agent", "Agent Survey", 310044),
}


def chat_record(entry: Entry, account_id: str, whole: bool = True) -> dict[str, Any]:
    """The full record; ``whole=False`` gives what a search returns for a partial record."""
    rnd = SeededRandom(entry.seed)
    consumer = people.person(rnd)
    agents = _agents_in_order(rnd, entry)
    lines = _transcript(rnd, entry, agents, consumer)
    answers = people.survey_answers(rnd, consumer)
    device, operating_system = rnd.choice(DEVICES)
    record: dict[str, Any] = {
        "info": _info(rnd, entry, account_id, agents[-1], consumer, answers),
        "transcript": {"lines": lines},
        "lineScores": _line_scores(rnd, lines),
        "surveys": _surveys(answers, entry),
        "campaign": people.campaign(rnd),
        "visitorInfo": people.visitor_info(rnd, device, operating_system, rnd.choice(BROWSERS)),
        "sdes": {"events": sde_events(rnd, entry.start_ms - 60_000, entry.end_ms, consumer)},
    }
    if rnd.random() < 0.05:
        record["coBrowseSessions"] = {"coBrowseSessionsList": [_cobrowse(rnd, entry)]}
    if entry.partial and not whole:
        _make_partial(record)
    return record


def transcript_text(entry: Entry, account_id: str) -> str:
    """All line texts, for the ``keyword`` filter."""
    return "\n".join(line["text"] for line in chat_record(entry, account_id)["transcript"]["lines"])


def _make_partial(record: dict[str, Any]) -> None:
    lines = record["transcript"]["lines"]
    record["transcript"]["lines"] = lines[: max(1, len(lines) // 3)]
    record.pop("sdes")
    record["info"]["isPartial"] = True


def _agents_in_order(rnd: random.Random, entry: Entry) -> list[Agent]:
    """The agents who handled the chat; the last one is the index's agent (after transfers)."""
    final = AGENTS[entry.agent_index]
    transfers = rnd.choices([0, 1, 2], weights=[80, 15, 5])[0]
    earlier = [a for a in rnd.sample(AGENTS, transfers + 1) if a != final][:transfers]
    return [*earlier, final]


def _info(
    rnd: random.Random,
    entry: Entry,
    account_id: str,
    agent: Agent,
    consumer: dict[str, str],
    answers: dict[str, list],
) -> dict[str, Any]:
    skill = SKILLS[entry.skill_index]
    end_reason, end_desc = rnd.choice(END_REASONS)
    requested = entry.start_ms - rnd.randint(1_000, 30_000)
    return {
        "startTime": lp_time(entry.start_ms),
        "startTimeL": entry.start_ms,
        "endTime": lp_time(entry.end_ms),
        "endTimeL": entry.end_ms,
        "duration": (entry.end_ms - entry.start_ms) // 1000,
        "visitorId": f"{entry.seed:x}"[:22],
        "visitorName": consumer["first"],
        "engagementId": entry.conversation_id,
        "isInteractive": True,
        "accountId": account_id,
        "agentId": str(agent.agent_id),
        "agentNickName": agent.nickname,
        "agentLoginName": agent.login,
        "agentFullName": agent.full_name,
        "skillId": skill.skill_id,
        "skillName": skill.name,
        "isAgentSurvey": bool(answers["operator"]),
        "isPostChatSurvey": bool(answers["postChat"]),
        "isPreChatSurvey": bool(answers["preChat"]),
        "channel": 1,
        "startReason": "0",
        "startReasonDesc": "Visitor request",
        "endReason": end_reason,
        "endReasonDesc": end_desc,
        "engagementSet": 0,
        "engagementSequence": 0,
        "agentGroupId": agent.group_id,
        "agentGroupName": agent.group_name,
        "mcs": rnd.choice([0, 1, 2]),
        "alertedMCS": rnd.choice([0, 1]),
        "chatMCS": rnd.randint(-100, 100),
        "chatRequestedTime": lp_time(requested),
        "chatRequestedTimeL": requested,
        "chatStartUrl": f"https://www.example.com/shop?page={rnd.randint(1, 50)}&lang=en",
        "chatStartPage": rnd.choice(["Checkout", "Home — Example Shop", "דף הבית"]),
        "isPartial": False,
        "ended": True,
        "interactive": True,
        "chatDataEnriched": False,
    }


def _transcript(
    rnd: random.Random, entry: Entry, agents: list[Agent], consumer: dict[str, str]
) -> list[dict[str, Any]]:
    count = people.line_count(rnd, entry.long)
    times = people.spread_times(rnd, count, entry.start_ms, entry.end_ms - 1)
    handover_at = {round(count * (i + 1) / len(agents)) for i in range(len(agents) - 1)}
    lines = [
        _system_line(
            entry.start_ms - 2_000,
            4,
            "Thank you for choosing to chat with us.  An agent will be with you shortly.",
        )
    ]
    lines.append(_system_line(entry.start_ms, 3, f"You are now chatting with {agents[0].nickname}."))
    agent_no = 0
    for i, time_ms in enumerate(times):
        if i in handover_at:
            agent_no += 1
            lines.extend(_transfer_lines(time_ms - 1, agents[agent_no]))
        lines.append(_conversation_line(rnd, time_ms, agents[agent_no], consumer, entry.long))
    lines.append(_system_line(entry.end_ms, 5, "Thank you for chatting with us."))
    for seq, line in enumerate(lines):
        line["lineSeq"] = str(seq)
    return lines


def _line(time_ms: int, text: str, by: str, source: str, agent_id: int, **extra: Any) -> dict[str, Any]:
    line = {
        "time": lp_time(time_ms),
        "timeL": time_ms,
        "controlType": 0,
        "text": text,
        "by": by,
        "source": source,
        "subType": "REGULAR",
        "textType": "plain",
        "cannedAnswerType": 0,
        "agentId": agent_id,
    }
    line.update(extra)
    return line


def _system_line(time_ms: int, control_type: int, text: str) -> dict[str, Any]:
    return _line(time_ms, text, "info", "system", 0, controlType=control_type)


def _transfer_lines(time_ms: int, agent: Agent) -> list[dict[str, Any]]:
    return [
        _system_line(time_ms - 1, 10, f"Transferring chat to {agent.group_name}"),
        _system_line(time_ms, 3, f"You are now chatting with {agent.nickname}."),
    ]


def _conversation_line(
    rnd: random.Random, time_ms: int, agent: Agent, consumer: dict[str, str], long: bool
) -> dict[str, Any]:
    if rnd.random() < 0.5:
        return _line(time_ms, people.text_for(rnd, True, long), consumer["first"], "visitor", 0)
    roll = rnd.random()
    if roll < 0.06:
        return _line(
            time_ms,
            rnd.choice(AGENT_ONLY_PHRASES),
            agent.nickname,
            "agent",
            agent.agent_id,
            subType="ONLY_TO_REP",
        )
    if roll < 0.14:
        return _line(
            time_ms, rnd.choice(HTML_PHRASES), agent.nickname, "agent", agent.agent_id, textType="html"
        )
    if roll < 0.18:
        return _line(
            time_ms, rnd.choice(URL_PHRASES), agent.nickname, "agent", agent.agent_id, textType="url"
        )
    if roll < 0.22:
        return _line(
            time_ms, "", agent.nickname, "agent", agent.agent_id, textType="rich-content", json=RICH_CONTENT
        )
    return _line(time_ms, people.text_for(rnd, False, long), agent.nickname, "agent", agent.agent_id)


def _line_scores(rnd: random.Random, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    visitor = [line for line in lines if line["source"] == "visitor"]
    return [
        {"lineSeq": ln["lineSeq"], "lineRawScore": rnd.randint(-2, 2), "mcs": rnd.randint(-100, 100)}
        for ln in visitor
    ]


def _surveys(answers: dict[str, list[tuple[str, str]]], entry: Entry) -> dict[str, list[dict[str, Any]]]:
    surveys: dict[str, list[dict[str, Any]]] = {}
    for kind, pairs in answers.items():
        source, name, survey_id = SURVEY_META[kind]
        time_ms = entry.start_ms - 5_000 if kind == "preChat" else entry.end_ms + 8_000
        surveys[kind] = [
            {
                "scope": "Session",
                "source": source,
                "displayName": question,
                "value": answer,
                "values": [answer],
                "name": name,
                "time": lp_time(time_ms),
                "timeL": time_ms,
                "questionID": number + 1,
                "surveyID": survey_id,
            }
            for number, (question, answer) in enumerate(pairs)
        ]
    return surveys


def _cobrowse(rnd: random.Random, entry: Entry) -> dict[str, Any]:
    start = entry.start_ms + 30_000
    end = min(entry.end_ms, start + rnd.randint(10_000, 300_000))
    return {
        "sessionId": f"{rnd.getrandbits(64):016x}",
        "startTime": lp_time(start),
        "startTimeL": start,
        "endTime": lp_time(end),
        "endTimeL": end,
        "endReason": rnd.choice(["SERVER", "AGENT", "VISITOR"]),
        "duration": end - start,
        "interactive": rnd.random() < 0.5,
    }
