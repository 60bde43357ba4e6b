"""Messaging Interactions records, built on demand from a conversation's own seed.

A conversation's status depends on the emulator clock: OPEN until its close time passes. An
open conversation has ``endTimeL`` -1 and no close reason.

Two things are drawn from their own seeds (so the rest of a record stays byte-identical):
whether a web visitor's name, e-mail and phone come as an unauthenticated ``personalInfo`` SDE
(returned under ``unAuthSdes`` with ``v=2`` only), and whether a record spells enumerations the
other documented way (``sentBy`` ``agent``; see ``Shape``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from lesync.emulators.liveperson import people
from lesync.emulators.liveperson.content import (
    AGENTS,
    BROWSERS,
    CLOSE_REASONS,
    DEVICES,
    HTML_PHRASES,
    PRIVATE_PHRASES,
    RICH_CONTENT_JSON,
    SKILLS,
    SUMMARIES,
    Agent,
    Skill,
    lp_time,
)
from lesync.emulators.liveperson.sdes import latest_per_container, personal_info_flat, sde_events
from lesync.emulators.liveperson.seeded import SeededRandom
from lesync.emulators.liveperson.store import Entry

# contentToRetrieve value -> record keys it brings back (``info`` always comes back).
CONTENT_PARTS: dict[str, tuple[str, ...]] = {
    "campaign": ("campaign",),
    "messageRecords": ("messageRecords",),
    "agentParticipants": ("agentParticipants",),
    # Documented values whose own answer shape is not: served as the agent participants.
    "agentParticipantsLeave": ("agentParticipants",),
    "agentParticipantsActive": ("agentParticipants",),
    "consumerParticipants": ("consumerParticipants",),
    "transfers": ("transfers",),
    "interactions": ("interactions",),
    "messageScores": ("messageScores",),
    "messageStatuses": ("messageStatuses",),
    "conversationSurveys": ("conversationSurveys",),
    "coBrowseSessions": ("coBrowseSessions",),
    "summary": ("summary",),
    "sdes": ("sdes",),
    "unAuthSdes": ("unAuthSdes",),
    "dialogs": ("dialogs",),
    "monitoring": ("monitoring",),
    "responseTime": ("responseTime",),
    "skillChanges": ("skillChanges",),
    "intents": ("intents",),
    "uniqueIntents": ("uniqueIntents",),
    "latestAgentSurvey": ("latestAgentSurvey",),
    "previouslySubmittedAgentSurveys": ("previouslySubmittedAgentSurveys",),
    "previouslySubmittedAssessments": ("latestAgentSurvey", "previouslySubmittedAgentSurveys"),
    "uncategorizedContent": ("messageStatuses",),
}
DEFAULT_CONTENT = frozenset(CONTENT_PARTS) - {"dialogs", "monitoring"}
CHANNEL_SOURCES = ["APP", "WEB_SITE", "SMS", "FACEBOOK", "WHATSAPP", "APPLE_BUSINESS_CHAT"]
WEB_VISITOR_SALT = 0x57EB
SPELLING_SALT = 0x5E11
# Enumerations and their other documented spelling (the docs show ``Agent`` and ``agent``).
ALTERNATIVE_SPELLING = {
    "Agent": "agent",
    "Consumer": "consumer",
    "CLOSE": "close",
    "OPEN": "open",
    "ALL": "all",
    "AGENTS_AND_MANAGERS": "agents_and_managers",
}


@dataclass(frozen=True)
class Shape:
    """How records look beyond their seed: the emulator's fidelity switches (see config)."""

    web_unauth_personal_share: float = 0.0
    alternative_enum_share: float = 0.0


def messaging_record(
    entry: Entry,
    account_id: str,
    now_ms: int,
    content: frozenset[str] = DEFAULT_CONTENT,
    whole: bool = True,
    with_unauth_sdes: bool = False,
    shape: Shape = Shape(),
) -> dict[str, Any]:
    """The record as returned; ``whole=False`` is a search answer (latest SDEs; truncated if
    partial), ``content`` the requested contentToRetrieve parts."""
    full = _full_record(entry, account_id, now_ms)
    _add_web_visitor_personal_info(full, entry, shape.web_unauth_personal_share)
    if SeededRandom(entry.seed ^ SPELLING_SALT).random() < shape.alternative_enum_share:
        _respell_enumerations(full)
    if not whole:
        for key in ("sdes", "unAuthSdes"):
            full[key] = {"events": latest_per_container(full[key]["events"])}
        if entry.partial:
            _make_partial(full)
    if not with_unauth_sdes:
        content = content - {"unAuthSdes"}
    keys = {key for part in content for key in CONTENT_PARTS[part]}
    return {key: value for key, value in full.items() if key == "info" or key in keys}


