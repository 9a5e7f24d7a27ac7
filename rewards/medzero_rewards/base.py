"""The scorer interface every task implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from medzero_rewards.types import Score, ScoreBatch


class Scorer(ABC):
    """Scores model completions against dataset records.

    One scorer is the single code path behind the RL reward, the lm-eval metric and the offline CLI.
    Subclasses implement :meth:`score`; :meth:`score_batch` may be overridden to share work across a
    batch (deduplication, worker pools, fast paths) but must return exactly what :meth:`score` returns per
    item, as a :class:`~medzero_rewards.types.ScoreBatch`.
    :meth:`aggregate` turns per-item scores into corpus metrics (means, top-k, reliability scores).

    Contract of every result: ``Score.components`` holds the weighted parts of the reward and
    ``Score.reward == sum(Score.components.values())``; ``component_names`` lists those parts (the
    TRL adapter makes one reward function of each). Raw signals belong in ``Score.details``.
    """

    name: str = ""
    component_names: tuple[str, ...] = ()

    @abstractmethod
    def score(self, completion: str, reference: Mapping[str, Any]) -> Score:
        """Score one completion against one reference record."""

    def score_batch(
        self, completions: Sequence[str], references: Sequence[Mapping[str, Any]]
    ) -> ScoreBatch:
        """Score many completions; same results as calling :meth:`score` on each pair."""
        if len(completions) != len(references):
            raise ValueError(
                f"score_batch got {len(completions)} completions but {len(references)} references"
            )
        return ScoreBatch(
            [self.score(c, r) for c, r in zip(completions, references)], component_names=self.component_names
        )

    def aggregate(self, scores: Sequence[Score]) -> dict[str, float]:
        """Corpus-level metrics over per-item scores (default: mean reward and accuracy)."""
        n = len(scores)
        if n == 0:
            return {"n": 0.0}
        return {
            "n": float(n),
            "accuracy": sum(s.correct for s in scores) / n,
            "mean_reward": sum(s.reward for s in scores) / n,
        }
