"""A dict bounded by the bytes of its keys and values, not by its number of entries.

Decisions, readings and gold sets are cached per answer string; answers can be long, so a bound on
entries alone lets memory grow with the answers' length (issue 13: 20,000 distinct 1 KB answers
added 312 MB). :class:`ByteBoundedCache` charges each entry an estimate of its size and empties
itself when the budget is spent (answers recur within a GRPO step and across steps; a full clear is
O(1) amortised and keeps the hot path a plain dict lookup).
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["ENTRY_OVERHEAD", "ByteBoundedCache"]

K = TypeVar("K")
V = TypeVar("V")

ENTRY_OVERHEAD = 400
"""Bytes charged per entry on top of its text (dict slot, key tuple, the cached object)."""


class ByteBoundedCache(dict[K, V], Generic[K, V]):
    """A ``dict`` whose :meth:`put` keeps the estimated size under ``max_bytes``.

    Reads are plain dict reads (``get``, ``in``, ``[]``); only :meth:`put` counts. An entry bigger
    than a hundredth of the budget is not cached at all.

    >>> c = ByteBoundedCache(max_bytes=100_000)
    >>> c.put("fabry", 1, nbytes=5)
    >>> c.get("fabry"), c.nbytes
    (1, 405)
    >>> c.put("x" * 5000, 2, nbytes=5000)  # over a hundredth of the budget: not kept
    >>> len(c)
    1
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.nbytes = 0

    def put(self, key: K, value: V, nbytes: int) -> None:
        """Cache ``value`` under ``key``; ``nbytes``: the size of the entry's text."""
        cost = nbytes + ENTRY_OVERHEAD
        if cost * 100 > self.max_bytes:
            return
        if self.nbytes + cost > self.max_bytes:
            self.clear()
        self[key] = value
        self.nbytes += cost

    def clear(self) -> None:
        super().clear()
        self.nbytes = 0
