"""The predefined LivePerson fields ("LivePerson Field Name" in the vendor's UI).

Each entry names one value people map, with where it lives in a chat record (Engagement History
API) and in a messaging record (Messaging Interactions API): a path, a tuple of paths tried in
order (first non-empty wins), a computed function, or ``None`` when the channel has no such
thing. Descriptions feed the docs and the "did you mean" hints of mapping errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lesync.mapping.convert import is_empty
from lesync.mapping.metrics import METRICS, measure, message_counts
from lesync.mapping.paths import Getter, compile_path

Source = str | tuple[str, ...] | Callable[[dict], Any] | None


@dataclass(frozen=True)
class CatalogField:
    name: str
    description: str
    chat: Source
    messaging: Source
    convert: str | None = None  # the conversion this value usually needs (a hint for docs)
    free_text: bool = False  # typed by people (summaries, survey answers): redaction applies

    def source(self, channel: str) -> Source:
        return self.chat if channel == "chat" else self.messaging


# --------------------------------------------------------------------------------------------
# Computed values


def _list(record: dict, key: str) -> list:
    value = record.get(key)
    return value if type(value) is list else []


def reads(*parts: str) -> Callable[[Callable[[dict], Any]], Callable[[dict], Any]]:
    """Declare the record parts (top-level keys) a computed value reads, for ``contentToRetrieve``."""

    def mark(function: Callable[[dict], Any]) -> Callable[[dict], Any]:
        function.parts = parts  # type: ignore[attr-defined]
        return function

    return mark


@reads("transfers")
def _transfer_count(record: dict) -> int | None:
    transfers = record.get("transfers")
    return len(transfers) if type(transfers) is list else None


def _metric(name: str, channel: str) -> Callable[[dict], Any]:
    """A service-level metric (``lesync.mapping.metrics``) of one channel's record."""
    parts = ("info", "transcript") if channel == "chat" else ("info", "messageRecords", "agentParticipants")
    if name not in METRICS:

        @reads(parts[1])
        def count(record: dict) -> Any:
            return message_counts(record, channel)[name]

        return count

    @reads(*parts)
    def value(record: dict) -> Any:
        return measure(record, channel)[name]

    return value


def _metric_field(name: str, description: str, convert: str = "number") -> CatalogField:
    return CatalogField(name, description, _metric(name, "chat"), _metric(name, "messaging"), convert)


@reads("info")
def _messaging_duration_seconds(record: dict) -> float | None:
    info = record.get("info")
    duration = info.get("duration") if type(info) is dict else None
    if type(duration) in (int, float):
        return round(duration / 1000, 3)
    return None


@reads("info")
def _chat_status(record: dict) -> str:
    info = record.get("info")
    return "OPEN" if type(info) is dict and info.get("ended") is False else "CLOSE"


@reads("consumerParticipants")
def _consumer_full_name(record: dict) -> str | None:
    for person in _list(record, "consumerParticipants"):
        if type(person) is dict:
            parts = [p for p in (person.get("firstName"), person.get("lastName")) if not is_empty(p)]
            name = " ".join(str(p) for p in parts) or person.get("consumerName")
            if not is_empty(name):
                return name
    return None


def _survey_answers(path: str) -> Callable[[dict], str | None]:
    """All answers of one chat survey as ``Question: answer`` lines."""
    get = compile_path(path)

    @reads(path.split(".", 1)[0])
    def answers(record: dict) -> str | None:
        items = get(record)
        if type(items) is not list:
            return None
        lines = []
        for item in items:
            if type(item) is dict and not is_empty(item.get("value")):
                lines.append(f"{str(item.get('displayName') or '').strip()}: {item['value']}")
        return "\n".join(lines) or None

    return answers


@reads("conversationSurveys")
def _messaging_survey_answers(record: dict) -> str | None:
    lines = []
    for survey in _list(record, "conversationSurveys"):
        data = survey.get("surveyData") if type(survey) is dict else None
        for item in data if type(data) is list else []:
            if type(item) is dict and not is_empty(item.get("answer")):
                lines.append(f"{str(item.get('question') or '').strip()}: {item['answer']}")
    return "\n".join(lines) or None


