"""EHRSQL faults and hostile inputs (issue 13), on the real database: no fault may yield a number that
looks valid, every item gets a defined result, memory and per-query work are bounded.

Each test pins one case of the issue: killed workers (1), broken databases and configuration errors
(2, 9), a bad reference in a batch (3), single-opcode SQL work and extraction (5), an input cap (5),
cache memory (6), and the aggregate() scale convention.
"""

from __future__ import annotations

import gc
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from medzero_rewards import Status, get_scorer
from medzero_rewards.ehrsql import EhrsqlScorer
from medzero_rewards.ehrsql.executor import Limits, ReadOnlyExecutor
from medzero_rewards.ehrsql.extract import fences
from medzero_rewards.ehrsql.metrics import OFFICIAL_KEYS
from medzero_rewards.ehrsql.pool import WorkerPool
from medzero_rewards.ehrsql.postprocess import post_process_sql
from medzero_rewards.registry import ScorerConfigError


def wrap(sql: str) -> str:
    return f"<think>Look up the tables.</think>\n<answer>{sql}</answer>"


@pytest.fixture(scope="module")
def db(ehrsql_dir: Path) -> Path:
    return ehrsql_dir / "mimic_iv.sqlite"


@pytest.fixture(scope="module")
def valid(ehrsql_dir: Path) -> dict[str, str]:
    return json.loads((ehrsql_dir / "valid" / "label.json").read_text())


@pytest.fixture(scope="module")
def gold(valid: dict[str, str]) -> str:
    return next(v for v in valid.values() if v != "null")


# --- 1. killed workers ---------------------------------------------------------------------------------
def test_idle_workers_killed_then_correct_sql_still_scores_correct(db: Path, valid: dict[str, str]):
    """Issue 13 item 1: kill the idle workers (as an OOM killer would); a correct query must still get +1."""
    a, b = [v for v in valid.values() if v != "null"][:2]
    with get_scorer("ehrsql", db_path=db, workers=2, timeout_s=10) as scorer:
        assert scorer.score(wrap("SELECT 1"), {"label": "SELECT 1"}).correct  # the pool is up
        for w in list(scorer._pool._workers):
            os.kill(w.process.pid, signal.SIGKILL)
            w.process.wait()
        scores = scorer.score_batch([wrap(a)] * 2 + [wrap(b)], [{"label": a}] * 2 + [{"label": b}])
        assert [(s.status, s.reward, s.details["outcome"]) for s in scores] == [(Status.ok, 1.0, 1)] * 3
        assert scorer._pool.replaced == 2  # both dead workers were replaced, neither lost a query


def test_worker_killed_while_running_a_query_is_retried_on_a_fresh_worker(db: Path):
    count_sql = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 1500000) SELECT count(*) FROM r"
    with WorkerPool(db, workers=1, limits=Limits(timeout_s=60)) as pool:
        killed: list[int] = []

        def kill_the_busy_worker() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not killed:
                for w in list(pool._workers):
                    if w.task is not None:
                        os.kill(w.process.pid, signal.SIGKILL)
                        killed.append(w.process.pid)
                        return
                time.sleep(0.001)

        killer = threading.Thread(target=kill_the_busy_worker)
        killer.start()
        (result,) = pool.execute_many([count_sql])
        killer.join()
    assert killed, "the worker was never seen busy"
    assert result.ok and result.answer == "[['1500000.0']]", result
    assert pool.retried == 1 and pool.replaced == 1


