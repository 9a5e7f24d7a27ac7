"""Test oracle: the official EHRSQL 2024 scoring flow, written out plainly and independently of
medzero_rewards.ehrsql (every query on a fresh connection, numpy mean), used to check our numbers.

It follows glee4810/ehrsql-2024 scoring_program (post_process_sql, process_item/process_answer,
reliability_score, penalize); the database is opened read-only so the shared data stays intact.
"""

from __future__ import annotations

import random
import re
import sqlite3
from pathlib import Path

import numpy as np

_NOW, _DATE, _TIME = "2100-12-31 23:59:00", "2100-12-31", "23:59:00"
_VITALS = {"temperature": (35.5, 38.1), "sao2": (95.0, 100.0), "heart rate": (60.0, 100.0),
           "respiration": (12.0, 18.0), "systolic bp": (90.0, 120.0), "diastolic bp": (60.0, 90.0),
           "mean bp": (60.0, 110.0)}


def oracle_post_process(q: str) -> str:
    q = re.sub("[ ]+", " ", q.replace("\n", " ")).strip()
    for a, b in (("> =", ">="), ("< =", "<="), ("! =", "!=")):
        q = q.replace(a, b)

    def conv(m):
        n, unit = m.group(3), m.group(4).lower()
        unit = unit.rstrip("s") if n == "1" else (unit if unit.endswith("s") else unit + "s")
        return f"datetime({m.group(2)}, '{'-' if m.group(1) == 'DATE_SUB' else '+'}{n} {unit}')"

    q = re.sub(r"(DATE_SUB|DATE_ADD)\((\w+\(\)|'[^']+')[, ]+ INTERVAL (\d+) (MONTH|YEAR|DAY)\)", conv, q)
    for a, b in (("current_time", f"'{_NOW}'"), ("current_date", f"'{_DATE}'"), ("'now'", f"'{_NOW}'"),
                 ("NOW()", f"'{_NOW}'"), ("CURDATE()", f"'{_DATE}'"), ("CURTIME()", f"'{_TIME}'")):
        if a in q:
            q = q.replace(a, b)
    if re.search("[ \n]+([a-zA-Z0-9_]+_lower)", q) and re.search("[ \n]+([a-zA-Z0-9_]+_upper)", q):
        lo = re.findall("[ \n]+([a-zA-Z0-9_]+_lower)", q)[0]
        up = re.findall("[ \n]+([a-zA-Z0-9_]+_upper)", q)[0]
        names = list(set(re.findall("([a-zA-Z0-9_]+)_lower", lo) + re.findall("([a-zA-Z0-9_]+)_upper", up)))
        if len(names) == 1 and names[0].replace("_", " ") in _VITALS:
            r = _VITALS[names[0].replace("_", " ")]
            q = q.replace(lo, f"{r[0]}").replace(up, f"{r[1]}")
    return q.replace("%y", "%Y").replace("%j", "%J")


def _item(x):
    try:
        x = round(float(x), 3)
    except Exception:
        pass
    return str(x)


def oracle_answer(rows) -> str:
    return str(sorted([[_item(c) for c in row] for row in rows])[:100])


def oracle_execute(sql: str, db: Path, tag: str) -> str:
    if sql == "null":
        return "null"
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        con.text_factory = lambda b: b.decode(errors="ignore")
        rows = con.execute(sql).fetchall()
        con.close()
        return oracle_answer(rows)
    except Exception:
        return "error_" + tag


def oracle_outcomes(labels: dict[str, str], preds: dict[str, str], db: Path) -> dict[str, int]:
    out = {}
    for k in labels:
        real = oracle_execute(oracle_post_process(labels[k]), db, "real")
        pred = oracle_execute(oracle_post_process(preds[k]), db, "pred")
        if real != "null":
            out[k] = 1 if real == pred else (0 if pred == "null" else -1)
        else:
            out[k] = 1 if pred == "null" else -1
    return out


def oracle_scores(outcomes: list[int]) -> dict[str, float]:
    def pen(p):
        return np.mean([s * p if s == -1 else s for s in outcomes])

    return {"accuracy0": pen(0) * 100, "accuracy5": pen(5) * 100, "accuracy10": pen(10) * 100,
            "accuracyN": pen(len(outcomes)) * 100}


def realistic_predictions(labels: dict[str, str], seed: int = 0) -> dict[str, str]:
    """A seeded mix shaped like a real system's output on this split.

    Answerable: 55 % the gold SQL, 10 % the gold SQL re-spaced (same after post-processing), 15 % another
    question's gold SQL (runs, usually wrong), 5 % gold with a changed number, 5 % truncated (syntax
    error), 10 % ``null``. Unanswerable: 70 % ``null``, 30 % some answerable question's gold SQL.
    """
    rng = random.Random(seed)
    answerable = [k for k, v in labels.items() if v != "null"]
    preds = {}
    for k, gold in labels.items():
        r = rng.random()
        other = labels[rng.choice(answerable)]
        if gold == "null":
            preds[k] = "null" if r < 0.7 else other
        elif r < 0.55:
            preds[k] = gold
        elif r < 0.65:
            preds[k] = "  " + gold.replace(" ", "  ").replace(" FROM ", "\nFROM ") + " \n"
        elif r < 0.80:
            preds[k] = other
        elif r < 0.85:
            preds[k] = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), gold, count=1)
        elif r < 0.90:
            preds[k] = gold[: max(1, len(gold) // 2)]
        else:
            preds[k] = "null"
    return preds


# --- the oracle's own checks, and ours against it on arbitrary text -------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from medzero_rewards.ehrsql.postprocess import post_process_sql  # noqa: E402
from medzero_rewards.ehrsql.results import normalize_rows  # noqa: E402

_PIECES = [" ", "  ", "\n", "\t", "> =", "< =", "! =", "SELECT", "x", "'a'", ",", "(", ")", "current_time",
           "current_date", "'now'", "NOW()", "CURDATE()", "CURTIME()", "%y", "%j", "DATE_SUB(", "DATE_ADD(",
           " INTERVAL ", "1", "12", " MONTH)", " YEAR)", " DAY)", "NOW(), ", "'2100-01-01', ",
           " heart_rate_lower", " heart_rate_upper", " sao2_lower", " sao2_upper", " foo_lower", " foo_upper",
           " temperature_lower_x", "mean_bp_upper", " mean_bp_lower", "null"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25))
def test_post_process_matches_the_official_flow(pieces):
    q = "".join(pieces)
    assert post_process_sql(q) == oracle_post_process(q)


_CELLS = st.one_of(
    st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True), st.none(),
    st.text(max_size=6), st.sampled_from(["1e3", " 7 ", "nan", "-0", "007", "1_0", "inf"]),
    st.binary(max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_CELLS, min_size=1, max_size=3), max_size=130))
def test_result_normalisation_matches_the_official_flow(rows):
    assert normalize_rows(rows) == oracle_answer(rows)
