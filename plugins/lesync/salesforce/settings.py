"""Salesforce settings: the connection, and how a load writes Chat Transcripts.

Every setting is declared once, typed, with a description; the description is the documentation
and feeds the validation errors. Salesforce's own limits live here as named constants.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# The one linking model (re-exported): an integration's ``linking:`` block is what the load reads.
from lesync.config import LinkingSettings as LinkingSettings

DEFAULT_TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"
SANDBOX_TOKEN_URL = "https://test.salesforce.com/services/oauth2/token"
DEFAULT_API_VERSION = "62.0"
#: Hosts that do not serve the client-credentials flow (only an org's My Domain does).
GENERIC_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})
#: JWT bearer ``aud``: Salesforce accepts only these (or an Experience Cloud site URL), whichever
#: host the token is requested from, a My Domain included.
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"

#: sObject Collections: records per call.
COLLECTION_LIMIT = 200
#: Bulk API 2.0: field values longer than this are refused (Salesforce's limits page).
BULK_FIELD_CAP = 32_000
#: Bulk API 2.0: Salesforce advises at most 100 MB per upload (150 MB is the hard cap).
BULK_UPLOAD_BYTES = 100 * 1024 * 1024
#: Bulk API 2.0 cuts a job into internal batches of 10,000 records; our jobs are that size.
BULK_JOB_ROWS = 10_000
#: Bulk jobs one load keeps in flight, at most (more mostly add lock contention on shared parents).
MAX_PARALLEL_BULK_JOBS = 10
#: SOQL statements may be at most 100,000 characters; keep a margin for the rest of the query.
SOQL_IN_CHARS = 90_000
#: A query travels in the URL (``GET /query?q=<SOQL>``): Salesforce refuses a request line plus
#: headers over 16,384 bytes (414/431). The ``q`` value, percent-encoded, is kept under this, which
#: leaves room for the path, the bearer token and the other headers.
SOQL_QUERY_BYTES = 12_000
#: sObject Collections: JSON bytes per call (records up to 131,072 characters each are sent).
COLLECTION_REQUEST_BYTES = 6 * 1024 * 1024

TRANSCRIPT_OBJECT = "Chat_Transcript__c"
EXTERNAL_ID_FIELD = "LP_Conversation_Id__c"
TRANSCRIPT_FIELD = "Transcript__c"


class AuthFlow(StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"
    JWT_BEARER = "jwt_bearer"


class SalesforceConnectionSettings(BaseModel):
    """What one Salesforce connection needs; built by the hook from an Airflow connection."""

    model_config = ConfigDict(frozen=True)

    auth_flow: AuthFlow = Field(AuthFlow.CLIENT_CREDENTIALS, description="OAuth 2.0 flow.")
    client_id: str = Field(..., min_length=1, description="Connected app consumer key.")
    client_secret: SecretStr | None = Field(None, description="Consumer secret (client credentials).")
    token_url: str = Field(
        DEFAULT_TOKEN_URL,
        description="OAuth token endpoint. Client credentials need the org's My Domain URL "
        "(https://<name>.my.salesforce.com/services/oauth2/token).",
    )
    username: str | None = Field(None, description="Integration user (JWT bearer `sub`).")
    private_key: SecretStr | None = Field(None, description="PEM private key (JWT bearer).")
    private_key_file: str | None = Field(None, description="Path to the PEM private key (JWT bearer).")
    jwt_audience: str | None = Field(
        None,
        description="JWT `aud`. Default by environment: https://test.salesforce.com for a sandbox "
        "token URL (test.salesforce.com, *.sandbox.my.salesforce.com), else https://login.salesforce.com; "
        "set it only for an Experience Cloud site URL.",
    )
    api_version: str = Field(DEFAULT_API_VERSION, pattern=r"^\d+\.\d$", description="REST API version.")
    instance_url: str | None = Field(None, description="Overrides the instance URL the token returns.")
    ca_file: str | None = Field(None, description="CA bundle to trust (the emulator's); else system CAs.")
    timeout: float = Field(120.0, gt=0, description="Seconds per HTTP request.")
    max_retries: int = Field(4, ge=0, description="Retries of transient HTTP faults (429, 5xx, drops).")
    backoff_seconds: float = Field(1.0, ge=0, description="First retry wait; doubles each retry.")

    @model_validator(mode="after")
    def _flow_has_its_secret(self) -> SalesforceConnectionSettings:
        if self.auth_flow is AuthFlow.CLIENT_CREDENTIALS and not self.client_secret:
            raise ValueError("client credentials need a client secret")
        if self.auth_flow is AuthFlow.JWT_BEARER:
            if not self.username:
                raise ValueError("JWT bearer needs the username of the integration user")
            if not (self.private_key or self.private_key_file):
                raise ValueError("JWT bearer needs a private key or a private key file")
        return self

    @property
    def login_origin(self) -> str:
        """``https://host`` of the token URL."""
        parts = urlsplit(self.token_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def audience(self) -> str:
        """The JWT ``aud``: the explicit setting, else the environment's login host."""
        return self.jwt_audience or default_audience(self.token_url)

    @property
    def uses_generic_login_host(self) -> bool:
        return (urlsplit(self.token_url).hostname or "").lower() in GENERIC_LOGIN_HOSTS


def default_audience(token_url: str) -> str:
    """Sandbox token URLs sign for test.salesforce.com, everything else for login.salesforce.com."""
    host = (urlsplit(token_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return SANDBOX_AUDIENCE
    return PRODUCTION_AUDIENCE


class TranscriptMode(StrEnum):
    """Where a conversation's transcript goes."""

    FIELD = "field"
    ATTACHMENT = "attachment"
    BOTH = "both"


class FileKind(StrEnum):
    FILES = "files"  # Salesforce Files: ContentVersion (+ ContentDocumentLink made by Salesforce)
    ATTACHMENT = "attachment"  # the legacy Attachment object


class FileSettings(BaseModel):
    """How transcript files are uploaded."""

    kind: FileKind = Field(FileKind.FILES, description="Salesforce Files (default) or legacy Attachment.")
    max_file_bytes: int = Field(
        5 * 1024 * 1024, gt=0, description="Larger files are skipped (logged); the record still syncs."
    )
    max_request_bytes: int = Field(
        30 * 1024 * 1024, gt=0, description="Base64 bytes per sObject Collections create call."
    )
    batch_size: int = Field(COLLECTION_LIMIT, ge=1, le=COLLECTION_LIMIT, description="Files per call.")
    calls_in_flight: int = Field(
        4,
        ge=1,
        le=10,
        description="Collections calls uploading files at once in one load (far below the org's 25 "
        "concurrent long-running requests); 1 sends them one after another.",
    )
    reason_for_change: str = Field("LivePerson transcript updated", description="New version's reason.")


class UpsertSettings(BaseModel):
    """How Chat Transcript rows are upserted."""

    object_name: str = Field(TRANSCRIPT_OBJECT, description="sObject the rows go to.")
    external_id_field: str = Field(EXTERNAL_ID_FIELD, description="External id holding the LP id.")
    transcript_field: str = Field(TRANSCRIPT_FIELD, description="Field holding the transcript text.")
    bulk_threshold: int = Field(
        2_000,
        ge=1,
        description="Rows from which Bulk API 2.0 is used; below it sObject Collections "
        "(a Bulk job costs ~7 calls plus polls, Collections one call per 200 rows).",
    )
    bulk_field_cap: int = Field(
        BULK_FIELD_CAP,
        gt=0,
        description="Rows with a longer value go via sObject Collections, gathered across batches "
        "into calls of up to 200 records.",
    )
    collections_request_bytes: int = Field(
        COLLECTION_REQUEST_BYTES,
        gt=0,
        description="JSON bytes per sObject Collections call (a call holds fewer than 200 records "
        "when they are long); a single larger record still goes alone.",
    )
    bulk_upload_bytes: int = Field(BULK_UPLOAD_BYTES, gt=0, description="CSV bytes per Bulk job.")
    bulk_job_rows: int = Field(
        BULK_JOB_ROWS,
        ge=1,
        description="Most rows per Bulk job (Salesforce's own internal chunk): a large load is cut into "
        "jobs of about equal size, so uploads, processing and result downloads of several jobs overlap.",
    )
    bulk_min_job_rows: int = Field(
        5_000,
        ge=1,
        description="Fewest rows of a job that only exists to fill a round of `bulk_parallel_jobs` "
        "(20,000 rows go as 3 jobs of 6,667 that run at once, not 2 of 10,000; 8,000 stay one job): "
        "each job costs ~14 API calls.",
    )
    bulk_parallel_jobs: int = Field(
        3,
        ge=1,
        le=MAX_PARALLEL_BULK_JOBS,
        description="Bulk jobs of one load in flight at once (each ~14 API calls, whatever the "
        "parallelism); 1 runs them one after another.",
    )
    bulk_poll_seconds: float = Field(
        0.5,
        ge=0,
        description="First wait between job polls; each next wait is `bulk_poll_growth` times longer "
        "(at least 0.5 s), up to `bulk_poll_max_seconds`: 0.5, 0.75, 1.1, 1.7, 2.5 ... s by default.",
    )
    bulk_poll_growth: float = Field(
        1.5,
        ge=1,
        description="Factor between successive job poll waits: a job is seen soon after it ends "
        "(within ~a third of its run time) at the cost of about one more poll than doubling.",
    )
    bulk_poll_max_seconds: float = Field(
        5.0,
        ge=0,
        description="Longest wait between job polls: a finished job is seen within this "
        "(each poll is one API call; ~4 polls a minute at most per job in flight).",
    )
    bulk_timeout_seconds: float = Field(3600.0, gt=0, description="Give up polling a job after this.")
    retry_batch_size: int = Field(
        50, ge=1, le=COLLECTION_LIMIT, description="Collections batch size when retrying rejected rows."
    )
    retry_delay_seconds: float = Field(5.0, ge=0, description="Wait before retrying rejected rows.")
    retryable_codes: tuple[str, ...] = Field(
        ("UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNPROCESSED", "REQUEST_RUNNING_TOO_LONG", "HTTP_5XX"),
        description="Record error codes retried once in a smaller batch.",
    )


class BudgetSettings(BaseModel):
    """API call budget: leave the org's other users their share of the daily limit."""

    reserve_fraction: float = Field(
        0.10, ge=0, lt=1, description="Share of the daily API limit never spent by lesync."
    )
