"""End to end: the real `lm_eval` command evaluates medzero's tasks, and its numbers are the scorer's.

* CPU run of the embedded SmolLM2-135M-Instruct (GGUF, lm-eval's ``hf`` backend) on `rarebench_mme`
  and `ehrsql`; every logged sample is re-scored with ``medzero_rewards`` directly and must match
  field for field, the task metrics must equal ``scorer.aggregate``, and the prompt lm-eval rendered
  must be the model's chat template applied to ``medzero_eval.prompts``' messages.
* The API path (`--model local-chat-completions` against a real local server) is tests/test_served_model.py.
* `medzero-eval demo` (the README's main job) at a tiny scale, report included.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medzero_eval import prompts, records

pytest.importorskip("lm_eval")

LM_EVAL = Path(sys.executable).with_name("lm_eval")
MEDZERO_EVAL = Path(sys.executable).with_name("medzero-eval")
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **OFFLINE, **extra}
    env.pop("MEDZERO_NO_LM_EVAL_HOOK", None)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 540) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def _stderr_cell(table: str, task: str, metric: str) -> str:
    """The Stderr column of ``metric``'s row for ``task`` in lm-eval's printed results table."""
    current = None
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8:
            continue
        current = cells[0] or current
        if current == task and cells[4] == metric:
            return cells[-1]
    raise AssertionError(f"no row {task}/{metric} in the table:\n{table}")


def _output(out: Path) -> tuple[dict, dict[str, list[dict]]]:
    (results_path,) = list(out.glob("*/results_*.json"))
    results = json.loads(results_path.read_text())
    samples = {}
    for path in results_path.parent.glob("samples_*.jsonl"):
        task = path.name[len("samples_"):].rsplit("_", 1)[0]
        samples[task] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return results, samples


def _same(a, b, rel: float = 0.0) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b if rel == 0.0 else math.isclose(a, b, rel_tol=rel, abs_tol=rel)


def _rescore_and_compare(results: dict, samples: dict[str, list[dict]]) -> dict[str, dict]:
    """Re-score every logged sample with medzero_rewards; compare per sample and per task."""
    from medzero_rewards import Status, get_scorer

    aggregates = {}
    for task, rows in samples.items():
        spec = json.loads(rows[0]["doc"]["scorer"])
        scorer = get_scorer(spec["name"], **spec["config"])
        direct = []
        for row in rows:
            completion = row["filtered_resps"][0]
            assert completion == row["resps"][0][0]  # the "raw" filter passes the completion unchanged
            score = scorer.score(completion, json.loads(row["doc"]["reference"]))
            direct.append(score)
            # the Score is logged once, under `score`; every other metric holds a plain number
            assert row["score"] == {"scorer": row["doc"]["scorer"], "score": score.model_dump(mode="json")}
            assert all(not isinstance(row[m], dict) for m in row["metrics"] if m != "score")
        kept = [s for s in direct if s.status is not Status.error]
        expected = scorer.aggregate(kept)
        task_results = results["results"][task]
        assert task_results["score,raw"] == len(rows)
        assert task_results["scorer_error_rate,raw"] == (len(direct) - len(kept)) / len(direct)
        rel = 1e-12 if spec["name"] == "ehrsql" else 0.0  # EHRSQL percentages: means of 100 * per-item values
        for metric in {m for row in rows for m in row["metrics"]} - {"score", "scorer_error_rate"}:
            want = expected.get(metric)
            want = float("nan") if want is None else float(want)
            assert _same(task_results[f"{metric},raw"], want, rel), (task, metric)
        aggregates[task] = expected
    return aggregates


@pytest.mark.slow
def test_cpu_gguf_run_is_rescored_identically(tmp_path: Path, ehrsql_dir: Path) -> None:
    from transformers import AutoTokenizer

    from medzero_eval.model import default_model

    model = default_model()
    out = tmp_path / "out"
    proc = _run([str(LM_EVAL), "--model", "hf", "--model_args", model.hf_model_args(), "--device", "cpu",
          "--tasks", "rarebench_mme,ehrsql", "--limit", "3", "--apply_chat_template", "--log_samples",
          "--gen_kwargs", "max_gen_toks=40", "--output_path", str(out),
          "--metadata", json.dumps({"ehrsql_dir": str(ehrsql_dir), "answers": "answer_rebuilt.json"})],
         cwd=tmp_path)
    results, samples = _output(out)
    assert set(samples) == {"rarebench_mme", "ehrsql"}
    assert all(len(rows) == 3 for rows in samples.values())
    aggregates = _rescore_and_compare(results, samples)
    assert aggregates["rarebench_mme"]["n"] == 3 and aggregates["ehrsql"]["n"] == 3
    # lm-eval's printed table carries a numeric standard error for the rates
    for task, metric in (("rarebench_mme", "top1"), ("rarebench_mme", "format_rate"), ("ehrsql", "accuracy0")):
        float(_stderr_cell(proc.stdout, task, metric))  # a number, not N/A
    assert _stderr_cell(proc.stdout, "ehrsql", "accuracyN") == "N/A"

    # The rendered prompt is the model's chat template over medzero_eval.prompts' messages, exactly.
    tokenizer = AutoTokenizer.from_pretrained(str(model.folder), gguf_file=model.filename)
    mme = records.load_rarebench("mme")
    for row in samples["rarebench_mme"]:
        messages = prompts.diagnosis_messages(mme[row["doc_id"]]["case_report"], "r1")
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert row["arguments"]["gen_args_0"]["arg_0"] == rendered
    from medzero_rewards.ehrsql.schema import schema_prompt

    ehr = records.load_ehrsql(ehrsql_dir, "test", answers=None)
    for row in samples["ehrsql"]:
        messages = prompts.ehrsql_messages(ehr[row["doc_id"]]["question"], schema_prompt(ehrsql_dir / "tables.json"))
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert row["arguments"]["gen_args_0"]["arg_0"] == rendered


@pytest.mark.slow
def test_demo_command_runs_and_writes_the_report(tmp_path: Path, ehrsql_dir: Path) -> None:
    out = tmp_path / "demo"
    _run([str(MEDZERO_EVAL), "demo", "--output", str(out), "--limit", "2", "--max-gen-toks", "16",
          "--ehrsql-dir", str(ehrsql_dir)], cwd=tmp_path)
    results, samples = _output(out / "lm_eval")
    assert set(results["results"]) == {"rarebench_mme", "ehrsql"}
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in json.dumps(results["config"]["model_args"])
    _rescore_and_compare(results, samples)
    report = out / "report" / "report.md"
    assert report.is_file() and "rarebench_mme" in report.read_text()