def test_gold_that_fails_because_of_the_pool_is_rerun_never_scored_against(db: Path, gold: str, tmp_path: Path):
    """A gold query whose execution crashes is run again; if it still cannot run the item is Status.error
    (reward 0, outcome None), never (ok, -1); the fault is not cached, so the next batch scores right."""
    gold_key = post_process_sql(gold)
    prediction = f"SELECT * FROM ({gold_key})"  # the same result from another SQL text: run separately
    with get_scorer("ehrsql", db_path=db, workers=0, cache_dir=tmp_path) as scorer:
        real_run = scorer._run
        gold_runs: list[int] = []

        def crashing_gold(sqls: list[str]):
            results = real_run(sqls)
            for i, sql in enumerate(sqls):
                if sql == gold_key:
                    gold_runs.append(1)
                    results[i] = type(results[i])(error="worker died 2 times running this query", error_kind="crash")
            return results

        scorer._run = crashing_gold  # type: ignore[method-assign]
        (faulty,) = scorer.score_batch([wrap(prediction)], [{"label": gold}])
        assert len(gold_runs) == 2  # run, then run again
        assert faulty.status is Status.error and faulty.reward == 0.0 and not faulty.correct
        assert faulty.details["outcome"] is None and "gold SQL could not be run" in faulty.reason
        assert scorer.aggregate([faulty])["n_error"] == 1
        scorer._run = real_run  # type: ignore[method-assign]
        (healthy,) = scorer.score_batch([wrap(prediction)], [{"label": gold}])
    assert (healthy.status, healthy.reward, healthy.details["outcome"]) == (Status.ok, 1.0, 1)
    (cache_file,) = tmp_path.glob("ehrsql-*.json")
    stored = json.loads(cache_file.read_text())["results"]
    assert stored[gold_key][2] is None  # the gold result stored is the successful one


def test_database_gone_after_construction_is_every_items_error_not_a_crash(db: Path, tmp_path: Path, gold: str):
    copy = tmp_path / "mimic_iv.sqlite"
    shutil.copyfile(db, copy)
    scorer = get_scorer("ehrsql", db_path=copy, workers=1)
    copy.unlink()  # the pool starts on first use: no worker can open the database now
    try:
        scores = scorer.score_batch([wrap(gold), wrap("null")], [{"label": gold}, {"label": gold}])
    finally:
        scorer.close()
    assert scores[0].status is Status.error and scores[0].details["outcome"] is None and scores[0].reason
    assert scores[1].status is Status.abstained and scores[1].details["outcome"] == 0  # needs no execution


# --- 2 and 9. broken databases, configuration errors ---------------------------------------------------------------
def _schema_only(db: Path, out: Path) -> Path:
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    ddl = [sql for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE type = 'table'")]
    src.close()
    con = sqlite3.connect(out)
    for sql in ddl:
        con.execute(sql)
    con.commit()
    con.close()
    return out


def _other_database(out: Path) -> Path:
    con = sqlite3.connect(out)
    con.execute("CREATE TABLE notes (x)")
    con.execute("INSERT INTO notes VALUES (1)")
    con.commit()
    con.close()
    return out


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "missing", "schema_only", "other_database", "folder"])
def test_broken_database_is_refused_at_construction_with_one_line(db: Path, tmp_path: Path, kind: str):
    path = tmp_path / "mimic_iv.sqlite"
    if kind == "truncated":
        path.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    elif kind == "garbage":
        path.write_bytes(random.Random(0).randbytes(1 << 16))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "schema_only":
        _schema_only(db, path)
    elif kind == "other_database":
        _other_database(path)
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(ValueError) as info:
        get_scorer("ehrsql", db_path=path, workers=0)
    message = str(info.value)
    assert isinstance(info.value, ScorerConfigError)
    assert "\n" not in message and str(path) in message and "db_path" in message, message
    assert "--db" not in message  # the library's fix is neutral: each CLI names its own option
    assert info.value.__cause__ is None  # no pydantic or sqlite3 traceback below the line
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_missing_setting_is_one_line_naming_it_and_the_fix():
    with pytest.raises(ScorerConfigError) as info:
        get_scorer("ehrsql")
    message = str(info.value)
    assert "\n" not in message and "db_path is required" in message and "get_scorer('ehrsql', db_path=...)" in message
    assert info.value.problems == [("db_path", "db_path is required")]
    with pytest.raises(ScorerConfigError) as info:
        get_scorer("rarearena_rdc", nonsense=1)
    assert "\n" not in str(info.value) and "nonsense is not a setting" in str(info.value)


def test_scorer_built_directly_refuses_a_bad_setting_in_one_line(db: Path):
    with pytest.raises(ScorerConfigError) as info:
        EhrsqlScorer(db_path=db, timeout_s=-1)
    assert "\n" not in str(info.value) and "timeout_s=-1" in str(info.value)


