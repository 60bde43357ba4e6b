"""The compact conversation index and the searches over it.

Only a few numbers per conversation live in memory (start, end or close, last activity, skill,
agent); ids and seeds are derived from (seed, channel, ordinal), and record bodies are built on
demand (see records.py). 100,000 conversations take a few megabytes.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from lesync.emulators.liveperson.content import AGENTS, SKILLS

CHAT = "chat"
MESSAGING = "messaging"
CHANNELS = (CHAT, MESSAGING)

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
LONG_EVERY = 500  # about 1 in 500 conversations has a transcript longer than 131,072 characters
LONG_AT = {CHAT: 17, MESSAGING: 23}  # ordinal residue: present in any channel of >= 24 conversations
ENGAGEMENT_ID_BASE = 4_294_967_296
_UUID_MULT = 0x9E3779B97F4B  # odd, so ordinal -> 48-bit tail is a bijection
_UUID_MASK = (1 << 48) - 1
_UUID_INV = pow(_UUID_MULT, -1, 1 << 48)


@dataclass(frozen=True)
class Entry:
    """One conversation as the index knows it; everything else is built from ``seed``."""

    channel: str
    ordinal: int
    conversation_id: str
    start_ms: int
    end_ms: int  # chat end, or messaging close (may lie after the clock's now: still open)
    last_activity_ms: int  # time of the last line / message
    skill_index: int
    agent_index: int
    seed: int
    partial: bool
    long: bool

    @property
    def skill_id(self) -> int:
        return SKILLS[self.skill_index].skill_id

    @property
    def agent_id(self) -> int:
        return AGENTS[self.agent_index].agent_id

    def is_closed(self, now_ms: int) -> bool:
        return self.end_ms <= now_ms

    def update_time(self, now_ms: int) -> int:
        """Messaging "latest update": the close once closed, else the latest message."""
        return self.end_ms if self.is_closed(now_ms) else self.last_activity_ms


def conversation_seed(seed: int, channel: str, ordinal: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{channel}:{ordinal}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def engagement_id(account_id: str, ordinal: int) -> str:
    return f"{account_id}{ENGAGEMENT_ID_BASE + ordinal}"


def messaging_conversation_id(seed: int, ordinal: int) -> str:
    """A UUID-looking id whose last block encodes the ordinal, so no id -> ordinal map is kept."""
    head = random.Random(seed).getrandbits(80)
    tail = (ordinal * _UUID_MULT) & _UUID_MASK
    h = f"{head:020x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{tail:012x}"


def messaging_ordinal(conversation_id: str) -> int | None:
    try:
        return (int(conversation_id.rsplit("-", 1)[1], 16) * _UUID_INV) & _UUID_MASK
    except (ValueError, IndexError):
        return None


@dataclass
class SearchQuery:
    """Filters already validated and rounded by the API layer."""

    start_from: int
    start_to: int
    sort_field: str = "start"
    descending: bool = False
    skill_ids: frozenset[int] | None = None
    agent_ids: frozenset[int] | None = None
    statuses: frozenset[str] | None = None  # messaging: OPEN / CLOSE
    updated_since: int | None = None  # messaging latestUpdateTime.from
    keyword: str | None = None

    def cache_key(self) -> tuple:
        return tuple(sorted(self.__dict__.items(), key=lambda kv: kv[0]))


@dataclass
class ChannelIndex:
    """Columns of one channel's conversations, plus the ordinals sorted by start time."""

    channel: str
    starts: array = field(default_factory=lambda: array("q"))
    ends: array = field(default_factory=lambda: array("q"))
    last_activity: array = field(default_factory=lambda: array("q"))
    skills: array = field(default_factory=lambda: array("b"))
    agents: array = field(default_factory=lambda: array("b"))
    order: array = field(default_factory=lambda: array("l"))
    sorted_starts: array = field(default_factory=lambda: array("q"))

    def __len__(self) -> int:
        return len(self.starts)

    def reindex(self) -> None:
        starts = self.starts
        self.order = array("l", sorted(range(len(starts)), key=starts.__getitem__))
        self.sorted_starts = array("q", (starts[i] for i in self.order))

    def ordinals_starting_between(self, start_from: int, start_to: int) -> array:
        lo = bisect.bisect_left(self.sorted_starts, start_from)
        hi = bisect.bisect_right(self.sorted_starts, start_to)
        return self.order[lo:hi]


