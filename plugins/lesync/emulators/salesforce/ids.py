"""Salesforce record ids: 15 case-sensitive characters plus a 3-character case-safe suffix.

Clients compare, slice and prefix-match ids, so the emulator makes real-looking ones: the
object's key prefix, a pod-like filler, a base-62 counter and the checksum suffix Salesforce adds.
"""

from __future__ import annotations

import functools
import re
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def case_safe_suffix(id15: str) -> str:
    """The 3 characters that make a 15-character id unique case-insensitively."""
    return _suffix_char(id15[0:5]) + _suffix_char(id15[5:10]) + _suffix_char(id15[10:15])


@functools.lru_cache(maxsize=8192)
def _suffix_char(chunk: str) -> str:
    """One suffix character: bit i set when the chunk's i-th character is upper case. Cached: the
    key prefix and filler chunks repeat, and counters share chunks."""
    bits = 0
    for position, char in enumerate(chunk):
        if char.isupper():
            bits |= 1 << position
    return SUFFIX_ALPHABET[bits]


def make_id(key_prefix: str, number: int) -> str:
    """The 18-character id of the ``number``-th record with this key prefix."""
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    id15 = key_prefix + "5g0" + digits.rjust(9, "0")
    return id15 + case_safe_suffix(id15)


def normalize_id(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when it is malformed."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        return None
    id15 = value[:15]
    suffix = case_safe_suffix(id15)
    if len(value) == 18 and value[15:].upper() != suffix:
        return None
    return id15 + suffix
