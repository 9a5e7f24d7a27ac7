"""Corpus metrics of diagnosis scores (:func:`aggregate`); every rate is a fraction in [0, 1], ``n`` an int."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medzero_rewards.types import Score, Status, Tier

from .cascade import TIER_GRADE

__all__ = ["UnjudgedError", "aggregate"]


class UnjudgedError(RuntimeError):
    """More items than ``max_unjudged_share`` needed the judge but got no usable verdict."""


def aggregate(
    scores: Sequence[Score], *, ranked: bool = False, judged: bool = False, max_unjudged_share: float = 0.05
) -> dict[str, Any]:
    """Corpus metrics; raises :class:`UnjudgedError` when too many items went unjudged.

    Keys: ``n`` (int), ``accuracy`` (mean ``correct``), ``top1``, ``top5`` (``ranked``),
    ``format_rate``, ``mixed_language_rate``, ``mean_length`` (chars), ``mean_tokens`` (when known),
    ``hypernym_rate``, ``uncertain_rate``, ``hacking_rate``, ``error_rate``, ``mean_reward``,
    ``judge_share`` (share of items sent to the judge; 0.0 without one); with a judge (``judged``)
    also ``top1_judged``, ``top5_judged`` (ranked), ``judge_agreement`` (share of items decided both
    deterministically and by the judge where the two agree; NaN when there are none),
    ``unjudged_rate``, ``judge_calls``, ``judge_cache_hits``, ``tokens_in``, ``tokens_out`` (counts).

    >>> from medzero_rewards.diagnosis import DiagnosisScorer
    >>> s = DiagnosisScorer()
    >>> agg = aggregate([s.score("<think>a</think><answer>Fabry disease</answer>", {"diagnosis": "Fabry disease"})])
    >>> agg["n"], agg["top1"], agg["format_rate"], agg["judge_share"]
    (1, 1.0, 1.0, 0.0)
    """
    n = len(scores)
    if n == 0:
        return {"n": 0}

    def mean(key: str, default: Any = False) -> float:
        return sum(float(bool(s.details.get(key, default))) for s in scores) / n

    out: dict[str, Any] = {
        "n": n,
        "accuracy": sum(s.correct for s in scores) / n,
        "top1": mean("top1"),
    }
    if ranked:
        out["top5"] = mean("top5")
    out["format_rate"] = mean("format_ok")
    out["mixed_language_rate"] = mean("mixed_language")
    out["mean_length"] = sum(float(s.details.get("n_chars") or 0) for s in scores) / n
    toks = [s.details.get("n_tokens") for s in scores]
    known = [t for t in toks if isinstance(t, int)]
    if known:
        out["mean_tokens"] = sum(known) / len(known)
    out["hypernym_rate"] = mean("hypernym")
    out["uncertain_rate"] = sum(s.details.get("deterministic_tier", s.tier) in (Tier.uncertain, "uncertain")
                                for s in scores) / n  # fmt: skip
    out["hacking_rate"] = sum(s.status is Status.hacking for s in scores) / n
    out["error_rate"] = sum(s.status is Status.error for s in scores) / n
    out["mean_reward"] = sum(s.reward for s in scores) / n
    out["judge_share"] = sum("judge_status" in s.details for s in scores) / n
    if judged:
        out["top1_judged"] = mean("top1_judged")
        if ranked:
            out["top5_judged"] = mean("top5_judged")
        both = agree = 0
        for s in scores:
            det = s.details.get("deterministic_tier")
            g = s.details.get("judge_grade")
            if det is None or g is None or det == Tier.uncertain.value:
                continue
            both += 1
            agree += TIER_GRADE.get(Tier(det), -1) == g
        out["judge_agreement"] = agree / both if both else float("nan")
        unjudged = sum(s.status is Status.unjudged for s in scores)
        out["unjudged_rate"] = unjudged / n
        out["judge_calls"] = sum(int(s.details.get("judge_calls") or 0) for s in scores)
        out["judge_cache_hits"] = sum(bool(s.details.get("judge_cached")) for s in scores)
        out["tokens_in"] = sum(int(s.details.get("tokens_in") or 0) for s in scores)
        out["tokens_out"] = sum(int(s.details.get("tokens_out") or 0) for s in scores)
        if out["unjudged_rate"] > max_unjudged_share:
            raise UnjudgedError(
                f"{unjudged} of {n} items ({out['unjudged_rate']:.1%}) needed the judge but got no usable "
                f"verdict (max_unjudged_share={max_unjudged_share:.1%}); check the judge "
                "endpoint, or raise max_unjudged_share to accept"
            )
    return out
