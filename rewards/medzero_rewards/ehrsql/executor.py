"""Safe, read-only execution of one SQL query against the EHRSQL SQLite database.

The SQL may come from a model under RL, so every connection is locked down:

* opened with a ``file:…?mode=ro`` URI, then ``PRAGMA query_only=1`` and ``temp_store=MEMORY``
  (sorts and temporary b-trees never touch the disk), ``SQLITE_LIMIT_ATTACHED = 0``;
* an authorizer that allows only reading (``SELECT``, column reads, functions, recursive CTEs) and denies
  everything else: writes, DDL, ``ATTACH``/``DETACH``, ``PRAGMA``, transactions, ``VACUUM``, ``ANALYZE``,
  and the ``load_extension`` function;
* one statement per query (Python's ``sqlite3`` refuses a second statement, as in the official scorer);
* a time limit that really stops the query: a progress handler aborts the SQLite VM at the deadline,
  and the fetch loop checks the deadline between chunks;
* caps on SQL length, string/blob size, fetched rows and (in worker processes, see :mod:`.pool`) memory.

Results are normalised while fetching (:func:`.results.normalize_rows`), so only 100 rows are ever held.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from medzero_rewards.ehrsql.results import normalize_rows

__all__ = ["ExecResult", "ErrorKind", "Limits", "ReadOnlyExecutor", "open_readonly"]

ErrorKind = Literal["sql_error", "refused", "timeout", "limit", "crash"]
"""Why a query gave no result: SQLite rejected it, the read-only guard refused it, it ran out of time,
it exceeded a row/size/memory cap, or the worker process died."""

_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_DENIED_FUNCTIONS = frozenset({"load_extension"})
_REFUSAL_MARKERS = ("not authorized", "authorization denied", "one statement at a time")
_LIMIT_MARKERS = ("too big", "too long", "out of memory", "too many")


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits for one query.

    Attributes:
        timeout_s: wall-clock budget per query, execution and fetching together.
        max_rows: rows fetched before the query is stopped as an error (``limit``). The official scorer
            has no cap; a result this large never equals a gold result, so scores are unchanged.
        max_sql_chars: longer SQL is refused before SQLite sees it (also set as SQLite's SQL length limit).
        max_value_bytes: SQLite's limit on one string or blob (``randomblob``/string doubling stop here).
        max_result_chars: a normalised result longer than this is reported as a ``limit`` error.
        memory_mb: SQLite heap limit and address-space headroom, applied in worker processes only.
        fetch_chunk: rows fetched per ``fetchmany`` call.
        progress_steps: SQLite VM instructions between deadline checks.
    """

    timeout_s: float = 10.0
    max_rows: int = 1_000_000
    max_sql_chars: int = 1_000_000
    max_value_bytes: int = 10_000_000
    max_result_chars: int = 1_000_000
    memory_mb: int = 1024
    fetch_chunk: int = 1000
    progress_steps: int = 2000


@dataclass(frozen=True, slots=True)
class ExecResult:
    """The outcome of executing one query.

    ``answer`` is the official comparison string when the query ran; otherwise ``error`` says why and
    ``error_kind`` classifies it.

    >>> ExecResult(answer="[['1.0']]").ok
    True
    """

    answer: str | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    n_rows: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """The query ran to completion within every limit."""
        return self.error_kind is None

    @property
    def timed_out(self) -> bool:
        """The query was stopped by the time limit."""
        return self.error_kind == "timeout"


def _authorizer(action: int, arg1: Any, arg2: Any, db_name: Any, trigger: Any) -> int:
    if action not in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and isinstance(arg2, str) and arg2.lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def open_readonly(
    db_path: str | Path, limits: Limits = Limits(), *, heap_limit: bool = False
) -> sqlite3.Connection:
    """Open ``db_path`` read-only with the guard described in the module docstring.

    ``heap_limit`` also caps SQLite's heap at ``limits.memory_mb`` (``PRAGMA hard_heap_limit``). The
    cap is process-wide, so only worker processes set it.

    Raises :class:`FileNotFoundError` when the file does not exist (SQLite would otherwise report a
    less clear error, and never creates a file in ``mode=ro``).
    """
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"EHRSQL database not found: {path}")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    con.text_factory = lambda b: b.decode(errors="ignore")  # as the official scorer decodes text
    con.execute("PRAGMA query_only = 1")
    con.execute("PRAGMA temp_store = MEMORY")
    if heap_limit:
        con.execute(f"PRAGMA hard_heap_limit = {int(limits.memory_mb) * 1024 * 1024}")
    con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes)
    con.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, max(limits.max_sql_chars * 4, 1000))
    con.set_authorizer(_authorizer)
    return con


