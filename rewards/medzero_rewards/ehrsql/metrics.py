"""EHRSQL 2024 reliability score and the corpus metrics reported next to it.

Per question the official outcome is:

==================  =====================  =======
question            prediction             outcome
==================  =====================  =======
answerable          correct result         +1
answerable          abstained (``null``)    0
answerable          wrong result or error  -1
unanswerable        any SQL                -1
unanswerable        abstained              +1
==================  =====================  =======

``RS(c)`` is the mean outcome with every -1 replaced by -c. The official scorer reports ``RS(0)``,
``RS(5)``, ``RS(10)`` and ``RS(N)`` (N = number of questions) multiplied by 100 as ``accuracy0``,
``accuracy5``, ``accuracy10`` and ``accuracyN``. With integer penalties the sum is exact, so these are
bit-identical to the official ``numpy.mean(...) * 100``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["OFFICIAL_KEYS", "ehrsql_metrics", "outcome", "penalized_score", "reliability_scores"]

OFFICIAL_KEYS = ("accuracy0", "accuracy5", "accuracy10", "accuracyN")
"""The keys the official scorer writes to ``scores.json``."""


def outcome(answerable: bool, abstained: bool, correct: bool) -> int:
    """The official per-question outcome (+1, 0 or -1); ``correct`` matters only when answered.

    >>> outcome(True, False, True), outcome(True, True, False), outcome(False, False, False), outcome(False, True, False)
    (1, 0, -1, 1)
    """
    if answerable:
        if abstained:
            return 0
        return 1 if correct else -1
    return 1 if abstained else -1


def penalized_score(outcomes: Sequence[int], penalty: float) -> float:
    """``RS(penalty)``: the mean outcome with each -1 replaced by ``-penalty`` (not multiplied by 100).

    Integer penalties are summed exactly; float penalties with :func:`math.fsum`.
    Raises :class:`ValueError` on an empty sequence or an outcome outside {-1, 0, 1}.

    >>> penalized_score([1, 1, 0, -1], 5)
    -0.75
    """
    if not outcomes:
        raise ValueError("penalized_score needs at least one outcome")
    bad = [o for o in outcomes if o not in (-1, 0, 1)]
    if bad:
        raise ValueError(f"outcomes must be -1, 0 or 1; got {bad[:5]}")
    values = [-penalty if o == -1 else o for o in outcomes]
    if isinstance(penalty, int):
        return sum(values) / len(values)
    return math.fsum(values) / len(values)


def reliability_scores(outcomes: Sequence[int]) -> dict[str, float]:
    """The official scores, ×100: ``accuracy0``, ``accuracy5``, ``accuracy10``, ``accuracyN``.

    >>> reliability_scores([1, 1, 0, -1])
    {'accuracy0': 50.0, 'accuracy5': -75.0, 'accuracy10': -200.0, 'accuracyN': -50.0}
    """
    n = len(outcomes)
    return {
        key: penalized_score(outcomes, penalty) * 100
        for key, penalty in zip(OFFICIAL_KEYS, (0, 5, 10, n))
    }


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def ehrsql_metrics(items: Iterable[Mapping[str, Any]]) -> dict[str, float | int | None]:
    """Official scores plus diagnostics from per-question records.

    Each item needs ``answerable``, ``abstained``, ``outcome``, ``error`` (str or None) and
    ``timed_out`` — the keys of :attr:`Score.details <medzero_rewards.types.Score.details>`. An item
    whose ``outcome`` is None (``Status.error``: it could not be scored) is left out of every metric
    and counted in ``n_error``.

    The official keys ``accuracy0/5/10/N`` are percentages (×100), as the official scorer writes
    them; every other rate is a fraction in [0, 1]; ``None`` when its denominator is 0:

    * ``execution_accuracy``: correct results among answerable questions;
    * ``abstention_precision`` / ``abstention_recall``: abstentions on unanswerable questions among all
      abstentions / among unanswerable questions;
    * ``error_rate`` / ``timeout_rate``: answered questions whose SQL failed (any error, timeouts
      included) / timed out, among all scored questions;
    * ``n`` (every item), ``n_error`` (left out), ``n_answerable``, ``n_abstained`` (among scored items).

    >>> m = ehrsql_metrics([
    ...     {"answerable": True, "abstained": False, "outcome": 1, "error": None, "timed_out": False},
    ...     {"answerable": False, "abstained": True, "outcome": 1, "error": None, "timed_out": False},
    ...     {"answerable": True, "abstained": False, "outcome": None, "error": "gold SQL could not be run", "timed_out": False}])
    >>> m["accuracy0"], m["execution_accuracy"], m["abstention_precision"], m["n"], m["n_error"]
    (100.0, 1.0, 1.0, 3, 1)
    """
    every = list(items)
    rows = [r for r in every if r["outcome"] is not None]
    n = len(rows)
    outcomes = [int(r["outcome"]) for r in rows]
    scores: dict[str, float | int | None] = (
        dict(reliability_scores(outcomes)) if n else {k: None for k in OFFICIAL_KEYS}
    )
    answerable = [r for r in rows if r["answerable"]]
    abstained = [r for r in rows if r["abstained"]]
    n_unans = n - len(answerable)
    true_abstain = sum(1 for r in abstained if not r["answerable"])
    answered = [r for r in rows if not r["abstained"]]
    scores.update(
        execution_accuracy=_ratio(sum(1 for r in answerable if r["outcome"] == 1), len(answerable)),
        abstention_precision=_ratio(true_abstain, len(abstained)),
        abstention_recall=_ratio(true_abstain, n_unans),
        error_rate=_ratio(sum(1 for r in answered if r["error"] is not None), n),
        timeout_rate=_ratio(sum(1 for r in answered if r["timed_out"]), n),
        n=len(every),
        n_error=len(every) - n,
        n_answerable=len(answerable),
        n_abstained=len(abstained),
    )
    return scores
