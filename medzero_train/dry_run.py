"""``medzero-train --dry-run``: validate a config, build the data and rewards, score samples, print the plan.

No model weights are loaded (only the tokenizer, to count prompt tokens, when it can be read locally).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from medzero_train import data as data_mod
from medzero_train import model as model_mod
from medzero_train.config import TrainConfig
from medzero_train.train import TrainingPlan, build_plan


def _load_tokenizer_quietly(cfg: TrainConfig) -> tuple[Any, str]:
    try:
        from transformers import AutoTokenizer

        name_or_path, gguf_file = model_mod.resolve_source(cfg.model)
        kwargs: dict[str, Any] = {"trust_remote_code": cfg.model.trust_remote_code}
        if gguf_file:
            kwargs["gguf_file"] = gguf_file
        return AutoTokenizer.from_pretrained(name_or_path, **kwargs), ""
    except Exception as exc:  # a hub model while offline, a missing package ...
        return None, f"tokenizer not loaded ({type(exc).__name__}: {exc}); prompt lengths unchecked"


def validate_grpo(kwargs: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Build :class:`trl.GRPOConfig` from ``kwargs``; on a machine without the config's GPU features, retry on CPU."""
    from trl import GRPOConfig

    try:
        args = GRPOConfig(**kwargs)
        note = ""
    except ValueError as exc:
        if "bf16" not in str(exc) and "fp16" not in str(exc) and "gpu" not in str(exc).lower():
            raise
        relaxed = {**kwargs, "bf16": False, "fp16": False, "use_cpu": True}
        args = GRPOConfig(**relaxed)
        note = f"GRPOConfig validated with bf16/fp16 off (this machine: {exc})"
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}, note


def score_samples(plan: TrainingPlan, n: int) -> list[dict[str, Any]]:
    """Call the reward functions (as TRL does) on synthetic completions of the first ``n`` rows of each task."""
    rows_by_task: dict[str, list[dict[str, Any]]] = {}
    for row in plan.train_dataset:
        bucket = rows_by_task.setdefault(row["task"], [])
        if len(bucket) < n:
            bucket.append(row)
    out = []
    logged: dict[str, list[float]] = {}
    for task, rows in rows_by_task.items():
        batch_rows, completions, labels = [], [], []
        for row in rows:
            for label, text in data_mod.sample_completions(row).items():
                batch_rows.append(row)
                completions.append([{"role": "assistant", "content": text}])
                labels.append(label)
        kwargs: dict[str, Any] = {
            key: [r[key] for r in batch_rows] for key in batch_rows[0] if key != "prompt"
        }
        kwargs["log_metric"] = lambda name, value: logged.setdefault(name, []).append(value)
        kwargs["log_extra"] = lambda column, values: None
        kwargs["trainer_state"] = None
        values = {}
        for func, name in zip(plan.reward_functions, plan.reward_names):
            if plan.cfg.reward_async:
                import asyncio

                values[name] = asyncio.run(func(prompts=[r["prompt"] for r in batch_rows], completions=completions,
                                                **kwargs))
            else:
                values[name] = func(prompts=[r["prompt"] for r in batch_rows], completions=completions, **kwargs)
        scores = plan.rewards[task].scores(completions, **kwargs)
        for i, row in enumerate(batch_rows):
            comps = {name: values[name][i] for name in values}
            score = scores[i]
            out.append({
                "task": task,
                "id": row["id"],
                "completion": labels[i],
                "components": comps,
                "sum": sum(v for v in comps.values() if v is not None),
                "scorer_reward": None if score is None else score.reward,
                "status": None if score is None else score.status.value,
                "extracted": None if score is None else score.extracted,
            })
    return out


