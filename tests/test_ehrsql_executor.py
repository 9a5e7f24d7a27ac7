"""Safe execution: the hostile corpus against a copy of the real EHRSQL database.

Every hostile query must get a defined result within its time limit, the database must stay
byte-identical, and no file may appear next to it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import sqlite3

import pytest

from medzero_rewards.ehrsql.executor import Limits, ReadOnlyExecutor
from medzero_rewards.ehrsql.pool import WorkerPool

TIMEOUT = 1.0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db_copy(ehrsql_dir: Path, tmp_path: Path):
    """A private copy of mimic_iv.sqlite in an otherwise empty folder; checks it is untouched after."""
    folder = tmp_path / "db"
    folder.mkdir()
    db = folder / "mimic_iv.sqlite"
    shutil.copyfile(ehrsql_dir / "mimic_iv.sqlite", db)
    before = _sha(db)
    yield db
    assert sorted(os.listdir(folder)) == ["mimic_iv.sqlite"], "a file was created next to the database"
    assert _sha(db) == before, "the database bytes changed"


def plain_answer(db: Path, sql: str) -> str:
    """The official-format answer computed with a plain read-only sqlite3 connection (the oracle)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(sql).fetchall()
    finally:
        con.close()
    return str(sorted([[str(round(float(c), 3)) for c in row] for row in rows])[:100])


def hostile_corpus(folder: Path) -> list[tuple[str, str, set[str]]]:
    """(name, sql, acceptable error kinds). ``folder`` is where ATTACH/VACUUM would create files."""
    evil = folder / "evil.sqlite"
    return [
        ("delete", "DELETE FROM patients", {"refused"}),
        ("update", "UPDATE patients SET gender = 'x'", {"refused"}),
        ("insert", "INSERT INTO patients (row_id) VALUES (999999)", {"refused"}),
        ("drop", "DROP TABLE patients", {"refused"}),
        ("create", "CREATE TABLE t (x)", {"refused"}),
        ("create_temp", "CREATE TEMP TABLE t (x)", {"refused"}),
        ("alter", "ALTER TABLE patients ADD COLUMN x", {"refused"}),
        ("attach_new_file", f"ATTACH DATABASE '{evil}' AS evil", {"refused"}),
        ("vacuum_into", f"VACUUM INTO '{evil}'", {"refused"}),
        ("pragma_write", "PRAGMA query_only = 0", {"refused"}),
        ("pragma_journal", "PRAGMA journal_mode = WAL", {"refused"}),
        ("pragma_read", "PRAGMA table_info(patients)", {"refused"}),
        ("begin", "BEGIN EXCLUSIVE", {"refused"}),
        ("analyze", "ANALYZE", {"refused"}),
        ("load_extension", "SELECT load_extension('/tmp/evil')", {"refused"}),
        ("multi_statement", "SELECT 1; DROP TABLE patients", {"refused"}),
        ("endless_cte", "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r",
         {"timeout"}),
        ("cartesian", "SELECT count(*) FROM chartevents a, labevents b, inputevents c", {"timeout"}),
        ("randomblob", "SELECT randomblob(1000000000)", {"limit"}),
        ("string_doubling",
         "WITH RECURSIVE s(x) AS (SELECT 'ab' UNION ALL SELECT x || x FROM s) SELECT length(x) FROM s",
         {"limit"}),
        ("megabyte_sql", "SELECT " + "1 + " * 300_000 + "1", {"refused"}),
        ("deep_nesting", "SELECT " + "(" * 45_000 + "1" + ")" * 45_000, {"sql_error", "limit"}),
        ("long_expression", "SELECT " + "1 + " * 24_000 + "1", {"sql_error", "limit"}),
        ("nul_byte", "SELECT 1\x00; DROP TABLE patients", {"sql_error"}),
        ("invalid_utf8", b"SELECT '\xff\xfe'".decode("utf-8", "surrogateescape"), {"sql_error"}),
        ("too_many_rows",
         "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 3000000) SELECT x FROM r",
         {"limit", "timeout"}),
        ("big_sort",
         "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 5000000) "
         "SELECT x, randomblob(2000) FROM r ORDER BY random() LIMIT 1",
         {"limit", "timeout"}),
    ]


