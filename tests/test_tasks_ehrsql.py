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
    assert spec == {"name": "ehrsql", "config": {"db_path": str(ehrsql_dir / "mimic_iv.sqlite")}}
    assert sum(json.loads(d["reference"])["label"] == "null" for d in docs) == 233


def test_valid_split_and_options(meta: dict, ehrsql_dir: Path) -> None:
    task = _load({**meta, "timeout_s": 2, "db_path": str(ehrsql_dir / "mimic_iv.sqlite")}, "ehrsql_valid")
    docs = list(task.test_docs())
    assert len(docs) == 1163
    assert json.loads(docs[0]["scorer"])["config"]["timeout_s"] == 2.0
    assert {m["metric"] for m in task.config.metric_list} == set(glue.EHRSQL_METRICS)


def test_environment_fallback(ehrsql_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDZERO_EHRSQL_DIR", str(ehrsql_dir))
    assert len(list(_load({}, "ehrsql_valid").test_docs())) == 1163


def test_missing_data_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MEDZERO_EHRSQL_DIR", raising=False)
    with pytest.raises(records.DataNotFoundError, match="ehrsql_dir"):
        _load({})
    with pytest.raises(records.DataNotFoundError, match="database"):
        _load({"ehrsql_dir": str(tmp_path)})


def test_lm_eval_metrics_are_the_scorer_aggregate(test_task) -> None:
    """Reliability scores need the scorer's own aggregation: check it against a direct call."""
    from medzero_rewards import get_scorer

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
    spec = json.loads(picked[0]["scorer"])
    scorer = get_scorer(spec["name"], **spec["config"])
    direct = [scorer.score(c, json.loads(d["reference"])) for c, d in zip(completions, picked)]
    expected = scorer.aggregate(direct)

    per_metric: dict[str, list] = {}
    for doc, completion in zip(picked, completions):
        for name, value in test_task.process_results(doc, [completion]).items():
            per_metric.setdefault(name, []).append(value)
    aggregations = test_task.aggregation()
    got = {name: aggregations[name](values) for name, values in per_metric.items()}
    assert set(got) == set(glue.EHRSQL_METRICS)
    for name, value in got.items():
        want = expected[name]
        assert (want is None and math.isnan(value)) or value == want, name
    assert [s.details["outcome"] for s in direct] == [1, 1, 0, -1, 1, -1]
    # RS(c) is not a mean of per-item numbers lm-eval could average: it depends on c (and N for accuracyN)
    assert got["accuracy0"] == pytest.approx(100 * 3 / 6)
    assert got["accuracy10"] == pytest.approx(100 * (3 - 2 * 10) / 6)
    assert got["accuracyN"] == pytest.approx(100 * (3 - 2 * 6) / 6)
