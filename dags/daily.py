"""
### lesync daily sync

Once a day, at the integration's `daily_hour` (plus a fixed minute), syncs the **last 48 hours**:
LivePerson's data is complete within 24 hours, so this run completes whatever the periodic runs
missed or failed. Reruns are harmless: records are upserted by their LivePerson id.

Built by `lesync.factory` for every enabled integration in `include/integrations.yaml`
(Airflow parses this file; the logic lives in the `lesync` package under `plugins/`).
"""

from lesync.factory import build_dags

for _dag in build_dags("daily", doc_md=__doc__):
    globals()[_dag.dag_id] = _dag
