"""The emulated org's configuration and its live state (data, tokens, limits, injected faults)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..control import CallCounter, FaultPlan
from .auth import TokenService, ensure_jwt_keys
from .querying import QueryService
from .schema import OrgSchema, load_schema
from .store import RowLocks, Store, ValidationRule

#: api-facts "REQUEST_LIMIT_EXCEEDED": the concurrent long-running request limit, a transient refusal.
CONCURRENT_LIMIT_ERROR = {
    "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
    "errorCode": "REQUEST_LIMIT_EXCEEDED",
    "fields": [],
}
SUPPORTED_VERSIONS = tuple(f"{v}.0" for v in range(50, 63))
MB = 1024 * 1024


@dataclass
class SalesforceEmulatorConfig:
    """How the emulated org behaves; the defaults are an Enterprise org with lesync's schema."""

    client_id: str = "3MVG9lesync.emulator.client.id"
    client_secret: str = "lesync-emulator-client-secret"
    username: str = "integration@lesync.example"
    api_version: str = "62.0"
    token_lifetime_s: float = 7200
    environment: str = "production"
    """``production`` accepts JWT ``aud`` https://login.salesforce.com, ``sandbox`` https://test.salesforce.com."""
    jwt_extra_audiences: tuple[str, ...] = ()
    """Experience Cloud site URLs also accepted as JWT ``aud``."""
    daily_api_limit: int = 100_000
    bulk_field_cap: int = 32_000
    schema_path: Path | str | None = None
    schema_extra: dict[str, Any] | None = None
    validation_rules: dict[str, list[ValidationRule]] = field(default_factory=dict)
    """Custom validation rules per object: callables taking the merged record, returning a message."""
    max_request_bytes: int = 50 * MB
    max_bulk_upload_bytes: int = 150 * MB
    query_page_size: int = 2000
    bulk_chunk_size: int = 10_000
    bulk_start_delay_s: float = 0.05
    """Pause between UploadComplete and processing, so clients see the job's states move."""
    sosl_phone_search: str = "tokens"
    """SOSL on phone fields: ``tokens`` (the documented word splitting only) or ``digits`` (also
    compares phone digits); the docs do not settle it, so lesync must link under both."""

    def versions(self) -> tuple[str, ...]:
        return tuple(sorted({*SUPPORTED_VERSIONS, self.api_version}, key=float))


class ApiLimits:
    """The org's 24-hour API request allowance; each accepted /services/data call spends one."""

    def __init__(self, maximum: int):
        self.used = 0
        self.max = maximum
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, int, int]:
        """(accepted, used, max) for one more call."""
        with self._lock:
            if self.used >= self.max:
                return False, self.used, self.max
            self.used += 1
            return True, self.used, self.max

    def set(self, used: int | None = None, maximum: int | None = None) -> None:
        with self._lock:
            if used is not None:
                self.used = int(used)
            if maximum is not None:
                self.max = int(maximum)

    def header(self) -> str:
        with self._lock:
            return f"api-usage={self.used}/{self.max}"


class SalesforceState:
    """Everything the app serves from; tests drive faults and limits through it in-process."""

    def __init__(self, config: SalesforceEmulatorConfig, data_dir: Path):
        from .bulk import BulkJobs

        self.config = config
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.schema: OrgSchema = load_schema(config.schema_path, config.schema_extra)
        self.db_path = self.data_dir / "salesforce.db"
        self.locks = RowLocks()
        self.store = Store(self.db_path, self.schema, self.locks)
        self.store.validation_rules = config.validation_rules
        self.faults = FaultPlan()
        self.calls = CallCounter()
        self.limits = ApiLimits(config.daily_api_limit)
        self.jwt_keys = ensure_jwt_keys(self.data_dir / "jwt")
        self.tokens = TokenService(
            config.client_id,
            config.client_secret,
            config.username,
            config.token_lifetime_s,
            self.jwt_keys.public_key_file,
            config.environment,
            config.jwt_extra_audiences,
        )
        self.queries = QueryService(self.store, config.query_page_size)
        self.bulk = BulkJobs(self)

    def expire_tokens(self) -> None:
        """Every issued token now answers 401 INVALID_SESSION_ID."""
        self.tokens.expire_all()

    def lock_rows(self, values: list[str] | dict[str, int], times: int = 1) -> None:
        """Writes to these records (ids or external id values) fail UNABLE_TO_LOCK_ROW ``times`` times."""
        self.locks.add(values, times)

    def fail_next_bulk_job(self, message: str | None = None) -> None:
        """The next ingest job to be closed (UploadComplete) ends Failed."""
        self.bulk.fail_next(message)

    def limit_concurrent_requests(self, times: int = 1, path: str = "/services/data/") -> None:
        """The next ``times`` matching calls answer 403 ``ConcurrentPerOrgLongTxn Limit exceeded``
        (too many long-running requests: transient, unlike the daily ``TotalRequests``)."""
        self.faults.add(path=path, status=403, body=[CONCURRENT_LIMIT_ERROR], times=times)

    def share_file(self, record_id: str, title: str, path_on_client: str, data: bytes) -> str:
        """A file another user uploaded to their own library and shared to ``record_id``: its
        ``FirstPublishLocationId`` is not the record, only a ``ContentDocumentLink`` ties them."""
        version_id = self.store.create(
            "ContentVersion", {"Title": title, "PathOnClient": path_on_client, "VersionData": data}
        ).id
        document_id = self.store.get("ContentVersion", version_id)["ContentDocumentId"]
        self.store.insert_system(
            "ContentDocumentLink",
            {"ContentDocumentId": document_id, "LinkedEntityId": record_id, "ShareType": "V"},
        )
        return document_id

    def set_api_usage(self, used: int | None = None, max: int | None = None) -> None:  # noqa: A002
        self.limits.set(used, max)

    def add_validation_rule(self, object_name: str, rule: ValidationRule) -> None:
        self.store.validation_rules.setdefault(object_name, []).append(rule)
