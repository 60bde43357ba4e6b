"""Building blocks shared by chat and messaging records: the consumer, texts, times, surveys."""

from __future__ import annotations

import random
from typing import Any

from lesync.emulators.liveperson.content import (
    AGENT_PHRASES,
    CAMPAIGNS,
    COMPANY_MAIL,
    COUNTRIES,
    FIRST_NAMES,
    FREE_MAIL,
    LAST_NAMES,
    VISITOR_PHRASES,
)

LONG_TRANSCRIPT_LINES = 340
LONG_LINE_CHARS = 520  # 340 lines of which most carry 520+ characters: > 131,072 in all


def person(rnd: random.Random) -> dict[str, str]:
    """A consumer; e-mail at a free-mail domain about half the time, else at a company domain."""
    first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
    domain = rnd.choice(FREE_MAIL) if rnd.random() < 0.5 else rnd.choice(COMPANY_MAIL)
    local = "".join(c for c in f"{first}.{last}".lower() if c.isascii() and (c.isalnum() or c == "."))
    return {
        "first": first,
        "last": last,
        "email": f"{local or 'user'}{rnd.randint(1, 999)}@{domain}",
        "phone": f"+1 {rnd.randint(200, 989)}-{rnd.randint(200, 999)}-{rnd.randint(1000, 9999)}",
        "company": domain.split(".")[0] if domain in COMPANY_MAIL else "",
        "customer_id": f"{rnd.randint(100000, 999999)}AC",
        "account_number": f"{rnd.randint(10000, 99999)}-{rnd.randint(10, 99)}",
    }


def line_count(rnd: random.Random, long: bool) -> int:
    """About 20 lines on average: some very short chats, some of 60 or more."""
    if long:
        return LONG_TRANSCRIPT_LINES
    roll = rnd.random()
    if roll < 0.12:
        return rnd.randint(1, 3)
    if roll < 0.19:
        return rnd.randint(60, 90)
    return rnd.randint(8, 28)


def spread_times(rnd: random.Random, count: int, start_ms: int, end_ms: int) -> list[int]:
    """``count`` increasing times inside [start, end]."""
    span = max(end_ms - start_ms, count + 1)
    return sorted(start_ms + rnd.randrange(1, span) for _ in range(count))


def text_for(rnd: random.Random, visitor: bool, long: bool) -> str:
    pool = VISITOR_PHRASES if visitor else AGENT_PHRASES
    if not long:
        return rnd.choice(pool)
    parts: list[str] = []
    length = 0  # sum(len(p) + 1 for p in parts), kept as a running total
    while length < LONG_LINE_CHARS:
        part = rnd.choice(pool)
        parts.append(part)
        length += len(part) + 1
    return " ".join(parts)


def campaign(rnd: random.Random) -> dict[str, Any]:
    campaign_id, name, goal_id, goal = rnd.choice(CAMPAIGNS)
    return {
        "campaignEngagementId": str(rnd.randint(1759631410, 1759639999)),
        "campaignEngagementName": rnd.choice(["Sticky chat button", "Engagement-123", "Proactive ✨"]),
        "campaignId": campaign_id,
        "campaignName": name,
        "goalId": goal_id,
        "goalName": goal,
        "visitorBehaviorId": "1340122110",
        "visitorBehaviorName": "Any behavior",
        "visitorProfileId": "1340122010",
        "visitorProfileName": "All visitors",
        "lobId": -1,
        "lobName": "NA",
    }


def visitor_info(rnd: random.Random, device: str, operating_system: str, browser: str) -> dict[str, Any]:
    country, code, state, city = rnd.choice(COUNTRIES)
    return {
        "country": country,
        "countryCode": code,
        "state": state,
        "city": city,
        "isp": rnd.choice(["Comcast", "Bezeq", "Deutsche Telekom", "Vivo"]),
        "org": rnd.choice(["Amazon", "", "AT&T U-verse"]),
        "device": device,
        "ipAddress": f"192.168.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
        "browser": browser,
        "operatingSystem": operating_system,
    }


def rating(rnd: random.Random) -> str:
    return str(rnd.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 4, 6])[0])


def survey_answers(rnd: random.Random, consumer: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """(question, answer) pairs of the pre-chat, post-chat and agent surveys; any may be empty."""
    pre: list[tuple[str, str]] = []
    if rnd.random() < 0.6:
        pre = [("Name", f"{consumer['first']} {consumer['last']}"), ("Email", consumer["email"])]
        if rnd.random() < 0.7:
            pre.append(("What is your Account Number?", consumer["account_number"]))
    post: list[tuple[str, str]] = []
    if rnd.random() < 0.45:
        post = [("How would you rate us?", rating(rnd))]
        if rnd.random() < 0.5:
            post.append(("Any other comments?", rnd.choice(["Great service! 🎉", "מצוין", 'slow, "meh"'])))
    agent: list[tuple[str, str]] = []
    if rnd.random() < 0.5:
        agent = [("Was the customer satisfied?", rnd.choice(["Yes", "No", "Partially"]))]
        if rnd.random() < 0.5:
            agent.append(("Reason for contact", rnd.choice(["Billing", "Shipping", "Technical"])))
    return {"preChat": pre, "postChat": post, "operator": agent}