def test_unreadable_gold_answers_file_is_refused_at_construction(db: Path, tmp_path: Path):
    bad = tmp_path / "answer.json"
    bad.write_text("{not json")
    with pytest.raises(ScorerConfigError) as info:
        get_scorer("ehrsql", db_path=db, workers=0, gold_answers=bad)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)


# --- 3. one bad reference ---------------------------------------------------------------------------------------
def test_one_bad_reference_is_that_items_error_and_the_batch_scores(db: Path, valid: dict[str, str], gold: str, caplog):
    unanswerable = next(k for k, v in valid.items() if v == "null")
    completions = [wrap(gold), wrap(gold), wrap(gold), wrap(gold), wrap("null"), None]
    refs = [{"label": gold}, {"question": "no label"}, {"label": 123}, None, {"id": unanswerable, "label": "null"},
            {"label": gold}]  # fmt: skip
    with get_scorer("ehrsql", db_path=db, workers=0) as scorer, caplog.at_level("WARNING", "medzero_rewards.ehrsql"):
        scores = scorer.score_batch(completions, refs)  # type: ignore[arg-type]
        agg = scorer.aggregate(scores)
    assert [s.status for s in scores] == [Status.ok, Status.error, Status.error, Status.error, Status.abstained,
                                          Status.format_error]  # fmt: skip
    assert [s.details["outcome"] for s in scores] == [1, None, None, None, 1, -1]
    for bad in scores[1:4]:
        assert bad.reward == 0.0 and "reference" in bad.reason and "label" in bad.reason
    assert agg["n"] == 6 and agg["n_error"] == 3
    # one warning for the batch, with counts, not one per item
    (record,) = [r for r in caplog.records if r.name.startswith("medzero_rewards.ehrsql")]
    assert "batch of 6: 3 item(s) not scored" in record.getMessage() and "3 x bad reference" in record.getMessage()
    assert agg["accuracy0"] == pytest.approx(100 * 2 / 3)  # over the three scored items only


# --- 5. time: single-opcode SQL work, extraction, the input cap ------------------------------------------------------
def test_sqlite_limits_are_set_on_the_connection(db: Path):
    ex = ReadOnlyExecutor(db)
    try:
        assert ex._con.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) == Limits().max_value_bytes == 100_000
        assert ex._con.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED) == 0
    finally:
        ex.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT printf('%.*c', 1000000000, 'x')",
        "SELECT format('%.*c', 1000000000, 'x')",
        "SELECT printf('%.1000000000c', 'x')",
        "SELECT instr(printf('%.*c', 1000000, 'x') || 'y', printf('%.*c', 1000000, 'x') || 'z')",
        "SELECT length(replace(zeroblob(2000000), x'00', 'ab'))",
    ],
)
def test_single_opcode_work_is_refused_by_the_value_cap_in_process(db: Path, sql: str):
    """workers=0: the time limit cannot stop one long SQLite instruction, so the size cap must refuse it."""
    ex = ReadOnlyExecutor(db, Limits(timeout_s=2))
    try:
        r = ex.execute(sql)
    finally:
        ex.close()
    assert r.error_kind == "limit", r


def test_printf_within_the_cap_is_sqlites_own(db: Path):
    ex = ReadOnlyExecutor(db)
    plain = sqlite3.connect(":memory:")
    try:
        for sql in ["SELECT printf('%.2f|%5d|%-4s|%%|%c|%,d', 3.14159, 42, 'ab', 'zq', 1234567)",
                    "SELECT format('%s-%d', 'x', 7)", "SELECT printf(NULL)", "SELECT printf('%.*c', 5, 'y')"]:
            expected = str(sorted([[str(c)] for (c,) in plain.execute(sql).fetchall()]))
            assert ex.execute(sql).answer == expected, sql
    finally:
        ex.close()
        plain.close()


