"""What the messaging search must ask for: ``contentToRetrieve`` from what the mapping reads.

The Messaging Interactions API returns only the parts listed in ``contentToRetrieve`` (and
leaves ``monitoring`` and ``dialogs`` out of its default set), so the list is computed from the
compiled mapping: the parts its entries read, plus what the transcript renderer reads. ``info``
always comes back and is never listed. Smaller answers are a bonus.
"""

from __future__ import annotations

from lesync.contracts import CONTENT_PARTS
from lesync.mapping.spec import CompiledMapping

#: What ``render_messaging`` reads: the messages, transfer lines, and participants' names.
TRANSCRIPT_PARTS = frozenset({"messageRecords", "transfers", "agentParticipants", "consumerParticipants"})


def content_to_retrieve(mapping: CompiledMapping) -> list[str]:
    """The ``contentToRetrieve`` parts a messaging search needs for ``mapping``: every part a
    mapped field reads, the transcript's parts when a transcript is rendered, and ``unAuthSdes``
    whenever ``sdes`` is read (unauthenticated attributes live there)."""
    parts: set[str] = set()
    for entry in mapping.entries:
        parts |= entry.parts.get("messaging", frozenset())
    if mapping.transcript is not None:
        parts |= TRANSCRIPT_PARTS
    if "sdes" in parts:
        parts.add("unAuthSdes")
    return [part for part in CONTENT_PARTS if part in parts]
