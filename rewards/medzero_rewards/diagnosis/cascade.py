"""The judge cascade: which items go to the LLM judge, one ``judge_many`` call, merging its grades.

``judge_mode``: ``never``; ``fallback`` (default with a judge) sends items with an ``uncertain``
decision (and, with ``judge_misses``, items decided ``none``); ``always`` sends every scored item but
keeps an exact/synonym decision the judge agrees with. Grades: 2 -> synonym (correct), 1 -> hypernym,
0 -> none. A ``hypernym`` decided by the hierarchy is grade 1 already and is not sent in ``fallback``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from medzero_rewards.judge.redact import scrub
from medzero_rewards.judge.types import JudgeRequest, JudgeVerdict, SynonymJudge
from medzero_rewards.types import Status, Tier

from .decide import CORRECT_TIERS

if TYPE_CHECKING:
    from .item import Item

__all__ = ["GRADE_TIER", "TIER_GRADE", "JudgeCascade", "build_judge"]

GRADE_TIER = {2: Tier.synonym, 1: Tier.hypernym, 0: Tier.none}
"""Judge grade -> tier."""
TIER_GRADE = {Tier.exact: 2, Tier.synonym: 2, Tier.hypernym: 1, Tier.none: 0}
"""Deterministic tier -> the grade that agrees with it."""


def build_judge(judge: Any) -> SynonymJudge | None:
    """A :class:`SynonymJudge` from the ``judge=`` option (an object with ``judge_many`` is used as is).

    >>> build_judge(None) is None
    True
    """
    if judge is None:
        return None
    if callable(getattr(judge, "judge_many", None)):
        return judge  # type: ignore[no-any-return]
    from medzero_rewards.judge import build_judge as build  # lazy: only when a config is given

    return build(judge)


class JudgeCascade:
    """Sends the items that need it to ``judge`` and merges the grades (see the module docstring)."""

    def __init__(
        self,
        judge: SynonymJudge | None,
        *,
        mode: Literal["never", "fallback", "always"] | None,
        judge_misses: bool = False,
        ranked: bool = False,
    ) -> None:
        self.judge = judge
        self.mode = mode
        self.judge_misses = judge_misses
        self.ranked = ranked

    @property
    def active(self) -> bool:
        """Whether any item can reach the judge."""
        return self.judge is not None and self.mode != "never"

    def needs_judge(self, item: Item) -> bool:
        """Whether this prepared item goes to the judge."""
        if item.status is not Status.ok or not item.decisions:
            return False
        if self.mode == "always":
            return True
        tiers = {d.tier for d in item.decisions}
        if Tier.uncertain in tiers:
            return True
        # a hypernym is already grade 1 by the Orphanet hierarchy and keeps it (see final_tiers):
        # only answers decided "none" are worth a call
        return self.judge_misses and Tier.none in tiers and not (tiers & {Tier.exact, Tier.synonym})

    def run(self, items: Sequence[Item]) -> None:
        """One ``judge_many`` call for the items that need it; sets each one's ``verdict``.

        A judge that raises or returns the wrong number of verdicts flags every item ``unjudged``.
        """
        if not self.active or self.judge is None:
            return
        todo = [it for it in items if self.needs_judge(it)]
        if not todo:
            return
        requests = []
        for it in todo:
            assert it.gold is not None
            requests.append(
                JudgeRequest.model_construct(
                    answers=list(it.answers), gold_names=list(it.gold.names), broader_names=list(it.gold.broader)
                )
            )
        try:
            verdicts = list(self.judge.judge_many(requests))
        except Exception as e:  # the judge must not take the batch down: flag every item instead
            verdicts = [JudgeVerdict(grades=[None] * len(r.answers), status="unjudged", reason=scrub(f"judge failed: {e!r}"))
                        for r in requests]  # fmt: skip
        if len(verdicts) != len(todo):
            reason = f"judge returned {len(verdicts)} verdicts for {len(todo)} requests"
            verdicts = [JudgeVerdict(grades=[None] * len(r.answers), status="unjudged", reason=reason)
                        for r in requests]  # fmt: skip
        for it, v in zip(todo, verdicts):
            it.verdict = v

    def final_tiers(self, item: Item) -> tuple[list[Tier], bool]:
        """Per-answer tiers after merging the judge, and whether any needed grade was missing."""
        v = item.verdict
        tiers = [d.tier for d in item.decisions]
        if v is None:
            return tiers, False
        grades = list(v.grades) if v.status == "judged" else []
        grades += [None] * (len(tiers) - len(grades))
        always = self.mode == "always"
        missing = False
        for i, d in enumerate(item.decisions):
            wanted = always or d.tier is Tier.uncertain or (self.judge_misses and d.tier is Tier.none)
            if not wanted:
                continue
            g = grades[i]
            if g is None:
                missing = missing or i == 0 or self.ranked
                continue
            if always and d.tier in CORRECT_TIERS and g == 2:
                continue  # the judge agrees; keep exact/synonym as decided
            tiers[i] = GRADE_TIER.get(int(g), Tier.none)
        return tiers, missing
