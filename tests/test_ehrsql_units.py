"""EHRSQL building blocks: post-processing, normalisation, metrics, extraction, schema text."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from medzero_rewards.ehrsql import (
    ehrsql_metrics,
    normalize_answer,
    outcome,
    penalized_score,
    post_process_sql,
    reliability_scores,
    schema_prompt,
)
from medzero_rewards.ehrsql.extract import extract_sql, extract_submission, is_abstention
from medzero_rewards.types import Status


# --- post-processing ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, expected",
    [
        ("SELECT\n  a  FROM   t ", "SELECT a FROM t"),
        ("a > = 1 AND b < = 2 AND c ! = 3", "a >= 1 AND b <= 2 AND c != 3"),
        ("DATE_SUB(NOW(), INTERVAL 3 MONTH)", "datetime('2100-12-31 23:59:00', '-3 months')"),
        ("DATE_ADD('2100-01-01', INTERVAL 1 DAY)", "datetime('2100-01-01', '+1 day')"),
        ("datetime(current_time, 'start of year')", "datetime('2100-12-31 23:59:00', 'start of year')"),
        ("date(current_date)", "date('2100-12-31')"),
        ("datetime('now')", "datetime('2100-12-31 23:59:00')"),
        ("CURDATE() || CURTIME()", "'2100-12-31' || '23:59:00'"),
        ("x BETWEEN temperature_lower AND temperature_upper", "x BETWEEN 35.5 AND 38.1"),
        ("x < sao2_lower OR x > sao2_upper", "x < 95.0 OR x > 100.0"),
        ("x BETWEEN systolic_bp_lower AND systolic_bp_upper", "x BETWEEN 90.0 AND 120.0"),
        ("x BETWEEN diastolic_bp_lower AND diastolic_bp_upper", "x BETWEEN 60.0 AND 90.0"),
        ("x BETWEEN mean_bp_lower AND mean_bp_upper", "x BETWEEN 60.0 AND 110.0"),
        ("x BETWEEN heart_rate_lower AND respiration_upper", "x BETWEEN heart_rate_lower AND respiration_upper"),
        ("x BETWEEN respiration_lower AND respiration_upper", "x BETWEEN 12.0 AND 18.0"),
        ("strftime('%y-%j', t)", "strftime('%Y-%J', t)"),
        ("null", "null"),
    ],
)
def test_post_process_rules(raw, expected):
    assert post_process_sql(raw) == expected


def test_post_process_rejects_non_strings():
    with pytest.raises(TypeError):
        post_process_sql(None)  # type: ignore[arg-type]


def test_vital_placeholders_occur_in_real_gold_sql(ehrsql_dir: Path):
    labels = json.loads((ehrsql_dir / "valid" / "label.json").read_text())
    with_vitals = [v for v in labels.values() if "_lower" in v]
    assert with_vitals, "valid has gold SQL with vital placeholders"
    assert all("_lower" not in post_process_sql(v) and "_upper" not in post_process_sql(v) for v in with_vitals)


# --- normalisation ----------------------------------------------------------------------------------------
def test_normalize_answer_handles_official_strings(ehrsql_dir: Path):
    answers = json.loads((ehrsql_dir / "valid" / "answer.json").read_text())
    for v in answers.values():
        again = normalize_answer(v)
        assert normalize_answer(again) == again  # idempotent
    assert normalize_answer("error_real") == "error_real"
    assert normalize_answer("[1, 2]") == "[1, 2]"  # not rows: kept as text, never raises


# --- metrics ------------------------------------------------------------------------------------------------
def test_outcome_table():
    assert [outcome(True, False, True), outcome(True, True, True), outcome(True, True, False),
            outcome(True, False, False), outcome(False, False, True), outcome(False, True, False)] == [1, 0, 0, -1, -1, 1]


def test_reliability_scores_use_n_questions_for_accuracy_n():
    outs = [1] * 7 + [0] * 2 + [-1]
    r = reliability_scores(outs)
    assert r == {"accuracy0": 70.0, "accuracy5": 20.0, "accuracy10": -30.0, "accuracyN": -30.0}
    assert penalized_score(outs, 0.5) == pytest.approx(0.65)
    with pytest.raises(ValueError):
        penalized_score([], 1)
    with pytest.raises(ValueError):
        penalized_score([2], 1)


def test_metrics_rates_and_undefined_ratios():
    items = [
        {"answerable": True, "abstained": False, "outcome": 1, "error": None, "timed_out": False},
        {"answerable": True, "abstained": False, "outcome": -1, "error": "timeout", "timed_out": True},
        {"answerable": True, "abstained": True, "outcome": 0, "error": None, "timed_out": False},
        {"answerable": False, "abstained": False, "outcome": -1, "error": "syntax", "timed_out": False},
    ]
    m = ehrsql_metrics(items)
    # official keys in percent; every other rate a fraction; counts are ints
    assert m["accuracy0"] == 25.0 and m["accuracy5"] == (1 - 10) / 4 * 100
    assert m["execution_accuracy"] == pytest.approx(1 / 3)
    assert m["abstention_precision"] == 0.0 and m["abstention_recall"] == 0.0
    assert m["error_rate"] == 0.5 and m["timeout_rate"] == 0.25
    assert m["n"] == 4 and m["n_error"] == 0 and all(type(m[k]) is int for k in ("n", "n_error", "n_answerable", "n_abstained"))
    # an unscorable item (outcome None: Status.error) is counted, and left out of every metric
    unscorable = {"answerable": True, "abstained": False, "outcome": None, "error": "gold SQL could not be run", "timed_out": False}
    with_error = ehrsql_metrics(items + [unscorable])
    assert with_error["n"] == 5 and with_error["n_error"] == 1
    assert {k: v for k, v in with_error.items() if k not in ("n", "n_error")} == {k: v for k, v in m.items() if k not in ("n", "n_error")}
    empty = ehrsql_metrics([])
    assert empty["n"] == 0 and empty["accuracy0"] is None and empty["execution_accuracy"] is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in empty.values() if v is not None)


# --- extraction ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["null", "NULL", " null; ", "'null'", "`NULL`", "abstain", "ABSTAIN;", '"null"'])
def test_abstention_tokens(text):
    assert is_abstention(text)
    e = extract_sql(f"<think>t</think><answer>{text}</answer>")
    assert e.abstained and e.sql == "null" and e.status == Status.abstained


@pytest.mark.parametrize("text", ["SELECT NULL", "nullify", "null null", "none"])
def test_not_abstentions(text):
    assert not is_abstention(text)


def test_extraction_rules():
    assert extract_sql("<think>a</think><answer>SELECT 1</answer><answer>SELECT 2</answer>").sql == "SELECT 2"
    assert extract_sql("<answer>```\nSELECT 3\n```</answer>").sql == "SELECT 3"
    assert extract_sql("text ```python\nprint(1)\n``` and ```sql\nSELECT 4\n```").sql == "SELECT 4"
    assert extract_sql("only ```python\nprint(1)\n```").status == Status.format_error
    assert extract_sql("<answer></answer>").status == Status.empty
    strict = extract_sql("<think>a</think><answer>SELECT 1</answer>")
    loose = extract_sql("```sql\nSELECT 1\n```")
    assert strict.format_ok and strict.format_score == 1.0
    assert not loose.format_ok and loose.format_score < 1.0 and loose.sql == "SELECT 1"
    assert extract_sql(None).status == Status.format_error  # type: ignore[arg-type]


def test_submission_extraction_is_official():
    assert extract_submission("null").abstained and extract_submission(" null\n").abstained
    assert not extract_submission("NULL").abstained  # the official program runs it (and it fails)
    assert extract_submission(None).status == Status.error


# --- schema ------------------------------------------------------------------------------------------------
def test_schema_prompt_from_real_tables_json(ehrsql_dir: Path):
    tables = json.loads((ehrsql_dir / "tables.json").read_text())[0]
    text = schema_prompt(ehrsql_dir / "tables.json")
    lines = text.splitlines()
    assert len(lines) == len(tables["table_names_original"])
    for i, (line, table) in enumerate(zip(lines, tables["table_names_original"])):
        cols = [c for t, c in tables["column_names_original"] if t == i]
        assert line == f"{table}({', '.join(cols)})"
    assert schema_prompt(ehrsql_dir / "tables.json", db_id=tables["db_id"]) == text
    with pytest.raises(ValueError, match="db_id"):
        schema_prompt(ehrsql_dir / "tables.json", db_id="nope")


# --- docstring examples ------------------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["postprocess", "results", "metrics", "executor", "pool", "extract", "schema",
                                    "cache", "scorer"])
def test_docstring_examples(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"medzero_rewards.ehrsql.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_scorer_survives_pickling(ehrsql_dir: Path):
    import pickle

    from medzero_rewards import get_scorer

    with get_scorer("ehrsql", db_path=ehrsql_dir / "mimic_iv.sqlite", workers=1) as s:
        assert s.score("<answer>SELECT 1</answer>", {"label": "SELECT 1"}).correct
        with pickle.loads(pickle.dumps(s)) as copy:
            assert copy.score("<answer>SELECT 2</answer>", {"label": "SELECT 2"}).correct
