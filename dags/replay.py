"""
### lesync replay: try rejected records again

Trigger with **one** selection: **LivePerson ids** (a list), an **Error code** (every open
failure with it), a **Run** (`lesync__<integration>__<kind>/<run id>`: every open failure of that
run) or **All pending**. Each record is taken from the raw archive when it still holds it,
otherwise fetched from LivePerson by id, mapped with today's mapping file and upserted by its
LivePerson id: a replay never creates a duplicate. The lesync page in Airflow's UI
(Browse > lesync) triggers this DAG for the records you select.

CLI: `airflow dags trigger lesync__<integration>__replay --conf '{"error_code": "STRING_TOO_LONG"}'`

Built by `lesync.factory` for every enabled integration in `include/integrations.yaml`.
"""

from lesync.factory import build_dags

for _dag in build_dags("replay", doc_md=__doc__):
    globals()[_dag.dag_id] = _dag
