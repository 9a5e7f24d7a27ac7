"""A least-recently-used cache bounded by bytes, not entries.

The SQL a policy writes can be long (up to the SQL cap), so a cache that counts entries can hold
gigabytes; this one counts the memory of its keys and values (:func:`sys.getsizeof` of each string)
and evicts the oldest entries past its budget. An entry larger than a quarter of the budget is not
kept at all. Thread-safe.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ByteLRU", "str_bytes"]

V = TypeVar("V")
_ENTRY_OVERHEAD = 120  # the OrderedDict node and the (value, size) tuple


def str_bytes(value: object) -> int:
    """Memory of a string (or None) as CPython holds it.

    >>> str_bytes("abc") < str_bytes("abc" * 100), str_bytes(None)
    (True, 0)
    """
    return 0 if value is None else sys.getsizeof(value)


class ByteLRU(Generic[V]):
    """A ``str`` -> value LRU cache holding at most ``max_bytes`` of keys and values.

    ``size_of(value)`` gives a value's bytes (default: :func:`str_bytes`); ``max_entries`` optionally
    caps the number of entries too.

    >>> c = ByteLRU(max_bytes=1_400)
    >>> for key in "abcd": c.put(key, key * 100)
    >>> c.get("a") is not None
    True
    >>> c.put("e", "e" * 100); c.get("b") is None, len(c), c.nbytes <= 1_400  # "b" was the least recently used
    (True, 4, True)
    >>> c.put("huge", "w" * 10_000); c.get("huge") is None  # over a quarter of the budget: not kept
    True
    """

    def __init__(self, max_bytes: int, size_of: Callable[[V], int] = str_bytes, max_entries: int | None = None) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self.max_entries = max_entries
        self._size_of = size_of
        self._data: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        """Bytes currently held (keys, values and per-entry overhead)."""

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> V | None:
        """The value stored for ``key`` (marking it recently used), or None."""
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            self._data.move_to_end(key)
            return hit[0]

    def put(self, key: str, value: V) -> None:
        """Store ``value``; evict the least recently used entries until the budget holds."""
        size = sys.getsizeof(key) + self._size_of(value) + _ENTRY_OVERHEAD
        if size * 4 > self.max_bytes or self.max_entries == 0:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            self._data[key] = (value, size)
            self.nbytes += size
            while self.nbytes > self.max_bytes or (self.max_entries is not None and len(self._data) > self.max_entries):
                _, (_, dropped) = self._data.popitem(last=False)
                self.nbytes -= dropped

    def memo(self, key: str, compute: Callable[[str], V], max_key_chars: int | None = None) -> V:
        """``compute(key)``, kept for the next call; a key longer than ``max_key_chars`` is computed
        every time and never kept (long, hostile input is not worth the memory).

        >>> c = ByteLRU[int](max_bytes=10_000)
        >>> c.memo("abc", len), len(c), c.memo("x" * 50, len, max_key_chars=10), len(c)
        (3, 1, 50, 1)
        """
        if max_key_chars is not None and len(key) > max_key_chars:
            return compute(key)
        hit = self.get(key)
        if hit is None:
            hit = compute(key)
            self.put(key, hit)
        return hit

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._data.clear()
            self.nbytes = 0

    cache_clear = clear  # the name functools caches use

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
