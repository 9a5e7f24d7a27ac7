"""verl export: GRPO rows as verl RL parquet files, scored by :mod:`medzero_rewards.verl`.

The reward is ``medzero_rewards.verl.compute_score`` (re-exported here); point verl 0.9 at it with::

    reward.custom_reward_function.path=pkg://medzero_rewards.verl
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.preset=diagnosis_zero    # optional scorer settings

``data_source`` is the scorer name (``rarearena_rdc``, ``rarearena_rds``, ``ehrsql``), ``ground_truth`` the
JSON reference record, ``extra_info["scorer_config"]`` the source's scorer configuration -- exactly what
:func:`export_parquet` writes. ``reward_kwargs`` override that configuration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medzero_rewards.verl import compute_score, compute_score_batch

__all__ = ["ABILITY", "compute_score", "compute_score_batch", "export_parquet", "verl_rows"]

ABILITY = {"rarearena_rdc": "rare_disease_diagnosis", "rarearena_rds": "rare_disease_diagnosis", "ehrsql": "text_to_sql"}


def verl_rows(rows: Sequence[Mapping[str, Any]], scorer_configs: Mapping[str, Mapping[str, Any]], split: str) -> list[dict[str, Any]]:
    """GRPO rows (:mod:`medzero_train.data`) as verl RL dataset rows.

    >>> row = {"prompt": [{"role": "user", "content": "q"}], "task": "ehrsql", "reference": "{}", "id": "1", "target": "null"}
    >>> verl_rows([row], {"ehrsql": {"db_path": "db.sqlite"}}, "train")[0]["reward_model"]
    {'style': 'rule', 'ground_truth': '{}'}
    """
    out = []
    for i, row in enumerate(rows):
        task = row["task"]
        out.append({
            "data_source": task,
            "prompt": list(row["prompt"]),
            "ability": ABILITY.get(task, task),
            "reward_model": {"style": "rule", "ground_truth": row["reference"]},
            "extra_info": {
                "split": split,
                "index": i,
                "id": str(row["id"]),
                "target": str(row["target"]),
                "scorer_config": json.dumps(dict(scorer_configs.get(task, {})), sort_keys=True, default=str),
            },
        })
    return out


def export_parquet(rows: Sequence[Mapping[str, Any]], scorer_configs: Mapping[str, Mapping[str, Any]],
                   path: str | Path, split: str) -> Path:
    """Write verl-format rows to a parquet file (``data.train_files`` / ``data.val_files``)."""
    import datasets

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(verl_rows(rows, scorer_configs, split)).to_parquet(str(path))
    return path
