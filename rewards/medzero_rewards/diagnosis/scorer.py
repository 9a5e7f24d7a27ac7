"""``DiagnosisScorer``: the composition of the diagnosis package (see the package docstring)."""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from typing import Any

from medzero_rewards.base import Scorer
from medzero_rewards.hierarchy import OrphanetHierarchy, load_hierarchy
from medzero_rewards.judge.types import SynonymJudge
from medzero_rewards.synonyms import SynonymTable, build_synonym_table
from medzero_rewards.types import Row, Score, ScoreBatch

from . import item as _item
from .aggregate import aggregate
from .cascade import JudgeCascade, build_judge
from .config import DiagnosisConfig, resolve_config
from .decide import Decider
from .extract import LanguageCheck
from .fastpath import fast_rows
from .gold import GoldIndex, GoldSet

__all__ = ["DiagnosisScorer", "make_rarearena_rdc", "make_rarearena_rds"]


class DiagnosisScorer(Scorer):
    """Scores RareArena diagnosis completions (see the package docstring for the rules).

    >>> s = DiagnosisScorer()
    >>> r = s.score("<think>copper</think><answer>Wilson's disease</answer>", {"diagnosis": "Wilson disease"})
    >>> r.correct, r.tier.value, r.reward, r.components
    (True, 'exact', 1.2, {'format': 0.2, 'accuracy': 1.0, 'language': 0.0})
    >>> s.score("<think>x</think><answer>Wilson disease or Menkes disease</answer>",
    ...         {"diagnosis": "Wilson disease"}).status.value
    'hacking'
    """

    component_names: tuple[str, ...] = ("format", "accuracy", "language")

    def __init__(self, config: DiagnosisConfig | None = None, *, name: str = "rarearena_rdc", **kwargs: Any):
        if config is None:
            config = DiagnosisConfig(**kwargs)
        elif kwargs:
            config = DiagnosisConfig(**{**dict(config), **kwargs})
        self.config = config
        self.name = name
        self.weights = config.resolved_weights()
        self.hierarchy: OrphanetHierarchy | None = (
            load_hierarchy(config.hierarchy_path) if config.hierarchy_path is not None else None
        )
        self.synonym_table: SynonymTable | None = build_synonym_table(config.synonyms)
        self.judge: SynonymJudge | None = build_judge(config.judge)
        budget = int(config.cache_mb * (1 << 20))
        self.golds = GoldIndex(self.hierarchy, self.synonym_table, cache_bytes=budget // 4,
                               max_parent_disease_count=config.max_parent_disease_count)  # fmt: skip
        self.decider = Decider(self.hierarchy, fuzzy_hi=config.fuzzy_hi, fuzzy_lo=config.fuzzy_lo, k=config.k,
                               cache_bytes=budget - budget // 4)  # fmt: skip
        self.cascade = JudgeCascade(self.judge, mode=config.judge_mode, judge_misses=config.judge_misses,
                                    ranked=config.answer_format == "ranked")  # fmt: skip
        self.language = LanguageCheck(config.expected_script, share=config.language_penalty == "share")
        self.latin = config.expected_script == "Latin"
        self.zero = config.preset == "diagnosis_zero"
        self.ranked_mode = config.answer_format == "ranked"

    def score(self, completion: str, reference: Mapping[str, Any]) -> Score:
        """Score one completion (``score_batch`` of one).

        >>> get = DiagnosisScorer(preset="diagnosis_zero").score
        >>> [get(c, {"diagnosis": "Fabry disease"}).reward for c in
        ...  ("<answer>Fabry disease</answer>", "<answer>Gaucher disease</answer>", "Fabry disease")]
        [1.0, 0.1, 0.0]
        """
        return self.score_batch([completion], [reference])[0]

    def score_batch(self, completions: Sequence[str], references: Sequence[Mapping[str, Any]]) -> ScoreBatch:
        """Score many completions; one ``judge_many`` call for the items that need the judge.

        Identical (answer, gold) pairs are matched once; gold names are normalised once per record.
        Without a judge, the batch's columns (reward, components, correct, tier, status, extracted) are
        filled first and each ``Score`` (with ``details``) is built when it is read: strict-format
        single answers take a fast path (:func:`.fastpath.fast_rows`) whose Score is built by the
        general path (:func:`.item.prepare` + :func:`.item.finish`), and the batch checks the two agree.
        The cyclic garbage collector is paused while the deterministic part runs (it creates no
        reference cycles; without the pause, collections triggered by its many small allocations cost
        about a fifth of the warm hot path in ``bench/bench_rewards.py``) and restored before the judge
        is called.
        """
        if len(completions) != len(references):
            raise ValueError(f"score_batch got {len(completions)} completions but {len(references)} references")
        judging = self.cascade.active
        n = len(completions)
        scores: list[Score | None] = [None] * n
        items: list[tuple[int, _item.Item]] = []
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            golds: list[GoldSet | str | None] = [None] * n
            rows: list[Row | None] = [None] * n
            if not judging and not self.ranked_mode:
                try:
                    rows, golds = self._fast_rows(completions, references)  # type: ignore[assignment]
                except Exception:  # e.g. an unhashable reference: every item takes the general path
                    pass
            for i in [i for i, row in enumerate(rows) if row is None]:
                try:
                    items.append((i, _item.prepare(self, completions[i], references[i], golds[i])))
                except Exception as e:  # never crash the training step on one bad item; report it
                    scores[i] = _item.error_score(f"scorer failed: {e!r}")
            if judging:
                if gc_was_enabled:
                    gc.enable()
                self.cascade.run([it for _, it in items])
                gc.disable()
                for i, it in items:
                    scores[i] = _item.finish(self, it)
            else:
                for i, it in items:
                    rows[i] = _item.row(self, it)
        finally:
            if gc_was_enabled:
                gc.enable()
        prepared = dict(items) if not judging else {}

        def build(i: int) -> Score:
            it = prepared.pop(i, None)
            return _item.finish(self, it if it is not None else _item.prepare(self, completions[i], references[i],
                                                                              golds[i]))  # fmt: skip

        return ScoreBatch(scores, component_names=self.component_names, rows=rows, build=build)

    def _fast_rows(
        self, completions: Sequence[Any], references: Sequence[Any]
    ) -> tuple[list[Row | None], list[GoldSet | str]]:
        """:func:`.fastpath.fast_rows` of this scorer."""
        return fast_rows(self, completions, references)

    def aggregate(self, scores: Sequence[Score]) -> dict[str, Any]:
        """Corpus metrics (:func:`.aggregate.aggregate`); raises :class:`.UnjudgedError` when too many
        items went unjudged.

        >>> s = DiagnosisScorer()
        >>> one = s.score("<think>a</think><answer>Fabry disease</answer>", {"diagnosis": "Fabry disease"})
        >>> agg = s.aggregate([one])
        >>> agg["top1"], agg["format_rate"]
        (1.0, 1.0)
        """
        return aggregate(scores, ranked=self.ranked_mode, judged=self.judge is not None,
                         max_unjudged_share=self.config.max_unjudged_share)  # fmt: skip


def make_rarearena_rdc(**config: Any) -> DiagnosisScorer:
    """The RareArena RDC (case report + test results) diagnosis scorer.

    Keyword arguments are :class:`DiagnosisConfig` fields; ``config=DiagnosisConfig(...)`` works too
    (other keywords then override its fields).

    >>> make_rarearena_rdc(answer_format="ranked").score(
    ...     "<think>x</think><answer>1. Gaucher disease\\n2. Fabry disease</answer>", {"diagnosis": "Fabry disease"}
    ... ).details["top5"]
    True
    """
    return DiagnosisScorer(resolve_config(config), name="rarearena_rdc")


def make_rarearena_rds(**config: Any) -> DiagnosisScorer:
    """The RareArena RDS (case report only) diagnosis scorer; same rules as :func:`make_rarearena_rdc`.

    >>> make_rarearena_rds().name
    'rarearena_rds'
    """
    return DiagnosisScorer(resolve_config(config), name="rarearena_rds")
