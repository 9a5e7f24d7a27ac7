"""Result types shared by every scorer."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field


class Tier(str, Enum):
    """How a predicted answer relates to the reference."""

    exact = "exact"  # equal after normalisation (or a fuzzy match that no guard token vetoes)
    synonym = "synonym"  # matches another gold name, a synonym entry, or the judge said so
    hypernym = "hypernym"  # a broader Orphanet parent of the gold disease (not counted as correct)
    none = "none"  # clearly different
    uncertain = "uncertain"  # grey band: neither sure match nor sure miss (the judge decides, if configured)


class Status(str, Enum):
    """Why a completion scored what it scored."""

    ok = "ok"  # parsed and scored
    format_error = "format_error"  # tags missing, duplicated or out of order; the answer could not be extracted
    empty = "empty"  # the answer block is present but empty
    hacking = "hacking"  # a reward-hacking shape: several diseases, "A or B", a negation
    abstained = "abstained"  # the model declined to answer (EHRSQL `null`)
    sql_error = "sql_error"  # the predicted SQL failed to execute
    refused = "refused"  # the predicted SQL was refused by the read-only guard
    timeout = "timeout"  # the predicted SQL ran past its time limit
    unjudged = "unjudged"  # the LLM judge was needed but gave no usable verdict
    error = "error"  # the scorer itself failed on this item (counted, never silent)


class Score(BaseModel):
    """The result of scoring one completion against one reference record.

    ``reward`` is what RL trains on; ``correct`` and ``components`` are what evaluation reports.
    ``details`` carries per-item metrics (lengths, tag counts, language flags, top-k hits, judge accounting).
    """

    model_config = ConfigDict(frozen=False, extra="forbid")

    reward: float
    correct: bool
    components: dict[str, float] = Field(default_factory=dict)
    extracted: str | None = None
    tier: Tier = Tier.none
    status: Status = Status.ok
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


Row = tuple[float, bool, "str | None", Tier, Status, tuple[float, ...]]
"""One item of a :class:`ScoreBatch` as columns: ``(reward, correct, extracted, tier, status, components)``,
``components`` in the order of :attr:`ScoreBatch.component_names`."""

class ScoreBatch(Sequence[Score]):
    """What ``Scorer.score_batch`` returns: the batch's :class:`Score` s, and columns for the RL hot loop.

    A sequence of :class:`Score` (index it, iterate it, ``list()`` it, compare it with a list): each item
    is exactly what ``Scorer.score`` returns for that completion. The columns (:attr:`rewards`,
    :attr:`correct`, :attr:`extracted`, :attr:`tiers`, :attr:`statuses`, :meth:`component`) give the same
    values without building ``Score`` objects: a scorer may fill them from a fast path (a :data:`Row` per
    item) and build an item's full ``Score`` (``details``, ``reason``) only when it is read. A built
    ``Score`` that disagrees with its row raises ``RuntimeError``: a fast path can never report one number
    and train on another.

    >>> s = Score(reward=1.2, correct=True, components={"format": 0.2, "accuracy": 1.0})
    >>> batch = ScoreBatch([s], component_names=("format", "accuracy"))
    >>> batch.rewards, batch.component("accuracy"), batch[0] is s, batch == [s]
    ([1.2], [1.0], True, True)
    """

    __slots__ = ("component_names", "_scores", "_rows", "_build", "_columns")

    def __init__(
        self,
        scores: Iterable[Score | None],
        *,
        component_names: Sequence[str] = (),
        rows: Sequence[Row | None] | None = None,
        build: Callable[[int], Score] | None = None,
    ) -> None:
        """``scores``: the built items, None where only a row exists yet; ``rows``: the fast-path
        columns (None where the Score is given); ``build(i)``: builds item ``i``'s Score (required when
        some item is None)."""
        self.component_names = tuple(component_names)
        self._scores: list[Score | None] = list(scores)
        self._build = build
        if rows is None:
            rows = [None] * len(self._scores)
        elif len(rows) != len(self._scores):
            raise ValueError(f"{len(rows)} rows for {len(self._scores)} items")
        self._rows: list[Row] = []
        for i, (s, r) in enumerate(zip(self._scores, rows)):
            if r is None:
                if s is None:
                    raise ValueError(f"item {i} has neither a Score nor a row")
                r = self._row_of(s)
            elif s is None and build is None:
                raise ValueError(f"item {i} has only a row and there is no build function")
            self._rows.append(r)
        self._columns: list[tuple[Any, ...]] | None = None

    # -- the sequence of Score ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._scores)

    @overload
    def __getitem__(self, index: int) -> Score: ...
    @overload
    def __getitem__(self, index: slice) -> list[Score]: ...
    def __getitem__(self, index: int | slice) -> Score | list[Score]:
        if isinstance(index, slice):
            return list(self)[index]
        s = self._scores[index]
        if s is None:
            s = self._built(index % len(self._scores))
        return s

    def _built(self, i: int) -> Score:
        """Build item ``i``'s Score and check it against its row."""
        assert self._build is not None
        s = self._build(i)
        if self._row_of(s) != self._rows[i]:
            raise RuntimeError(f"item {i}: the built Score {self._row_of(s)} disagrees with its fast-path row {self._rows[i]}")
        self._scores[i] = s  # two threads building one item build equal Scores: either may stay
        return s

    def __iter__(self) -> Iterator[Score]:
        if any(s is None for s in self._scores):  # build them all first, the cyclic GC paused (no cycles)
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                for i, s in enumerate(self._scores):
                    if s is None:
                        self._built(i)
            finally:
                if gc_was_enabled:
                    gc.enable()
        return iter(self._scores.copy())  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ScoreBatch(n={len(self)}, built={self.n_built}, mean_reward={sum(self.rewards) / max(len(self), 1):.4f})"

    def __reduce__(self) -> tuple[Any, ...]:  # pickles as a plain, fully built batch
        return (_restore_batch, (list(self), self.component_names))

    @property
    def n_built(self) -> int:
        """How many items' ``Score`` objects exist yet (the others are built when read)."""
        return sum(s is not None for s in self._scores)

    # -- columns -------------------------------------------------------------------------------------
    def _row_of(self, s: Score) -> Row:
        get = s.components.get
        return s.reward, s.correct, s.extracted, s.tier, s.status, tuple([get(c, 0.0) for c in self.component_names])

    def _column(self, k: int) -> list[Any]:
        """Column ``k``: 0-4 the fields of :data:`Row`, 5 + j the j-th component."""
        if self._columns is None:  # C-level transposes serve every column
            n_columns = 5 + len(self.component_names)
            if self._rows:
                fields = list(zip(*self._rows))
                self._columns = fields[:5] + (list(zip(*fields[5])) if self.component_names else [])
            else:
                self._columns = [()] * n_columns
        return list(self._columns[k])

    @property
    def rewards(self) -> list[float]:
        """``Score.reward`` of every item."""
        return self._column(0)

    @property
    def correct(self) -> list[bool]:
        """``Score.correct`` of every item."""
        return self._column(1)

    @property
    def extracted(self) -> list[str | None]:
        """``Score.extracted`` of every item."""
        return self._column(2)

    @property
    def tiers(self) -> list[Tier]:
        """``Score.tier`` of every item."""
        return self._column(3)

    @property
    def statuses(self) -> list[Status]:
        """``Score.status`` of every item."""
        return self._column(4)

    def component(self, name: str) -> list[float]:
        """``Score.components[name]`` of every item.

        ``name`` must be one of :attr:`component_names` (``KeyError`` otherwise): a column of the
        batch, not a guess.
        """
        if name not in self.component_names:
            raise KeyError(f"{name!r} is not a component of this batch; components: {self.component_names}")
        return self._column(5 + self.component_names.index(name))


def _restore_batch(scores: list[Score], component_names: tuple[str, ...]) -> ScoreBatch:
    return ScoreBatch(scores, component_names=component_names)