def test_watchdog_interrupts_work_the_progress_handler_cannot_see(db: Path):
    """Progress handler off: only the watchdog's interrupt can stop a query of expensive instructions."""
    slow = ("WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 100) "
            "SELECT sum(instr(printf('%.*c', 99000, 'a'), printf('%.*c', 49000 + x, 'a') || 'b')) FROM r")  # fmt: skip
    ex = ReadOnlyExecutor(db, Limits(timeout_s=0.5, progress_steps=2**30))
    try:
        r = ex.execute(slow)
        after = ex.execute("SELECT COUNT(*) FROM patients")
    finally:
        ex.close()
    assert r.error_kind == "timeout" and "interrupted" in (r.error or ""), r
    assert after.ok  # the interrupt did not leak into the next query


def test_fence_scan_matches_the_pattern_and_survives_an_unclosed_fence():
    reference = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n`]*\n?(.*?)```", re.DOTALL)
    rng = random.Random(13)
    alphabet = ["`", "```", "\n", " ", "\t", "a", "sql", "x", "-"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert fences(text) == [(m.group(1), m.group(2)) for m in reference.finditer(text)], text
    # The pattern on the whole text backtracks cubically over an unclosed fence's line (2,000 letters:
    # 38 s; the regex holds the GIL, so a thread cannot watch it). Liveness only, in a subprocess: it
    # must finish at all (it takes well under a millisecond; a timeout here means minutes or hours).
    code = "from medzero_rewards.ehrsql.extract import extract_sql; print(extract_sql('```' + 'a' * 4000).status.value)"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("extract_sql did not finish on an unclosed fence of 4,000 letters")
    assert done.stdout.strip() == "format_error", done.stderr


def test_completion_over_the_input_cap_gets_a_defined_score_and_reason(db: Path, gold: str):
    with get_scorer("ehrsql", db_path=db, workers=0, max_completion_chars=1000) as scorer:
        long = wrap(gold + " " * 2000)
        s = scorer.score(long, {"label": gold})
        short = scorer.score(wrap(gold), {"label": gold})
    assert (s.status, s.details["outcome"], s.reward) == (Status.format_error, -1, -1.0)
    assert "max_completion_chars=1000" in s.reason and s.details["sql"] is None
    assert short.correct


# --- 6. memory -----------------------------------------------------------------------------------------
def test_result_cache_is_bounded_by_bytes(db: Path):
    """300 distinct 90 KB queries (issue: 300 x 500 KB added 145 MB) stay within cache_bytes."""
    budget = 2 << 20
    with get_scorer("ehrsql", db_path=db, workers=0, cache_bytes=budget) as scorer:
        scorer.score(wrap("SELECT 1"), {"label": "SELECT 1"})
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(300):
                sql = f"SELECT {i} /* {str(i) * (90_000 // len(str(i)))} */"
                scorer.score(wrap(sql), {"label": "SELECT 1"})
                del sql
            gc.collect()
            retained = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        held = scorer.cache_bytes()
    assert held["results"] <= budget
    assert retained < budget + (1 << 20), f"{retained / 1e6:.1f} MB retained"


# --- aggregate() convention ----------------------------------------------------------------------------------------
def test_aggregate_official_keys_in_percent_other_rates_fractions_counts_int(db: Path, valid: dict[str, str]):
    items = list(valid.items())[:40]
    refs = [{"id": k, "label": v} for k, v in items]
    completions = [wrap(v) if i % 3 else wrap("SELEC broken") for i, (_, v) in enumerate(items)]
    with get_scorer("ehrsql", db_path=db, workers=0) as scorer:
        scores = scorer.score_batch(completions, refs)
        m = scorer.aggregate(scores)
    outcomes = [s.details["outcome"] for s in scores]
    assert m["accuracy0"] == 100 * outcomes.count(1) / len(outcomes)
    assert set(OFFICIAL_KEYS) <= set(m)
    answered = [s for s in scores if not s.details["abstained"]]
    assert m["error_rate"] == sum(s.details["error"] is not None for s in answered) / len(scores)
    for key in ("execution_accuracy", "abstention_precision", "abstention_recall", "error_rate", "timeout_rate"):
        assert m[key] is None or 0.0 <= m[key] <= 1.0, key
    assert 0 < m["error_rate"] < 1
    for key in ("n", "n_error", "n_answerable", "n_abstained"):
        assert type(m[key]) is int, key
