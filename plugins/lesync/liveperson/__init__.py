"""LivePerson side of lesync: read chat and messaging conversations, completely and politely.

Streams (one function each; the client methods of the same name call them):

=========================  ===========================================  ======================
Stream                     Endpoint                                     Mode, key
=========================  ===========================================  ======================
chats (window)             engHistDomain .../interactions/search        by start, engagementId
chat (by id)               engHistDomain .../interactions/search        engagementId filter
conversations (window)     msgHist .../conversations/search             by start + by
                                                                        latestUpdateTime,
                                                                        conversationId
conversation (by id)       msgHist .../conversations/conversation/...   conversationId
=========================  ===========================================  ======================

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
from lesync.liveperson.messaging import conversation_by_id, conversations_in_window
from lesync.liveperson.settings import LivePersonSettings

__all__ = [
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
    "conversations_in_window",
]
