"""Re-scoring logged lm-eval samples with the medzero_rewards scorer their documents or task config name.

Each task's samples are re-scored from ``filtered_resps`` + ``doc`` by the scorer the documents name
(medzero's tasks store ``scorer`` and ``reference`` in each document), else the one in the task config
(``metadata.scorer`` / ``metadata.scorer_config``), else one guessed from the task name; the task
metrics are then that scorer's ``aggregate``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from medzero_eval.report.load import TaskRun, to_float

# Scorer guessed from a task name when neither the documents nor the task config name one.
_TASK_SCORER_GUESSES = (("ehrsql", "ehrsql"), ("rds", "rarearena_rds"), ("rarearena", "rarearena_rdc"),
                        ("rarebench", "rarearena_rdc"), ("diagnos", "rarearena_rdc"))


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def scorer_for_task(task: str, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The scorer name and config a task config declares, else one guessed from the task name.

    The config keys are ``metadata.scorer`` and ``metadata.scorer_config`` (a JSON object or its text).
    """
    metadata = config.get("metadata") or {}
    if isinstance(metadata, Mapping):
        name = metadata.get("scorer") or metadata.get("scorer_name")
        scorer_config = _json_value(metadata.get("scorer_config")) or {}
        if name:
            return str(name), dict(scorer_config) if isinstance(scorer_config, Mapping) else {}
    lowered = task.lower()
    for needle, name in _TASK_SCORER_GUESSES:
        if needle in lowered:
            return name, {}
    raise ValueError(
        f"task {task!r} names no medzero_rewards scorer (set metadata.scorer in its config, or pass --scorer)"
    )


def scoring_inputs(doc: Mapping[str, Any]) -> tuple[tuple[str, dict[str, Any]] | None, dict[str, Any]]:
    """The scorer spec and the reference record a logged lm-eval ``doc`` carries.

    medzero's task documents hold ``scorer`` (``{"name", "config"}``, JSON) and ``reference`` (the
    record, JSON); other documents are taken as the reference record themselves, with no spec.
    """
    spec = _json_value(doc.get("scorer"))
    parsed_spec = None
    if isinstance(spec, Mapping) and spec.get("name"):
        parsed_spec = (str(spec["name"]), dict(spec.get("config") or {}))
    reference = _json_value(doc.get("reference"))
    return parsed_spec, dict(reference) if isinstance(reference, Mapping) else dict(doc)


def rescore_task(
    run: TaskRun, scorer: str | None = None, config: Mapping[str, Any] | None = None, progress: bool = True
) -> TaskRun:
    """Re-score ``run``'s samples (``filtered_resps`` + ``doc``) with a medzero_rewards scorer, in place.

    The scorer is the one each document names (medzero's tasks), else the task config's
    ``metadata.scorer``, else a guess from the task name. ``scorer`` replaces the name (the declared
    config is kept only when the name is unchanged); ``config`` is merged on top. Per-sample metrics
    become the Score's numeric details plus ``reward`` and ``correct``; the task metrics become
    ``scorer.aggregate(scores)``.
    """
    from medzero_eval.scoring import score_records

    specs, references = [], []
    for sample in run.samples:
        spec, reference = scoring_inputs(sample.doc)
        if spec is None:
            try:
                spec = scorer_for_task(run.task, run.config)
            except ValueError:
                if scorer is None:
                    raise
                spec = (scorer, {})
        name, declared = spec
        if scorer is not None and scorer != name:
            name, declared = scorer, {}
        specs.append(json.dumps([name, {**declared, **dict(config or {})}], sort_keys=True, default=str))
        references.append(reference)
    if len(set(specs)) > 1:
        raise ValueError(f"task {run.task!r}: samples name different scorers; pass --scorer to rescore them alike")
    name, merged = json.loads(specs[0])
    scores, metrics = score_records(
        name, [s.response for s in run.samples], references, config=merged, progress=progress
    )
    for sample, score in zip(run.samples, scores):
        sample.metrics = {k: v for k, v in ((k, to_float(v)) for k, v in score.details.items()) if v is not None}
        sample.metrics["reward"] = score.reward
        sample.metrics["correct"] = float(score.correct)
        sample.score = score.reward
        sample.status = score.status.value
        sample.correct = bool(score.correct)
        sample.extracted = score.extracted
        sample.reason = score.reason
    run.metrics = {k: v for k, v in ((k, to_float(v)) for k, v in metrics.items()) if v is not None}
    run.stderr = {}  # lm-eval's standard errors belong to the logged metrics, not to these
    run.score_name = "reward"
    run.scorer = name
    return run
