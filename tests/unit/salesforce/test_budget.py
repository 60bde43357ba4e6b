"""API budget arithmetic."""

from __future__ import annotations

import pytest

from lesync.salesforce import ApiBudget, ApiBudgetExceededError


def test_unknown_usage_never_blocks():
    ApiBudget().check(10**9)


def test_estimate_crossing_the_reserve_is_refused():
    budget = ApiBudget(reserve_fraction=0.10)
    budget.observe_header("api-usage=89000/100000; per-app-api-usage=1/10(appName=x)")
    budget.check(1000)
    with pytest.raises(ApiBudgetExceededError, match="1001 more call"):
        budget.check(1001)


def test_counting_moves_usage_until_the_next_header():
    budget = ApiBudget()
    budget.observe(10, 100)
    budget.count_call()
    assert (budget.calls, budget.used) == (1, 11)
