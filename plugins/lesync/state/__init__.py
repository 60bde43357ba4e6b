"""lesync's state store: runs, the per-record ledger, replays, open conversations, watermarks and
the shared rate budget, in a small relational database of its own (never Airflow's).

    store = StateStore.from_conn()          # Airflow connection `lesync_state`, else .lesync/state.db
    store.migrate()                         # idempotent
    store.start_run(integration, kind, run_key(dag_id, run_id), window_start, window_end)
    store.record_outcomes(run, integration, outcomes, attempt=try_number)
    store.finish_run(run, summary, "success")

SQLAlchemy Core and Alembic; SQLite embedded, PostgreSQL for several workers.
"""

from lesync.state.engine import DEFAULT_CONN_ID, StateStoreError
from lesync.state.ledger import LedgerOutcome, RetryPolicy
from lesync.state.store import StateStore, run_key

__all__ = ["DEFAULT_CONN_ID", "LedgerOutcome", "RetryPolicy", "StateStore", "StateStoreError", "run_key"]
