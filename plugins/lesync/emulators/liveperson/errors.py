"""LivePerson-style errors: an HTTP status and a JSON body whose message says what was wrong.

The exact error body of the real APIs is not documented in our sources; the emulator answers
``{"code": <status>, "message": "...", "time": <epoch ms>}`` and clients must rely only on the
status code (and show the message).
"""

from __future__ import annotations

import time
from typing import Any

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """A refused call: HTTP ``status`` with a LivePerson-style message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    return {
        "code": status,
        "message": message or REASONS.get(status, "Error"),
        "time": int(time.time() * 1000),
    }
