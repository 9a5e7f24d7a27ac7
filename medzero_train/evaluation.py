"""Held-out evaluation during training with the run's scorers, written in lm-eval's output layout.

At every checkpoint save (and optionally before the first step) the policy answers the held-out prompts
greedily; each task's completions are scored by the same ``medzero_rewards`` scorer the reward uses and
``scorer.aggregate`` gives the metrics the lm-eval tasks report (``top1``, ``format_rate``,
``mixed_language_rate``, ``mean_length`` ... / ``accuracy0`` ...). Outputs go to
``<output_dir>/medzero_eval/checkpoint-<step>/`` (``step-0/`` for the baseline before training) as
``results_<date>.json`` + ``samples_<task>_<date>.jsonl``, the files lm-eval writes with ``--log_samples``,
so ``medzero-eval report <output_dir>/medzero_eval --output <output_dir>/report`` plots the run's
checkpoints (they stay when ``save_total_limit`` rotates the checkpoints themselves). A summary line per evaluation is appended to
``<output_dir>/medzero_eval.jsonl``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from medzero_eval import lm_eval_glue
from medzero_rewards import Scorer
from medzero_train import data as data_mod
from medzero_train.config import DataSource, EHRSQLSource, RareArenaSource, RareBenchSource

logger = logging.getLogger(__name__)

EVAL_SUBDIR = "medzero_eval"


def scorer_spec(task: str, config: Mapping[str, Any]) -> str:
    """The scorer spec string stored with each sample (the format of the lm-eval documents' ``scorer``)."""
    return json.dumps({"name": task, "config": dict(config)}, ensure_ascii=False, sort_keys=True, default=str)


@dataclass
class EvalTask:
    """One evaluation task (named like its lm-eval task) and its documents."""

    name: str
    scorer_name: str
    docs: list[dict[str, Any]] = field(default_factory=list)


def eval_tasks(sources: Sequence[DataSource]) -> list[EvalTask]:
    """Evaluation tasks of the sources, named as the lm-eval tasks are (``rarebench_mme``, ``ehrsql_valid`` ...)."""
    tasks: list[EvalTask] = []
    for src in sources:
        suffix = "_top5" if getattr(src, "style", "r1") == "top5" else ""
        if isinstance(src, RareBenchSource):
            for subset in src.subsets:
                sub = src.model_copy(update={"subsets": [subset]})
                tasks.append(EvalTask(f"rarebench_{subset}{suffix}", src.task, data_mod.source_docs(sub)))
        elif isinstance(src, RareArenaSource):
            tasks.append(EvalTask(f"rarearena_{src.setting}{suffix}", src.task, data_mod.source_docs(src)))
        elif isinstance(src, EHRSQLSource):
            name = "ehrsql" if src.split == "test" else f"ehrsql_{src.split}"
            tasks.append(EvalTask(name, src.task, data_mod.source_docs(src)))
    return tasks


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def generate_greedy(model: Any, tokenizer: Any, prompts: Sequence[list[dict[str, str]]], max_new_tokens: int,
                    batch_size: int) -> list[str]:
    """Greedy completions of conversational prompts with ``model.generate`` (left padding, chat template)."""
    import torch

    outputs: list[str] = []
    device = next(model.parameters()).device
    for batch in _chunks(list(prompts), batch_size):
        texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in batch]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False, padding_side="left")
        enc = {k: v.to(device) for k, v in enc.items()}
        with torch.no_grad():
            out = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                pad_token_id=tokenizer.pad_token_id, temperature=None, top_p=None, top_k=None,
            )
        new = out[:, enc["input_ids"].shape[1] :]
        outputs.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    return outputs


def write_eval_outputs(
    out_dir: Path,
    task: EvalTask,
    completions: Sequence[str],
    scorer: Scorer,
    spec: str,
    gen_kwargs: Mapping[str, Any],
    date: str,
) -> tuple[dict[str, float], dict[str, float]]:
    """Score ``completions`` of ``task`` and write its lm-eval-format samples file (each sample exactly as the
    lm-eval task's ``process_results`` gives it: the ``Score`` once, under ``score``, and each metric's value).

    Returns ``(scorer.aggregate(...), the lm-eval results row)``: the row holds what lm-eval's table reports
    for these samples (each rate's mean and standard error, the item count under ``score``)."""
    references = [json.loads(d["reference"]) for d in task.docs]
    scores = scorer.score_batch(list(completions), references)
    metrics = scorer.aggregate(scores)
    names = lm_eval_glue.metrics_for_spec(spec)
    per_sample = [lm_eval_glue.sample_metrics(spec, score) for score in scores]
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / f"samples_{task.name}_{date}.jsonl").open("w", encoding="utf-8") as fh:
        for i, (doc, completion, values) in enumerate(zip(task.docs, completions, per_sample)):
            prompt = lm_eval_glue_prompt(doc)
            line = {
                "doc_id": i,
                "doc": {**doc, "scorer": spec},
                "target": doc["target"],
                "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": dict(gen_kwargs)}},
                "resps": [[completion]],
                "filtered_resps": [completion],
                "filter": "raw",
                "metrics": list(names),
                **values,
            }
            fh.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
    return metrics, results_row(per_sample)


