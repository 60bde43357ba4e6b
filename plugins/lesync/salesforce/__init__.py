"""Salesforce side of lesync: OAuth 2.0, the Airflow hook, upsert, files, linking, API budget.

Public face:

* ``LesyncSalesforceHook(conn_id).get_client()`` -> ``SalesforceClient`` (Airflow connection)
* ``build_client(SalesforceConnectionSettings(...))`` -> ``SalesforceClient`` (no Airflow)
* ``TranscriptLoader(client, LoadOptions(...)).load(rows)``: a whole load, one outcome per row
* ``upsert_collections`` / ``run_bulk_job`` / ``retry_rejected``: upsert by external id
* ``sync_files``: transcript files as Salesforce Files or Attachments, never twice
* ``plan_links``: lookups by the linking rules (email, phone via SOSL, exact), never overwriting
* ``ApiBudget`` / ``ApiBudgetExceededError``: the org's daily API limit and our reserve
"""

from lesync.contracts import RecordError
from lesync.salesforce.auth import AccessToken, SalesforceAuthError, TokenProvider
from lesync.salesforce.budget import ApiBudget, ApiBudgetExceededError
from lesync.salesforce.client import SalesforceClient, SalesforceSession, build_client
from lesync.salesforce.describe import DescribeCache
from lesync.salesforce.files import FileOutcome, TranscriptFile, sync_files
from lesync.salesforce.linking import plan_links
from lesync.salesforce.load_plan import LoadOptions, StagedRow
from lesync.salesforce.loader import LoadOutcome, TranscriptLoader
from lesync.salesforce.settings import (
    AuthFlow,
    BudgetSettings,
    FileKind,
    FileSettings,
    LinkingSettings,
    SalesforceConnectionSettings,
    TranscriptMode,
    UpsertSettings,
)
from lesync.salesforce.upsert import (
    BulkUpload,
    RecordOutcome,
    retry_rejected,
    run_bulk_job,
    upsert_collections,
)

__all__ = [
    "AccessToken",
    "ApiBudget",
    "ApiBudgetExceededError",
    "AuthFlow",
    "BudgetSettings",
    "BulkUpload",
    "DescribeCache",
    "FileKind",
    "FileOutcome",
    "FileSettings",
    "LinkingSettings",
    "LoadOptions",
    "LoadOutcome",
    "RecordError",
    "RecordOutcome",
    "SalesforceAuthError",
    "SalesforceClient",
    "SalesforceConnectionSettings",
    "SalesforceSession",
    "StagedRow",
    "TokenProvider",
    "TranscriptFile",
    "TranscriptLoader",
    "TranscriptMode",
    "UpsertSettings",
    "build_client",
    "plan_links",
    "retry_rejected",
    "run_bulk_job",
    "sync_files",
    "upsert_collections",
]
