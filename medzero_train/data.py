"""Dataset builders: RareArena / RareBench records and EHRSQL questions -> GRPO rows.

The rows are built from the very documents the lm-eval tasks use (:mod:`medzero_eval.lm_eval_glue`, which
calls :mod:`medzero_eval.records` and :mod:`medzero_eval.prompts`), so a training prompt, its reference record
and its scorer configuration are the evaluation's, word for word. A row holds:

* ``prompt``: TRL's conversational prompt (system + user message);
* ``task``: the scorer name (``rarearena_rdc``, ``rarearena_rds``, ``ehrsql``) that scores it;
* ``reference``: the JSON-encoded reference record the scorer compares a completion with;
* ``id`` and ``target`` (the gold answer text, for logs).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medzero_eval import lm_eval_glue, records
from medzero_train.config import DataSource, EHRSQLSource, RareArenaSource, RareBenchSource, TrainConfig

logger = logging.getLogger(__name__)

ROW_COLUMNS = ("prompt", "task", "reference", "id", "target")


def _ehrsql_paths(src: EHRSQLSource) -> tuple[Path, Path]:
    root = Path(src.data_dir)
    tables = Path(src.tables_json) if src.tables_json else root / "tables.json"
    db = Path(src.db_path) if src.db_path else root / "mimic_iv.sqlite"
    return tables, db


def base_scorer_config(src: DataSource) -> dict[str, Any]:
    """The scorer configuration a source implies, exactly as its lm-eval task sets it.

    >>> from medzero_train.config import RareBenchSource
    >>> base_scorer_config(RareBenchSource(source="rarebench", style="top5"))
    {'answer_format': 'ranked', 'k': 5}
    """
    if isinstance(src, EHRSQLSource):
        return {"db_path": str(_ehrsql_paths(src)[1])}
    return lm_eval_glue.diagnosis_scorer_config({}, src.style)


def source_docs(src: DataSource) -> list[dict[str, Any]]:
    """The lm-eval task documents of one source (``id, system, prompt, target, reference, scorer``)."""
    if isinstance(src, RareArenaSource):  # no path: $MEDZERO_RAREARENA_RDC/_RDS, else the Hugging Face Hub (cached)
        setting = src.setting.upper()
        given = src.path or os.environ.get(f"MEDZERO_RAREARENA_{setting}") or None
        path = records.resolve_rarearena_file(setting, given, revision=src.revision)
        recs = records.load_rarearena(path)[: src.limit]
        return lm_eval_glue.diagnosis_docs(recs, src.setting, src.style, base_scorer_config(src))
    if isinstance(src, RareBenchSource):
        docs: list[dict[str, Any]] = []
        for subset in src.subsets:
            recs = records.load_rarebench(subset, src.data_dir)[: src.limit]
            docs.extend(lm_eval_glue.diagnosis_docs(recs, "rds", src.style, base_scorer_config(src)))
        return docs
    if isinstance(src, EHRSQLSource):
        from medzero_rewards.ehrsql.schema import schema_prompt

        tables, _ = _ehrsql_paths(src)
        recs = records.load_ehrsql(src.data_dir, src.split, answers=src.answers)[: src.limit]
        return lm_eval_glue.ehrsql_docs(recs, schema_prompt(tables), base_scorer_config(src))
    raise TypeError(f"unknown data source {src!r}")


def doc_to_row(doc: Mapping[str, Any], task: str) -> dict[str, Any]:
    """One lm-eval task document as a GRPO row (conversational ``prompt`` + reference columns).

    >>> row = doc_to_row({"id": "1", "system": "S", "prompt": "U", "target": "T", "reference": "{}"}, "ehrsql")
    >>> row["prompt"]
    [{'role': 'system', 'content': 'S'}, {'role': 'user', 'content': 'U'}]
    """
    return {
        "prompt": [{"role": "system", "content": doc["system"]}, {"role": "user", "content": doc["prompt"]}],
        "task": task,
        "reference": doc["reference"],
        "id": str(doc["id"]),
        "target": str(doc["target"]),
    }


def source_rows(src: DataSource) -> list[dict[str, Any]]:
    """GRPO rows of one source."""
    return [doc_to_row(doc, src.task) for doc in source_docs(src)]


def build_dataset(sources: Sequence[DataSource], shuffle_seed: int | None = None) -> Any:
    """A :class:`datasets.Dataset` of the rows of every source (shuffled when ``shuffle_seed`` is set)."""
    import datasets

    rows: list[dict[str, Any]] = []
    for src in sources:
        rows.extend(source_rows(src))
    if not rows:
        raise ValueError("the data sources produced no rows")
    ds = datasets.Dataset.from_list(rows)
    return ds.shuffle(seed=shuffle_seed) if shuffle_seed is not None else ds


def scorer_configs(cfg: TrainConfig) -> dict[str, dict[str, Any]]:
    """``{task: get_scorer keyword config}``: each source's implied config overlaid with ``cfg.rewards[task]``.

    Two sources of one task must imply the same configuration (e.g. the same prompt style).
    """
    out: dict[str, dict[str, Any]] = {}
    for src in cfg.all_sources():
        config = {**base_scorer_config(src), **cfg.scorer_config(src.task)}
        if src.task in out and out[src.task] != config:
            raise ValueError(
                f"data sources of task {src.task!r} need different scorer configurations "
                f"({out[src.task]} vs {config}); use one prompt style per task in a run"
            )
        out[src.task] = config
    return out


def prompt_lengths(dataset: Any, tokenizer: Any) -> list[int]:
    """Token count of each row's prompt rendered with the chat template (generation prompt included)."""
    lengths = []
    for prompt in dataset["prompt"]:
        ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, Mapping):
            ids = ids["input_ids"]
        lengths.append(len(ids))
    return lengths


def drop_overlong(dataset: Any, tokenizer: Any, max_prompt_length: int | None) -> tuple[Any, int]:
    """Drop rows whose prompt is longer than ``max_prompt_length`` tokens (verl's ``filter_overlong_prompts``).

    TRL 1.16 has no prompt truncation; cutting a case report or a schema would change the task, so long
    prompts are dropped, and the count is reported.
    """
    if max_prompt_length is None:
        return dataset, 0
    lengths = prompt_lengths(dataset, tokenizer)
    keep = [i for i, n in enumerate(lengths) if n <= max_prompt_length]
    dropped = len(lengths) - len(keep)
    if dropped:
        logger.warning("dropped %d of %d prompts longer than %d tokens", dropped, len(lengths), max_prompt_length)
    return dataset.select(keep), dropped


def sample_completions(row: Mapping[str, Any]) -> dict[str, str]:
    """Synthetic completions for a row (for ``--dry-run``): the gold answer well formed, and malformed.

    >>> sorted(sample_completions({"task": "ehrsql", "target": "null", "reference": "{}"}))
    ['gold', 'no_tags']
    """
    target = str(row["target"])
    if row["task"] == "ehrsql":
        gold = f"<think>The question maps to this query.</think><answer>{target}</answer>"
    else:
        gold = f"<think>The findings fit one disease.</think><answer>{target}</answer>"
    return {"gold": gold, "no_tags": "I am not sure what this is."}


def reference_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The decoded reference record of a row."""
    return json.loads(row["reference"])
