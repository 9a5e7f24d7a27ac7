"""A persistent pool of worker processes that execute SQL with :class:`.executor.ReadOnlyExecutor`.

Each worker holds one read-only connection for its whole life, so batches pay no process start-up or
connection cost. Inside a worker, SQLite's heap is capped (``PRAGMA hard_heap_limit``) and the address
space is limited (``RLIMIT_AS``). The parent gives each worker one query at a time and waits with a
deadline of ``timeout_s + kill_grace_s``; a worker that misses it (stuck outside the SQLite VM) is
killed and replaced and its query reported as ``timeout``. A worker found dead (killed while idle, by
an OOM killer say) is replaced before it gets a query; a query whose worker dies under it is run again
on a fresh worker (``max_attempts`` in all) and only then reported as ``crash``. The batch goes on.

Workers are fresh interpreters (``subprocess`` + a socket pair), not forks: safe in processes that
hold threads or a GPU context (a trainer), and the caller's ``__main__`` is never re-imported, so no
``if __name__ == "__main__"`` guard is needed. Only the small executor modules are imported in them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path

from medzero_rewards.ehrsql.executor import ExecResult, Limits, ReadOnlyExecutor

__all__ = ["WorkerPool"]

# Workers run `python -I -S` (no site, no user environment: fast start, independent of .pth hooks) and
# import this package from its directory without running medzero_rewards/__init__ (which loads pydantic).
_CHILD_CODE = (
    "import sys, types; pkg = types.ModuleType('medzero_rewards'); pkg.__path__ = [sys.argv[2]]; "
    "sys.modules['medzero_rewards'] = pkg; "
    "from medzero_rewards.ehrsql.pool import _child_main; _child_main(int(sys.argv[1]))"
)
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def _cap_memory(limits: Limits) -> None:
    budget = limits.memory_mb * 1024 * 1024
    try:
        import resource

        with open("/proc/self/statm") as fh:
            vsize = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (vsize + 2 * budget, vsize + 2 * budget))
    except Exception:  # no /proc or no resource module: the SQLite heap limit still applies
        pass


def _worker_main(conn: Connection, db_path: str, limits: Limits) -> None:
    """Worker loop: receive SQL strings, send back result tuples, until ``None`` or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    try:
        executor = ReadOnlyExecutor(db_path, limits, heap_limit=True)
        _cap_memory(limits)
        conn.send(("ready", None))
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            sql = conn.recv()
        except (EOFError, OSError):
            return
        if sql is None:
            return
        try:
            r = executor.execute(sql)
        except BaseException as exc:  # MemoryError in Python code, say: report, keep serving
            r = ExecResult(error=f"{type(exc).__name__}: {exc}"[:500], error_kind="limit")
        try:
            conn.send((r.answer, r.error, r.error_kind, r.n_rows, r.elapsed_s))
        except (EOFError, OSError):  # the parent went away
            return


def _child_main(fd: int) -> None:
    """Entry point of a worker subprocess: ``fd`` is its end of a socket pair."""
    conn = Connection(fd)
    try:
        db_path, limits = conn.recv()
    except (EOFError, OSError):
        return
    _worker_main(conn, db_path, limits)


class _Worker:
    __slots__ = ("process", "conn", "task", "deadline")

    def __init__(self, db_path: str, limits: Limits) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _CHILD_CODE, str(theirs.fileno()), _PACKAGE_DIR],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal reaches the parent only
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send((db_path, limits))
        self.task: int | None = None
        self.deadline = 0.0

    def wait_ready(self, timeout: float) -> None:
        if not self.conn.poll(timeout):
            self.kill()
            raise RuntimeError("EHRSQL worker did not start in time")
        try:
            status, info = self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise RuntimeError(f"EHRSQL worker died while starting (exit code {self.process.returncode})") from exc
        if status != "ready":
            self.kill()
            raise RuntimeError(f"EHRSQL worker could not open the database: {info}")

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(timeout=5)
        except Exception:
            pass
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.process.wait(timeout=1)
        except Exception:
            pass
        if self.process.poll() is None:
            self.kill()
        else:
            self.conn.close()


def _shutdown(workers: list[_Worker]) -> None:
    for w in workers:
        w.stop()
    workers.clear()