def _add_web_visitor_personal_info(record: dict[str, Any], entry: Entry, share: float) -> None:
    """Web visitors are mostly unauthenticated: their personal info is an unauthenticated SDE."""
    rnd = SeededRandom(entry.seed ^ WEB_VISITOR_SALT)
    if record["info"]["source"] != "WEB_SITE" or rnd.random() >= share:
        return
    participant = record["consumerParticipants"][0]
    person = {
        "first": participant["firstName"],
        "last": participant["lastName"],
        "email": participant["email"],
        "phone": participant["phone"],
        "company": "",
    }
    stamp = entry.start_ms + 30_000
    event = personal_info_flat(rnd, stamp, person)
    event.update(serverTimeStamp=str(stamp), isAuthenticated=False)
    events = record["unAuthSdes"]["events"]
    events.append(event)
    events.sort(key=lambda e: int(e["serverTimeStamp"]))


def _respell_enumerations(record: dict[str, Any]) -> None:
    info = record["info"]
    for key in ("status", "fullDialogStatus"):
        info[key] = ALTERNATIVE_SPELLING.get(info[key], info[key])
    for message in record["messageRecords"]:
        for key in ("sentBy", "audience"):
            message[key] = ALTERNATIVE_SPELLING.get(message[key], message[key])
    for status in record["messageStatuses"]:
        status["participantType"] = ALTERNATIVE_SPELLING.get(
            status["participantType"], status["participantType"]
        )


def message_text(entry: Entry, account_id: str, now_ms: int) -> str:
    """All message texts, for the ``keyword`` filter."""
    records = _full_record(entry, account_id, now_ms)["messageRecords"]
    return "\n".join(m["messageData"].get("msg", {}).get("text", "") for m in records)


