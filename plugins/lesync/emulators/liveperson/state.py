"""The emulator's world: clock, conversations, auth, faults, call counts, test hooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lesync.emulators.control import CallCounter, FaultPlan
from lesync.emulators.liveperson.cache import RecordCache
from lesync.emulators.liveperson.config import LivePersonEmulatorConfig
from lesync.emulators.liveperson.messaging import Shape
from lesync.emulators.liveperson.oauth import Authenticator
from lesync.emulators.liveperson.store import CHAT, DAY_MS, MESSAGING, MINUTE_MS, ConversationStore


class Clock:
    """The emulator's "now" (epoch ms). It moves only when told to, so tests are repeatable."""

    def __init__(self, now_ms: int | None = None):
        self._now = now_ms if now_ms is not None else int(time.time() // 60 * 60_000)
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> int:
        with self._lock:
            self._now += int(seconds * 1000)
            return self._now

    def set(self, now_ms: int) -> None:
        with self._lock:
            self._now = now_ms


@dataclass
class PageRule:
    """After the ``after_pages``-th search page served from now on, add ``count`` conversations:
    data changing under a client that pages by offset."""

    after_pages: int
    count: int
    channel: str = CHAT
    start_from: int | None = None
    start_to: int | None = None
    fired: bool = False


class LivePersonState:
    """Everything the app serves; tests drive it in-process or over ``/_emulator/liveperson``."""

    def __init__(self, config: LivePersonEmulatorConfig | None = None):
        self.config = config or LivePersonEmulatorConfig()
        self.clock = Clock(self.config.now_ms)
        self.store = ConversationStore(
            self.config.seed, self.config.account_id, self.config.partial_share, self.config.open_share
        )
        self.auth = Authenticator(self.config, self.clock.now)
        self.record_cache = RecordCache()  # serialised records served over HTTP
        self.faults = FaultPlan()
        self.calls = CallCounter()
        self.public_domain: str | None = None  # host:port the Domain API hands out
        # Readings of ambiguous docs, switchable at run time (config, or the control endpoint).
        self.ignore_latest_update_time = self.config.ignore_latest_update_time
        self.alternative_enum_share = self.config.alternative_enum_share
        self.search_pages_served = 0
        self.page_rules: list[PageRule] = []
        self.page_hooks: list[Callable[[int], None]] = []
        self._hook_lock = threading.Lock()
        self._seed_initial()

    def _seed_initial(self) -> None:
        now = self.clock.now()
        total = self.config.conversations
        messaging = round(total * self.config.messaging_share)
        start_from = now - int(self.config.days * DAY_MS)
        self.store.add(CHAT, total - messaging, start_from, now, now)
        self.store.add(MESSAGING, messaging, start_from, now, now)

    def add_conversations(
        self,
        count: int,
        channel: str = CHAT,
        start_from_ms: int | None = None,
        start_to_ms: int | None = None,
    ) -> None:
        """New conversations (default: started in the last hour), visible to the next search."""
        if channel not in (CHAT, MESSAGING):
            raise ValueError(f"channel must be {CHAT!r} or {MESSAGING!r}")
        now = self.clock.now()
        start_to = start_to_ms if start_to_ms is not None else now - 30 * MINUTE_MS
        start_from = start_from_ms if start_from_ms is not None else start_to - 60 * MINUTE_MS
        self.store.add(channel, count, start_from, start_to, now)

    def add_page_rule(self, rule: PageRule) -> PageRule:
        with self._hook_lock:
            rule.after_pages += self.search_pages_served
            self.page_rules.append(rule)
        return rule

    def search_page_served(self) -> None:
        """Called after every search page: fires due page rules and hooks."""
        with self._hook_lock:
            self.search_pages_served += 1
            served = self.search_pages_served
            due = [r for r in self.page_rules if not r.fired and served >= r.after_pages]
            for rule in due:
                rule.fired = True
            hooks = list(self.page_hooks)
        for rule in due:
            self.add_conversations(rule.count, rule.channel, rule.start_from, rule.start_to)
        for hook in hooks:
            hook(served)

    def shape(self) -> Shape:
        """How messaging records look right now (part of each cached record's key)."""
        return Shape(self.config.web_unauth_personal_share, self.alternative_enum_share)

    def summary(self) -> dict:
        return {
            "now": self.clock.now(),
            "account_id": self.config.account_id,
            **self.store.summary(self.clock.now()),
        }
