"""Redaction: card numbers, security codes, SSNs, IBANs, emails and phones out of free text.

Customers type payment details into chats; copying them into Salesforce puts the org in PCI
scope. A ``RedactionPolicy`` (per integration) says which detectors run, what replaces a hit and
where it applies; ``redactor(policy)`` compiles it once into a ``Redactor`` whose ``text`` does
the work. Detectors favour precision where numbers are ambiguous:

- ``payment_card``: 13-19 digits, optionally grouped by single spaces or dashes, in a major
  network's IIN range and length (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay,
  Maestro), passing the Luhn check. The whole digit run is read (a longer tracking number is not
  cut into a card); a valid card followed by one short group (expiry month, code) goes as a whole.
- ``card_security_code``: 3-4 digits in context only ("CVV 123", "security code: 1234"); the
  words stay, the digits go.
- ``us_ssn``: ``AAA-GG-SSSS`` / ``AAA GG SSSS`` with the SSA's never-issued areas, groups and
  serials excluded, or 9 digits after "SSN" / "social security".
- ``iban``: country code, check digits and BBAN (in groups of 4 or unspaced), the country's
  registered length, and the ISO 7064 mod-97 check.
- ``email``: ``local@domain.tld``.
- ``phone``: ``+`` and 8-15 digits, North American ``(212) 788-8877`` / ``212-788-8877`` /
  ``212.788.8877``, or 10-15 digits after "phone", "tel", "mobile", "call me"...

An SSN or phone look-alike right after "order", "invoice", "tracking", "ref", "case",
"ticket", "account", "confirmation", "#" or "no." is left alone: those are the numbers
contact centers talk about all day. Hand-written on purpose: the checks are a few lines of
arithmetic (Luhn, mod-97), a single pre-compiled regex keeps the transform's overhead small,
and no dependency is added (see docs/mappings.md).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DetectorName = Literal["payment_card", "card_security_code", "us_ssn", "iban", "email", "phone"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Detectors(_Strict):
    """Which kinds of sensitive data are looked for (each on or off)."""

    payment_card: bool = Field(True, description="Card numbers (IIN range, length and Luhn check)")
    card_security_code: bool = Field(True, description="CVV/CVC in context ('CVV 123')")
    us_ssn: bool = Field(True, description="US social security numbers")
    iban: bool = Field(True, description="IBANs (country length and mod-97 check)")
    email: bool = Field(True, description="Email addresses in free text")
    phone: bool = Field(True, description="Phone numbers in free text")


class Replacements(_Strict):
    """The text that takes a hit's place."""

    payment_card: str = "[redacted card]"
    card_security_code: str = "[redacted code]"
    us_ssn: str = "[redacted SSN]"
    iban: str = "[redacted IBAN]"
    email: str = "[redacted email]"
    phone: str = "[redacted phone]"


class RedactionScope(_Strict):
    """Where the policy applies."""

    transcript_text: bool = Field(True, description="The transcript in the record's field(s)")
    transcript_file: bool = Field(True, description="The transcript attached as a Salesforce File")
    mapped_fields: Literal["none", "free_text", "all"] = Field(
        "free_text",
        description=(
            "Mapped fields: free_text = survey answers, summaries and custom paths (structured "
            "fields such as the visitor's email stay); all = every mapped text value; none"
        ),
    )


class RedactionPolicy(_Strict):
    """An integration's redaction policy (``redaction:`` in integrations.yaml)."""

    enabled: bool = Field(True, description="Switch the whole policy off without deleting it")
    detectors: Detectors = Field(default_factory=Detectors)
    replacement: Replacements = Field(default_factory=Replacements)
    apply_to: RedactionScope = Field(default_factory=RedactionScope)
    raw_archive: bool = Field(
        False, description="Redact raw records before they are archived (nothing unredacted outlives the run)"
    )


# --------------------------------------------------------------------------------------------
# Checks


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_network_fits(digits: str) -> bool:
    """The number's length fits a major network's IIN range (epoch-ms timestamps do not)."""
    size, head = len(digits), int(digits[:6])
    two, four = head // 10_000, head // 100
    if digits[0] == "4":
        return size in (13, 16, 19)
    if 2221 <= four <= 2720 or 51 <= two <= 55:
        return size == 16
    if two in (34, 37):
        return size == 15
    if two in (36, 38, 39) or 300 <= head // 1000 <= 305:
        return 14 <= size <= 16
    if 3528 <= four <= 3589:
        return 16 <= size <= 19
    if digits[0] == "6" or two in (50, 56, 57, 58):
        return 13 <= size <= 19
    return False