@reads("latestAgentSurvey", "previouslySubmittedAgentSurveys")
def _messaging_agent_survey_answers(record: dict) -> str | None:
    surveys = [record.get("latestAgentSurvey"), *_list(record, "previouslySubmittedAgentSurveys")]
    lines = []
    for survey in surveys:
        answers = survey.get("submittedAnswers") if type(survey) is dict else None
        for item in answers if type(answers) is list else []:
            if type(item) is not dict:
                continue
            values = [a.get("answer") for a in item.get("answers") or [] if type(a) is dict]
            values = [str(v) for v in values if not is_empty(v)]
            if values:
                lines.append(f"{str(item.get('questionText') or '').strip()}: {', '.join(values)}")
    return "\n".join(lines) or None


# --------------------------------------------------------------------------------------------
# The catalog

SDES, UNAUTH_SDES = "sdes", "unAuthSdes"
_SDE = SDES + ".events[sdeType={}].{}"  # each also read from unAuthSdes (see source_paths)
_CUSTOMER = _SDE.format("CUSTOMER_INFO", "customerInfo.customerInfo.{}")
_PERSONAL = _SDE.format("PERSONAL_INFO", "personalInfo.personalInfo.{}")
_MARKETING = _SDE.format("MARKETING_CAMPAIGN_INFO", "marketingCampaignInfo.marketingCampaignInfo.{}")
_LEAD = _SDE.format("LEAD", "lead.lead.{}")
_SERVICE = _SDE.format("SERVICE_ACTIVITY", "serviceActivity.serviceActivity.{}")
_PURCHASE = _SDE.format("PURCHASE", "purchase.{}")
_CART = _SDE.format("CART_STATUS", "cartStatus.{}")
_PRECHAT = "surveys.preChat[displayName={}].value"


def _both(path: str) -> tuple[str, str]:
    return path, path


