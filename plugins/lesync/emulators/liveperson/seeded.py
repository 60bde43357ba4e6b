"""``SeededRandom``: ``random.Random`` with faster ``choice``, ``randrange`` and ``randint``.

Records are built from hundreds of these calls each, and the stdlib versions spend most of their
time in argument checks. The overrides draw exactly the same bits in the same order (CPython's
``_randbelow_with_getrandbits``), so a seed gives the same values as ``random.Random``: the
records stay byte-identical. Anything off the fast path goes to the stdlib implementation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


class SeededRandom(random.Random):
    def choice(self, seq: Sequence[Any]) -> Any:
        n = len(seq)
        if not n:
            return super().choice(seq)
        getrandbits = self.getrandbits
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None or step != 1 or type(start) is not int or type(stop) is not int or stop <= start:
            return super().randrange(start, stop, step)
        n = stop - start
        getrandbits = self.getrandbits
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return start + r

    def randint(self, a: int, b: int) -> int:
        return self.randrange(a, b + 1)
