"""verl reward functions from any ``medzero_rewards`` scorer (no torch, no verl needed to import).

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info, **reward_kwargs)`` once per
response (reward managers ``naive``, ``dapo``, ...); :func:`compute_score_batch` serves the ``batch`` reward
manager. ``data_source`` names the scorer (``rarearena_rdc``, ``rarearena_rds``, ``ehrsql`` or any registered
scorer), ``ground_truth`` is the reference record (a dict or its JSON string: the parquet column
``reward_model.ground_truth``). The scorer configuration is ``extra_info["scorer_config"]`` (a dict or JSON
string, per row) overlaid with the config's ``reward_kwargs``. Point verl 0.9 at it with::

    reward.custom_reward_function.path=pkg://medzero_rewards.verl
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.preset=diagnosis_zero             # optional scorer settings
    +reward.custom_reward_function.reward_kwargs.hierarchy_path=/data/orphanet_hypernym.json

(verl < 0.8: the same keys without the ``reward.`` prefix; ``reward_model.reward_manager=batch`` with
``custom_reward_function.name=compute_score_batch``.)

The result is a dict: ``score`` (the reward verl trains on), ``acc`` (1.0 when correct), ``scorer_error``
and the weighted components of the reward. verl's reward loop builds one array per key over a whole batch,
so every result has the same keys: ``score``, ``acc``, ``scorer_error`` and :data:`COMPONENT_KEYS` (0.0
where a scorer has no such component), plus any other component of a custom scorer -- a run mixing
diagnosis and EHRSQL rows works. verl cannot leave a response unrewarded, so a response whose scoring
failed (``Status.error``) gets ``score`` 0.0 with ``scorer_error`` 1.0 (verl logs it as a metric), and the
failures are reported in aggregated warnings (the first at once, then at most one line a minute, with
counts), never silently.

>>> from medzero_rewards.verl import compute_score
>>> gold = '{"diagnosis": "Fabry disease", "Orpha_name": "Fabry disease"}'
>>> compute_score("rarearena_rdc", "<think>angiokeratoma</think><answer>Fabry disease</answer>", gold)
{'score': 1.2, 'acc': 1.0, 'scorer_error': 0.0, 'format': 0.2, 'accuracy': 1.0, 'language': 0.0, 'executable': 0.0}
>>> compute_score("rarearena_rdc", "<think>x</think><answer>Gaucher disease</answer>", gold, preset="diagnosis_zero")["score"]
0.1
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from medzero_rewards.base import Scorer
from medzero_rewards.registry import ScorerConfigError, get_scorer, list_scorers
from medzero_rewards.types import Score, Status

__all__ = ["COMPONENT_KEYS", "compute_score", "compute_score_batch", "scorer_for"]

logger = logging.getLogger(__name__)

COMPONENT_KEYS = ("format", "accuracy", "language", "executable")
"""The components of the built-in scorers; every result carries each of them (0.0 where not a component)."""

# keyword arguments verl's reward managers add at call time that are not scorer settings
_VERL_CALL_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})


_VERL_FIX = ("-- in verl, set scorer settings with +reward.custom_reward_function.reward_kwargs.<setting>=<value> "
             "or per row in extra_info['scorer_config']")

_BUILD_LOCK = threading.Lock()  # verl's reward loop calls compute_score from several threads at once


@functools.lru_cache(maxsize=32)
def _build(name: str, config_json: str) -> Scorer:
    return get_scorer(name, **json.loads(config_json))


def _scorer(name: str, config_json: str) -> Scorer:
    with _BUILD_LOCK:  # one scorer (one SQL worker pool, one judge client) per configuration
        return _build(name, config_json)


def scorer_for(data_source: str, extra_info: Mapping[str, Any] | None = None, **reward_kwargs: Any) -> Scorer:
    """The scorer of a sample (built once per configuration and reused).

    >>> scorer_for("rarearena_rdc", {"scorer_config": '{"preset": "diagnosis_zero"}'}) is scorer_for(
    ...     "rarearena_rdc", None, preset="diagnosis_zero")
    True
    """
    config: dict[str, Any] = {}
    raw = (extra_info or {}).get("scorer_config") if isinstance(extra_info, Mapping) else None
    if raw:
        try:
            raw = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise ScorerConfigError(f"extra_info['scorer_config'] is not valid JSON ({exc}) {_VERL_FIX}") from None
        if not isinstance(raw, Mapping):
            raise ScorerConfigError(f"extra_info['scorer_config'] must be a JSON object, got {type(raw).__name__} "
                                    f"{_VERL_FIX}")
        config.update(raw)
    config.update({k: v for k, v in reward_kwargs.items() if k not in _VERL_CALL_KWARGS})
    if str(data_source) not in list_scorers():
        raise ScorerConfigError(f"data_source {data_source!r} is not a medzero_rewards scorer (fix: set each row's "
                                f"data_source to one of {', '.join(list_scorers())}, or register_scorer() yours)")
    try:
        return _scorer(str(data_source), json.dumps(config, sort_keys=True, default=str))
    except ScorerConfigError as exc:  # the fix get_scorer names is not where a verl user sets it
        raise ScorerConfigError(f"{exc} {_VERL_FIX}", exc.problems) from None


def _reference(ground_truth: Any) -> Mapping[str, Any] | str:
    """The reference record, or the reason it cannot be read."""
    if isinstance(ground_truth, str):
        try:
            ground_truth = json.loads(ground_truth)
        except ValueError as exc:
            return f"ground_truth is not valid JSON ({exc.msg})"
    if not isinstance(ground_truth, Mapping):
        return f"ground_truth must be a record (a dict or its JSON string), got {type(ground_truth).__name__}"
    return ground_truth


def _result(score: Score) -> dict[str, Any]:
    result: dict[str, Any] = {
        "score": float(score.reward),
        "acc": float(score.correct),
        "scorer_error": float(score.status is Status.error),
    }
    for key in COMPONENT_KEYS:
        result[key] = float(score.components.get(key, 0.0))
    for key, value in score.components.items():
        result.setdefault(key, float(value))
    if score.status is Status.error:
        result["score"] = 0.0
    return result


def _error(reason: str) -> Score:
    return Score(reward=0.0, correct=False, status=Status.error, reason=reason)


class _ErrorLog:
    """Aggregated warnings for scorer errors: the first at once, then one line per ``every_s`` with counts."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self.total = 0
        self._since: Counter[str] = Counter()
        self._last = float("-inf")
        self._lock = threading.Lock()

    def add(self, reasons: Sequence[str], *, batch: bool = False) -> None:
        """Count ``reasons`` (``"<data_source>: <reason>"``); a batch always logs its own line."""
        if not reasons:
            return
        with self._lock:
            self.total += len(reasons)
            self._since.update(reasons)
            now = time.monotonic()
            if not batch and now - self._last < self.every_s:
                return
            counts, self._since, self._last = self._since, Counter(), now
        common = "; ".join(f"{n}x {reason}" for reason, n in counts.most_common(3))
        logger.warning("scorer errors scored 0.0 with scorer_error=1: %d new (%d in this process): %s",
                       sum(counts.values()), self.total, common)


