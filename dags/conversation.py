"""
### lesync "Sync Chat": one conversation on demand

Trigger with a **Conversation ID** (chat engagement id or messaging conversation id) and its
**Channel**. Only an ended conversation syncs; an open one is refused with a clear message.
This is the call a "Sync Chat" button in Salesforce makes through Airflow's REST API:
`POST /api/v2/dags/lesync__<integration>__conversation/dagRuns`
with `{"logical_date": null, "conf": {"conversation_id": "...", "channel": "chat"}}`.

Built by `lesync.factory` for every enabled integration in `include/integrations.yaml`
(Airflow parses this file; the logic lives in the `lesync` package under `plugins/`).
"""

from lesync.factory import build_dags

for _dag in build_dags("conversation", doc_md=__doc__):
    globals()[_dag.dag_id] = _dag
