"""Phone numbers as orgs hold them, reduced to one comparable form: the digits with the country code.

Salesforce keeps a phone as typed (``212-788-8877``), or, for a US/Canada user locale, formats 10
digits as ``(212) 788-8877`` when saved in the UI; visitors type ``+1 212 788 8877`` or
``001 212 788 8877``. All of these become ``12127888877`` here:

* an extension (``x204``, ``ext. 204``, ``#204``) is dropped;
* ``+`` or an international prefix (``00``; ``011`` from North America) means the number carries
  its country code;
* otherwise it is a national number of the default country: a trunk ``0`` is dropped outside
  North America and the default calling code put in front; 11 digits starting with ``1`` in
  North America already carry it.

Fewer than 7 or more than 15 digits (E.164's maximum) is not a phone number: ``None``.
"""

from __future__ import annotations

import re
from typing import Any

NANP = "1"
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*\d{1,6}\s*$", re.IGNORECASE)
_DIGIT_GROUPS = re.compile(r"\d+")
MIN_DIGITS = 7
MAX_DIGITS = 15


def normalise_phone(value: Any, default_country_code: str = NANP) -> str | None:
    """The number's digits with its country code (``12127888877``), or ``None``."""
    text = _EXTENSION.sub("", str(value or "")).strip()
    digits = "".join(_DIGIT_GROUPS.findall(text))
    if not digits:
        return None
    if text.startswith("+"):
        full = digits
    elif digits.startswith("00"):
        full = digits[2:]
    elif default_country_code == NANP and digits.startswith("011"):
        full = digits[3:]
    else:
        full = _with_country_code(digits, default_country_code)
    return full if MIN_DIGITS <= len(full) <= MAX_DIGITS else None


def _with_country_code(national: str, code: str) -> str:
    if code == NANP:
        return national if len(national) == 11 and national.startswith(NANP) else NANP + national
    if national.startswith("0"):
        return code + national.lstrip("0")
    if national.startswith(code) and len(national) >= 11:
        return national  # written with its code but without "+"
    return code + national


def national_number(full: str, default_country_code: str = NANP) -> str | None:
    """The number without the default country's code, when it is in that country."""
    if full.startswith(default_country_code) and len(full) - len(default_country_code) >= MIN_DIGITS:
        return full[len(default_country_code) :]
    return None


def search_forms(raw: Any, full: str, default_country_code: str = NANP) -> list[str]:
    """What to search for so that every way an org may have written ``full`` is found, whether
    Salesforce's search compares phone digits or (the documented tokenizer) words split at
    punctuation: the digits with and without the country code, the North American
    ``"212 788 8877"`` grouping, and the groups as the visitor typed them when they are not
    already covered. Phrases are quoted."""
    forms = [full]
    national = national_number(full, default_country_code)
    if national:
        forms.append(national)
        if default_country_code == NANP and len(national) == 10:
            forms.append(f'"{national[:3]} {national[3:6]} {national[6:]}"')
    groups = _DIGIT_GROUPS.findall(_EXTENSION.sub("", str(raw or "")))
    if len(groups) > 1 and not any(_within(form, groups) for form in forms if form.startswith('"')):
        forms.append('"' + " ".join(groups) + '"')
    return list(dict.fromkeys(forms))


def _within(phrase: str, groups: list[str]) -> bool:
    """Whether a quoted phrase's words run inside ``groups`` (then ``groups`` adds nothing)."""
    words = phrase.strip('"').split()
    return any(groups[i : i + len(words)] == words for i in range(len(groups) - len(words) + 1))