class WorkerPool:
    """Persistent worker processes executing read-only SQL on one database.

    >>> import sqlite3, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.sqlite")
    >>> c = sqlite3.connect(p); _ = c.execute("CREATE TABLE t(x)"); c.commit(); c.close()
    >>> with WorkerPool(p, workers=1) as pool:
    ...     [r.answer or r.error_kind for r in pool.execute_many(["SELECT 1", "DROP TABLE t"])]
    ["[['1.0']]", 'refused']
    """

    def __init__(
        self,
        db_path: str | Path,
        workers: int = 2,
        limits: Limits = Limits(),
        *,
        kill_grace_s: float | None = None,
        max_attempts: int = 2,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        path = Path(db_path)
        if not path.is_file():
            raise FileNotFoundError(f"EHRSQL database not found: {path}")
        self.db_path = str(path.resolve())
        self.limits = limits
        self.n_workers = workers
        self.max_attempts = max(1, max_attempts)
        self.kill_grace_s = kill_grace_s if kill_grace_s is not None else 1.0 + 0.5 * limits.timeout_s
        self.replaced = 0
        """How many workers were killed and replaced (hung or dead) so far."""
        self.retried = 0
        """How many queries were sent again to a fresh worker because theirs died."""
        self._workers: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _shutdown, self._workers)
        started = [self._spawn() for _ in range(workers)]
        for w in started:
            w.wait_ready(60.0)
        self._workers.extend(started)

    def _spawn(self) -> _Worker:
        return _Worker(self.db_path, self.limits)

    def _replace(self, w: _Worker) -> _Worker:
        w.kill()
        self.replaced += 1
        new = self._spawn()
        new.wait_ready(60.0)
        self._workers[self._workers.index(w)] = new
        return new

    def execute_many(self, sqls: Sequence[str]) -> list[ExecResult]:
        """Execute every query (already post-processed); results in input order. Never raises for SQL.

        Raises :class:`RuntimeError` only when no worker can be started at all.
        """
        if not self._workers:
            raise RuntimeError("WorkerPool is closed")
        results: list[ExecResult | None] = [None] * len(sqls)
        attempts = [0] * len(sqls)  # times each query was handed to a worker that then died
        pending = deque(range(len(sqls)))
        busy: dict[Connection, _Worker] = {}
        idle = list(self._workers)
        budget = self.limits.timeout_s + self.kill_grace_s

        def lost(i: int, why: str) -> None:
            """The worker running (or about to run) query ``i`` died: retry it, or give up."""
            attempts[i] += 1
            if attempts[i] < self.max_attempts:
                self.retried += 1
                pending.appendleft(i)
            else:
                results[i] = ExecResult(error=f"worker died {attempts[i]} times running this query: {why}",
                                        error_kind="crash")

        while pending or busy:
            while pending and idle:
                w = idle.pop()
                if w.process.poll() is not None:  # died while idle (killed): never hand it a query
                    w = self._replace(w)
                i = pending.popleft()
                try:
                    w.conn.send(sqls[i])
                except Exception as exc:  # broken pipe: it died between the check and the send
                    idle.append(self._replace(w))
                    lost(i, f"worker unavailable: {exc}")
                    continue
                w.task, w.deadline = i, time.monotonic() + budget
                busy[w.conn] = w
            if not busy:
                continue
            timeout = max(0.0, min(w.deadline for w in busy.values()) - time.monotonic())
            for conn in wait(list(busy), timeout=timeout):
                w = busy.pop(conn)  # type: ignore[arg-type]
                i = w.task
                assert i is not None
                try:
                    answer, error, kind, n_rows, elapsed = w.conn.recv()
                    results[i] = ExecResult(answer, error, kind, n_rows, elapsed)
                    w.task = None
                    idle.append(w)
                except Exception as exc:  # EOF: the worker died (crash, OOM kill)
                    w.task = None
                    code = w.process.poll()
                    idle.append(self._replace(w))
                    lost(i, f"worker died ({exc!r}, exit code {code})")
            now = time.monotonic()
            for conn, w in list(busy.items()):
                if now >= w.deadline:
                    del busy[conn]
                    assert w.task is not None
                    results[w.task] = ExecResult(
                        error=f"timeout: worker unresponsive after {budget:g} s, killed and replaced",
                        error_kind="timeout", elapsed_s=budget,
                    )
                    w.task = None
                    idle.append(self._replace(w))
        return [r if r is not None else ExecResult(error="not executed", error_kind="crash") for r in results]

    def close(self) -> None:
        """Stop the workers (also done automatically when the pool is garbage-collected or at exit)."""
        self._finalizer()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
