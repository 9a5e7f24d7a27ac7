"""Our EHRSQL numbers against the official scoring flow (tests/test_ehrsql_oracle.py) on real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medzero_rewards import get_scorer
from medzero_rewards.ehrsql.metrics import OFFICIAL_KEYS
from test_ehrsql_oracle import oracle_outcomes, oracle_scores, realistic_predictions

KNOWN_VALID_DISAGREEMENT = "9e01feccdfca373aaed464f2"  # listed in mimic_iv.PROVENANCE.md


@pytest.fixture(scope="module")
def valid(ehrsql_dir: Path):
    labels = json.loads((ehrsql_dir / "valid" / "label.json").read_text())
    return labels, [{"id": k, "label": v} for k, v in labels.items()]


@pytest.fixture(scope="module")
def scorer(ehrsql_dir: Path):
    with get_scorer("ehrsql", db_path=ehrsql_dir / "mimic_iv.sqlite", workers=2, timeout_s=30) as s:
        yield s


def _official(m):
    return {k: m[k] for k in OFFICIAL_KEYS}


def test_gold_as_prediction_is_perfect_when_gold_runs_on_this_database(valid, scorer):
    labels, refs = valid
    scores = scorer.score_sql_batch(list(labels.values()), refs)
    m = scorer.aggregate(scores)
    assert _official(m) == {k: 100.0 for k in OFFICIAL_KEYS}
    assert m["n"] == len(labels)
    assert m["n_answerable"] == sum(v != "null" for v in labels.values())
    assert m["execution_accuracy"] == 1.0 and m["error_rate"] == 0.0 and m["n_error"] == 0


def test_gold_as_prediction_against_answer_files(valid, ehrsql_dir: Path):
    labels, refs = valid
    db = ehrsql_dir / "mimic_iv.sqlite"
    n = len(labels)
    with get_scorer("ehrsql", db_path=db, workers=2, gold_answers=ehrsql_dir / "valid" / "answer_rebuilt.json") as s:
        rebuilt = s.score_sql_batch(list(labels.values()), refs)
        assert _official(s.aggregate(rebuilt)) == {k: 100.0 for k in OFFICIAL_KEYS}
    with get_scorer("ehrsql", db_path=db, workers=2, gold_answers=ehrsql_dir / "valid" / "answer.json") as s:
        official = s.score_sql_batch(list(labels.values()), refs)
        m = s.aggregate(official)
    wrong = [r["id"] for r, sc in zip(refs, official) if sc.details["outcome"] != 1]
    assert wrong == [KNOWN_VALID_DISAGREEMENT]
    assert m["accuracy0"] == (n - 1) / n * 100
    assert m["accuracyN"] == (n - 1 - n) / n * 100


def test_all_null_submission_scores_the_unanswerable_share(valid, scorer):
    labels, refs = valid
    m = scorer.aggregate(scorer.score_sql_batch(["null"] * len(refs), refs))
    n_unans = sum(v == "null" for v in labels.values())
    share = n_unans / len(labels)
    assert _official(m) == {k: share * 100 for k in OFFICIAL_KEYS}  # official keys in percent
    assert m["abstention_recall"] == 1.0 and m["abstention_precision"] == share  # other rates: fractions
    assert m["execution_accuracy"] == 0.0


def test_realistic_submission_matches_the_official_flow_exactly(valid, scorer, ehrsql_dir: Path):
    labels, refs = valid
    preds = realistic_predictions(labels, seed=7)
    ours = scorer.score_sql_batch([preds[k] for k in labels], refs)
    expected = oracle_outcomes(labels, preds, ehrsql_dir / "mimic_iv.sqlite")
    assert [s.details["outcome"] for s in ours] == [expected[k] for k in labels]
    m = scorer.aggregate(ours)
    assert _official(m) == oracle_scores(list(expected.values()))  # bit-identical floats
    # the mix exercises every outcome and failure class
    assert {s.details["outcome"] for s in ours} == {-1, 0, 1}
    assert {s.status.value for s in ours} >= {"ok", "abstained", "sql_error"}


def test_train_split_disagrees_with_official_answers_exactly_where_provenance_says(ehrsql_dir: Path, scorer):
    listed = {"880b5cd212d4e5ed720e455e", "f750f0fa41e0b4e4dbe37ba3", "c4b38e4af79858745e77342a",
              "010b98b4248d540f98a42319", "68ee1d315023f57029b6ce03"}  # mimic_iv.PROVENANCE.md
    labels = json.loads((ehrsql_dir / "train" / "label.json").read_text())
    official = json.loads((ehrsql_dir / "train" / "answer.json").read_text())
    refs = [{"id": k, "label": v, "answer": official[k]} for k, v in labels.items()]
    scores = scorer.score_sql_batch(list(labels.values()), refs)
    assert {r["id"] for r, s in zip(refs, scores) if s.details["outcome"] != 1} == listed
    m = scorer.aggregate(scores)
    assert m["n"] == len(labels) and m["accuracy0"] == (len(labels) - len(listed)) / len(labels) * 100
