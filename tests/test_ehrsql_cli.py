"""`medzero-eval score-ehrsql` on real files: official keys, identical numbers, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from medzero_eval.cli import main
from test_ehrsql_oracle import oracle_outcomes, oracle_scores, realistic_predictions


@pytest.fixture(scope="module")
def test_labels(ehrsql_dir: Path) -> dict[str, str]:
    return json.loads((ehrsql_dir / "test" / "label.json").read_text())


def _run(ehrsql_dir: Path, labels_path: Path, preds_path: Path, *extra: str):
    args = ["score-ehrsql", "--db", str(ehrsql_dir / "mimic_iv.sqlite"), "--labels", str(labels_path),
            "--predictions", str(preds_path), "--workers", "2", *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_realistic_test_split_submission_matches_the_official_flow(ehrsql_dir, test_labels, tmp_path):
    preds = realistic_predictions(test_labels, seed=11)
    # official-format edge cases: an empty string runs (no rows), NULL runs (and fails)
    some = list(test_labels)
    preds[some[0]], preds[some[1]] = "", "NULL"
    pred_file = tmp_path / "prediction.json"
    pred_file.write_text(json.dumps(preds))
    per_q = tmp_path / "per_question.jsonl"
    res = _run(ehrsql_dir, ehrsql_dir / "test" / "label.json", pred_file, "--timeout", "30", "--per-question", str(per_q))
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    expected = oracle_outcomes(test_labels, preds, ehrsql_dir / "mimic_iv.sqlite")
    assert {k: got[k] for k in ("accuracy0", "accuracy5", "accuracy10", "accuracyN")} == oracle_scores(list(expected.values()))
    assert got["n"] == len(test_labels)
    summary = res.stderr.splitlines()[-1]  # one human-readable line: percentages with one decimal, seconds
    assert summary.startswith(f"{len(test_labels)} items in ") and f"accuracy0 {got['accuracy0']:.1f}%" in summary
    lines = [json.loads(x) for x in per_q.read_text().splitlines()]
    assert {x["id"]: x["outcome"] for x in lines} == expected


def test_gold_answers_option(ehrsql_dir, tmp_path):
    res = _run(ehrsql_dir, ehrsql_dir / "test" / "label.json", ehrsql_dir / "test" / "label.json",
               "--gold-answers", str(ehrsql_dir / "test" / "answer.json"))
    assert res.exit_code == 0, res.output
    # test/answer.json is byte-identical to the rebuilt answers (PROVENANCE), so gold-as-prediction is perfect
    assert json.loads(res.stdout)["accuracyN"] == 100.0


def test_mismatched_ids_are_a_clear_error(ehrsql_dir, test_labels, tmp_path):
    preds = dict(test_labels)
    dropped = next(iter(preds))
    del preds[dropped]
    preds["not-an-id"] = "null"
    f = tmp_path / "prediction.json"
    f.write_text(json.dumps(preds))
    res = _run(ehrsql_dir, ehrsql_dir / "test" / "label.json", f)
    assert res.exit_code == 2
    assert "IDs do not match" in res.output and dropped in res.output and "not-an-id" in res.output


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "must be a JSON object"),
    ("{not json", "cannot read predictions"),
])
def test_malformed_prediction_files(ehrsql_dir, tmp_path, content, message):
    f = tmp_path / "prediction.json"
    f.write_text(content)
    res = _run(ehrsql_dir, ehrsql_dir / "test" / "label.json", f)
    assert res.exit_code == 2 and message in res.output


def test_non_string_prediction_values(ehrsql_dir, test_labels, tmp_path):
    preds = dict(test_labels)
    first = next(iter(preds))
    preds[first] = None
    f = tmp_path / "prediction.json"
    f.write_text(json.dumps(preds))
    res = _run(ehrsql_dir, ehrsql_dir / "test" / "label.json", f)
    assert res.exit_code == 2 and "not strings" in res.output and first in res.output


def test_cache_dir_gives_the_same_numbers(ehrsql_dir, test_labels, tmp_path):
    preds = realistic_predictions(test_labels, seed=3)
    f = tmp_path / "prediction.json"
    f.write_text(json.dumps(preds))
    cache = tmp_path / "cache"
    first = _run(ehrsql_dir, ehrsql_dir / "test" / "label.json", f, "--cache-dir", str(cache))
    second = _run(ehrsql_dir, ehrsql_dir / "test" / "label.json", f, "--cache-dir", str(cache))
    assert first.exit_code == 0 and second.exit_code == 0
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert len(list(cache.glob("ehrsql-*.json"))) == 1
