"""Safe, read-only execution of one SQL query against the EHRSQL SQLite database.

The SQL may come from a model under RL, so every connection is locked down:

* opened with a ``file:…?mode=ro`` URI, then ``PRAGMA query_only=1`` and ``temp_store=MEMORY``
  (sorts and temporary b-trees never touch the disk), ``SQLITE_LIMIT_ATTACHED = 0``;
* an authorizer that allows only reading (``SELECT``, column reads, functions, recursive CTEs) and denies
  everything else: writes, DDL, ``ATTACH``/``DETACH``, ``PRAGMA``, transactions, ``VACUUM``, ``ANALYZE``,
  and the ``load_extension`` function;
* one statement per query (Python's ``sqlite3`` refuses a second statement, as in the official scorer);
* a time limit that really stops the query: a progress handler aborts the SQLite VM at the deadline,
  a watchdog thread interrupts the connection at the deadline (work inside one VM instruction, which
  the progress handler never sees), and the fetch loop checks the deadline between chunks;
* caps on SQL length, string/blob size (``SQLITE_LIMIT_LENGTH``, 100 KB by default, so no single
  instruction such as ``instr`` over two long strings runs for long), fetched rows and (in worker
  processes, see :mod:`.pool`) memory; ``printf``/``format`` refuse a width or precision over the
  string cap before any work (SQLite 3.40 builds ``printf('%.*c', 1000000000, 'x')`` for seconds
  before noticing it is too long).

Results are normalised while fetching (:func:`.results.normalize_rows`), so only 100 rows are ever held.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import weakref
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
        max_sql_chars: longer SQL is refused before SQLite sees it (also set as SQLite's SQL length
            limit). SQL text is a string too: over ``max_value_bytes`` of UTF-8 it is a ``limit`` error.
        max_value_bytes: SQLite's limit on one string, blob or row (``SQLITE_LIMIT_LENGTH``):
            ``randomblob``/string doubling stop here, and it bounds the work of one VM instruction
            (``instr`` over two strings of this size takes ~0.2 s). Every value in the EHRSQL database
            is under 300 bytes.
        max_result_chars: a normalised result longer than this is reported as a ``limit`` error.
        memory_mb: SQLite heap limit and address-space headroom, applied in worker processes only.
        fetch_chunk: rows fetched per ``fetchmany`` call.
        progress_steps: SQLite VM instructions between deadline checks.
        watchdog: also interrupt the connection from a watchdog thread at the deadline (stops work
            inside one long VM instruction).
    """

    timeout_s: float = 10.0
    max_rows: int = 1_000_000
    max_sql_chars: int = 100_000
    max_value_bytes: int = 100_000
    max_result_chars: int = 1_000_000
    memory_mb: int = 1024
    fetch_chunk: int = 1000
    progress_steps: int = 2000
    watchdog: bool = True


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
    # No statement cache: results are cached by the scorer, and 128 cached statements of long SQL
    # would hold megabytes (each keeps its SQL text).
    con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, cached_statements=0)
    con.text_factory = lambda b: b.decode(errors="ignore")  # as the official scorer decodes text
    con.execute("PRAGMA query_only = 1")
    con.execute("PRAGMA temp_store = MEMORY")
    if heap_limit:
        con.execute(f"PRAGMA hard_heap_limit = {int(limits.memory_mb) * 1024 * 1024}")
    _set_limits(con, limits)
    con.set_authorizer(_authorizer)
    return con


def _set_limits(con: sqlite3.Connection, limits: Limits) -> None:
    if not hasattr(con, "setlimit"):  # Python < 3.11: the watchdog and worker kill still bound time
        return
    con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes)
    con.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, max(limits.max_sql_chars * 4, 1000))


# %[flags][width][.precision][l|ll]conversion, as SQLite's printf reads it (never backtracks).
_PRINTF_SPEC = re.compile(r"%[-+ 0#,!]*(\*|\d*)(?:\.(\*|\d*))?(?:ll|l)?(.|$)", re.DOTALL)
_NUMBER_PREFIX = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class _PrintfTooBig(Exception):
    pass


def _int_arg(value: Any) -> float:
    """An upper bound of the integer SQLite reads from a ``*`` width/precision argument."""
    if isinstance(value, (int, float)):
        return abs(value) if value == value else 0.0
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        m = _NUMBER_PREFIX.match(value)
        if m:
            try:
                return abs(float(m.group()))
            except (ValueError, OverflowError):
                return float("inf")
    return 0.0


def printf_widths_within(fmt: Any, args: tuple[Any, ...], limit: int) -> bool:
    """True when every width and precision in ``printf(fmt, *args)`` is at most ``limit``.

    >>> printf_widths_within("%.*c|%5d|%%", (1_000_000_000, "x", 3), 100_000)
    False
    >>> printf_widths_within("%.2f and %-10s", (1.5, "x"), 100_000)
    True
    """
    if not isinstance(fmt, str):
        return True
    rest = iter(args)
    for m in _PRINTF_SPEC.finditer(fmt):
        for field in (m.group(1), m.group(2)):
            if field == "*":
                if _int_arg(next(rest, 0)) > limit:
                    return False
            elif field and (len(field) > 10 or int(field) > limit):
                return False
        if m.group(3) not in ("%", "n", ""):
            next(rest, None)
    return True


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


