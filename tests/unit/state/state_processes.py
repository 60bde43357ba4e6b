"""Run a function in several fresh processes at once, as Airflow workers would."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any

TIMEOUT_SECONDS = 120


def parallel_map(function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``function(item)`` for each item, each in its own process. Spawned, not forked: a child
    forked from a pytest worker inherits its threads, signal handlers and open connections, and
    can hang on any of them. A worker that hangs fails the test after the timeout."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(items)) as pool:
        values = pool.map_async(function, items).get(TIMEOUT_SECONDS)
        pool.close()
        pool.join()
    return values