def _classify(exc: BaseException, deadline_hit: bool) -> tuple[ErrorKind, str]:
    msg = f"{type(exc).__name__}: {exc}"
    low = msg.lower()
    if deadline_hit and "interrupted" in low:
        return "timeout", msg
    if any(m in low for m in _REFUSAL_MARKERS):
        return "refused", msg
    if isinstance(exc, MemoryError) or any(m in low for m in _LIMIT_MARKERS):
        return "limit", msg
    return "sql_error", msg


class _RowLimitExceeded(Exception):
    pass


class _Deadline(Exception):
    pass


class ReadOnlyExecutor:
    """Executes queries on one read-only connection, in the calling process.

    Used inside pool workers and, with ``workers=0``, directly by the scorer. The time limit works here
    too (progress handler); the memory cap and the kill-and-replace backstop need worker processes.

    >>> import sqlite3, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.sqlite")
    >>> c = sqlite3.connect(p); _ = c.execute("CREATE TABLE t(x)"); _ = c.execute("INSERT INTO t VALUES (1.23456)"); c.commit(); c.close()
    >>> ex = ReadOnlyExecutor(p)
    >>> ex.execute("SELECT x FROM t").answer
    "[['1.235']]"
    >>> ex.execute("DELETE FROM t").error_kind
    'refused'
    """

    def __init__(self, db_path: str | Path, limits: Limits = Limits(), *, heap_limit: bool = False) -> None:
        self.db_path = Path(db_path)
        self.limits = limits
        self._con = open_readonly(self.db_path, limits, heap_limit=heap_limit)
        self._deadline = 0.0
        self._deadline_hit = False
        self._con.set_progress_handler(self._progress, limits.progress_steps)

    def _progress(self) -> int:
        if time.monotonic() > self._deadline:
            self._deadline_hit = True
            return 1
        return 0

    def _rows(self, cur: sqlite3.Cursor) -> Iterator[tuple[Any, ...]]:
        fetched = 0
        chunk, max_rows = self.limits.fetch_chunk, self.limits.max_rows
        while True:
            rows = cur.fetchmany(chunk)
            if not rows:
                return
            fetched += len(rows)
            if fetched > max_rows:
                raise _RowLimitExceeded(f"more than {max_rows} rows")
            if time.monotonic() > self._deadline:
                self._deadline_hit = True
                raise _Deadline(f"over {self.limits.timeout_s:g} s while fetching")
            self._n_rows = fetched
            yield from rows

    def execute(self, sql: str) -> ExecResult:
        """Run one (already post-processed) query; never raises for bad SQL or input."""
        start = time.monotonic()
        self._deadline = start + self.limits.timeout_s
        self._deadline_hit = False
        self._n_rows = 0
        if not isinstance(sql, str):
            return ExecResult(error=f"SQL is {type(sql).__name__}, not str", error_kind="sql_error")
        if len(sql) > self.limits.max_sql_chars:
            return ExecResult(
                error=f"SQL longer than {self.limits.max_sql_chars} characters", error_kind="refused"
            )
        cur = None
        try:
            cur = self._con.execute(sql)
            answer = normalize_rows(self._rows(cur))
        except _RowLimitExceeded as exc:
            return self._fail("limit", f"row limit: {exc}", start)
        except _Deadline as exc:
            return self._fail("timeout", f"timeout: {exc}", start)
        except Exception as exc:  # any SQLite, encoding or memory error is a defined outcome
            kind, msg = _classify(exc, self._deadline_hit)
            return self._fail(kind, msg, start)
        finally:
            if cur is not None:
                try:
                    cur.close()
                except Exception:
                    pass
        elapsed = time.monotonic() - start
        if len(answer) > self.limits.max_result_chars:
            return ExecResult(
                error=f"result longer than {self.limits.max_result_chars} characters",
                error_kind="limit", n_rows=self._n_rows, elapsed_s=elapsed,
            )
        return ExecResult(answer=answer, n_rows=self._n_rows, elapsed_s=elapsed)

    def _fail(self, kind: ErrorKind, msg: str, start: float) -> ExecResult:
        return ExecResult(error=msg[:500], error_kind=kind, n_rows=self._n_rows,
                          elapsed_s=time.monotonic() - start)

    def close(self) -> None:
        """Close the connection."""
        self._con.close()