def _make_partial(record: dict[str, Any]) -> None:
    messages = record["messageRecords"]
    record["messageRecords"] = messages[: max(1, len(messages) // 3)]
    record.pop("sdes")
    record.pop("unAuthSdes")
    record["info"]["isPartial"] = True


def _full_record(entry: Entry, account_id: str, now_ms: int) -> dict[str, Any]:
    rnd = SeededRandom(entry.seed)
    consumer = people.person(rnd)
    consumer_pid = _uuid(rnd)
    agents, skills = _handling(rnd, entry)
    messages = _messages(rnd, entry, consumer_pid, agents)
    answers = people.survey_answers(rnd, consumer)
    events = sde_events(rnd, entry.start_ms - 60_000, entry.last_activity_ms, consumer)
    device, operating_system = rnd.choice(DEVICES)
    browser = rnd.choice(BROWSERS)
    closed = entry.is_closed(now_ms)
    rate = int(answers["postChat"][0][1]) if answers["postChat"] else None
    dialog_id = entry.conversation_id
    record: dict[str, Any] = {
        "info": _info(
            rnd, entry, account_id, now_ms, agents[-1], skills[-1], rate, device, operating_system, browser
        ),
        "campaign": people.campaign(rnd),
        "monitoring": _monitoring(rnd, device, operating_system, browser),
        "messageRecords": messages,
        "agentParticipants": _agent_participants(entry, agents, dialog_id),
        "consumerParticipants": [_consumer_participant(entry, consumer, consumer_pid, dialog_id)],
        "transfers": _transfers(entry, agents, skills, dialog_id),
        "interactions": _interactions(entry, agents, dialog_id),
        "dialogs": _dialogs(entry, closed, skills[-1]),
        "messageScores": _message_scores(rnd, messages),
        "messageStatuses": _message_statuses(messages),
        "conversationSurveys": _conversation_surveys(answers, closed, dialog_id),
        "coBrowseSessions": {"coBrowseSessionsList": []},
        "sdes": {"events": [e for e in events if e["isAuthenticated"]]},
        "unAuthSdes": {"events": [e for e in events if not e["isAuthenticated"]]},
        "responseTime": {
            "latestEffectiveResponseDueTime": entry.last_activity_ms + 3_600_000,
            "configuredResponseTime": 3600,
        },
        "skillChanges": _skill_changes(entry, skills, dialog_id),
        "intents": [],
        "uniqueIntents": [],
    }
    record.update(_agent_surveys(entry, answers, agents[-1], skills[-1], dialog_id))
    summary = rnd.choice(SUMMARIES)
    if closed:  # an open conversation has no summary yet
        record["summary"] = {"text": summary, "lastUpdatedTime": entry.end_ms}
    return record


def _uuid(rnd: random.Random) -> str:
    h = f"{rnd.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _handling(rnd: random.Random, entry: Entry) -> tuple[list[Agent], list[Skill]]:
    """Agents and skills in order; the last of each are the index's (latest) ones."""
    transfers = rnd.choices([0, 1, 2], weights=[75, 18, 7])[0]
    final_agent, final_skill = AGENTS[entry.agent_index], SKILLS[entry.skill_index]
    agents = [a for a in rnd.sample(AGENTS, transfers + 1) if a != final_agent][:transfers]
    skills = [s for s in rnd.sample(SKILLS, transfers + 1) if s != final_skill][:transfers]
    return [*agents, final_agent], [*skills, final_skill]


def _info(
    rnd: random.Random,
    entry: Entry,
    account_id: str,
    now_ms: int,
    agent: Agent,
    skill: Skill,
    rate: int | None,
    device: str,
    operating_system: str,
    browser: str,
) -> dict[str, Any]:
    closed = entry.is_closed(now_ms)
    end = entry.end_ms if closed else -1
    info: dict[str, Any] = {
        "startTime": lp_time(entry.start_ms),
        "startTimeL": entry.start_ms,
        "endTime": lp_time(end) if closed else "undefined",
        "endTimeL": end,
        "duration": (entry.end_ms if closed else now_ms) - entry.start_ms,
        "conversationId": entry.conversation_id,
        "brandId": account_id,
        "latestAgentId": str(agent.agent_id),
        "latestAgentNickname": agent.nickname,
        "latestAgentFullName": agent.full_name,
        "latestAgentLoginName": agent.login,
        "agentDeleted": False,
        "latestSkillId": skill.skill_id,
        "latestSkillName": skill.name,
        "source": rnd.choice(CHANNEL_SOURCES),
        "mcs": rnd.randint(-100, 100),
        "alertedMCS": rnd.choice([-1, 0, 1]),
        "status": "CLOSE" if closed else "OPEN",
        "fullDialogStatus": "CLOSE" if closed else "OPEN",
        "firstConversation": rnd.random() < 0.3,
        "csatRate": rate,
        "device": device,
        "browser": browser,
        "operatingSystem": operating_system,
        "latestAgentGroupId": agent.group_id,
        "latestAgentGroupName": agent.group_name,
        "latestQueueState": "ACTIVE",
        "isPartial": False,
    }
    if closed:
        reason, description = rnd.choice(CLOSE_REASONS)
        info.update(closeReason=reason, closeReasonDescription=description)
    return info


def _monitoring(rnd: random.Random, device: str, operating_system: str, browser: str) -> dict[str, Any]:
    monitoring = people.visitor_info(rnd, device, operating_system, browser)
    monitoring.update(
        conversationStartPage="https://www.example.com/help", conversationStartPageTitle="Help — Example"
    )
    return monitoring


def _messages(
    rnd: random.Random, entry: Entry, consumer_pid: str, agents: list[Agent]
) -> list[dict[str, Any]]:
    count = people.line_count(rnd, entry.long)
    times = people.spread_times(rnd, count, entry.start_ms, entry.last_activity_ms)
    records = []
    for seq, time_ms in enumerate(times):
        agent = agents[min(len(agents) - 1, seq * len(agents) // max(count, 1))]
        records.append(_message(rnd, entry, seq, time_ms, consumer_pid, agent))
    return records


def _message(
    rnd: random.Random, entry: Entry, seq: int, time_ms: int, consumer_pid: str, agent: Agent
) -> dict[str, Any]:
    consumer_side = rnd.random() < 0.5
    kind, data, audience = _message_body(rnd, consumer_side, entry.long)
    return {
        "type": kind,
        "messageData": data,
        "messageId": f"ms::conv:{entry.conversation_id}::msg:{seq}",
        "seq": seq,
        "dialogId": entry.conversation_id,
        "participantId": consumer_pid if consumer_side else str(agent.agent_id),
        "source": "APP",
        "time": lp_time(time_ms),
        "timeL": time_ms,
        "device": "undefined",
        "audience": audience,
        "sentBy": "Consumer" if consumer_side else "Agent",
    }


def _message_body(rnd: random.Random, consumer_side: bool, long: bool) -> tuple[str, dict[str, Any], str]:
    roll = rnd.random()
    if consumer_side:
        if roll < 0.04:
            file = {
                "caption": "photo.jpg",
                "relativePath": f"/file/{rnd.getrandbits(40):x}.jpg",
                "fileType": "JPG",
            }
            return "HOSTED_FILE", {"file": file}, "ALL"
        return "TEXT_PLAIN", {"msg": {"text": people.text_for(rnd, True, long)}}, "ALL"
    if roll < 0.06:
        return "TEXT_PLAIN", {"msg": {"text": rnd.choice(PRIVATE_PHRASES)}}, "AGENTS_AND_MANAGERS"
    if roll < 0.12:
        return "RICH_CONTENT", {"richContent": {"content": RICH_CONTENT_JSON}}, "ALL"
    if roll < 0.16:
        return "LINK", {"link": {"url": "https://help.example.com/faq", "title": "FAQ"}}, "ALL"
    if roll < 0.2:
        return "TEXT_HTML", {"msg": {"text": rnd.choice(HTML_PHRASES)}}, "ALL"
    return "TEXT_PLAIN", {"msg": {"text": people.text_for(rnd, False, long)}}, "ALL"


def _agent_participants(entry: Entry, agents: list[Agent], dialog_id: str) -> list[dict[str, Any]]:
    step = max((entry.last_activity_ms - entry.start_ms) // len(agents), 1)
    return [
        {
            "agentFullName": agent.full_name,
            "agentNickname": agent.nickname,
            "agentLoginName": agent.login,
            "agentId": str(agent.agent_id),
            "userType": "1",
            "userTypeName": "Human",
            "role": "ASSIGNED_AGENT",
            "agentGroupName": agent.group_name,
            "agentGroupId": agent.group_id,
            "time": lp_time(entry.start_ms + i * step),
            "timeL": entry.start_ms + i * step,
            "permission": "ASSIGNED_AGENT",
            "dialogId": dialog_id,
        }
        for i, agent in enumerate(agents)
    ]


def _consumer_participant(entry: Entry, consumer: dict[str, str], pid: str, dialog_id: str) -> dict[str, Any]:
    return {
        "participantId": pid,
        "firstName": consumer["first"],
        "lastName": consumer["last"],
        "token": "undefined",
        "email": consumer["email"],
        "phone": consumer["phone"],
        "avatarURL": "undefined",
        "time": lp_time(entry.start_ms),
        "timeL": entry.start_ms,
        "consumerName": consumer["first"],
        "dialogId": dialog_id,
    }


def _transfers(
    entry: Entry, agents: list[Agent], skills: list[Skill], dialog_id: str
) -> list[dict[str, Any]]:
    step = max((entry.last_activity_ms - entry.start_ms) // len(agents), 1)
    transfers = []
    for i in range(1, len(agents)):
        source_agent, source_skill, target_skill = agents[i - 1], skills[i - 1], skills[i]
        time_ms = entry.start_ms + i * step - 1
        transfers.append(
            {
                "timeL": time_ms,
                "time": lp_time(time_ms),
                "assignedAgentId": str(agents[i].agent_id),
                "targetSkillId": target_skill.skill_id,
                "targetSkillName": target_skill.name,
                "reason": "Skill",
                "by": str(source_agent.agent_id),
                "sourceSkillId": source_skill.skill_id,
                "sourceSkillName": source_skill.name,
                "sourceAgentId": str(source_agent.agent_id),
                "sourceAgentFullName": source_agent.full_name,
                "sourceAgentLoginName": source_agent.login,
                "sourceAgentNickname": source_agent.nickname,
                "dialogId": dialog_id,
            }
        )
    return transfers


def _skill_changes(entry: Entry, skills: list[Skill], dialog_id: str) -> list[dict[str, Any]]:
    return [
        {"fromSkillId": a.skill_id, "toSkillId": b.skill_id, "toSkillName": b.name, "dialogId": dialog_id}
        for a, b in zip(skills, skills[1:], strict=False)
    ]


def _interactions(entry: Entry, agents: list[Agent], dialog_id: str) -> list[dict[str, Any]]:
    step = max((entry.last_activity_ms - entry.start_ms) // len(agents), 1)
    return [
        {
            "assignedAgentId": str(agent.agent_id),
            "assignedAgentFullName": agent.full_name,
            "assignedAgentLoginName": agent.login,
            "assignedAgentNickname": agent.nickname,
            "interactionTimeL": entry.start_ms + i * step,
            "interactionTime": lp_time(entry.start_ms + i * step),
            "interactiveSequence": i + 1,
            "dialogId": dialog_id,
        }
        for i, agent in enumerate(agents)
    ]


def _dialogs(entry: Entry, closed: bool, skill: Skill) -> list[dict[str, Any]]:
    dialog = {
        "dialogId": entry.conversation_id,
        "status": "CLOSE" if closed else "OPEN",
        "dialogType": "MAIN",
        "dialogChannelType": "MESSAGING",
        "startTime": lp_time(entry.start_ms),
        "startTimeL": entry.start_ms,
        "skillId": skill.skill_id,
        "skillName": skill.name,
    }
    if closed:
        dialog.update(endTime=lp_time(entry.end_ms), endTimeL=entry.end_ms, closeReason="AGENT")
    return [dialog]


def _message_scores(rnd: random.Random, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "messageId": m["messageId"],
            "messageRawScore": rnd.randint(-2, 2),
            "mcs": rnd.randint(-100, 100),
            "time": m["time"],
            "timeL": m["timeL"],
        }
        for m in messages
        if m["sentBy"] == "Consumer"
    ]


def _message_statuses(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "messageId": m["messageId"],
            "seq": m["seq"],
            "time": m["time"],
            "timeL": m["timeL"],
            "participantId": m["participantId"],
            "participantType": "Agent" if m["sentBy"] == "Consumer" else "Consumer",
            "messageDeliveryStatus": "READ",
            "dialogId": m["dialogId"],
        }
        for m in messages[:5]
    ]


def _conversation_surveys(answers: dict[str, list], closed: bool, dialog_id: str) -> list[dict[str, Any]]:
    pairs = answers["preChat"] + answers["postChat"]
    if not pairs or not closed:
        return []
    data = [{"question": q, "answer": a} for q, a in pairs]
    return [
        {"surveyType": "Satisfaction", "surveyStatus": "FILLED", "dialogId": dialog_id, "surveyData": data}
    ]


def _agent_surveys(
    entry: Entry, answers: dict[str, list], agent: Agent, skill: Skill, dialog_id: str
) -> dict[str, Any]:
    if not answers["operator"]:
        return {"previouslySubmittedAgentSurveys": []}
    submitted = [
        {
            "questionText": question,
            "questionId": str(1568781637139 + i),
            "questionDefinition": "REGULAR_QUESTION",
            "questionCategory": "FREE_TEXT",
            "answers": [{"answer": answer, "answerId": str(1568781637139 + i)}],
        }
        for i, (question, answer) in enumerate(answers["operator"])
    ]
    survey = {
        "surveyStatus": "SUBMITTED",
        "dialogId": dialog_id,
        "acSurveyName": "Agent wrap-up",
        "surveySkillId": skill.skill_id,
        "surveySkillName": skill.name,
        "assignedAgentId": str(agent.agent_id),
        "assignedAgentName": agent.full_name,
        "performedByAgentId": str(agent.agent_id),
        "lastUpdateTime": entry.last_activity_ms,
        "submittedAnswers": submitted,
    }
    return {"previouslySubmittedAgentSurveys": [survey]}
