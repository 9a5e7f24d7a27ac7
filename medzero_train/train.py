"""Assemble and run a GRPO job on TRL from a :class:`~medzero_train.config.TrainConfig`.

Nothing here trains or generates by itself: :class:`trl.GRPOTrainer` does (transformers generation, or vLLM
with ``grpo.use_vllm``), accelerate / DeepSpeed distribute it (``accelerate launch``), and the rewards are
the ``medzero_rewards`` scorers through :mod:`medzero_rewards.trl` (glued by :mod:`medzero_train.rewards`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medzero_rewards import Scorer
from medzero_rewards.trl import TRLRewards
from medzero_train import data as data_mod
from medzero_train import model as model_mod
from medzero_train.config import TrainConfig
from medzero_train.evaluation import EvalTask, HeldOutEvaluator, eval_tasks, make_callback
from medzero_train.rewards import make_rewards, make_scorers, reward_functions, reward_seconds

logger = logging.getLogger(__name__)

TIMING_FILE = "medzero_timing.jsonl"


@dataclass
class TrainingPlan:
    """Everything a run needs except the model weights."""

    cfg: TrainConfig
    train_dataset: Any
    eval_tasks: list[EvalTask]
    scorers: dict[str, Scorer]
    scorer_configs: dict[str, dict[str, Any]]
    rewards: dict[str, TRLRewards]
    reward_functions: list[Any]
    grpo_kwargs: dict[str, Any]
    dropped_overlong: int | None = None  # None: not checked (no tokenizer)
    notes: list[str] = field(default_factory=list)

    @property
    def reward_names(self) -> list[str]:
        from trl.trainer.utils import get_callable_name

        return [get_callable_name(f) for f in self.reward_functions]


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover - torch is a train dependency
        return False


def _checkpointing(kwargs: dict[str, Any]) -> None:
    """Pass activation checkpointing under the name the installed transformers knows (TRL's default: on).

    transformers 5 renamed ``gradient_checkpointing`` to ``activation_checkpointing`` and warns on the old
    name, which TRL's ``GRPOConfig`` still sets by default; naming the setting explicitly avoids the warning.
    """
    import dataclasses

    from trl import GRPOConfig

    fields = {f.name: f for f in dataclasses.fields(GRPOConfig)}
    value = kwargs.pop("activation_checkpointing", None)
    old = kwargs.pop("gradient_checkpointing", None)
    value = old if value is None else value
    if value is None:
        value = fields["gradient_checkpointing"].default
    kwargs["activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"] = value


def grpo_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """Keyword arguments for :class:`trl.GRPOConfig`: ``cfg.grpo`` plus medzero's own top-level keys."""
    kwargs = dict(cfg.grpo)
    _checkpointing(kwargs)
    kwargs["output_dir"] = cfg.output_dir
    kwargs["report_to"] = [] if cfg.report_to == "none" else cfg.report_to
    kwargs["seed"] = cfg.seed
    kwargs["model_init_kwargs"] = model_mod.model_init_kwargs(cfg.model)
    if not _cuda_available() and "bf16" not in kwargs:
        kwargs["bf16"] = False  # TRL defaults to bf16, which a CPU-only machine refuses
    return kwargs


def build_plan(cfg: TrainConfig, tokenizer: Any = None) -> TrainingPlan:
    """Datasets, scorers and reward functions; drops over-long prompts when a ``tokenizer`` is given.

    Every data file is read here, so a missing one fails before any model is loaded."""
    train_ds = data_mod.build_dataset(cfg.train_data, cfg.shuffle_seed)
    configs = data_mod.scorer_configs(cfg)
    scorers = make_scorers(list(configs), configs)
    rewards = make_rewards(scorers, cfg.tasks())
    functions = reward_functions(rewards, use_async=cfg.reward_async)
    tasks = eval_tasks(cfg.eval.data) if cfg.eval else []
    plan = TrainingPlan(
        cfg=cfg,
        train_dataset=train_ds,
        eval_tasks=tasks,
        scorers=scorers,
        scorer_configs=configs,
        rewards=rewards,
        reward_functions=functions,
        grpo_kwargs=grpo_kwargs(cfg),
    )
    if tokenizer is not None:
        drop_overlong_prompts(plan, tokenizer)
    return plan


def drop_overlong_prompts(plan: TrainingPlan, tokenizer: Any) -> None:
    """Drop the training prompts longer than ``max_prompt_length`` tokens (counted in ``dropped_overlong``)."""
    limit = plan.cfg.max_prompt_length
    plan.train_dataset, plan.dropped_overlong = data_mod.drop_overlong(plan.train_dataset, tokenizer, limit)
    if len(plan.train_dataset) == 0:
        raise ValueError(f"every training prompt is longer than max_prompt_length={limit} tokens")


def make_timing_callback(rewards: dict[str, TRLRewards], output_dir: str) -> Any:
    """A callback recording each optimizer step's wall time and the time spent inside the reward functions.

    One JSON line per step goes to ``<output_dir>/medzero_timing.jsonl``:
    ``{"step", "step_time_s", "reward_time_s", "reward_share"}``.
    """
    from transformers import TrainerCallback

    class RewardTimingCallback(TrainerCallback):
        def __init__(self) -> None:
            self.records: list[dict[str, float]] = []
            self._t0 = 0.0
            self._r0 = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._t0, self._r0 = time.perf_counter(), reward_seconds(rewards)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            step_time = time.perf_counter() - self._t0
            reward_time = reward_seconds(rewards) - self._r0
            record = {
                "step": state.global_step,
                "step_time_s": step_time,
                "reward_time_s": reward_time,
                "reward_share": reward_time / step_time if step_time > 0 else 0.0,
            }
            self.records.append(record)
            if state.is_world_process_zero:
                Path(output_dir).mkdir(parents=True, exist_ok=True)
                with (Path(output_dir) / TIMING_FILE).open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")

    return RewardTimingCallback()


def make_trainer(plan: TrainingPlan, model_path: str, tokenizer: Any) -> Any:
    """The :class:`trl.GRPOTrainer` of a plan, with the timing and held-out evaluation callbacks."""
    from trl import GRPOConfig, GRPOTrainer

    cfg = plan.cfg
    args = GRPOConfig(**plan.grpo_kwargs)
    peft_config = None
    if cfg.lora is not None:
        from peft import LoraConfig

        peft_config = LoraConfig(task_type="CAUSAL_LM", **cfg.lora.model_dump())
    timing = make_timing_callback(plan.rewards, cfg.output_dir)
    callbacks = [timing]
    evaluator_cb = None
    if cfg.eval is not None and plan.eval_tasks:
        evaluator = HeldOutEvaluator(
            plan.eval_tasks, plan.scorers, plan.scorer_configs, tokenizer,
            cfg.eval.max_new_tokens, cfg.eval.batch_size, model_name=cfg.model.name_or_path,
        )
        evaluator_cb = make_callback(evaluator, at_start=cfg.eval.at_start)
        callbacks.append(evaluator_cb)
    trainer = GRPOTrainer(
        model=model_path,
        reward_funcs=plan.reward_functions,
        args=args,
        train_dataset=plan.train_dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
    )
    if evaluator_cb is not None:
        evaluator_cb.trainer = trainer
    trainer.medzero_timing = timing
    trainer.medzero_eval = evaluator_cb
    return trainer


@dataclass
class Prepared:
    """A run ready to train: its plan, the loadable model path and the tokenizer."""

    plan: TrainingPlan
    model_path: str
    tokenizer: Any


def prepare(cfg: TrainConfig) -> Prepared:
    """Check the model is available, read every data file and build the scorers, then resolve the model
    (dequantising a GGUF model once) and drop over-long prompts. User errors (a missing data file or model,
    a bad scorer setting) surface here, before any weights load."""
    from accelerate import PartialState

    model_mod.resolve_source(cfg.model)  # the embedded default model is installed (cheap)
    plan = build_plan(cfg)
    with PartialState().main_process_first():  # one process dequantises a GGUF model, the others reuse it
        model_path = model_mod.resolve_model_path(cfg.model)
    tokenizer = model_mod.load_tokenizer(model_path, cfg.model.trust_remote_code)
    drop_overlong_prompts(plan, tokenizer)
    return Prepared(plan, model_path, tokenizer)


def run(cfg: TrainConfig, prepared: Prepared | None = None) -> dict[str, Any]:
    """Train: :func:`prepare` (unless given), run :meth:`GRPOTrainer.train`, save the final model."""
    prepared = prepared or prepare(cfg)
    plan = prepared.plan
    trainer = make_trainer(plan, prepared.model_path, prepared.tokenizer)
    try:
        result = trainer.train()
        trainer.save_model(cfg.output_dir)
    finally:
        for scorer in plan.scorers.values():
            close = getattr(scorer, "close", None)  # e.g. the EHRSQL worker pool
            if callable(close):
                close()
    timing = trainer.medzero_timing.records
    summary = {
        "output_dir": cfg.output_dir,
        "global_step": trainer.state.global_step,
        "train_runtime_s": result.metrics.get("train_runtime"),
        "reward_functions": plan.reward_names,
        "dropped_overlong_prompts": plan.dropped_overlong,
        "step_time_s": [r["step_time_s"] for r in timing],
        "reward_time_s": [r["reward_time_s"] for r in timing],
        "scorer_errors": {t: r.n_errors for t, r in plan.rewards.items()},
        "completions_scored": {t: r.n_scored for t, r in plan.rewards.items()},
    }
    total_step = sum(summary["step_time_s"])
    summary["reward_share"] = sum(summary["reward_time_s"]) / total_step if total_step else None
    if trainer.medzero_eval is not None:
        summary["eval"] = trainer.medzero_eval.history
    if trainer.state.is_world_process_zero:
        (Path(cfg.output_dir) / "medzero_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
