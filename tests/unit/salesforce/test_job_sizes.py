"""Bulk job sizes: at most bulk_job_rows, about equal, filling rounds of parallel jobs when big enough."""

from __future__ import annotations

import math

import pytest

from lesync.salesforce.load_plan import job_rows
from lesync.salesforce.settings import UpsertSettings


@pytest.mark.parametrize(
    ("rows", "parallel", "size", "jobs"),
    [
        (20_000, 3, 6_667, 3),  # one round of three, not 10,000 + 10,000 (a third sooner)
        (12_500, 3, 6_250, 2),  # a third job would be under 5,000 rows: two equal ones
        (100_000, 3, 8_334, 12),  # four full rounds, not three and a lone tenth job
        (8_000, 3, 8_000, 1),  # small loads stay one job (each job ~14 calls)
        (30_000, 3, 10_000, 3),
        (20_000, 1, 10_000, 2),  # one at a time: no reason to cut smaller
        (0, 3, 10_000, 0),
    ],
)
def test_jobs_are_equal_and_fill_rounds_of_parallel_jobs(rows, parallel, size, jobs):
    settings = UpsertSettings(bulk_parallel_jobs=parallel)
    assert job_rows(rows, settings) == size
    assert (math.ceil(rows / size) if rows else 0) == jobs
    assert size <= settings.bulk_job_rows