class ConversationStore:
    """All conversations of the account: generation, lookup by id, search with a small cache."""

    def __init__(self, seed: int, account_id: str, partial_share: float, open_share: float):
        self.seed = seed
        self.account_id = account_id
        self.partial_share = partial_share
        self.open_share = open_share
        self.indexes = {channel: ChannelIndex(channel) for channel in CHANNELS}
        self.version = 0
        self._batches = 0
        self._lock = threading.RLock()
        self._cache: OrderedDict[tuple, list[int]] = OrderedDict()

    # --- generation -------------------------------------------------------------------------

    def add(self, channel: str, count: int, start_from: int, start_to: int, now_ms: int) -> None:
        """Append ``count`` conversations starting uniformly in [start_from, start_to]."""
        with self._lock:
            self._batches += 1
            rnd = random.Random(f"{self.seed}:{channel}:batch{self._batches}")
            index = self.indexes[channel]
            for _ in range(count):
                self._append(index, rnd, start_from, start_to, now_ms)
            index.reindex()
            self.version += 1
            self._cache.clear()

    def _append(self, index: ChannelIndex, rnd: random.Random, lo: int, hi: int, now_ms: int) -> None:
        ordinal = len(index)
        start = lo + int(rnd.random() * max(hi - lo, 0))
        long = ordinal % LONG_EVERY == LONG_AT[index.channel]
        if index.channel == CHAT:
            end = start + _chat_duration_ms(rnd, long)
            last = end
        else:
            end, last = _messaging_times(rnd, start, now_ms, rnd.random() < self.open_share and not long)
        if long and end > now_ms >= start + 2 * MINUTE_MS:
            end = last = start + int((now_ms - start) * 0.9)
        index.starts.append(start)
        index.ends.append(end)
        index.last_activity.append(last)
        index.skills.append(rnd.randrange(len(SKILLS)))
        index.agents.append(rnd.randrange(len(AGENTS)))

    # --- lookup -----------------------------------------------------------------------------

    def entry(self, channel: str, ordinal: int) -> Entry:
        index = self.indexes[channel]
        seed = conversation_seed(self.seed, channel, ordinal)
        long = ordinal % LONG_EVERY == LONG_AT[channel]
        partial = not long and (seed % 10_000) < self.partial_share * 10_000
        if channel == CHAT:
            conversation_id = engagement_id(self.account_id, ordinal)
        else:
            conversation_id = messaging_conversation_id(seed, ordinal)
        return Entry(
            channel=channel,
            ordinal=ordinal,
            conversation_id=conversation_id,
            start_ms=index.starts[ordinal],
            end_ms=index.ends[ordinal],
            last_activity_ms=index.last_activity[ordinal],
            skill_index=index.skills[ordinal],
            agent_index=index.agents[ordinal],
            seed=seed,
            partial=partial,
            long=long,
        )

    def find(self, channel: str, conversation_id: str) -> Entry | None:
        """The conversation with this id (engagementId for chat, conversationId for messaging)."""
        ordinal = self._ordinal_of(channel, str(conversation_id))
        if ordinal is None or not 0 <= ordinal < len(self.indexes[channel]):
            return None
        entry = self.entry(channel, ordinal)
        return entry if entry.conversation_id == str(conversation_id) else None

    def _ordinal_of(self, channel: str, conversation_id: str) -> int | None:
        if channel == MESSAGING:
            return messaging_ordinal(conversation_id)
        number = conversation_id.removeprefix(self.account_id)
        if number == conversation_id or not number.isdigit():
            return None
        return int(number) - ENGAGEMENT_ID_BASE

    # --- search -----------------------------------------------------------------------------

    def search(
        self,
        channel: str,
        query: SearchQuery,
        now_ms: int,
        keyword_match: Callable[[Entry, str], bool] | None = None,
    ) -> list[int]:
        """Ordinals matching ``query`` at clock ``now_ms``, in the requested order. Cached per
        (query, data version, now), so paging through a result costs one scan."""
        with self._lock:
            key = (channel, query.cache_key(), self.version, now_ms)
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            result = self._scan(channel, query, now_ms, keyword_match)
            self._cache[key] = result
            if len(self._cache) > 64:
                self._cache.popitem(last=False)
            return result

    def _scan(
        self, channel: str, query: SearchQuery, now_ms: int, keyword_match: Callable | None
    ) -> list[int]:
        index = self.indexes[channel]
        keep = _filter(index, query, now_ms)
        hits = [o for o in index.ordinals_starting_between(query.start_from, query.start_to) if keep(o)]
        if query.keyword and keyword_match:
            hits = [o for o in hits if keyword_match(self.entry(channel, o), query.keyword)]
        column = index.starts if query.sort_field == "start" else _end_sort_column(index, now_ms)
        hits.sort(key=lambda o: (column[o], o), reverse=query.descending)
        return hits

    def summary(self, now_ms: int) -> dict:
        with self._lock:
            return {channel: _channel_summary(self.indexes[channel], now_ms) for channel in CHANNELS}


