"""lesync's state store: runs, the per-record ledger, replays, open conversations, watermarks and
the shared rate budget, in a small relational database of its own (never Airflow's).

How a run uses it (``run = run_key(dag_id, run_id)``: Airflow run ids repeat across DAGs)::

    store = StateStore.from_conn()      # $LESYNC_STATE_URL, connection `lesync_state`, or .lesync/state.db
    store.migrate()                     # idempotent; one SELECT when already at head
    store.start_run(name, kind, run, window_start, window_end)                    # plan
    todo = store.pending_replays(name, now, max_attempts=8, mapping_version=v)     # plan
    store.mark_replay_taken(name, [r["liveperson_id"] for r in todo], run)
    store.record_outcomes(run, name, outcomes, attempt=ti.try_number, mapping_version=v)  # load
    store.finish_run(run, summary, "success" | "failed", verdict)                 # report

Counts in ``finish_run`` come from the ledger over every attempt of the run. Transient failures
come back from ``pending_replays`` with exponential backoff across runs; permanent ones when the
mapping version changes or someone calls ``queue_replay``.

SQLAlchemy Core and Alembic; SQLite embedded (WAL), PostgreSQL for several workers.
"""

from lesync.state.engine import DEFAULT_CONN_ID, StateStoreError
from lesync.state.ledger import LedgerOutcome, RetryPolicy
from lesync.state.store import StateStore, dag_run_of, run_key

__all__ = [
    "DEFAULT_CONN_ID",
    "LedgerOutcome",
    "RetryPolicy",
    "StateStore",
    "StateStoreError",
    "dag_run_of",
    "run_key",
]
