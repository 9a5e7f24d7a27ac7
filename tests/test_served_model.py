"""Evaluation against a served model: lm-eval's ``local-chat-completions`` client and a real local HTTP server.

The way a GPU user evaluates -- ``vllm serve MODEL`` and ``lm_eval --model local-chat-completions
--apply_chat_template`` -- is run here with the real ``lm_eval`` command against a real OpenAI-compatible
server on 127.0.0.1 (tests/fake_openai_server.py) that answers each case with a canned completion:
correct, wrong, malformed, abstaining, failing SQL. The test asserts that

* the server received exactly medzero's chat messages (system prompt + case), nothing glued together;
* every metric lm-eval reports equals scoring the same completions directly with the ``medzero_rewards``
  scorer (``scorer.aggregate``; the official EHRSQL percentages to the last digit but one);
* every metric equals what the same task computes for the same completions through the path any
  local model takes (``--model hf`` / vllm: the task's ``process_results`` and lm-eval aggregations);
* each sample carries the Score once, and rates carry a standard error.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medzero_eval import lm_eval_glue as glue
from medzero_eval.discovery import tasks_dir

pytest.importorskip("lm_eval")

LM_EVAL = Path(sys.executable).with_name("lm_eval")
LIMIT = 6
OFFICIAL = ("accuracy0", "accuracy5", "accuracy10", "accuracyN")


def _diagnosis_reply(i: int, doc: dict) -> str:
    return [
        f"<think>The phenotype fits one syndrome.</think><answer>{doc['target']}</answer>",  # correct
        "<think>Connective tissue findings.</think><answer>Marfan syndrome</answer>",  # wrong
        f"The answer is {doc['target']}",  # malformed: no tags
        f"<think>这是 a syndrome</think><answer>{doc['target']}</answer>",  # mixed language
        "<think>unsure</think><answer></answer>",  # empty answer
        f"<think>ok</think><answer>{doc['target']}</answer>",  # correct
    ][i % 6]


def _ehrsql_reply(i: int, doc: dict) -> str:
    gold = doc["target"]
    if gold == "null":
        return ["<think>not in the schema</think><answer>null</answer>",
                "<think>try</think><answer>SELECT 1</answer>"][i % 2]
    return [
        f"<think>join admissions</think><answer>{gold}</answer>",  # correct
        "<think>guess</think><answer>SELECT COUNT(*) FROM no_such_table</answer>",  # SQL error
        "<think>unsure</think><answer>null</answer>",  # abstains on an answerable question
        f"SELECT without tags {gold}",  # malformed
        f"<think>ok</think><answer>{gold}</answer>",  # correct
        "<think>x</think><answer>SELECT 0</answer>",  # wrong result
    ][i % 6]


@pytest.fixture(scope="module")
def picked(ehrsql_dir: Path) -> dict[str, list[int]]:
    """Document indices per task (lm-eval's --samples): EHRSQL gets answerable and unanswerable questions."""
    ehr = glue.load_ehrsql("test", ehrsql_dir=str(ehrsql_dir))["test"].to_list()
    answerable = [i for i, d in enumerate(ehr) if d["target"] != "null"][:4]
    unanswerable = [i for i, d in enumerate(ehr) if d["target"] == "null"][:2]
    return {"rarebench_mme": list(range(LIMIT)), "ehrsql": sorted(answerable + unanswerable)}


@pytest.fixture(scope="module")
def docs(ehrsql_dir: Path, picked: dict[str, list[int]]) -> dict[str, list[dict]]:
    meta = {"ehrsql_dir": str(ehrsql_dir), "answers": "answer_rebuilt.json"}
    ehr = glue.load_ehrsql("test", **meta)["test"].to_list()
    mme = glue.load_rarebench("mme")["test"].to_list()
    return {"rarebench_mme": [mme[i] for i in picked["rarebench_mme"]], "ehrsql": [ehr[i] for i in picked["ehrsql"]]}


def _replies(docs: dict[str, list[dict]]) -> dict[str, dict[str, str]]:
    out = {"rarebench_mme": {d["prompt"]: _diagnosis_reply(i, d) for i, d in enumerate(docs["rarebench_mme"])}}
    answerable = [d for d in docs["ehrsql"] if d["target"] != "null"]
    unanswerable = [d for d in docs["ehrsql"] if d["target"] == "null"]
    out["ehrsql"] = {d["prompt"]: _ehrsql_reply(i, d) for group in (answerable, unanswerable)
                     for i, d in enumerate(group)}
    return out


def _task(name: str, metadata: dict):
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=metadata)
    return tm.load([name])["tasks"][name]


