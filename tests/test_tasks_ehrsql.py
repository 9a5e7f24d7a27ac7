"""The EHRSQL lm-eval tasks on the real EHRSQL 2024 data: documents, prompt, options and metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from medzero_eval import lm_eval_glue as glue
from medzero_eval import prompts, records
from medzero_eval.discovery import tasks_dir

pytest.importorskip("lm_eval")
from lm_eval.tasks import TaskManager  # noqa: E402


def _load(metadata: dict, name: str = "ehrsql"):
    tm = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=metadata)
    return tm.load([name])["tasks"][name]


@pytest.fixture(scope="module")
def meta(ehrsql_dir: Path) -> dict:
    return {"ehrsql_dir": str(ehrsql_dir), "answers": "answer_rebuilt.json"}


@pytest.fixture(scope="module")
def test_task(meta: dict):
    return _load(meta)


def test_documents_prompt_and_reference(test_task, ehrsql_dir: Path) -> None:
    from medzero_rewards.ehrsql.schema import schema_prompt

    docs = list(test_task.test_docs())
    recs = records.load_ehrsql(ehrsql_dir, "test", answers="answer_rebuilt.json")
    assert len(docs) == len(recs) == 1167
    schema = schema_prompt(ehrsql_dir / "tables.json")
    for doc, rec in zip(docs[:50], recs[:50]):
        system, user = prompts.ehrsql_messages(rec["question"], schema)
        assert (doc["system"], doc["prompt"]) == (system["content"], user["content"])
        assert "2100-12-31 23:59:00" in doc["prompt"] and "admissions(" in doc["prompt"]
        assert json.loads(doc["reference"]) == rec
        assert doc["target"] == rec["label"]
    spec = json.loads(docs[0]["scorer"])
    assert spec == {"name": "ehrsql", "config": {"db_path": str(ehrsql_dir / "mimic_iv.sqlite")}, "max_error_share": 0.05}
    assert sum(json.loads(d["reference"])["label"] == "null" for d in docs) == 233


def test_valid_split_and_options(meta: dict, ehrsql_dir: Path) -> None:
    task = _load({**meta, "timeout_s": 2, "db_path": str(ehrsql_dir / "mimic_iv.sqlite")}, "ehrsql_valid")
    docs = list(task.test_docs())
    assert len(docs) == 1163
    assert json.loads(docs[0]["scorer"])["config"]["timeout_s"] == 2.0
    assert {m["metric"] for m in task.config.metric_list} == {glue.SCORE_METRIC, *glue.EHRSQL_METRICS,
                                                              glue.SCORER_ERROR_METRIC}


def test_environment_fallback(ehrsql_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDZERO_EHRSQL_DIR", str(ehrsql_dir))
    assert len(list(_load({}, "ehrsql_valid").test_docs())) == 1163


def test_missing_data_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MEDZERO_EHRSQL_DIR", raising=False)
    with pytest.raises(records.DataNotFoundError, match="ehrsql_dir"):
        _load({})
    with pytest.raises(records.DataNotFoundError, match="database"):
        _load({"ehrsql_dir": str(tmp_path)})
    with pytest.raises(records.DataNotFoundError, match="data directory not found"):
        _load({"ehrsql_dir": str(tmp_path / "absent")})


def _picked(test_task):
    docs = list(test_task.test_docs())
    answerable = [d for d in docs if d["target"] != "null"][:4]
    unanswerable = [d for d in docs if d["target"] == "null"][:2]
    picked = answerable + unanswerable
    completions = [
        f"<think>use the gold query</think><answer>{answerable[0]['target']}</answer>",  # correct
        f"<think>ok</think><answer>{answerable[1]['target']}</answer>",  # correct
        "<think>not sure</think><answer>null</answer>",  # abstains on an answerable question
        "<think>guess</think><answer>SELECT COUNT(*) FROM no_such_table</answer>",  # SQL error
        "<think>cannot be answered</think><answer>null</answer>",  # correct abstention
        "<think>try</think><answer>SELECT 1</answer>",  # answers an unanswerable question
    ]
    return picked, completions


def test_lm_eval_metrics_are_the_scorer_aggregate(test_task) -> None:
    """Every metric equals the scorer's own aggregation; all but accuracyN are lm-eval `mean`s (stderr)."""
    from lm_eval.api.metrics import mean

    from medzero_rewards import get_scorer

    picked, completions = _picked(test_task)
    spec = json.loads(picked[0]["scorer"])
    scorer = get_scorer(spec["name"], **spec["config"])
    direct = [scorer.score(c, json.loads(d["reference"])) for c, d in zip(completions, picked)]
    expected = scorer.aggregate(direct)

    rows = [test_task.process_results(doc, [c]) for doc, c in zip(picked, completions)]
    per_metric: dict[str, list] = {}
    for row in rows:
        for name, value in row.items():
            per_metric.setdefault(name, []).append(value)
    aggregations = test_task.aggregation()
    got = {name: aggregations[name](values) for name, values in per_metric.items()}
    assert set(got) == {glue.SCORE_METRIC, *glue.EHRSQL_METRICS, glue.SCORER_ERROR_METRIC}
    for name in glue.EHRSQL_METRICS:
        want = expected[name]
        value = got[name]
        if want is None:
            assert math.isnan(value), name
        else:  # a mean of 100 * per-item values equals the percentage to the last digit but one
            assert value == pytest.approx(want, rel=1e-12, abs=1e-12), name
    assert got["score"] == 6.0 and got["scorer_error_rate"] == 0.0
    assert all(aggregations[n] is mean for n in got if n not in ("score", "accuracyN"))
    # execution_accuracy averages the answerable questions only: unanswerable ones leave the key out
    assert len(per_metric["execution_accuracy"]) == 4 and len(per_metric["abstention_recall"]) == 2
    assert [s.details["outcome"] for s in direct] == [1, 1, 0, -1, 1, -1]
    # the official reliability scores, in percent
    assert got["accuracy0"] == pytest.approx(100 * 3 / 6)
    assert got["accuracy10"] == pytest.approx(100 * (3 - 2 * 10) / 6)
    assert got["accuracyN"] == pytest.approx(100 * (3 - 2 * 6) / 6)
    # the Score is logged once per sample, under `score`; the other metrics carry plain numbers
    assert rows[0]["score"] == {"scorer": picked[0]["scorer"], "score": direct[0].model_dump(mode="json")}
    assert all(isinstance(v, (int, float)) for r in rows for k, v in r.items() if k != "score")


def test_a_reference_without_label_does_not_sink_process_results(test_task) -> None:
    picked, completions = _picked(test_task)
    bad = dict(picked[0])
    reference = json.loads(bad["reference"])
    del reference["label"]
    bad["reference"] = json.dumps(reference)
    rows = [test_task.process_results(d, [c]) for d, c in zip([bad, *picked[1:]], completions)]
    assert rows[0]["score"]["score"]["status"] == "error"
    assert set(rows[0]) == {"score", "scorer_error_rate"}
    got = glue.aggregate_samples(rows)
    assert got["scorer_error_rate"] == pytest.approx(1 / 6) and got["score"] == 6.0
    assert got["accuracyN"] == pytest.approx(100 * (2 - 2 * 5) / 5)  # over the 5 items that were scored