def _filter(index: ChannelIndex, query: SearchQuery, now_ms: int) -> Callable[[int], bool]:
    """A predicate over ordinals; chats count only once ended (end <= now)."""
    ends, skills, agents, last = index.ends, index.skills, index.agents, index.last_activity
    skill_set = _pool_indexes(query.skill_ids, [s.skill_id for s in SKILLS])
    agent_set = _pool_indexes(query.agent_ids, [a.agent_id for a in AGENTS])
    chat = index.channel == CHAT

    def keep(o: int) -> bool:
        closed = ends[o] <= now_ms
        if chat and not closed:
            return False
        if skill_set is not None and skills[o] not in skill_set:
            return False
        if agent_set is not None and agents[o] not in agent_set:
            return False
        if query.statuses is not None and ("CLOSE" if closed else "OPEN") not in query.statuses:
            return False
        if query.updated_since is not None and (ends[o] if closed else last[o]) < query.updated_since:
            return False
        return True

    return keep


def _pool_indexes(ids: frozenset[int] | None, pool_ids: list[int]) -> set[int] | None:
    if ids is None:
        return None
    return {i for i, pool_id in enumerate(pool_ids) if pool_id in ids}


def _end_sort_column(index: ChannelIndex, now_ms: int) -> list[int]:
    """Open conversations have no end yet: they sort after every closed one."""
    big = 1 << 62
    return [e if e <= now_ms else big for e in index.ends]


def _chat_duration_ms(rnd: random.Random, long: bool) -> int:
    minutes = rnd.uniform(90, 200) if long else rnd.choice([rnd.uniform(0.5, 5), rnd.uniform(3, 40)])
    return int(minutes * MINUTE_MS)


def _messaging_times(rnd: random.Random, start: int, now_ms: int, open_now: bool) -> tuple[int, int]:
    """(close, last message). Open ones close some hours or days after now, idle until then."""
    if open_now:
        last = start + int(rnd.random() * max(now_ms - start, 0))
        return now_ms + int(rnd.uniform(0.5, 72) * HOUR_MS), last
    close = start + int(rnd.choice([rnd.uniform(3, 60), rnd.uniform(60, 2880)]) * MINUTE_MS)
    if close > now_ms > start:
        close = start + int(rnd.random() * (now_ms - start))
    last = max(start, close - int(rnd.uniform(0.1, 10) * MINUTE_MS))
    return close, last


def _channel_summary(index: ChannelIndex, now_ms: int) -> dict:
    closed = sum(1 for e in index.ends if e <= now_ms)
    return {
        "total": len(index),
        "closed": closed,
        "open": len(index) - closed,
        "min_start": min(index.starts) if len(index) else None,
        "max_end": max(index.ends) if len(index) else None,
    }
