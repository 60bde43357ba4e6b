"""
### lesync manual sync

Trigger with **Start** and **End** (date-times with an offset, e.g. `2026-11-01T00:00:00+00:00`)
and the **Channels** to sync. Refused when End is not after Start, either is in the future, or
the window is longer than 30 days. Long windows are cut into slices that run in parallel as
mapped `extract` tasks (bounded by the integration's LivePerson pool).

CLI: `airflow dags trigger lesync__<integration>__manual --conf '{"start": "...", "end": "..."}'`

Built by `lesync.factory` for every enabled integration in `include/integrations.yaml`
(Airflow parses this file; the logic lives in the `lesync` package under `plugins/`).
"""

from lesync.factory import build_dags

for _dag in build_dags("manual", doc_md=__doc__):
    globals()[_dag.dag_id] = _dag
