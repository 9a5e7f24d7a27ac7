"""Persistent SQLite cache of judge grades, one row per (answer, reference set).

The key is a SHA-256 over the judge model, the prompt version, the normalised answer and the
normalised, sorted score-2 and score-1 name sets. The endpoint URL and the API key are *not* part
of the key (the same model behind another URL gives the same grades) and are never stored. Only
real grades (0/1/2) are stored; failures are never cached, so a re-run retries them.

Safe for threads of one process (one connection behind a lock) and for several processes sharing
the file (SQLite WAL mode with a busy timeout). A :class:`JudgeCache` pickles as its path: the copy
opens its own connection to the same file (a process pool or a Ray worker shares the cache).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from medzero_rewards.judge.types import Grade
from medzero_rewards.normalize import normalize_name

_SPACE = re.compile(r"\s+")
_PUNCT_MAP = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-"})


def _typographic(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).translate(_PUNCT_MAP).casefold()
    return _SPACE.sub(" ", text).strip()


def normalize_key_name(name: str) -> str:
    """The name as it enters a cache key: :func:`medzero_rewards.normalize.normalize_name`.

    That normalisation only merges surface spellings of one name (case, punctuation, possessives,
    a trailing "(ABBR)", Roman numerals, British spellings), so two answers share a cache row only
    when the judge would be asked the same question. A name it reduces to nothing (only
    punctuation) keeps a typographic form instead, so such answers do not all share one row.
    """
    return normalize_name(name) or "\x00" + _typographic(name)


def reference_key(gold_names: Iterable[str], broader_names: Iterable[str]) -> str:
    """A stable string for the reference sets (order and duplicates do not matter)."""
    gold = sorted({normalize_key_name(n) for n in gold_names if n.strip()})
    broader = sorted({normalize_key_name(n) for n in broader_names if n.strip()})
    return json.dumps([gold, broader], ensure_ascii=False, separators=(",", ":"))


def cache_key(model: str, prompt_version: str, answer: str, ref_key: str) -> str:
    """SHA-256 hex key for one graded answer."""
    raw = json.dumps([model, prompt_version, normalize_key_name(answer), ref_key], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class JudgeCache:
    """A SQLite file mapping cache keys to grades."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._open()

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path}  # no connection, no lock

    def __setstate__(self, state: dict[str, object]) -> None:
        self.path = Path(state["path"])  # type: ignore[arg-type]
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False, isolation_level=None)
        try:
            with self._lock:
                try:
                    self._conn.execute("PRAGMA journal_mode=WAL")
                except sqlite3.OperationalError:  # e.g. no shared memory on this filesystem; the rollback journal works
                    pass
                self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS judge_grades ("
                    " key TEXT PRIMARY KEY, model TEXT NOT NULL, prompt_version TEXT NOT NULL,"
                    " answer TEXT NOT NULL, grade INTEGER NOT NULL CHECK (grade IN (0, 1, 2)),"
                    " created REAL NOT NULL)"
                )
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ValueError(f"judge cache {self.path} is not a usable SQLite file ({exc}); move it away or set cache_path") from exc

    def get_many(self, keys: Sequence[str]) -> dict[str, Grade]:
        """Grades for the keys that are cached."""
        out: dict[str, Grade] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(f"SELECT key, grade FROM judge_grades WHERE key IN ({marks})", chunk)
                out.update({k: int(g) for k, g in rows})
        return out

    def put_many(self, rows: Mapping[str, tuple[str, str, str, Grade]]) -> None:
        """Store ``key -> (model, prompt_version, answer, grade)``; later writes win."""
        if not rows:
            return
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO judge_grades (key, model, prompt_version, answer, grade, created)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(k, m, v, a, int(g), now) for k, (m, v, a, g) in rows.items()],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM judge_grades").fetchone()[0])

    def close(self) -> None:
        """Close the connection (the file stays)."""
        with self._lock:
            self._conn.close()
