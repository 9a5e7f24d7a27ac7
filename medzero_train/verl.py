"""verl adapter: a ``compute_score`` for ``reward.custom_reward_function`` and a verl-format parquet exporter.

verl (the seed's trainer) calls ``compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)``
per sample (``reward_model.reward_manager=naive``) and reads ``score`` plus any other numeric keys as extra
reward info; :func:`compute_score_batch` serves ``reward_model.reward_manager=batch``. Point verl at it with::

    custom_reward_function.path=pkg://medzero_train.verl  custom_reward_function.name=compute_score
    # scorer options, e.g. the diagnosis_zero preset:
    +custom_reward_function.reward_kwargs.preset=diagnosis_zero

``data_source`` is the scorer name (``rarearena_rdc``, ``rarearena_rds``, ``ehrsql``), ``ground_truth`` the
JSON reference record, ``extra_info["scorer_config"]`` the source's scorer configuration -- exactly what
:func:`export_parquet` writes. ``reward_kwargs`` override that configuration.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medzero_rewards import Score, Scorer, Status, get_scorer

logger = logging.getLogger(__name__)

ABILITY = {"rarearena_rdc": "rare_disease_diagnosis", "rarearena_rds": "rare_disease_diagnosis", "ehrsql": "text_to_sql"}
ERRORS = {"count": 0}  # scorer failures seen by this process (each is logged and flagged in the result)


@functools.lru_cache(maxsize=32)
def _scorer(name: str, config_json: str) -> Scorer:
    return get_scorer(name, **json.loads(config_json))


def scorer_for(data_source: str, extra_info: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> Scorer:
    """The (cached) scorer for a sample: ``extra_info["scorer_config"]`` overlaid with verl's ``reward_kwargs``."""
    config: dict[str, Any] = {}
    if extra_info and extra_info.get("scorer_config"):
        raw = extra_info["scorer_config"]
        config.update(json.loads(raw) if isinstance(raw, str) else dict(raw))
    config.update(kwargs)
    return _scorer(data_source, json.dumps(config, sort_keys=True, default=str))


def score_to_result(score: Score) -> dict[str, Any]:
    """verl's result dict: ``score`` (the reward), ``acc`` and the weighted components."""
    result: dict[str, Any] = {"score": float(score.reward), "acc": float(score.correct)}
    for name, value in score.components.items():
        result[name] = float(value)
    result["scorer_error"] = float(score.status is Status.error)
    return result


def _as_reference(ground_truth: Any) -> dict[str, Any]:
    return json.loads(ground_truth) if isinstance(ground_truth, str) else dict(ground_truth)


def _flag_error(data_source: str, result: dict[str, Any], why: str) -> dict[str, Any]:
    ERRORS["count"] += 1
    logger.warning("%s: scorer error (%d so far in this process): %s", data_source, ERRORS["count"], why)
    result["scorer_error"] = 1.0
    return result


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Score one verl sample with the ``medzero_rewards`` scorer named by ``data_source``.

    verl cannot take a missing reward, so a scorer error gives ``score`` 0 with ``scorer_error`` 1 in the
    result (verl logs every numeric key), and a warning with a running count -- flagged, never silent.

    >>> ref = json.dumps({"diagnosis": "Fabry disease", "Orpha_name": "Fabry disease"})
    >>> r = compute_score("rarearena_rdc", "<think>x</think><answer>Fabry disease</answer>", ref)
    >>> r["score"], r["acc"], r["format"], r["accuracy"]
    (1.2, 1.0, 0.2, 1.0)
    """
    scorer = scorer_for(data_source, extra_info, kwargs)
    score = scorer.score(solution_str, _as_reference(ground_truth))
    result = score_to_result(score)
    if score.status is Status.error:
        return _flag_error(data_source, result, score.reason)
    return result


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Batch form for verl's ``batch`` reward manager: one ``score_batch`` per scorer, same numbers as
    :func:`compute_score`."""
    n = len(solution_strs)
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    groups: dict[int, tuple[Scorer, str, list[int]]] = {}
    for i in range(n):
        scorer = scorer_for(data_sources[i], infos[i], kwargs)
        groups.setdefault(id(scorer), (scorer, data_sources[i], []))[2].append(i)
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for scorer, source, idx in groups.values():
        scores = scorer.score_batch([solution_strs[i] for i in idx], [_as_reference(ground_truths[i]) for i in idx])
        for i, score in zip(idx, scores):
            result = score_to_result(score)
            out[i] = _flag_error(source, result, score.reason) if score.status is Status.error else result
    return out


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