def _check(results, corpus, elapsed_budget):
    for (name, _, kinds), r in zip(corpus, results):
        assert not r.ok, f"{name} ran: {r.answer!r:.80}"
        assert r.error_kind in kinds, f"{name}: {r.error_kind} ({r.error})"
        assert r.error, name
        assert r.elapsed_s <= elapsed_budget, f"{name} took {r.elapsed_s:.2f}s"


def test_hostile_corpus_in_process(db_copy: Path):
    corpus = hostile_corpus(db_copy.parent)
    ex = ReadOnlyExecutor(db_copy, Limits(timeout_s=TIMEOUT, max_rows=1_000_000))
    results = [ex.execute(sql) for _, sql, _ in corpus]
    ex.close()
    _check(results, corpus, TIMEOUT + 1.0)


def test_hostile_corpus_in_worker_pool(db_copy: Path):
    corpus = hostile_corpus(db_copy.parent)
    with WorkerPool(db_copy, workers=2, limits=Limits(timeout_s=TIMEOUT, memory_mb=256)) as pool:
        start = time.monotonic()
        results = pool.execute_many([sql for _, sql, _ in corpus] + ["SELECT COUNT(*) FROM patients"])
        wall = time.monotonic() - start
    _check(results[:-1], corpus, TIMEOUT + 1.0)
    assert results[-1].answer == plain_answer(db_copy, "SELECT COUNT(*) FROM patients")  # the pool still answers after the hostile queries
    # The slow items all stop at the limit, so the whole batch is bounded by them, not by the queries.
    n_slow = sum(1 for _, _, kinds in corpus if "timeout" in kinds)
    assert wall < n_slow * (TIMEOUT + 1.5)


def test_readonly_reads_still_work(db_copy: Path):
    ex = ReadOnlyExecutor(db_copy, Limits(timeout_s=5))
    r = ex.execute("SELECT COUNT(*) FROM patients")
    assert r.ok and r.answer == plain_answer(db_copy, "SELECT COUNT(*) FROM patients") and r.n_rows == 1
    assert ex.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'patients'").answer == "[['patients']]"
    # the official scorer runs an empty statement and gets no rows: so do we
    assert ex.execute("").answer == "[]"
    assert ex.execute("SELECT 1;").answer == "[['1.0']]"
    # long but legal SQL (under the 100,000-character cap) runs, as in the official scorer
    assert ex.execute("SELECT 1 /* " + "x" * 90_000 + " */").answer == "[['1.0']]"


def test_hung_worker_is_killed_and_replaced(db_copy: Path):
    # With the progress handler effectively off and no watchdog, only the parent's deadline can stop the query.
    limits = Limits(timeout_s=0.5, progress_steps=2**30, watchdog=False)
    with WorkerPool(db_copy, workers=1, limits=limits, kill_grace_s=0.5) as pool:
        results = pool.execute_many([
            "SELECT COUNT(*) FROM patients",
            "SELECT count(*) FROM chartevents a, labevents b",
            "SELECT COUNT(*) FROM admissions",
        ])
        assert pool.replaced == 1
        again = pool.execute_many(["SELECT COUNT(*) FROM patients"])
    assert results[0].answer == plain_answer(db_copy, "SELECT COUNT(*) FROM patients")
    assert results[1].timed_out and "killed" in (results[1].error or "")
    assert results[2].ok  # the batch went on with the replacement worker
    assert again[0].answer == results[0].answer


def test_missing_database_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ReadOnlyExecutor(tmp_path / "nope.sqlite")
    with pytest.raises(FileNotFoundError, match="not found"):
        WorkerPool(tmp_path / "nope.sqlite", workers=1)
    assert not (tmp_path / "nope.sqlite").exists()


def test_memory_cap_stops_a_query_in_a_worker(db_copy: Path):
    # 6,000 blobs of 50 KB (under the value cap) sorted in memory: over a 128 MB heap, under the time limit.
    sql = (
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 6000) "
        "SELECT length(b) FROM (SELECT randomblob(50000) AS b FROM r ORDER BY b) LIMIT 1"
    )
    with WorkerPool(db_copy, workers=1, limits=Limits(timeout_s=20.0, memory_mb=128)) as pool:
        blown, after = pool.execute_many([sql, "SELECT 1"])
    assert blown.error_kind == "limit" and "Memory" in (blown.error or "")
    assert after.answer == "[['1.0']]"