def dry_run(cfg: TrainConfig, n_samples: int = 2) -> dict[str, Any]:
    """The plan of a run, as a JSON-able dict (printed by the CLI)."""
    tokenizer, tok_note = _load_tokenizer_quietly(cfg)
    plan = build_plan(cfg, tokenizer)
    grpo, grpo_note = validate_grpo(plan.grpo_kwargs)
    name_or_path, gguf_file = model_mod.resolve_source(cfg.model)
    counts: dict[str, int] = {}
    for task in plan.train_dataset["task"]:
        counts[task] = counts.get(task, 0) + 1
    notes = [n for n in (tok_note, grpo_note) if n]
    keys = ("num_generations", "per_device_train_batch_size", "gradient_accumulation_steps", "generation_batch_size",
            "max_completion_length", "learning_rate", "beta", "loss_type", "scale_rewards", "temperature",
            "max_steps", "num_train_epochs", "bf16", "use_vllm", "vllm_mode", "save_steps", "logging_steps",
            "activation_checkpointing", "report_to")
    return {
        "model": {"source": name_or_path, "gguf_file": gguf_file, "dtype": cfg.model.dtype,
                  "lora": cfg.lora.model_dump() if cfg.lora else None},
        "train_rows": counts,
        "dropped_overlong_prompts": plan.dropped_overlong,
        "max_prompt_length": cfg.max_prompt_length,
        "eval_tasks": {t.name: len(t.docs) for t in plan.eval_tasks},
        "scorers": plan.scorer_configs,
        "reward_functions": plan.reward_names,
        "reward_async": cfg.reward_async,
        "grpo": {k: grpo.get(k) for k in keys},
        "output_dir": cfg.output_dir,
        "samples": score_samples(plan, n_samples),
        "notes": notes,
    }


def format_plan(plan: dict[str, Any]) -> str:
    """Human-readable plan text."""
    lines = ["medzero-train plan (dry run: no model loaded)"]
    m = plan["model"]
    lines.append(f"  model: {m['source']}" + (f" [gguf {m['gguf_file']}]" if m["gguf_file"] else "")
                 + f" dtype={m['dtype']}" + (f" lora={m['lora']}" if m["lora"] else ""))
    lines.append(f"  train rows: {plan['train_rows']} (dropped over {plan['max_prompt_length']} prompt tokens: "
                 f"{plan['dropped_overlong_prompts']})")
    lines.append(f"  eval tasks: {plan['eval_tasks'] or 'none'}")
    for task, conf in plan["scorers"].items():
        lines.append(f"  scorer {task}: {json.dumps(conf, default=str)}")
    lines.append(f"  reward functions: {', '.join(plan['reward_functions'])}"
                 + (" (async)" if plan["reward_async"] else ""))
    lines.append("  grpo: " + ", ".join(f"{k}={v}" for k, v in plan["grpo"].items()))
    lines.append(f"  output_dir: {plan['output_dir']}")
    lines.append("  sample completions scored by the reward functions:")
    for s in plan["samples"]:
        comps = ", ".join(f"{k}={v:.3g}" for k, v in s["components"].items() if v is not None)  # its task's
        lines.append(f"    {s['task']} {s['id']} [{s['completion']}] {comps} | sum={s['sum']:.3g} "
                     f"scorer reward={s['scorer_reward']} status={s['status']} extracted={s['extracted']!r}")
    for note in plan["notes"]:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def benchmark_rewards(plan: TrainingPlan, batch_size: int, repeats: int = 3) -> dict[str, float]:
    """Wall time of the reward functions on a batch of realistic completions (the gold answers, so SQL executes
    and names are matched), as TRL calls them; the worst of ``repeats`` fresh batches (no cache hits).

    Complements the in-run measurement, whose completions may be mostly unparsable for a small model.
    """
    import time

    rows = [plan.train_dataset[i % len(plan.train_dataset)] for i in range(batch_size)]
    worst = 0.0
    for r in range(repeats):
        completions = [[{"role": "assistant", "content": data_mod.sample_completions(row)["gold"] + " " * r}]
                       for row in rows]
        kwargs: dict[str, Any] = {key: [row[key] for row in rows] for key in rows[0] if key != "prompt"}
        start = time.perf_counter()
        for func in plan.reward_functions:
            if plan.cfg.reward_async:
                import asyncio

                asyncio.run(func(prompts=None, completions=completions, **kwargs))
            else:
                func(prompts=None, completions=completions, **kwargs)
        worst = max(worst, time.perf_counter() - start)
    return {"batch_size": float(batch_size), "reward_time_s": worst}
