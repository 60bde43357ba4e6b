"""LivePerson side of lesync: read chat and messaging conversations, completely and politely.

Streams (one function each; the client methods of the same name call them):

=========================  ===========================================  ======================
Stream                     Endpoint                                     Mode, key
=========================  ===========================================  ======================
chats (window)             engHistDomain .../interactions/search        by start, engagementId
chat (by id)               engHistDomain .../interactions/search        engagementId filter
                                                                        (+ start, required)
conversations (window)     msgHist .../conversations/search             by start + by
                                                                        latestUpdateTime,
                                                                        conversationId
conversation (by id)       msgHist .../conversations/conversation/...   conversationId
conversations (re-check)   msgHist .../conversations/conversation/...   conversationId, each
=========================  ===========================================  ======================

Messaging calls send ``v=2`` (unauthenticated SDEs under ``unAuthSdes``) and ``contentToRetrieve``
(``settings.DEFAULT_CONTENT`` unless a caller passes ``content``). A partial record that cannot
be fetched whole is kept with ``{"_lesync": {"partial": true, "reason": ...}}`` on top.

Usage without Airflow::

    client = LivePersonClient(LivePersonSettings(account_id=..., consumer_key=..., ...))
    for record in client.chats(start, end): ...

With Airflow: ``LivePersonHook("liveperson_default").get_conn()``.
"""

from lesync.liveperson.client import LivePersonClient
from lesync.liveperson.discovery import clear_cache as clear_discovery_cache
from lesync.liveperson.enghist import chat_by_id, chats_in_window
from lesync.liveperson.errors import (
    ConversationNotEndedError,
    ConversationNotFoundError,
    LivePersonAuthError,
    LivePersonError,
    LivePersonPermissionError,
    LivePersonRequestError,
    LivePersonUnavailableError,
)
from lesync.liveperson.messaging import conversation_by_id, conversations_by_ids, conversations_in_window
from lesync.liveperson.settings import DEFAULT_CONTENT, LivePersonSettings
from lesync.liveperson.streams import PARTIAL_MARK, partial_reason

__all__ = [
    "DEFAULT_CONTENT",
    "PARTIAL_MARK",
    "ConversationNotEndedError",
    "ConversationNotFoundError",
    "LivePersonAuthError",
    "LivePersonClient",
    "LivePersonError",
    "LivePersonPermissionError",
    "LivePersonRequestError",
    "LivePersonSettings",
    "LivePersonUnavailableError",
    "chat_by_id",
    "chats_in_window",
    "clear_discovery_cache",
    "conversation_by_id",
    "conversations_by_ids",
    "conversations_in_window",
    "partial_reason",
]
