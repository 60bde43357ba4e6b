"""Several processes write one integration's ledger and take one rate bucket at once (as mapped
tasks on several Celery workers do): nothing is lost, nothing is counted twice."""

from __future__ import annotations

from sqlalchemy import func, select
from state_processes import parallel_map

from lesync.state import LedgerOutcome, StateStore
from lesync.state.schema import record_outcomes

WORKERS = 4
RUN = "lesync__acme__window/manual__1"
SHARED_FAILURES = [f"f{n}" for n in range(10)]
TAKES = 15
BURST = 10


def _ids(worker: int) -> list[str]:
    """Each worker's records overlap its neighbour's by half (a task retried elsewhere)."""
    return [f"c{n:04d}" for n in range(worker * 40, worker * 40 + 80)]


def _work(args: tuple[str, int]) -> list[float]:
    url, worker = args
    store = StateStore(url)
    for start in range(0, 80, 20):
        batch = [LedgerOutcome("chat", lp_id, "created") for lp_id in _ids(worker)[start : start + 20]]
        store.record_outcomes(RUN, "acme", batch, attempt=1)
        store.record_outcomes(RUN, "acme", batch, attempt=1)  # the same report again
    failures = [
        LedgerOutcome("chat", lp_id, "failed", error_code="UNABLE_TO_LOCK_ROW", transient=True)
        for lp_id in SHARED_FAILURES
    ]
    store.record_outcomes(f"run-of-worker-{worker}", "acme", failures)
    waits = [
        store.take_rate_tokens("liveperson:acme", 1, rate_per_second=1, burst=BURST, now=1000.0)
        for _ in range(TAKES)
    ]
    store.dispose()
    return waits


def test_parallel_writers_lose_nothing_and_count_nothing_twice(store_url) -> None:
    url = store_url.render_as_string(hide_password=False)
    waits = parallel_map(_work, [(url, worker) for worker in range(WORKERS)])

    store = StateStore(url)
    distinct = {lp_id for worker in range(WORKERS) for lp_id in _ids(worker)}
    counts = store.run_counts(RUN)
    assert (counts["created"], counts["records"]) == (len(distinct), len(distinct))
    with store.engine.connect() as conn:
        rows = conn.scalar(
            select(func.count()).where(record_outcomes.c.run_id == RUN).select_from(record_outcomes)
        )
    assert rows == len(distinct)
    assert {store.record_status("acme", lp_id)["failures"] for lp_id in SHARED_FAILURES} == {WORKERS}
    # The bucket handed out every token once: BURST free, then one more second of wait per token.
    expected = [0.0] * BURST + [float(n) for n in range(1, WORKERS * TAKES - BURST + 1)]
    assert sorted(wait for worker in waits for wait in worker) == expected
    store.dispose()