def is_card_number(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and card_network_fits(digits) and luhn_valid(digits)


#: IBAN lengths by country (SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def is_iban(text: str) -> bool:
    """Registered length for the country and the ISO 7064 mod-97 check (remainder 1)."""
    compact = text.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# --------------------------------------------------------------------------------------------
# Patterns (ASCII: \d, \w and \b never match other scripts' digits and letters)

_SEP_RUN = r"\d(?:[ -]?\d){12,30}(?![\w-]|[ -]\d)"  # a whole run of digits in groups
_NEGATIVE_CONTEXT = re.compile(
    r"(?:(?:order|invoice|tracking|track|ref|reference|case|ticket|account|acct|confirmation|booking|"
    r"shipment|parcel|po|sku|item|serial)(?:\s*(?:no\.?|number|num|id|#))?|#)"
    r"\W{0,4}(?:(?:is|was)\W{0,3})?$",
    re.IGNORECASE | re.ASCII,
)
_BRANCHES: dict[str, str] = {
    "iban": r"(?<!\w)(?P<iban>[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)(?!\w)",
    "card_security_code": (
        r"(?i:\b(?:cvv2?|cvc2?|cvn|cid|csc|security\s+code|card\s+code|verification\s+(?:code|number)))"
        r"[^\d\n]{0,12}?(?<!\d)(?P<card_security_code>\d{3,4})(?!\d)"
    ),
    "us_ssn_context": (
        r"(?i:\b(?:ssn|social\s+security(?:\s+(?:number|no))?))[^\d\n]{0,12}?(?<!\d)"
        r"(?P<us_ssn_context>(?!000|666|9)\d{3}[- ]?(?!00)\d{2}[- ]?(?!0000)\d{4})(?![\w-])"
    ),
    "phone_context": (
        r"(?i:\b(?:phone|tel|telephone|mobile|cell|cellphone|whatsapp|call\s+me|text\s+me|reach\s+me))"
        r"[^\d\n+]{0,15}?(?P<phone_context>\+?\(?\d(?:[ ().-]{0,2}\d){9,14})(?!\d)"
    ),
    "payment_card": r"(?<![\w-])(?P<payment_card>" + _SEP_RUN + ")",
    "us_ssn": (
        r"(?<![\w-])(?P<us_ssn>(?!000|666|9)\d{3}(?P<ssn_sep>[- ])(?!00)\d{2}(?P=ssn_sep)(?!0000)\d{4})"
        r"(?![\w-]|[ -]\d)"
    ),
    "phone_international": r"(?<![\w+])(?P<phone_international>\+\d(?:[ ().-]{0,2}\d){7,14})(?!\d)",
    "phone_nanp": (
        r"(?<![\w+-])(?P<phone_nanp>(?:1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4})"
        r"(?![\w-]|[ .-]\d)"
    ),
    "email": r"(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?![\w-])",
}
#: Which detector switch turns each branch on.
_SWITCH = {
    "iban": "iban",
    "card_security_code": "card_security_code",
    "us_ssn_context": "us_ssn",
    "phone_context": "phone",
    "payment_card": "payment_card",
    "us_ssn": "us_ssn",
    "phone_international": "phone",
    "phone_nanp": "phone",
    "email": "email",
}
#: Every numeric detector needs three digits in a row, a "+" and a digit, or 2-digit groups
#: ("06 12 34 56 78"): text without any of them (a lone "2 images") is left at once.
_DIGIT = re.compile(r"[0-9]")  # one C scan: most chat lines have no digit at all
_NUMBERISH = re.compile(r"[0-9+](?:(?<=[0-9])[0-9]{2}|(?<=\+)[0-9]|(?<=[0-9])[ .-][0-9]{2}[ .-][0-9]{2})")
_IBAN_HINT = re.compile(r"[A-Z]{2}[0-9]{2}")
_NUMERIC = ("payment_card", "us_ssn", "phone_international", "phone_nanp")
#: The words a context branch starts with (lower case): the branch runs only when one is there.
_CONTEXT_WORDS = {
    "card_security_code": ("cvv", "cvc", "cvn", "cid", "csc", "security", "card", "verification"),
    "us_ssn_context": ("ssn", "social"),
    "phone_context": ("phone", "tel", "mobile", "cell", "whatsapp", "call", "text", "reach"),
}


def _compile(branches: list[str], lead: str = "") -> re.Pattern[str] | None:
    if not branches:
        return None
    return re.compile(lead + "(?:" + "|".join(_BRANCHES[n] for n in branches) + ")", re.ASCII)


def _digits(text: str) -> str:
    return "".join(char for char in text if "0" <= char <= "9")


# --------------------------------------------------------------------------------------------
# The redactor


class Redactor:
    """A compiled policy: ``text(s)`` returns ``s`` with every hit replaced."""

    def __init__(self, policy: RedactionPolicy):
        self.policy = policy
        on = [name for name, switch in _SWITCH.items() if getattr(policy.detectors, switch)]
        # One pattern per kind of anchor, each gated by a C-speed test, so that text without
        # candidates costs a lookup or two and the digit scan skips to digits in C.
        self._email = _compile([n for n in on if n == "email"])
        self._iban = _compile([n for n in on if n == "iban"])
        self._context = _compile([n for n in on if n in _CONTEXT_WORDS])
        self._context_words = tuple(word for n in on for word in _CONTEXT_WORDS.get(n, ()))
        numeric = [n for n in on if n in _NUMERIC]
        self._numeric = _compile(numeric, lead=r"(?=[0-9+(])") if numeric else None

    def text(self, text: str) -> str:
        """``text`` with every hit replaced (unchanged, and fast, when nothing can match)."""
        email = self._email is not None and "@" in text
        if not email and (_DIGIT.search(text) is None or _NUMBERISH.search(text) is None):
            return text
        replace = self._replacement
        if email:
            text = self._email.sub(replace, text)
        if self._iban is not None and _IBAN_HINT.search(text) is not None:
            text = self._iban.sub(replace, text)
        if self._context is not None:
            folded = text.casefold()
            if any(word in folded for word in self._context_words):
                text = self._context.sub(replace, text)
        return self._numeric.sub(replace, text) if self._numeric is not None else text

    def value(self, value: Any) -> Any:
        """A mapped value: text redacted, lists item by item, other values as they are."""
        if type(value) is str:
            return self.text(value)
        if type(value) is list:
            return [self.value(item) for item in value]
        return value

    def record(self, record: Any) -> Any:
        """A copy of a raw record with every text value redacted (keys and numbers untouched)."""
        if type(record) is dict:
            return {key: self.record(item) for key, item in record.items()}
        if type(record) is list:
            return [self.record(item) for item in record]
        return self.text(record) if type(record) is str else record

    def _replacement(self, match: re.Match[str]) -> str:
        branch = match.lastgroup
        if branch == "ssn_sep":
            branch = "us_ssn"
        hit = match.group(branch)
        detector = _SWITCH[branch]
        if not self._accepts(branch, hit, match):
            return match.group(0)
        start, end = match.span(branch)
        whole = match.group(0)
        offset = match.start()
        return whole[: start - offset] + getattr(self.policy.replacement, detector) + whole[end - offset :]

    def _accepts(self, branch: str, hit: str, match: re.Match[str]) -> bool:
        if branch == "payment_card":
            return _card_run(hit)
        if branch == "iban":
            return is_iban(hit)
        if branch in ("us_ssn", "phone_nanp", "phone_international"):
            if _NEGATIVE_CONTEXT.search(match.string, max(0, match.start() - 30), match.start()):
                return False
        if branch in ("phone_international", "phone_context"):
            return 8 <= len(_digits(hit)) <= 15
        return True


def _card_run(run: str) -> bool:
    """A digit run that is a card number, or a card number and one short trailing group."""
    digits = _digits(run)
    if is_card_number(digits):
        return True
    groups = re.split(r"[ -]", run)
    if len(groups) < 2 or len(groups[-1]) > 4:
        return False
    return is_card_number(digits[: len(digits) - len(groups[-1])])


@lru_cache(maxsize=32)
def redactor(policy: RedactionPolicy) -> Redactor:
    """The compiled redactor of a policy (cached: policies are frozen and shared by all rows)."""
    return Redactor(policy)


def redact_record(record: Any, policy: RedactionPolicy | None) -> Any:
    """A raw record as the archive may keep it: redacted when the policy asks for it
    (``raw_archive``), else the record itself."""
    if policy is None or not policy.enabled or not policy.raw_archive:
        return record
    return redactor(policy).record(record)


__all__ = [
    "Detectors",
    "RedactionPolicy",
    "RedactionScope",
    "Redactor",
    "Replacements",
    "is_card_number",
    "is_iban",
    "luhn_valid",
    "redact_record",
    "redactor",
]