_FIELDS: tuple[CatalogField, ...] = (
    # Identity, time, status
    CatalogField(
        "conversationId",
        "LivePerson id: chat engagement id / messaging conversation id",
        "info.engagementId",
        "info.conversationId",
    ),
    CatalogField("accountId", "LivePerson account (site) id", "info.accountId", "info.brandId"),
    CatalogField(
        "startTime",
        "When the conversation started",
        ("info.startTimeL", "info.startTime"),
        ("info.startTimeL", "info.startTime"),
        "datetime",
    ),
    CatalogField(
        "endTime",
        "When the conversation ended (messaging: empty while open)",
        ("info.endTimeL", "info.endTime"),
        ("info.endTimeL", "info.endTime"),
        "datetime",
    ),
    CatalogField(
        "durationSeconds",
        "Length in seconds (messaging reports ms; converted)",
        "info.duration",
        _messaging_duration_seconds,
        "number",
    ),
    CatalogField(
        "status", "OPEN or CLOSE (chats from history are always closed)", _chat_status, "info.status"
    ),
    CatalogField(
        "channel",
        "LivePerson channel/source (chat: channel code; messaging: APP, SMS, ...)",
        "info.channel",
        "info.source",
    ),
    CatalogField(
        "isPartial",
        "True when LivePerson returned a partial record",
        "info.isPartial",
        "info.isPartial",
        "boolean",
    ),
    # People
    CatalogField("agentId", "Agent id (messaging: latest agent)", "info.agentId", "info.latestAgentId"),
    CatalogField(
        "agentName",
        "Agent full name (messaging: latest agent)",
        ("info.agentFullName", "info.agentNickName", "info.agentName"),
        ("info.latestAgentFullName", "info.latestAgentNickname"),
    ),
    CatalogField(
        "agentNickName",
        "Agent nickname (the name the visitor sees)",
        ("info.agentNickName", "info.agentName"),
        "info.latestAgentNickname",
    ),
    CatalogField("agentLoginName", "Agent login name", "info.agentLoginName", "info.latestAgentLoginName"),
    CatalogField("agentGroupId", "Agent group id", "info.agentGroupId", "info.latestAgentGroupId"),
    CatalogField("agentGroupName", "Agent group name", "info.agentGroupName", "info.latestAgentGroupName"),
    CatalogField("skillId", "Skill id (messaging: latest skill)", "info.skillId", "info.latestSkillId"),
    CatalogField(
        "skillName", "Skill name (messaging: latest skill)", "info.skillName", "info.latestSkillName"
    ),
    CatalogField(
        "visitorId",
        "LivePerson visitor id (messaging: consumer participant id)",
        "info.visitorId",
        "consumerParticipants[0].participantId",
    ),
    CatalogField(
        "visitorName",
        "Visitor name (messaging: consumer first + last name)",
        ("info.visitorName", _PERSONAL.format("name")),
        _consumer_full_name,
    ),
    CatalogField(
        "visitorEmail",
        "Visitor email (pre-chat survey, else personal info SDE)",
        (_PRECHAT.format("Email"), _PERSONAL.format("contacts.personalContact.email")),
        (_PERSONAL.format("contacts.personalContact.email"), "consumerParticipants[0].email"),
    ),
    CatalogField(
        "visitorPhone",
        "Visitor phone (pre-chat survey, else personal info SDE)",
        (_PRECHAT.format("Phone"), _PERSONAL.format("contacts.personalContact.phone")),
        (_PERSONAL.format("contacts.personalContact.phone"), "consumerParticipants[0].phone"),
    ),
    # Campaign
    CatalogField("campaignName", "Campaign name", *_both("campaign.campaignName")),
    CatalogField("campaignId", "Campaign id", *_both("campaign.campaignId")),
    CatalogField("goalName", "Campaign goal name", *_both("campaign.goalName")),
    CatalogField("engagementName", "Campaign engagement name", *_both("campaign.campaignEngagementName")),
    CatalogField("engagementId", "Campaign engagement id", *_both("campaign.campaignEngagementId")),
    CatalogField("visitorProfileName", "Campaign visitor profile", *_both("campaign.visitorProfileName")),
    CatalogField("visitorBehaviorName", "Campaign visitor behavior", *_both("campaign.visitorBehaviorName")),
    CatalogField("lineOfBusiness", "Line of business (LOB) name", *_both("campaign.lobName")),
    # Visitor's device and place
    CatalogField(
        "browser", "Visitor browser", ("visitorInfo.browser",), ("monitoring.browser", "info.browser")
    ),
    CatalogField("device", "Visitor device type", "visitorInfo.device", ("monitoring.device", "info.device")),
    CatalogField(
        "operatingSystem",
        "Visitor operating system",
        "visitorInfo.operatingSystem",
        ("monitoring.operatingSystem", "info.operatingSystem"),
    ),
    CatalogField("country", "Visitor country", "visitorInfo.country", "monitoring.country"),
    CatalogField("state", "Visitor state/region", "visitorInfo.state", "monitoring.state"),
    CatalogField("city", "Visitor city", "visitorInfo.city", "monitoring.city"),
    CatalogField("isp", "Visitor internet provider", "visitorInfo.isp", "monitoring.isp"),
    CatalogField("ipAddress", "Visitor IP address", "visitorInfo.ipAddress", "monitoring.ipAddress"),
    CatalogField(
        "entryPage",
        "Page (URL) where the conversation started",
        "info.chatStartUrl",
        "monitoring.conversationStartPage",
    ),
    CatalogField(
        "entryPageTitle",
        "Title of the page where the conversation started",
        "info.chatStartPage",
        "monitoring.conversationStartPageTitle",
    ),
    # Outcome and quality
    CatalogField("mcs", "Meaningful Connection Score", ("info.chatMCS", "info.mcs"), "info.mcs", "number"),
    CatalogField("csat", "Customer satisfaction rate (1-5)", None, "info.csatRate", "number"),
    CatalogField(
        "closeReason",
        "Why the conversation ended",
        "info.endReasonDesc",
        ("info.closeReasonDescription", "info.closeReason"),
    ),
    CatalogField("closedBy", "Who closed it (messaging: AGENT, CONSUMER, SYSTEM)", None, "info.closeReason"),
    CatalogField("startReason", "Why the chat started", "info.startReasonDesc", None),
    CatalogField("summary", "Conversation summary text", None, "summary.text", free_text=True),
    CatalogField(
        "transferCount",
        "How many transfers between agents/skills",
        _transfer_count,
        _transfer_count,
        "integer",
    ),
    _metric_field("messageCount", "Visitor + agent messages (system lines not counted)", "integer"),
    _metric_field("visitorMessageCount", "Messages sent by the visitor", "integer"),
    _metric_field(
        "agentMessageCount",
        "Messages sent by agents, as LivePerson labels them (bots and private ones included)",
        "integer",
    ),
    # Service-level metrics (definitions: lesync/mapping/metrics.py and docs/mappings.md)
    _metric_field("queueWaitSeconds", "Seconds from the request to the first human agent message"),
    _metric_field("firstResponseSeconds", "Seconds from the first visitor message to the first agent answer"),
    _metric_field("averageResponseSeconds", "Mean seconds the visitor waited for an agent answer"),
    _metric_field("longestResponseSeconds", "Longest seconds the visitor waited for an agent answer"),
    _metric_field("handleTimeSeconds", "Seconds from the first agent message to the end (open: empty)"),
    _metric_field("agentsInvolved", "Distinct human agents who wrote or were assigned", "integer"),
    _metric_field(
        "abandoned", "Closed with nobody (agent or bot) answering the visitor (open: empty)", "boolean"
    ),
    _metric_field("closeAfterLastMessageSeconds", "Seconds from the last message to the end (open: empty)"),
    # Surveys
    CatalogField("preChatName", "Pre-chat survey: Name", _PRECHAT.format("Name"), None),
    CatalogField("preChatEmail", "Pre-chat survey: Email", _PRECHAT.format("Email"), None),
    CatalogField("preChatPhone", "Pre-chat survey: Phone", _PRECHAT.format("Phone"), None),
    CatalogField(
        "preChatSurveyAnswers",
        "All pre-chat survey answers as 'Question: answer' lines",
        _survey_answers("surveys.preChat"),
        None,
        free_text=True,
    ),
    CatalogField(
        "postChatSurveyAnswers",
        "All post-chat (messaging: conversation) survey answers",
        _survey_answers("surveys.postChat"),
        _messaging_survey_answers,
        free_text=True,
    ),
    CatalogField(
        "agentSurveyAnswers",
        "All agent survey answers as 'Question: answer' lines",
        _survey_answers("surveys.operator"),
        _messaging_agent_survey_answers,
        free_text=True,
    ),
    # Engagement attributes (SDEs)
    CatalogField(
        "customerType", "Customer info SDE: customer type", *_both(_CUSTOMER.format("customerType"))
    ),
    CatalogField("customerId", "Customer info SDE: customer id", *_both(_CUSTOMER.format("customerId"))),
    CatalogField("customerStatus", "Customer info SDE: status", *_both(_CUSTOMER.format("customerStatus"))),
    CatalogField(
        "customerBalance", "Customer info SDE: balance", *_both(_CUSTOMER.format("balance")), "number"
    ),
    CatalogField(
        "customerCompanyBranch",
        "Customer info SDE: company branch",
        *_both(_CUSTOMER.format("companyBranch")),
    ),
    CatalogField(
        "customerLastPaymentDate",
        "Customer info SDE: last payment date",
        *_both(_CUSTOMER.format("lastPaymentDate")),
        "date",
    ),
    CatalogField("personalName", "Personal info SDE: first name", *_both(_PERSONAL.format("name"))),
    CatalogField("personalSurname", "Personal info SDE: surname", *_both(_PERSONAL.format("surname"))),
    CatalogField("personalCompany", "Personal info SDE: company", *_both(_PERSONAL.format("company"))),
    CatalogField(
        "personalEmail",
        "Personal info SDE: email (first contact)",
        *_both(_PERSONAL.format("contacts.personalContact.email")),
    ),
    CatalogField(
        "personalPhone",
        "Personal info SDE: phone (first contact)",
        *_both(_PERSONAL.format("contacts.personalContact.phone")),
    ),
    CatalogField("leadTopic", "Lead SDE: topic", *_both(_LEAD.format("topic"))),
    CatalogField("leadValue", "Lead SDE: value", *_both(_LEAD.format("value")), "number"),
    CatalogField("leadId", "Lead SDE: lead id", *_both(_LEAD.format("leadId"))),
    CatalogField("purchaseTotal", "Purchase SDE: order total", *_both(_PURCHASE.format("total")), "number"),
    CatalogField("purchaseOrderId", "Purchase SDE: order id", *_both(_PURCHASE.format("orderId"))),
    CatalogField("cartTotal", "Cart status SDE: cart total", *_both(_CART.format("total")), "number"),
    CatalogField(
        "cartItemCount", "Cart status SDE: number of items", *_both(_CART.format("numItems")), "integer"
    ),
    CatalogField(
        "marketingAffiliate", "Marketing source SDE: affiliate", *_both(_MARKETING.format("affiliate"))
    ),
    CatalogField(
        "marketingCampaignId", "Marketing source SDE: campaign id", *_both(_MARKETING.format("campaignId"))
    ),
    CatalogField(
        "marketingChannel",
        "Marketing source SDE: originating channel",
        *_both(_MARKETING.format("originatingChannel")),
    ),
    CatalogField("serviceActivityTopic", "Service activity SDE: topic", *_both(_SERVICE.format("topic"))),
    CatalogField("serviceActivityStatus", "Service activity SDE: status", *_both(_SERVICE.format("status"))),
    CatalogField(
        "serviceActivityCategory", "Service activity SDE: category", *_both(_SERVICE.format("category"))
    ),
    CatalogField(
        "viewedProductName",
        "Viewed product SDE: first product name",
        *_both(_SDE.format("VIEWED_PRODUCT", "viewedProduct.products.product.name")),
    ),
    CatalogField(
        "visitorErrorMessage",
        "Visitor error SDE: message",
        *_both(_SDE.format("VISITOR_ERROR", "visitorError.message.string")),
    ),
)

