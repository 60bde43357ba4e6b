"""Connection settings and API constants for the LivePerson client, declared once and validated.

The client is built from a ``LivePersonSettings`` object, not from an Airflow connection, so tests,
benchmarks and the CLI use it without Airflow; ``hook.py`` maps a connection onto these fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from lesync.contracts import CONTENT_PARTS

DEFAULT_DOMAIN_API_URL = "https://api.liveperson.net"
DEFAULT_SOURCE = "lesync"
MAX_SOURCE_LENGTH = 20

SERVICE_CHAT = "engHistDomain"
SERVICE_MESSAGING = "msgHist"
SERVICE_SENTINEL = "sentinel"

PAGE_LIMIT = 100
SORT = "start:asc"

# Messaging ``contentToRetrieve``: every value LivePerson documents (the Messaging Interactions
# method page, plus the newer values of later pages). Once a request lists any, only those parts
# come back; ``monitoring`` and ``dialogs`` are not in the API's own default set.
CONTENT_VALUES = frozenset(CONTENT_PARTS)
# What lesync asks for until the mapping says what it reads: every part the predefined mapping
# and the transcript renderer may use, ``monitoring`` (location, device, entry page) included.
DEFAULT_CONTENT = (
    "monitoring",
    "unAuthSdes",
    "sdes",
    "messageRecords",
    "conversationSurveys",
    "transfers",
    "agentParticipants",
    "consumerParticipants",
    "summary",
    "campaign",
    "interactions",
    "messageScores",
)


class LivePersonSettings(BaseModel):
    """Everything the client needs to talk to one LivePerson account."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    account_id: str = Field(min_length=1, description="LivePerson account (site) id.")
    auth: Literal["oauth1", "oauth2"] = Field("oauth1", description="OAuth 1.0 API keys or OAuth 2.0.")
    consumer_key: SecretStr | None = Field(None, description="OAuth 1.0 app key.")
    consumer_secret: SecretStr | None = Field(None, description="OAuth 1.0 app secret.")
    access_token: SecretStr | None = Field(None, description="OAuth 1.0 access token.")
    access_token_secret: SecretStr | None = Field(None, description="OAuth 1.0 access token secret.")
    client_id: SecretStr | None = Field(None, description="OAuth 2.0 client id (sentinel).")
    client_secret: SecretStr | None = Field(None, description="OAuth 2.0 client secret (sentinel).")
    domain_api_url: str = Field(DEFAULT_DOMAIN_API_URL, description="Domain API base URL (discovery).")
    ca_file: str | None = Field(None, description="CA bundle to trust instead of the system one.")
    source: str = Field(DEFAULT_SOURCE, description="Caller name sent as `source` (max 20 chars).")
    conn_id: str | None = Field(None, description="Airflow connection id, named in error messages.")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to open a connection.")
    read_timeout: float = Field(120.0, gt=0, description="Seconds to wait for a response.")
    max_attempts: int = Field(6, ge=1, description="Attempts per call, first one included.")
    retry_delays: tuple[float, ...] = Field(
        (5.0, 10.0, 15.0), description="Waits before the first retries after a 5xx (LivePerson's advice)."
    )
    backoff_cap: float = Field(60.0, ge=0, description="Longest wait between retries, seconds.")
    min_retry_after: float = Field(1.0, ge=0, description="Shortest wait after a 429, seconds.")
    token_renew_margin: float = Field(300.0, ge=0, description="Renew OAuth 2.0 tokens this early, s.")
    sleep: Callable[[float], None] = Field(time.sleep, exclude=True, repr=False)
    clock: Callable[[], float] = Field(time.monotonic, exclude=True, repr=False)

    @field_validator("source")
    @classmethod
    def _source_fits(cls, value: str) -> str:
        value = value.strip()
        if not value or len(value) > MAX_SOURCE_LENGTH:
            raise ValueError(f"source must be 1 to {MAX_SOURCE_LENGTH} characters, got {len(value)}")
        return value

    @field_validator("domain_api_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if "://" not in value:
            value = f"https://{value}"
        return value

    @model_validator(mode="after")
    def _credentials_complete(self) -> LivePersonSettings:
        required = {
            "oauth1": ("consumer_key", "consumer_secret", "access_token", "access_token_secret"),
            "oauth2": ("client_id", "client_secret"),
        }[self.auth]
        missing = [name for name in required if not _filled(getattr(self, name))]
        if missing:
            raise ValueError(f"{self.auth} needs {', '.join(missing)} ({self.connection_label})")
        return self

    @property
    def connection_label(self) -> str:
        return f"connection {self.conn_id}" if self.conn_id else f"account {self.account_id}"

    def secrets(self) -> list[str]:
        """Secret values, so messages can be scrubbed of them whatever a server echoes back."""
        names = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
        names += ("client_id", "client_secret")
        values = (getattr(self, name) for name in names)
        return [v.get_secret_value() for v in values if _filled(v)]


def content_to_retrieve(content: Iterable[str] | None = None) -> list[str]:
    """The ``contentToRetrieve`` list to send: ``content`` checked against the documented values
    (``DEFAULT_CONTENT`` when None), deduplicated, in a stable order; empty (a mapping that reads
    only ``info``) means the field is left out and LivePerson answers with its default parts."""
    parts = list(dict.fromkeys(DEFAULT_CONTENT if content is None else content))
    unknown = sorted(set(parts) - CONTENT_VALUES)
    if unknown:
        raise ValueError(
            f"contentToRetrieve value(s) {unknown} are not documented by LivePerson; "
            f"use some of {sorted(CONTENT_VALUES)}"
        )
    return parts


def _filled(value: SecretStr | None) -> bool:
    return value is not None and bool(value.get_secret_value().strip())