def _close(a, b, rel: float = 0.0) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b if rel == 0.0 else math.isclose(a, b, rel_tol=rel, abs_tol=rel)


def test_local_chat_completions_against_a_served_model(tmp_path: Path, docs, picked, ehrsql_dir: Path) -> None:
    from fake_openai_server import FakeOpenAIServer
    from medzero_rewards import Status, get_scorer

    replies = _replies(docs)
    by_prompt = {p: r for table in replies.values() for p, r in table.items()}
    metadata = {"ehrsql_dir": str(ehrsql_dir), "answers": "answer_rebuilt.json"}
    out = tmp_path / "out"
    with FakeOpenAIServer(chat=by_prompt, models=("served-model",)) as server:
        cmd = [str(LM_EVAL), "--model", "local-chat-completions",
               "--model_args", f"model=served-model,base_url={server.base_url}/chat/completions,"
                               "num_concurrent=1,max_retries=1,tokenizer_backend=None",
               "--tasks", "rarebench_mme,ehrsql", "--apply_chat_template", "--samples", json.dumps(picked),
               "--log_samples", "--output_path", str(out), "--metadata", json.dumps(metadata)]
        env = {**os.environ, "OPENAI_API_KEY": "test-key", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        env.pop("MEDZERO_NO_LM_EVAL_HOOK", None)
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540)
        bodies = [r.body for r in server.records]
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "WITHOUT a chat template" not in proc.stderr

    # the served model saw medzero's chat messages: the task's system prompt, then the case
    sent = sorted((json.dumps(b["messages"]) for b in bodies))
    want = sorted(json.dumps([{"role": "system", "content": d["system"]}, {"role": "user", "content": d["prompt"]}])
                  for rows in docs.values() for d in rows)
    assert sent == want

    (results_path,) = list(out.glob("*/results_*.json"))
    results = json.loads(results_path.read_text())["results"]
    for task, rows in docs.items():
        (samples_path,) = list(results_path.parent.glob(f"samples_{task}_*.jsonl"))
        samples = sorted((json.loads(line) for line in samples_path.read_text().splitlines() if line.strip()),
                         key=lambda s: s["doc_id"])
        completions = [replies[task][d["prompt"]] for d in rows]
        assert [s["filtered_resps"][0] for s in samples] == completions

        # 1. direct: the medzero_rewards scorer on the same completions
        spec = json.loads(rows[0]["scorer"])
        scorer = get_scorer(spec["name"], **spec["config"])
        direct = [scorer.score(c, json.loads(d["reference"])) for c, d in zip(completions, rows)]
        assert len({s.status for s in direct}) >= 3  # the canned completions cover different outcomes
        assert all(s.status is not Status.error for s in direct)
        expected = scorer.aggregate(direct)
        metrics = [m for m in glue.metrics_for_spec(rows[0]["scorer"]) if m not in ("score", "scorer_error_rate")]
        for metric in metrics:
            want_value = expected.get(metric)
            want_value = float("nan") if want_value is None else float(want_value)
            rel = 1e-12 if task == "ehrsql" else 0.0  # EHRSQL percentages: a mean of 100 * per-item values
            assert _close(results[task][f"{metric},raw"], want_value, rel), (task, metric)
        assert results[task]["score,raw"] == LIMIT and results[task]["scorer_error_rate,raw"] == 0.0

        # 2. the local-model path (--model hf, vllm): the same task's process_results and aggregations
        task_obj = _task(task, metadata)
        per_metric: dict[str, list] = {}
        for d, c in zip(rows, completions):
            for name, value in task_obj.process_results(d, [c]).items():
                per_metric.setdefault(name, []).append(value)
        aggregations = task_obj.aggregation()
        for name, values in per_metric.items():
            assert _close(results[task][f"{name},raw"], aggregations[name](values)), (task, name)

        # 3. samples: the Score once, named by the scorer that made it; plain numbers elsewhere
        for sample, score in zip(samples, direct):
            assert sample["score"] == {"scorer": sample["doc"]["scorer"], "score": score.model_dump(mode="json")}
            assert json.loads(sample["score"]["scorer"])["name"] == scorer.name
            assert all(not isinstance(sample[m], dict) for m in sample["metrics"] if m != "score")

    # rates carry a standard error (lm-eval's mean_stderr), the item count does not
    assert isinstance(results["rarebench_mme"]["top1_stderr,raw"], float)
    assert isinstance(results["rarebench_mme"]["format_rate_stderr,raw"], float)
    assert isinstance(results["ehrsql"]["accuracy0_stderr,raw"], float)
    assert results["ehrsql"]["accuracyN_stderr,raw"] == "N/A"