ERRORS = _ErrorLog()


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None,
                  **reward_kwargs: Any) -> dict[str, Any]:
    """Score one verl response with the scorer named by ``data_source``.

    Args:
        data_source: the scorer name (``rarearena_rdc``, ``rarearena_rds``, ``ehrsql`` ...).
        solution_str: the decoded response.
        ground_truth: the reference record, a dict or its JSON string.
        extra_info: verl's per-row ``extra_info``; ``extra_info["scorer_config"]`` configures the scorer.
        **reward_kwargs: scorer settings from ``custom_reward_function.reward_kwargs`` (override the row's).

    Returns:
        ``{"score", "acc", "scorer_error", <components>}``, the same keys for every built-in scorer.

    >>> ref = {"id": "q1", "question": "How many patients?", "label": "null", "answer": None}
    >>> import os
    >>> db = os.path.join(os.environ.get("MEDZERO_DATA", "../shared/data"), "ehrsql2024", "mimic_iv.sqlite")
    >>> compute_score("ehrsql", "<answer>null</answer>", ref, {"scorer_config": {"db_path": db}})["score"]  # doctest: +SKIP
    1.0
    """
    reference = _reference(ground_truth)
    if isinstance(reference, str):
        score = _error(reference)
    else:
        score = scorer_for(data_source, extra_info, **reward_kwargs).score(solution_str, reference)
    if score.status is Status.error:
        ERRORS.add([f"{data_source}: {score.reason or 'scorer error'}"])
    return _result(score)


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
                        **reward_kwargs: Any) -> list[dict[str, Any]]:
    """Batch form for verl's ``batch`` reward manager: one ``score_batch`` per scorer, the numbers of
    :func:`compute_score`.

    >>> gold = '{"diagnosis": "Fabry disease"}'
    >>> [r["score"] for r in compute_score_batch(["rarearena_rdc"] * 2, ["<think>x</think><answer>Fabry disease</answer>",
    ...                                                                  "Fabry disease"], [gold, gold])]
    [1.2, 0.0]
    """
    n = len(solution_strs)
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    scores: list[Score | None] = [None] * n
    groups: dict[int, tuple[Scorer, list[int], list[Mapping[str, Any]]]] = {}
    for i in range(n):
        reference = _reference(ground_truths[i])
        if isinstance(reference, str):
            scores[i] = _error(reference)
            continue
        scorer = scorer_for(data_sources[i], infos[i], **reward_kwargs)
        group = groups.setdefault(id(scorer), (scorer, [], []))
        group[1].append(i)
        group[2].append(reference)
    for scorer, idx, refs in groups.values():
        for i, score in zip(idx, scorer.score_batch([solution_strs[i] for i in idx], refs)):
            scores[i] = score
    reasons = [f"{data_sources[i]}: {s.reason or 'scorer error'}" for i, s in enumerate(scores)
               if s is not None and s.status is Status.error]
    if reasons:
        ERRORS.add(reasons, batch=True)
    return [_result(s) for s in scores if s is not None]
