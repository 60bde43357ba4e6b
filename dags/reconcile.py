"""
### lesync reconcile: is a range complete in Salesforce?

Trigger with **Start** and **End** (at most 30 days) and the **Channels**. LivePerson's
conversations that started in the range are compared, id by id, with the Chat Transcripts
Salesforce holds for it. The verdict (counts per channel, ids missing in Salesforce, ids only
Salesforce has) is in the `reconcile` task's log, its XCom and the lesync page. With **Heal**,
the missing conversations are loaded at once; without, they are queued for the next run.
Nothing is ever deleted in Salesforce: lesync is one-way.

CLI: `airflow dags trigger lesync__<integration>__reconcile --conf '{"start": "...", "end": "...",
"heal": true}'`

Built by `lesync.factory` for every enabled integration in `include/integrations.yaml`.
"""

from lesync.factory import build_dags

for _dag in build_dags("reconcile", doc_md=__doc__):
    globals()[_dag.dag_id] = _dag
