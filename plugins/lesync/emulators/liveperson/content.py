"""Fixed pools the synthetic records draw from: agents, skills, people, phrases.

The pools are deliberately awkward for a sync: accents, emoji, right-to-left scripts, HTML,
characters that need CSV quoting, free-mail and company e-mail domains.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Agent:
    agent_id: int
    full_name: str
    nickname: str
    login: str
    group_id: int
    group_name: str


@dataclass(frozen=True)
class Skill:
    skill_id: int
    name: str


_AGENT_NAMES = [
    ("Greg Miller", "Greg"),
    ("Irena Kowalska", "Irena"),
    ("José Núñez", "José"),
    ("Zoë O'Brien", "Zoë"),
    ("דנה כהן", "דנה"),
    ("أحمد منصور", "أحمد"),
    ("Lior Ravid", "Lior"),
    ("Michal Levi", "Michal"),
    ("Søren Ødegård", "Søren"),
    ("Aiko Tanaka", "Aiko"),
    ("François Lefèvre", "François"),
    ("Priya Raman", "Priya"),
    ("Chen, Wei", "Wei"),
    ('Sam "Ace" Jones', "Sam"),
    ("Olga Petrova", "Olga"),
    ("Mateus Araújo", "Mateus"),
    ("Kwame Mensah", "Kwame"),
    ("Ana María Ruiz", "Ana"),
    ("Nils Åberg", "Nils"),
    ("Yusuf Demir", "Yusuf"),
    ("Hannah Schmidt", "Hannah"),
    ("Tom Nguyen", "Tom"),
    ("Fatima Zahra", "Fatima"),
    ("Ivan Horvat", "Ivan"),
]
_GROUPS = [(-1, "Main Group"), (101, "Tier 1"), (102, "Tier 2"), (103, "Night shift")]


def _agent(index: int, names: tuple[str, str]) -> Agent:
    full, nick = names
    group_id, group_name = _GROUPS[index % len(_GROUPS)]
    login = f"agent{index + 1:02d}@example-support.com"
    return Agent(3677470410 + index * 1000, full, nick, login, group_id, group_name)


AGENTS: list[Agent] = [_agent(i, n) for i, n in enumerate(_AGENT_NAMES)]

SKILLS: list[Skill] = [
    Skill(-1, "Unassigned"),
    Skill(2, "Billing"),
    Skill(3, "Sales"),
    Skill(4, "Technical Support"),
    Skill(5, "Retention"),
    Skill(6, "Ventas España"),
    Skill(7, "תמיכה"),
    Skill(8, "دعم العملاء"),
    Skill(9, "VIP & Premium"),
    Skill(10, "Returns/Exchanges"),
]

FIRST_NAMES = [
    "Joe",
    "Irena",
    "María",
    "Zoë",
    "Noa",
    "Yara",
    "Liam",
    "Chloé",
    "Mohammed",
    "Sakura",
    "Olivia",
    "Ethan",
    "Björn",
    "Léa",
    "Avi",
    "Layla",
    "Mia",
    "Lucas",
    "Emma",
    "Noah",
    "Ω-Omega",
    "D'Arcy",
    "Jean-Luc",
    "Ngozi",
]
LAST_NAMES = [
    "Smith",
    "Garcia",
    "Cohen",
    "Haddad",
    "Müller",
    "O'Neil",
    "Kim",
    "Rossi",
    "Dubois",
    "Nakamura",
    "van der Berg",
    "Ivanova",
    "Levi",
    "Al-Farsi",
    "Johnson",
    "Brown",
    "Silva",
    "Łukasiewicz",
    "Nguyễn",
    "Smith-Jones",
]
FREE_MAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "gmx.de"]
COMPANY_MAIL = ["acme-corp.com", "globex.example", "initech.io", "umbrella.co.uk", "contoso.com"]

VISITOR_PHRASES = [
    "Hi, I need help with my order",
    "My package hasn't arrived yet 😟",
    "Can I change the delivery address?",
    "I was charged twice for the same order!!",
    "שלום, יש לי שאלה לגבי החשבון שלי",
    "مرحبا، أحتاج إلى مساعدة في طلبي",
    "¿Puedo pagar con tarjeta de crédito?",
    "The app crashes when I open settings 🤔",
    'It says "error 5003" & then nothing, <script>alert(1)</script>',
    "Thanks!! 🙏🙏",
    "ok",
    "My account number is 48213-77, is that enough?",
    "Can you send me a copy of the invoice, please?",
    'I\'d like to cancel my subscription, comma, period. Semicolon; quotes "like this"',
    "Line one\nline two\r\nline three",
    "日本語のサポートはありますか？",
    "Ich möchte meine Bestellung stornieren.",
    "👍",
]
AGENT_PHRASES = [
    "Hello! Thanks for reaching out, how can I help you today?",
    "Let me check that for you, one moment please.",
    "I'm sorry for the delay. I'll be right with you.",
    "I can see your order here. It shipped yesterday.",
    "בשמחה, אני בודק עבורך את הפרטים",
    "شكرا لتواصلك معنا، سأساعدك حالا",
    "Claro, puedo ayudarle con eso.",
    "Is there anything else I can help you with? 😊",
    "I've issued a refund; it will show within 3-5 business days.",
    "Could you confirm the e-mail address on the account?",
]
HTML_PHRASES = [
    "<b>Important:</b> please keep your order number handy.",
    'See <a href="https://help.example.com/returns?x=1&amp;y=2">our returns page</a>.',
    "<p>Steps:</p><ol><li>Open <i>Settings</i></li><li>Tap &quot;Reset&quot;</li></ol>",
]
URL_PHRASES = ["https://help.example.com/faq#shipping", "https://www.example.com/orders/track?id=A1B2"]
AGENT_ONLY_PHRASES = [
    "Note: customer is a VIP, offer 10% coupon",
    "Escalating to Tier 2, suspected fraud",
    "Private: customer was rude earlier",
]
PRIVATE_PHRASES = ["@supervisor can you approve the refund?", "Customer wants a manager, FYI"]
SUMMARIES = [
    "Customer asked about a delayed order; tracking link sent.",
    "Refund issued for a double charge.",
    "Customer cancelled subscription after retention offer was declined.",
    "הלקוח ביקש לשנות כתובת משלוח.",
]
CLOSE_REASONS = [("AGENT", "MANUAL_CLOSE"), ("CONSUMER", "MANUAL_CLOSE"), ("SYSTEM", "AUTO_CLOSE")]
END_REASONS = [("201", "Rep stopped chat"), ("210", "Visitor closed chat"), ("212", "Visitor timed out")]
COUNTRIES = [
    ("United States", "US", "California", "San Jose"),
    ("Israel", "IL", "Tel Aviv", "Tel Aviv"),
    ("Germany", "DE", "Bavaria", "Munich"),
    ("Brazil", "BR", "São Paulo", "São Paulo"),
    ("Egypt", "EG", "Cairo", "Cairo"),
]
BROWSERS = ["Chrome 120.0.6099.109", "Safari 17.1", "Firefox 121.0", "Edge 120.0.2210.91"]
DEVICES = [("DESKTOP", "WINDOWS"), ("DESKTOP", "MAC_OSX"), ("MOBILE", "IOS"), ("MOBILE", "ANDROID")]
CAMPAIGNS = [
    ("1340122410", "Live Chat on your site", "1340122310", "Interact with visitors"),
    ("2266771712", "Spring Sale 🌸", "2266719412", "Increase sales"),
    ("2266771799", "Support deflection", "2266719499", "Reduce service costs"),
]
RICH_CONTENT = {
    "type": "vertical",
    "elements": [
        {"type": "text", "text": "Now on sale!"},
        {
            "type": "button",
            "title": "Track order",
            "click": {"actions": [{"type": "link", "uri": "https://x.example"}]},
        },
    ],
}
RICH_CONTENT_JSON = json.dumps(RICH_CONTENT, separators=(",", ":"))


_DAY_MS = 86_400_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@functools.lru_cache(maxsize=4096)
def _day_text(day: int) -> str:
    """'2017-02-01 ' for the ``day``-th day after the epoch (records span a few hundred days)."""
    return (_EPOCH + dt.timedelta(days=day)).strftime("%Y-%m-%d ")


def lp_time(ms: int) -> str:
    """LivePerson's time string, e.g. '2017-02-01 17:11:59.916+0000'.

    Hot path (a few hundred calls per record): the date comes from a cache, the time of day from
    integer arithmetic; the same text as ``datetime.fromtimestamp(ms / 1000, UTC)`` formatted."""
    day, rest = divmod(ms, _DAY_MS)
    seconds, milli = divmod(rest, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_day_text(day)}{hours:02d}:{minutes:02d}:{seconds:02d}.{milli:03d}+0000"
