"""The org's daily API limit, shared with everybody else: spend it knowingly, stop before the end.

Every Salesforce response says how much of the 24-hour allowance is used (``Sforce-Limit-Info:
api-usage=<used>/<max>``); ``/limits`` says it once at the start. The guard keeps a reserve (10 %
by default) for the org's other users and refuses a call, or a whole load, that would eat into it.
"""

from __future__ import annotations

import logging
import re
import threading

log = logging.getLogger(__name__)

_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


class ApiBudgetExceededError(RuntimeError):
    """Raised instead of a call that would spend the reserve of the org's daily API limit."""


class ApiBudget:
    """Counts our calls and tracks the org's usage; ``check`` before every call."""

    def __init__(self, reserve_fraction: float = 0.10):
        self.reserve_fraction = reserve_fraction
        self.calls = 0
        self.used: int | None = None
        self.max: int | None = None
        self._lock = threading.Lock()

    @property
    def ceiling(self) -> int | None:
        """Usage lesync may reach: the daily maximum minus the reserve."""
        if self.max is None:
            return None
        return int(self.max * (1 - self.reserve_fraction))

    @property
    def available(self) -> int | None:
        """Calls left before the reserve; ``None`` while unknown."""
        if self.ceiling is None or self.used is None:
            return None
        return max(self.ceiling - self.used, 0)

    def observe_header(self, value: str | None) -> None:
        """Read ``Sforce-Limit-Info`` from a response."""
        match = _USAGE.search(value or "")
        if match:
            self.observe(int(match.group(1)), int(match.group(2)))

    def observe(self, used: int, maximum: int) -> None:
        with self._lock:
            self.used, self.max = used, maximum

    def observe_limits(self, limits: dict) -> None:
        """Read ``DailyApiRequests`` from a ``/limits`` answer."""
        daily = limits.get("DailyApiRequests") or {}
        if "Max" in daily and "Remaining" in daily:
            self.observe(int(daily["Max"]) - int(daily["Remaining"]), int(daily["Max"]))

    def count_call(self) -> None:
        with self._lock:
            self.calls += 1
            if self.used is not None:
                self.used += 1  # until the response's header says better

    def check(self, calls: int = 1) -> None:
        """Refuse ``calls`` more calls when they would reach into the reserve."""
        available = self.available
        if available is not None and calls > available:
            raise ApiBudgetExceededError(self._message(calls))

    def _message(self, calls: int) -> str:
        return (
            f"Salesforce API budget: {calls} more call(s) would cross the reserve of "
            f"{self.reserve_fraction:.0%} of the org's daily limit (used {self.used} of {self.max}, "
            f"lesync may use up to {self.ceiling}). Stopped before spending the other users' share; "
            "the load is idempotent, so rerun it when the 24-hour window has moved on."
        )
