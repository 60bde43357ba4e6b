"""A bounded LRU of serialised records, so a page asked for again (a retry after 429, 5xx or a
dropped connection, overlapping windows, a rerun) is not built and encoded again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

DEFAULT_MAX_BYTES = 32 * 1024 * 1024


class RecordCache:
    """Up to ``max_bytes`` of JSON bytes by key, least recently used out first. Thread-safe; a
    value is built outside the lock (two threads may build the same one; both get equal bytes)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return value
            self.misses += 1
        value = make()
        if len(value) > self.max_bytes // 8:
            return value  # a rare huge record would push out many ordinary ones
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                self.size += len(value)
                while self.size > self.max_bytes:
                    _, dropped = self._items.popitem(last=False)
                    self.size -= len(dropped)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self._items)