CATALOG: dict[str, CatalogField] = {field.name: field for field in _FIELDS}


def compile_source(source: Source) -> Getter | None:
    """A getter for a catalog source: paths compiled once, fallbacks tried in order."""
    if source is None:
        return None
    if callable(source):
        return _guarded(source)
    getters = tuple(compile_path(path) for path in source_paths(source))
    if len(getters) == 1:
        return getters[0]
    return first_non_empty(getters)


def source_paths(source: str | tuple[str, ...]) -> tuple[str, ...]:
    """The paths a source tries, in order: every ``sdes...`` path is followed by its
    ``unAuthSdes...`` twin (messaging ``v=2`` keeps unauthenticated attributes apart, in the same
    event shapes; authenticated ones win)."""
    paths = (source,) if isinstance(source, str) else source
    tried: list[str] = []
    for path in paths:
        tried.append(path)
        if path.startswith(SDES + "."):
            tried.append(UNAUTH_SDES + path[len(SDES) :])
    return tuple(tried)


def source_parts(source: Source) -> frozenset[str]:
    """The record parts (top-level keys) a source reads; what ``contentToRetrieve`` must ask for."""
    if source is None:
        return frozenset()
    if callable(source):
        return frozenset(getattr(source, "parts", ()))
    return frozenset(filter(None, (path_root(path) for path in source_paths(source))))


def path_root(path: str) -> str | None:
    """The top-level key a path starts with (None when it starts with a selector)."""
    head = path.split(".", 1)[0].split("[", 1)[0].strip()
    return head or None


def first_non_empty(getters: tuple[Getter, ...]) -> Getter:
    def getter(record: Any) -> Any:
        for get in getters:
            value = get(record)
            if not is_empty(value):
                return value
        return None

    return getter


def _guarded(function: Callable[[dict], Any]) -> Getter:
    def getter(record: Any) -> Any:
        if type(record) is not dict:
            return None
        try:
            return function(record)
        except Exception:  # computed values follow the path rule: unknown shapes mean "missing"
            return None

    return getter


_COMPILED: dict[tuple[str, str], Getter | None] = {}


def catalog_getter(name: str, channel: str) -> Getter | None:
    """The compiled getter of a predefined field for one channel (cached; None if the channel
    has no such value)."""
    key = (name, channel)
    if key not in _COMPILED:
        _COMPILED[key] = compile_source(CATALOG[name].source(channel))
    return _COMPILED[key]
