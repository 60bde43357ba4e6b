"""
### lesync incremental (near-real-time) sync

Every `incremental.interval_minutes` (default 10) syncs what ended since the last successful
run: the window starts at the integration's high-water mark in lesync's state store (minus a
small overlap) and ends a few minutes before the run's time (LivePerson still indexing). Chats
are searched from a lookback before it (by their start), messaging with the update search too;
messaging conversations synced while open are re-checked by id. A run with nothing settled
since the mark ends at once, without a call. One run at a time: a slow run is never duplicated.
The periodic and daily DAGs stay the safety net.

Tasks: `plan` -> `extract` -> `transform` -> `load` -> `reconcile` -> `report` (moves the mark).

Built by `lesync.factory` for every enabled integration whose `incremental.enabled` is on in
`include/integrations.yaml` (Airflow parses this file; the logic lives in `plugins/lesync`).
"""

from lesync.factory import build_dags

for _dag in build_dags("incremental", doc_md=__doc__):
    globals()[_dag.dag_id] = _dag
