"""Test-only DAG for the scale-out harness: the manual DAG's shape (plan -> mapped extract ->
report) without any I/O, so CeleryExecutor, API auth, triggering and worker spread can be
checked on their own. Not part of the deployment: only tests/scaleout points a dags folder here.
"""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, get_current_context, task

SLICES = 8
SLEEP_SECONDS = 3.0


@dag(
    dag_id="lesync_scaleout_probe",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"start": "", "end": "", "slices": SLICES, "sleep": SLEEP_SECONDS},
    tags=["lesync", "test"],
)
def scaleout_probe():
    @task
    def plan() -> list[int]:
        params = get_current_context()["params"]
        return list(range(int(params["slices"])))

    @task
    def extract(slice_no: int) -> dict:
        from lesync.hostname import get_hostname

        params = get_current_context()["params"]
        time.sleep(float(params["sleep"]))
        return {"slice": slice_no, "host": get_hostname()}

    @task
    def report(results: list[dict]) -> dict:
        hosts = sorted({r["host"] for r in results})
        print(f"probe: {len(results)} slices on {hosts}")
        return {"slices": len(results), "hosts": hosts}

    report(extract.expand(slice_no=plan()))


scaleout_probe()
