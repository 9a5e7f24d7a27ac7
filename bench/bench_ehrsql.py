"""Benchmark: EHRSQL scoring, medzero vs a baseline that executes like the official program.

Usage:  python bench/bench_ehrsql.py [--data DIR] [--split valid] [--workers 2] [--repeats 3]

(a) baseline: as the official scoring program does it: every gold and every predicted query executed
    on a fresh connection, in one multiprocessing pool per pass, no cache.
(b) medzero: ``EhrsqlScorer.score_sql_batch`` on the same predictions, in three situations:
    cold  - a new scorer (worker start-up and gold execution included);
    disk  - a new scorer whose gold results come from the persistent cache (``cache_dir``) the cold
            run wrote: a second evaluation run, or a CLI run with ``--cache-dir``;
    warm  - the same scorer scoring another submission (pool and gold already there: lm-eval / RL).
Every variant must produce the same official numbers as the baseline; the script checks that.
Then a GRPO-shaped batch: 64 train questions x 8 completions with repeats, on a warm pool, first with
questions never seen (gold executed in the batch) and then a second step on the same questions.

Times are medians over ``--repeats`` interleaved runs in this process, so ratios compare like with like.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from medzero_rewards.ehrsql import EhrsqlScorer, post_process_sql, reliability_scores
from medzero_rewards.ehrsql.metrics import OFFICIAL_KEYS

# ---------------------------------------------------------------------------------------------- baseline


def _cell(x):
    try:
        x = round(float(x), 3)
    except Exception:
        pass
    return str(x)


def _baseline_execute(args):
    key, sql, db, tag = args
    if sql == "null":
        return key, "null"
    try:
        con = sqlite3.connect(db)
        con.text_factory = lambda b: b.decode(errors="ignore")
        rows = con.execute(sql).fetchall()
        con.close()
        return key, str(sorted([[_cell(c) for c in row] for row in rows])[:100])
    except Exception:
        return key, "error_" + tag


def baseline_scores(labels: dict[str, str], preds: dict[str, str], db: str, workers: int) -> dict[str, float]:
    """Official flow: post-process, execute all gold then all predictions in a pool, compare, average."""
    real_sql = {k: post_process_sql(v) for k, v in labels.items()}
    pred_sql = {k: post_process_sql(v) for k, v in preds.items()}
    with mp.get_context("fork").Pool(workers) as pool:
        real = dict(pool.map(_baseline_execute, [(k, s, db, "real") for k, s in real_sql.items()], chunksize=1))
        pred = dict(pool.map(_baseline_execute, [(k, s, db, "pred") for k, s in pred_sql.items()], chunksize=1))
    outcomes = []
    for k in labels:
        if real[k] != "null":
            outcomes.append(1 if real[k] == pred[k] else (0 if pred[k] == "null" else -1))
        else:
            outcomes.append(1 if pred[k] == "null" else -1)
    return reliability_scores(outcomes)


# ------------------------------------------------------------------------------------------ predictions


_MUTATIONS = (
    (re.compile(r"\bDESC\b"), "ASC"),
    (re.compile(r"\bASC\b"), "DESC"),
    (re.compile(r"\bMAX\("), "MIN("),
    (re.compile(r"\bMIN\("), "MAX("),
    (re.compile(r" = "), " != "),
    (re.compile(r"\d+"), None),  # a number plus one
)


def near_miss(sql: str, rng: random.Random) -> str:
    """A plausible wrong query: one operator, aggregate, ordering or literal changed (new SQL text)."""
    options = [(pat, rep) for pat, rep in _MUTATIONS if pat.search(sql)]
    if not options:
        return sql + " LIMIT 1"
    pat, rep = rng.choice(options)
    if rep is None:
        return pat.sub(lambda m: str(int(m.group()) + 1), sql, count=1)
    return pat.sub(rep, sql, count=1)


def realistic_predictions(labels: dict[str, str], seed: int) -> dict[str, str]:
    """Answerable: 55 % gold, 10 % gold re-spaced, 20 % a near miss (new SQL, usually wrong), 5 % another
    question's gold, 5 % truncated (syntax error), 5 % null. Unanswerable: 70 % null, 30 % a near miss
    of some answerable question's gold."""
    rng = random.Random(seed)
    answerable = [k for k, v in labels.items() if v != "null"]
    preds = {}
    for k, gold in labels.items():
        r, other = rng.random(), labels[rng.choice(answerable)]
        if gold == "null":
            preds[k] = "null" if r < 0.7 else near_miss(other, rng)
        elif r < 0.55:
            preds[k] = gold
        elif r < 0.65:
            preds[k] = "  " + gold.replace(" ", "  ").replace(" FROM ", "\nFROM ") + " \n"
        elif r < 0.85:
            preds[k] = near_miss(gold, rng)
        elif r < 0.90:
            preds[k] = other
        elif r < 0.95:
            preds[k] = gold[: max(1, len(gold) // 2)]
        else:
            preds[k] = "null"
    return preds


def grpo_batch(labels: dict[str, str], questions: list[str], seed: int) -> tuple[list[str], list[dict]]:
    """8 completions per question; a policy mid-training repeats itself: gold, a near miss, null..."""
    rng = random.Random(seed)
    answerable = [k for k, v in labels.items() if v != "null"]
    completions, refs = [], []
    for q in questions:
        gold = labels[q]
        base = gold if gold != "null" else labels[rng.choice(answerable)]
        options = [gold if gold != "null" else "null", near_miss(base, rng), "null", base[: len(base) // 2]]
        for _ in range(8):
            sql = rng.choices(options, weights=[5, 2, 1, 1])[0]
            completions.append(f"<think>I will query the tables.</think>\n<answer>{sql}</answer>")
            refs.append({"id": q, "label": gold})
    return completions, refs


# ------------------------------------------------------------------------------------------------- main


def _official(m):
    return {k: m[k] for k in OFFICIAL_KEYS}


def main() -> None:
    default_data = Path(os.environ.get("MEDZERO_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data / "ehrsql2024")
    ap.add_argument("--split", default="valid")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    db = str(args.data / "mimic_iv.sqlite")
    labels = json.loads((args.data / args.split / "label.json").read_text())
    ids = list(labels)
    refs = [{"id": k, "label": labels[k]} for k in ids]
    preds = realistic_predictions(labels, seed=0)
    preds_b = realistic_predictions(labels, seed=1)
    print(f"EHRSQL {args.split}: {len(ids)} questions, {args.workers} workers, {os.cpu_count()} CPUs, "
          f"{args.repeats} repeats (median)")

    times: dict[str, list[float]] = {"baseline": [], "cold": [], "disk": [], "warm": []}
    for _ in range(args.repeats):
        t = time.perf_counter()
        base = baseline_scores(labels, preds, db, args.workers)
        times["baseline"].append(time.perf_counter() - t)

        with tempfile.TemporaryDirectory() as cache_dir:
            t = time.perf_counter()
            with EhrsqlScorer(db_path=db, workers=args.workers, cache_dir=cache_dir) as s:
                cold = s.aggregate(s.score_sql_batch([preds[k] for k in ids], refs))
                times["cold"].append(time.perf_counter() - t)
                cold_executed = s.executed
                # warm: the same scorer, another submission of the same shape
                base_b = baseline_scores(labels, preds_b, db, args.workers) if not times["warm"] else None
                t = time.perf_counter()
                warm = s.aggregate(s.score_sql_batch([preds_b[k] for k in ids], refs))
                times["warm"].append(time.perf_counter() - t)
                if base_b is not None:
                    assert _official(warm) == base_b, (warm, base_b)
            t = time.perf_counter()
            with EhrsqlScorer(db_path=db, workers=args.workers, cache_dir=cache_dir) as s:
                disk = s.aggregate(s.score_sql_batch([preds[k] for k in ids], refs))
                times["disk"].append(time.perf_counter() - t)
                disk_executed = s.executed
        assert _official(cold) == base and _official(disk) == base, (base, cold, disk)

    med = {k: statistics.median(v) for k, v in times.items()}
    n_pred_exec = sum(1 for k in ids if post_process_sql(preds[k]) != "null")
    print(f"official numbers (identical in every variant): {json.dumps(base)}")
    print(f"{'variant':<10}{'seconds':>9}{'speed-up':>10}  executed queries")
    n_gold_exec = sum(1 for k in ids if post_process_sql(labels[k]) != "null")
    print(f"{'baseline':<10}{med['baseline']:>9.3f}{1.0:>9.1f}x  {n_gold_exec + n_pred_exec}")
    print(f"{'cold':<10}{med['cold']:>9.3f}{med['baseline'] / med['cold']:>9.1f}x  {cold_executed}")
    print(f"{'disk':<10}{med['disk']:>9.3f}{med['baseline'] / med['disk']:>9.1f}x  {disk_executed}")
    print(f"{'warm':<10}{med['warm']:>9.3f}{med['baseline'] / med['warm']:>9.1f}x  (another submission, same scorer)")

    # GRPO-shaped batches on the train split
    train = json.loads((args.data / "train" / "label.json").read_text())
    rng = random.Random(0)
    qids = rng.sample(list(train), 64 * (args.repeats + 1))
    grpo_new, grpo_seen = [], []
    with EhrsqlScorer(db_path=db, workers=args.workers) as s:
        s.score_batch(*grpo_batch(train, qids[:64], seed=99))  # start the pool
        for r in range(args.repeats):
            comps, grefs = grpo_batch(train, qids[64 * (r + 1): 64 * (r + 2)], seed=r)
            t = time.perf_counter()
            s.score_batch(comps, grefs)
            grpo_new.append(time.perf_counter() - t)
            comps, grefs = grpo_batch(train, qids[64 * (r + 1): 64 * (r + 2)], seed=100 + r)
            t = time.perf_counter()
            s.score_batch(comps, grefs)
            grpo_seen.append(time.perf_counter() - t)
    distinct = len({c for c in comps})
    print(f"GRPO batch 64 x 8 = 512 completions ({distinct} distinct in the last one), warm pool:")
    print(f"  new questions (gold executed in the batch): {statistics.median(grpo_new):.3f} s")
    print(f"  seen questions (next step, gold cached):     {statistics.median(grpo_seen):.3f} s")


if __name__ == "__main__":
    main()
