"""
### lesync periodic sync

Every 3 hours (at a fixed minute per integration) syncs the LivePerson conversations of the
**last 6 hours** into Salesforce Chat Transcripts. Neighbouring runs overlap on purpose: a
conversation that was still open or incomplete in one run is synced again, completed, by the next.

Tasks: `plan` -> `extract` (one per channel and slice) -> `transform` -> `load` -> `report`.
A run with rejected records fails at `report`, after everything loadable was loaded.

Built by `lesync.factory` for every enabled integration in `include/integrations.yaml`
(Airflow parses this file; the logic lives in the `lesync` package under `plugins/`).
"""

from lesync.factory import build_dags

for _dag in build_dags("periodic", doc_md=__doc__):
    globals()[_dag.dag_id] = _dag
