"""Text lengths as Salesforce counts them: UTF-16 code units, one function for every layer.

A leaf module (imports nothing from lesync): the mapping's field limits, the load's Bulk API cap
check and the emulator all count the same way, so a value that fits one fits all.
"""

from __future__ import annotations


def utf16_length(text: str) -> int:
    """Length as Salesforce counts it (UTF-16 code units); a lone surrogate counts one."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) >> 1