class _Clock:
    """The current query's deadline, and the progress handler that stops the VM past it."""

    __slots__ = ("deadline", "hit")

    def __init__(self) -> None:
        self.deadline = 0.0
        self.hit = False

    def progress(self) -> int:
        if time.monotonic() > self.deadline:
            self.hit = True
            return 1
        return 0


class _PrintfGuard:
    """``printf``/``format`` as SQL functions: SQLite's own (run on a private in-memory connection),
    refused before any work when a width or precision is over the string cap."""

    def __init__(self, limits: Limits) -> None:
        self.limit = limits.max_value_bytes
        self.error: str | None = None
        self._con = sqlite3.connect(":memory:", check_same_thread=False, cached_statements=4)
        _set_limits(self._con, limits)

    def __call__(self, *args: Any) -> Any:
        if args and not printf_widths_within(args[0], args[1:], self.limit):
            self.error = f"printf width or precision over the {self.limit}-byte string limit"
            raise _PrintfTooBig(self.error)
        try:
            return self._con.execute(f"SELECT printf({', '.join('?' * len(args))})", args).fetchone()[0]
        except sqlite3.Error as exc:
            self.error = f"printf: {type(exc).__name__}: {exc}"
            raise

    def close(self) -> None:
        self._con.close()


class _Watchdog:
    """Interrupts a connection whose query is still running at its deadline.

    The progress handler runs between VM instructions only; ``Connection.interrupt`` from this thread
    stops the statement at the next instruction, whatever the current one costs. One thread per
    executor; arming costs a lock (and a notify when the thread sleeps without a deadline).
    """

    def __init__(self, con: sqlite3.Connection) -> None:
        self._con = con
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._sleeping = False
        self._closed = False
        self.fired = False
        self._thread = threading.Thread(target=self._loop, name="ehrsql-sql-watchdog", daemon=True)
        self._thread.start()

    def arm(self, deadline: float) -> None:
        with self._cond:
            self.fired = False
            self._deadline = deadline
            if self._sleeping:
                self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._sleeping = True
                    self._cond.wait()
                    self._sleeping = False
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self.fired, self._deadline = True, None
                try:
                    self._con.interrupt()
                except Exception:  # closed meanwhile
                    pass

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()


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
        self._clock = _Clock()  # the connection's callbacks hold this, not the executor
        self._con.set_progress_handler(self._clock.progress, limits.progress_steps)
        self._printf = _PrintfGuard(limits)
        for name in ("printf", "format"):
            self._con.create_function(name, -1, self._printf, deterministic=True)
        self._watchdog = _Watchdog(self._con) if limits.watchdog else None
        if self._watchdog is not None:  # an executor dropped without close() still stops its thread
            weakref.finalize(self, self._watchdog.close)

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
            if time.monotonic() > self._clock.deadline:
                self._clock.hit = True
                raise _Deadline(f"over {self.limits.timeout_s:g} s while fetching")
            self._n_rows = fetched
            yield from rows

    def execute(self, sql: str) -> ExecResult:
        """Run one (already post-processed) query; never raises for bad SQL or input."""
        start = time.monotonic()
        self._clock.deadline = start + self.limits.timeout_s
        self._clock.hit = False
        self._n_rows = 0
        if not isinstance(sql, str):
            return ExecResult(error=f"SQL is {type(sql).__name__}, not str", error_kind="sql_error")
        if len(sql) > self.limits.max_sql_chars:
            return ExecResult(
                error=f"SQL longer than {self.limits.max_sql_chars} characters", error_kind="refused"
            )
        self._printf.error = None
        cur = None
        if self._watchdog is not None:
            self._watchdog.arm(self._clock.deadline)
        try:
            cur = self._con.execute(sql)
            answer = normalize_rows(self._rows(cur))
        except _RowLimitExceeded as exc:
            return self._fail("limit", f"row limit: {exc}", start)
        except _Deadline as exc:
            return self._fail("timeout", f"timeout: {exc}", start)
        except Exception as exc:  # any SQLite, encoding or memory error is a defined outcome
            hit = self._clock.hit or (self._watchdog is not None and self._watchdog.fired)
            if self._printf.error is not None and not hit:
                return self._fail("limit", f"limit: {self._printf.error}", start)
            kind, msg = _classify(exc, hit)
            return self._fail(kind, msg, start)
        finally:
            if self._watchdog is not None:
                self._watchdog.disarm()
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
        """Close the connection (and stop the watchdog thread)."""
        if self._watchdog is not None:
            self._watchdog.close()
        self._con.close()
        self._printf.close()
