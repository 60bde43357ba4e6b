"""Errors the LivePerson client raises; each message is one line that says what to fix."""

from __future__ import annotations


class LivePersonError(Exception):
    """Base class: anything LivePerson refused or could not answer."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(" ".join(message.split()))
        self.status = status


class LivePersonAuthError(LivePersonError):
    """401: the keys or the OAuth 2.0 client were rejected. Retrying does not help."""


class LivePersonPermissionError(LivePersonError):
    """403: the key exists but lacks the data permission for this API."""


class LivePersonRequestError(LivePersonError):
    """400 and other 4xx: the request itself is wrong (e.g. a window longer than allowed)."""


class LivePersonUnavailableError(LivePersonError):
    """429, 5xx, timeouts or dropped connections that outlasted every retry."""


class ConversationNotFoundError(LivePersonError):
    """The conversation asked for is not there (or, for chat, has not ended yet)."""


class ConversationNotEndedError(LivePersonError):
    """Sync Chat works on ended conversations only; this one is still open."""
