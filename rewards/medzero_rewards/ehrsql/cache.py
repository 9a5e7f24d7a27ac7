"""A persistent cache of gold-query results, one file per database content.

Gold SQL never changes for a data set and the database is read-only, so its results are computed
once per database and reused by later runs (evaluation after evaluation, every RL step). The cache
file is named after the SHA-256 of the database bytes, so a rebuilt or different database never
reads another's results. Only results that cannot change between runs are stored: successful
results and SQL errors or refusals of deterministic queries (never timeouts or crashes).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from medzero_rewards.ehrsql.executor import ExecResult

__all__ = ["ResultCache", "database_fingerprint"]

_FORMAT = 1
_fingerprints: dict[tuple[str, int, int], str] = {}


def database_fingerprint(db_path: str | Path) -> str:
    """SHA-256 (hex) of the database file's bytes; memoised per path, size and modification time.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.sqlite"); _ = open(p, "wb").write(b"abc")
    >>> database_fingerprint(p)[:12]
    'ba7816bf8f01'
    """
    path = Path(db_path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    digest = _fingerprints.get(key)
    if digest is None:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = _fingerprints[key] = h.hexdigest()
    return digest


class ResultCache:
    """Query results for one database, kept in ``cache_dir/ehrsql-<sha256[:16]>.json``.

    >>> import tempfile, os, sqlite3
    >>> d = tempfile.mkdtemp(); db = os.path.join(d, "t.sqlite"); sqlite3.connect(db).close()
    >>> c = ResultCache(db, d); c.put("SELECT 1", ExecResult(answer="[['1.0']]")); c.flush()
    >>> ResultCache(db, d).get("SELECT 1").answer
    "[['1.0']]"
    """

    def __init__(self, db_path: str | Path, cache_dir: str | Path) -> None:
        self.fingerprint = database_fingerprint(db_path)
        self.path = Path(cache_dir) / f"ehrsql-{self.fingerprint[:16]}.json"
        self._entries: dict[str, list[object]] = {}
        self._dirty = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") == _FORMAT and data.get("db_sha256") == self.fingerprint:
                self._entries = dict(data["results"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self._entries = {}  # no cache yet, or unreadable: start afresh (it is only a cache)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, sql: str) -> ExecResult | None:
        """The stored result of ``sql`` (post-processed text), if any."""
        entry = self._entries.get(sql)
        if entry is None:
            return None
        answer, error, kind, n_rows = entry
        return ExecResult(answer=answer, error=error, error_kind=kind, n_rows=n_rows)  # type: ignore[arg-type]

    def put(self, sql: str, result: ExecResult) -> None:
        """Store a result (ignored unless it is a success, an SQL error or a refusal)."""
        if result.error_kind not in (None, "sql_error", "refused"):
            return
        self._entries[sql] = [result.answer, result.error, result.error_kind, result.n_rows]
        self._dirty = True

    def flush(self) -> None:
        """Write the cache file atomically if anything changed."""
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": _FORMAT, "db_sha256": self.fingerprint, "results": self._entries}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".ehrsql-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._dirty = False