def results_row(per_sample: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """lm-eval's results entry for samples of :func:`lm_eval_glue.sample_metrics` (filter ``raw``): each
    metric's aggregate and, for the rates (lm-eval ``mean``), its standard error when there are 2+ values."""
    from lm_eval.api.metrics import mean_stderr

    row: dict[str, float] = {}
    for name, value in lm_eval_glue.aggregate_samples(per_sample).items():
        row[f"{name},raw"] = value
        values = [s[name] for s in per_sample if name in s]
        if name != lm_eval_glue.SCORE_METRIC and name not in lm_eval_glue.CORPUS_METRICS and len(values) > 1:
            row[f"{name}_stderr,raw"] = float(mean_stderr(values))
    return row


def lm_eval_glue_prompt(doc: Mapping[str, Any]) -> str:
    """The prompt text of a document (system + user turn), for the samples file."""
    return f"{doc['system']}\n\n{doc['prompt']}"


class HeldOutEvaluator:
    """Generates, scores and writes one evaluation of the held-out tasks."""

    def __init__(
        self,
        tasks: Sequence[EvalTask],
        scorers: Mapping[str, Scorer],
        scorer_configs: Mapping[str, Mapping[str, Any]],
        tokenizer: Any,
        max_new_tokens: int,
        batch_size: int,
        model_name: str = "",
    ) -> None:
        self.tasks = list(tasks)
        self.scorers = dict(scorers)
        self.specs = {t: scorer_spec(t, c) for t, c in scorer_configs.items()}
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.model_name = model_name

    def completions(self, model: Any, accelerator: Any = None) -> list[list[str]]:
        """Greedy completions of every task's prompts (split across processes when ``accelerator`` is given)."""
        prompts = [data_mod.doc_to_row(d, t.scorer_name)["prompt"] for t in self.tasks for d in t.docs]
        indexed = list(enumerate(prompts))
        if accelerator is not None and accelerator.num_processes > 1:
            from accelerate.utils import gather_object

            with accelerator.split_between_processes(indexed) as mine:
                local = list(zip([i for i, _ in mine],
                                 generate_greedy(model, self.tokenizer, [p for _, p in mine],
                                                 self.max_new_tokens, self.batch_size)))
            gathered = dict(gather_object(local))
            flat = [gathered[i] for i in range(len(prompts))]
        else:
            flat = generate_greedy(model, self.tokenizer, prompts, self.max_new_tokens, self.batch_size)
        out, pos = [], 0
        for t in self.tasks:
            out.append(flat[pos : pos + len(t.docs)])
            pos += len(t.docs)
        return out

    def write(self, out_dir: Path, step: int, per_task: Sequence[Sequence[str]]) -> dict[str, dict[str, float]]:
        """Score and write ``results_<date>.json`` + ``samples_<task>_<date>.jsonl``; return ``{task: metrics}``."""
        date = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S.%f")
        gen_kwargs = {"max_gen_toks": self.max_new_tokens, "do_sample": False, "until": []}
        results: dict[str, dict[str, Any]] = {}
        configs: dict[str, dict[str, Any]] = {}
        all_metrics: dict[str, dict[str, float]] = {}
        for task, completions in zip(self.tasks, per_task):
            spec = self.specs[task.scorer_name]
            metrics, row = write_eval_outputs(
                out_dir, task, completions, self.scorers[task.scorer_name], spec, gen_kwargs, date
            )
            all_metrics[task.name] = metrics
            results[task.name] = {"alias": task.name, **row}
            parsed = json.loads(spec)
            configs[task.name] = {
                "task": task.name,
                "metadata": {"scorer": parsed["name"], "scorer_config": parsed["config"]},
                "generation_kwargs": gen_kwargs,
            }
        payload = {
            "results": results,
            "configs": configs,
            "config": {"model": self.model_name, "step": step, "source": "medzero-train"},
            "date": date,
        }
        (out_dir / f"results_{date}.json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
        return all_metrics


def make_callback(evaluator: HeldOutEvaluator, at_start: bool = False) -> Any:
    """A :class:`transformers.TrainerCallback` running ``evaluator`` at each checkpoint save (and at the start)."""
    from transformers import TrainerCallback

    class MedzeroEvalCallback(TrainerCallback):
        """Evaluates the policy on the held-out split with the run's scorers at each checkpoint."""

        def __init__(self) -> None:
            self.trainer: Any = None
            self.history: list[dict[str, Any]] = []

        def _run(self, args: Any, state: Any, out_dir: Path) -> None:
            from trl.models.utils import unwrap_model_for_generation

            trainer = self.trainer
            model = trainer.model_wrapped
            was_training = trainer.model.training
            trainer.model.eval()
            try:
                with unwrap_model_for_generation(
                    model, trainer.accelerator, gather_deepspeed3_params=args.ds3_gather_for_generation
                ) as unwrapped:
                    per_task = evaluator.completions(unwrapped, trainer.accelerator)
            finally:
                if was_training:
                    trainer.model.train()
            if state.is_world_process_zero:
                metrics = evaluator.write(out_dir, state.global_step, per_task)
                record = {"step": state.global_step, "dir": str(out_dir), "metrics": metrics}
                self.history.append(record)
                with (Path(args.output_dir) / "medzero_eval.jsonl").open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, default=str) + "\n")
                logger.info("held-out evaluation at step %d: %s", state.global_step, metrics)

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if at_start and state.global_step == 0:
                self._run(args, state, Path(args.output_dir) / EVAL_SUBDIR / "step-0")

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._run(args, state, Path(args.output_dir) / EVAL_SUBDIR / f"checkpoint-{state.global_step}")

    return MedzeroEvalCallback()
