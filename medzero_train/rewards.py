"""TRL reward functions built from ``medzero_rewards`` scorers (a thin adapter: no scoring logic lives here).

Each scorer's :class:`~medzero_rewards.Score` splits its ``reward`` into weighted ``components``
(``format``, ``accuracy``, ``language`` ...). The adapter exposes one TRL reward function per component
(``format_reward``, ``accuracy_reward`` ...), so TRL logs ``rewards/<component>_reward/mean`` for each; a row
gets each component from its own task's scorer, and a row's components sum to that scorer's reward
(TRL's ``reward_weights`` stay 1; the weights live in the scorer config). A completion batch is scored
**once**: the first component function of a batch calls ``scorer.score_batch`` and caches the
:class:`~medzero_rewards.ScoreBatch`, the others read its columns (no ``Score`` object is built in a step).

Conventions (TRL 1.16): every dataset column arrives as a keyword argument (``reference`` holds the
JSON-encoded reference record, ``task`` the scorer name), plus ``trainer_state``, ``log_extra`` and
``log_metric``. A function returns ``None`` for a row it does not apply to (another task's row) and for a
row whose scoring failed; failures are counted (``medzero/<task>/scorer_errors``) and logged, never a silent 0.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medzero_rewards import Score, ScoreBatch, Scorer, Status, Tier, get_scorer

logger = logging.getLogger(__name__)

Completion = str | list[dict[str, Any]]


def completion_text(completion: Completion) -> str:
    """The text a scorer sees for one TRL completion (standard: the string; conversational: the assistant turns).

    >>> completion_text("<answer>x</answer>")
    '<answer>x</answer>'
    >>> completion_text([{"role": "assistant", "content": "<answer>x</answer>"}])
    '<answer>x</answer>'
    """
    if isinstance(completion, str):
        return completion
    parts: list[str] = []
    for message in completion:
        if message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content") or ""
        if isinstance(content, list):  # content blocks
            content = "".join(block.get("text", "") for block in content if isinstance(block, dict))
        parts.append(str(content))
    return "".join(parts)


def decode_reference(value: Any) -> dict[str, Any]:
    """A ``reference`` column value (a JSON string, as the dataset builders write it, or a mapping) as a dict."""
    if isinstance(value, str):
        decoded = json.loads(value)
    else:
        decoded = value
    if not isinstance(decoded, Mapping):
        raise TypeError(f"reference must be a JSON object, got {type(decoded).__name__}")
    return dict(decoded)


def references_from_kwargs(n: int, kwargs: Mapping[str, Any]) -> list[dict[str, Any] | None]:
    """The reference record of each row: the ``reference`` column, else the row's other dataset columns."""
    if "reference" in kwargs and kwargs["reference"] is not None:
        return [decode_reference(v) if v is not None else None for v in kwargs["reference"]]
    skip = {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
    columns = {k: v for k, v in kwargs.items() if k not in skip and isinstance(v, list) and len(v) == n}
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]


@dataclass
class ScoredRows:
    """One batch of rows scored by one task's scorer: its :class:`ScoreBatch` and, for each row, the index of
    its item there (``None``: another task's row, no reference, or its scoring failed)."""

    batch: ScoreBatch
    index: list[int | None]

    def column(self, values: Sequence[Any]) -> list[Any]:
        """Per row: ``values[item]``, or ``None`` for a row without an item."""
        return [None if j is None else values[j] for j in self.index]

    def component(self, name: str) -> list[float | None]:
        """Per row: the ``name`` component of its score (0.0 where its score has no such component)."""
        batch = self.batch
        if name in batch.component_names:
            return self.column(batch.component(name))  # a column: no Score object is built
        return self.column([float(s.components.get(name, 0.0)) for s in batch])

    def scores(self) -> list[Score | None]:
        """Per row: its :class:`Score` (built from the batch's columns on first read)."""
        return self.column(self.batch)


class BatchScorer:
    """Scores each completion batch once with one scorer; component reward functions read its columns.

    Rows whose ``task`` column names another scorer are not scored (``None``). Per batch it logs, through
    TRL's ``log_metric``: the accuracy, the share of each tier and status, the number of scorer errors and the
    wall time of scoring (``medzero/<task>/reward_time_s``); through ``log_extra``: the extracted answer and
    the status. Everything is read from the :class:`ScoreBatch` columns, so a training step builds no
    ``Score`` objects (only those of failed items, whose reasons it logs).

    >>> from medzero_rewards import Scorer, Score
    >>> class Exact(Scorer):
    ...     def score(self, completion, reference):
    ...         ok = completion.strip() == reference["answer"]
    ...         return Score(reward=float(ok), correct=ok, components={"accuracy": float(ok)}, extracted=completion)
    >>> bs = BatchScorer(Exact(), task="toy", components=["accuracy"])
    >>> [s.reward for s in bs.scores(["4", "5"], [{"answer": "4"}, {"answer": "4"}])]
    [1.0, 0.0]
    >>> bs.n_scored
    2
    """

    def __init__(self, scorer: Scorer, task: str, components: Sequence[str], weighted: bool = True) -> None:
        self.scorer = scorer
        self.task = task
        self.components = list(components)
        # weighted: the components are the weighted parts of the reward (they sum to it), so each becomes a
        # reward function; otherwise the task's reward is one function and its components are only logged
        self.weighted = weighted
        self.n_mismatch = 0  # weighted scores whose components did not sum to the reward
        self.n_scored = 0  # completions scored (cache misses)
        self.n_errors = 0  # completions whose scoring failed (not scored: None)
        self.seconds = 0.0  # wall time spent inside the reward functions of this scorer
        self._key: tuple[Any, ...] | None = None
        self._cached: ScoredRows | None = None
        self._lock = threading.Lock()
        self._pending: dict[tuple[Any, ...], asyncio.Future[ScoredRows]] = {}

    # -- scoring -------------------------------------------------------------------------------------------
    def _applicable(self, tasks: Sequence[Any] | None, n: int) -> list[bool]:
        if tasks is None:
            return [True] * n
        return [t is None or t == self.task for t in tasks]

    def _batch(self, texts: list[str], refs: list[dict[str, Any]]) -> ScoreBatch:
        names = getattr(self.scorer, "component_names", ())
        try:
            batch = self.scorer.score_batch(texts, refs)  # type: ignore[arg-type]
            return batch if isinstance(batch, ScoreBatch) else ScoreBatch(list(batch), component_names=names)
        except Exception:  # fall back to one by one, so one bad item does not void the batch
            logger.exception("%s: score_batch failed; scoring items one by one", self.task)
        scores: list[Score] = []
        for text, ref in zip(texts, refs):
            try:
                scores.append(self.scorer.score(text, ref))  # type: ignore[arg-type]
            except Exception as e:
                logger.exception("%s: scorer failed on one completion", self.task)
                scores.append(Score(reward=0.0, correct=False, status=Status.error, reason=f"scorer failed: {e!r}"))
        return ScoreBatch(scores, component_names=names)

    def _score_now(self, texts: list[str], refs: list[dict[str, Any] | None], mask: list[bool]) -> ScoredRows:
        idx = [i for i, ok in enumerate(mask) if ok and refs[i] is not None]
        batch = self._batch([texts[i] for i in idx], [refs[i] for i in idx]) if idx else ScoreBatch([])  # type: ignore[misc]
        index: list[int | None] = [None] * len(texts)
        for k, (i, status) in enumerate(zip(idx, batch.statuses)):
            if status is Status.error:
                logger.warning("%s: scorer error on a completion: %s", self.task, batch[k].reason)
                self.n_errors += 1
            else:
                index[i] = k
        if self.weighted and idx:
            rows = ScoredRows(batch, list(range(len(idx))))
            columns = [rows.component(c) for c in self.components]
            for k, reward in enumerate(batch.rewards):
                total = sum(float(col[k] or 0.0) for col in columns)
                if index[idx[k]] is not None and abs(total - reward) > 1e-6:
                    self.n_mismatch += 1
                    raise ValueError(
                        f"{self.task}: components {batch[k].components} do not sum to the reward {reward}; "
                        "the per-component reward functions would train on a different reward"
                    )
        self.n_scored += len(idx)
        return ScoredRows(batch, index)

    @staticmethod
    def _key_of(texts: list[str], refs: Sequence[Any], mask: list[bool]) -> tuple[Any, ...]:
        return (tuple(texts), tuple(json.dumps(r, sort_keys=True, default=str) for r in refs), tuple(mask))

    def _log(self, scored: ScoredRows, mask: list[bool], elapsed: float, kwargs: Mapping[str, Any]) -> None:
        log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
        log_extra: Callable[[str, list[Any]], None] | None = kwargs.get("log_extra")
        batch = scored.batch
        mine = [j for j, ok in zip(scored.index, mask) if ok]
        if log_metric is not None and mask and any(mask):
            ok = [j for j in mine if j is not None]
            prefix = f"medzero/{self.task}"
            log_metric(f"{prefix}/reward_time_s", elapsed)
            log_metric(f"{prefix}/scorer_errors", float(sum(mask) - len(ok)))
            if ok:
                n = len(ok)
                correct, rewards, tiers, statuses = batch.correct, batch.rewards, batch.tiers, batch.statuses
                log_metric(f"{prefix}/accuracy", sum(correct[j] for j in ok) / n)
                log_metric(f"{prefix}/reward", sum(rewards[j] for j in ok) / n)
                for c in self.components:
                    values = ScoredRows(batch, ok).component(c)
                    log_metric(f"{prefix}/component/{c}", sum(float(v or 0.0) for v in values) / n)
                for tier in Tier:
                    log_metric(f"{prefix}/tier/{tier.value}", sum(tiers[j] == tier for j in ok) / n)
                for status in Status:
                    log_metric(f"{prefix}/status/{status.value}", sum(statuses[j] == status for j in ok) / n)
        if log_extra is not None:
            log_extra(f"{self.task}/extracted", scored.column(batch.extracted))
            log_extra(f"{self.task}/status", [None if s is None else s.value for s in scored.column(batch.statuses)])

    def scored(
        self,
        completions: Sequence[Completion],
        references: Sequence[dict[str, Any] | None],
        tasks: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> ScoredRows:
        """The batch's :class:`ScoredRows`: computed on the first call for this batch, cached for the next ones."""
        texts = [completion_text(c) for c in completions]
        mask = self._applicable(tasks, len(texts))
        key = self._key_of(texts, references, mask)
        with self._lock:
            if key == self._key and self._cached is not None:
                return self._cached
            start = time.perf_counter()
            scored = self._score_now(texts, list(references), mask)
            elapsed = time.perf_counter() - start
            self._key, self._cached = key, scored
        self._log(scored, mask, elapsed, kwargs)
        return scored

    def scores(
        self,
        completions: Sequence[Completion],
        references: Sequence[dict[str, Any] | None],
        tasks: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[Score | None]:
        """Every row's :class:`Score` (``None``: not this task's row, or its scoring failed); cached per batch."""
        return self.scored(completions, references, tasks, **kwargs).scores()

    async def ascored(
        self,
        completions: Sequence[Completion],
        references: Sequence[dict[str, Any] | None],
        tasks: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> ScoredRows:
        """Async :meth:`scored`: scoring runs in a worker thread; concurrent calls for one batch share it."""
        texts = [completion_text(c) for c in completions]
        mask = self._applicable(tasks, len(texts))
        key = self._key_of(texts, references, mask)
        if key == self._key and self._cached is not None:
            return self._cached
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self.scored, completions, references, tasks, **kwargs))
            self._pending = {key: pending}  # only the current batch is ever pending
        return await asyncio.shield(pending)


def scorer_components(scorer: Scorer, probe_reference: Mapping[str, Any] | None = None) -> tuple[list[str], bool]:
    """``(component names, weighted)`` of a scorer.

    A scorer that declares ``weights`` (or ``component_names``) reports its components as the weighted parts
    of its reward (``Score.reward == sum(Score.components.values())``): each becomes a reward function. A
    scorer without the declaration (its components are raw signals, e.g. EHRSQL's ``outcome``) gets one
    reward function for its total reward; its components are found by scoring a probe and only logged.

    >>> from medzero_rewards import get_scorer
    >>> scorer_components(get_scorer("rarearena_rdc"))
    (['format', 'accuracy', 'language'], True)
    """
    declared = getattr(scorer, "component_names", None)
    if declared:
        return list(declared), True
    weights = getattr(scorer, "weights", None)
    if isinstance(weights, Mapping) and weights:
        return list(weights), True
    components: list[str] = []
    if probe_reference is not None:
        try:
            components = list(scorer.score("<think>probe</think><answer>probe</answer>", probe_reference).components)
        except Exception:  # only used for logging names
            logger.exception("probe scoring failed for %s", type(scorer).__name__)
    return components, False


class RewardSet:
    """The :class:`BatchScorer` of every task in a run; routes each row to its task's scorer.

    Component reward functions ask it for one component of every row: rows of a task whose scorer does not
    report that component get ``None`` (not applicable), rows whose scoring failed get ``None`` (counted).
    """

    def __init__(self, batch_scorers: Mapping[str, BatchScorer]) -> None:
        self.batch_scorers = dict(batch_scorers)
        self.seconds = 0.0  # wall time spent inside all reward functions (cache hits included)

    @classmethod
    def from_scorers(
        cls, scorers: Mapping[str, Scorer], probe_references: Mapping[str, Mapping[str, Any]] | None = None
    ) -> RewardSet:
        """Wrap ``{task: scorer}``; components are read with :func:`scorer_components`."""
        probes = probe_references or {}
        out = {}
        for task, scorer in scorers.items():
            components, weighted = scorer_components(scorer, probes.get(task))
            out[task] = BatchScorer(scorer, task, components, weighted)
        return cls(out)

    @property
    def components(self) -> list[str]:
        """The reward functions' keys, in first-seen order: the weighted components of the tasks that have
        them (``format``, ``accuracy`` ...), then the task name of each task rewarded as a whole (``ehrsql``)."""
        seen: dict[str, None] = {}
        for bs in self.batch_scorers.values():
            if bs.weighted:
                for c in bs.components:
                    seen.setdefault(c, None)
        for task, bs in self.batch_scorers.items():
            if not bs.weighted:
                seen.setdefault(task, None)
        return list(seen)

    def _route(self, n: int, kwargs: Mapping[str, Any]) -> tuple[list[Any], list[Any] | None]:
        refs = references_from_kwargs(n, kwargs)
        tasks = kwargs.get("task")
        if tasks is None and len(self.batch_scorers) > 1:
            raise ValueError("several tasks are configured but the dataset has no 'task' column")
        return refs, tasks

    def _scored(self, completions: Sequence[Completion], **kwargs: Any) -> tuple[dict[str, ScoredRows], list[Any] | None]:
        refs, tasks = self._route(len(completions), kwargs)
        present = set(tasks) if tasks is not None else set(self.batch_scorers)
        per_task = {
            t: bs.scored(completions, refs, tasks, **kwargs) for t, bs in self.batch_scorers.items() if t in present
        }
        return per_task, tasks

    async def _ascored(
        self, completions: Sequence[Completion], **kwargs: Any
    ) -> tuple[dict[str, ScoredRows], list[Any] | None]:
        refs, tasks = self._route(len(completions), kwargs)
        present = set(tasks) if tasks is not None else set(self.batch_scorers)
        names = [t for t in self.batch_scorers if t in present]
        results = await asyncio.gather(*(self.batch_scorers[t].ascored(completions, refs, tasks, **kwargs) for t in names))
        return dict(zip(names, results)), tasks

    def _rows_of(self, task: Any, tasks: list[Any] | None, n: int) -> list[int]:
        return list(range(n)) if tasks is None else [i for i, t in enumerate(tasks) if t == task]

    def scores(self, completions: Sequence[Completion], **kwargs: Any) -> list[Score | None]:
        """Every row's :class:`Score` from its own task's scorer (each batch is scored once per task)."""
        per_task, tasks = self._scored(completions, **kwargs)
        out: list[Score | None] = [None] * len(completions)
        for task, scored in per_task.items():
            scores = scored.scores()
            for i in self._rows_of(task, tasks, len(completions)):
                out[i] = scores[i]
        return out

    def _values(self, component: str, per_task: Mapping[str, ScoredRows], tasks: list[Any] | None, n: int) -> list[float | None]:
        values: list[float | None] = [None] * n
        for task, scored in per_task.items():
            bs = self.batch_scorers[task]
            if not bs.weighted:
                column = scored.column(scored.batch.rewards) if component == task else None
            else:
                column = scored.component(component) if component in bs.components else None
            if column is None:
                continue
            for i in self._rows_of(task, tasks, n):
                v = column[i]
                values[i] = None if v is None else float(v)
        return values

    def values(self, component: str, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:
        """One component of every row's score (``None``: not applicable to the row's task, or scoring failed)."""
        start = time.perf_counter()
        try:
            per_task, tasks = self._scored(completions, **kwargs)
            return self._values(component, per_task, tasks, len(completions))
        finally:
            self.seconds += time.perf_counter() - start

    async def avalues(self, component: str, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:
        """Async :meth:`values`."""
        start = time.perf_counter()
        try:
            per_task, tasks = await self._ascored(completions, **kwargs)
            return self._values(component, per_task, tasks, len(completions))
        finally:
            self.seconds += time.perf_counter() - start


# -- one plain reward function per component (TRL ``trl/rewards`` style; bind ``rewards`` with functools.partial) --


def format_reward(completions: list[Completion], *, rewards: RewardSet, **kwargs: Any) -> list[float | None]:
    r"""The weighted ``format`` component of the scorer's reward (tags present, once, in order).

    Args:
        completions: TRL completions, standard (``str``) or conversational (``[{"role": "assistant", ...}]``).
        rewards: the run's :class:`RewardSet` (bound with ``functools.partial``).
        **kwargs: dataset columns (``reference``, ``task``) and TRL's ``trainer_state``, ``log_extra``, ``log_metric``.

    Returns:
        One value per completion; ``None`` where the component does not apply or scoring failed.

    Example:
    >>> from functools import partial
    >>> from medzero_rewards import get_scorer
    >>> rs = RewardSet.from_scorers({"rarearena_rdc": get_scorer("rarearena_rdc")})
    >>> reward = partial(format_reward, rewards=rs)
    >>> ref = '{"diagnosis": "Wilson disease", "Orpha_name": "Wilson disease"}'
    >>> good = [{"role": "assistant", "content": "<think>copper</think><answer>Wilson disease</answer>"}]
    >>> values = reward([good, "Wilson disease"], reference=[ref, ref])
    >>> values[0] > values[1]
    True
    """
    return rewards.values("format", completions, **kwargs)


def accuracy_reward(completions: list[Completion], *, rewards: RewardSet, **kwargs: Any) -> list[float | None]:
    r"""The weighted ``accuracy`` component of the scorer's reward (the answer matches the reference).

    Args:
        completions: TRL completions, standard (``str``) or conversational (``[{"role": "assistant", ...}]``).
        rewards: the run's :class:`RewardSet` (bound with ``functools.partial``).
        **kwargs: dataset columns (``reference``, ``task``) and TRL's ``trainer_state``, ``log_extra``, ``log_metric``.

    Returns:
        One value per completion; ``None`` where the component does not apply or scoring failed.

    Example:
    >>> from functools import partial
    >>> from medzero_rewards import get_scorer
    >>> rs = RewardSet.from_scorers({"rarearena_rdc": get_scorer("rarearena_rdc")})
    >>> reward = partial(accuracy_reward, rewards=rs)
    >>> ref = '{"diagnosis": "Wilson disease", "Orpha_name": "Wilson disease"}'
    >>> right = "<think>copper</think><answer>Wilson's disease</answer>"
    >>> wrong = "<think>copper</think><answer>Gaucher disease</answer>"
    >>> values = reward([right, wrong], reference=[ref, ref])
    >>> values[0] > 0 and values[1] == 0
    True
    """
    return rewards.values("accuracy", completions, **kwargs)


def language_reward(completions: list[Completion], *, rewards: RewardSet, **kwargs: Any) -> list[float | None]:
    r"""The weighted ``language`` component of the scorer's reward (no mixing of scripts or languages).

    Args:
        completions: TRL completions, standard (``str``) or conversational (``[{"role": "assistant", ...}]``).
        rewards: the run's :class:`RewardSet` (bound with ``functools.partial``).
        **kwargs: dataset columns (``reference``, ``task``) and TRL's ``trainer_state``, ``log_extra``, ``log_metric``.

    Returns:
        One value per completion; ``None`` where the component does not apply or scoring failed.

    Example:
    >>> from functools import partial
    >>> from medzero_rewards import get_scorer
    >>> rs = RewardSet.from_scorers({"rarearena_rdc": get_scorer("rarearena_rdc")})
    >>> reward = partial(language_reward, rewards=rs)
    >>> ref = '{"diagnosis": "Wilson disease", "Orpha_name": "Wilson disease"}'
    >>> english = "<think>low ceruloplasmin</think><answer>Wilson disease</answer>"
    >>> mixed = "<think>铜蓝蛋白低 low ceruloplasmin</think><answer>Wilson disease</answer>"
    >>> values = reward([english, mixed], reference=[ref, ref])
    >>> values[0] >= values[1]
    True
    """
    return rewards.values("language", completions, **kwargs)


def executable_reward(completions: list[Completion], *, rewards: RewardSet, **kwargs: Any) -> list[float | None]:
    r"""The EHRSQL ``executable`` component: ``executable_weight`` when the predicted SQL ran, else 0.

    The EHRSQL scorer's ``accuracy`` component (its preset's outcome reward: +1 correct or correct
    abstention, 0 abstaining on an answerable question, -c wrong) comes through :func:`accuracy_reward`,
    its ``format`` component through :func:`format_reward`; the three sum to ``Score.reward``.

    Args:
        completions: TRL completions, standard (``str``) or conversational (``[{"role": "assistant", ...}]``).
        rewards: the run's :class:`RewardSet` (bound with ``functools.partial``).
        **kwargs: dataset columns (``reference``, ``task``) and TRL's ``trainer_state``, ``log_extra``, ``log_metric``.

    Returns:
        One value per completion; ``None`` for other tasks' rows and where scoring failed.

    Example:
    >>> import os
    >>> from functools import partial
    >>> from medzero_rewards import get_scorer
    >>> db = os.path.join(os.environ.get("MEDZERO_DATA", "../shared/data"), "ehrsql2024", "mimic_iv.sqlite")
    >>> scorer = get_scorer("ehrsql", db_path=db, workers=0, executable_weight=0.1)  # doctest: +SKIP
    >>> rs = RewardSet.from_scorers({"ehrsql": scorer})  # doctest: +SKIP
    >>> reward = partial(executable_reward, rewards=rs)  # doctest: +SKIP
    >>> ref = '{"id": "q1", "question": "How many patients?", "label": "null", "answer": null}'
    >>> reward(["<answer>null</answer>", "<answer>SELECT 1</answer>"], reference=[ref, ref])  # doctest: +SKIP
    [0.0, 0.1]
    """
    return rewards.values("executable", completions, **kwargs)


COMPONENT_FUNCTIONS: dict[str, Callable[..., list[float | None]]] = {
    "format": format_reward,
    "accuracy": accuracy_reward,
    "language": language_reward,
    "executable": executable_reward,
}


class ComponentReward:
    """A reward function for a component without a plain function above (named ``<component>_reward``)."""

    def __init__(self, rewards: RewardSet, component: str) -> None:
        self.rewards = rewards
        self.component = component
        self.__name__ = f"{component}_reward"

    def __call__(self, completions: list[Completion], **kwargs: Any) -> list[float | None]:
        return self.rewards.values(self.component, completions, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.component!r})"


class AsyncComponentReward:
    """Async twin of a component reward function, same name (so the same ``rewards/<name>/mean`` metric).

    TRL runs async reward functions concurrently on its event loop; scoring (the LLM judge, the SQL worker
    pool) runs in a worker thread and all components of a batch share that one scoring.
    """

    def __init__(self, rewards: RewardSet, component: str) -> None:
        self.rewards = rewards
        self.component = component
        self.__name__ = f"{component}_reward"

    async def __call__(self, completions: list[Completion], **kwargs: Any) -> list[float | None]:
        return await self.rewards.avalues(self.component, completions, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.component!r})"


def build_reward_functions(rewards: RewardSet, *, use_async: bool = False) -> list[Callable[..., Any]]:
    """One TRL reward function per component of the run's scorers, all sharing ``rewards``' cached scores.

    The component values of a row sum to its scorer's ``Score.reward``, so use TRL's default
    ``reward_weights`` (all 1): the weights are the scorer's.

    >>> from medzero_rewards import Scorer, Score
    >>> class Toy(Scorer):
    ...     component_names = ("format", "accuracy")
    ...     def score(self, completion, reference):
    ...         ok = reference["answer"] in completion
    ...         fmt = 0.1 if completion.startswith("<answer>") else 0.0
    ...         return Score(reward=fmt + 0.9 * ok, correct=ok, components={"format": fmt, "accuracy": 0.9 * ok})
    >>> funcs = build_reward_functions(RewardSet.from_scorers({"toy": Toy()}))
    >>> [getattr(f, "__name__", None) or f.func.__name__ for f in funcs]
    ['format_reward', 'accuracy_reward']
    >>> completions = [[{"role": "assistant", "content": "<answer>4</answer>"}], "5"]
    >>> reference = ['{"answer": "4"}', '{"answer": "4"}']
    >>> [f(completions, reference=reference) for f in funcs]
    [[0.1, 0.0], [0.9, 0.0]]
    """
    functions: list[Callable[..., Any]] = []
    for component in rewards.components:
        if use_async:
            functions.append(AsyncComponentReward(rewards, component))
        elif component in COMPONENT_FUNCTIONS:
            functions.append(functools.partial(COMPONENT_FUNCTIONS[component], rewards=rewards))
        else:
            functions.append(ComponentReward(rewards, component))
    return functions


def make_scorers(tasks: Sequence[str], configs: Mapping[str, Mapping[str, Any]]) -> dict[str, Scorer]:
    """``get_scorer(task, **configs[task])`` for each task."""
    return {task: get_scorer(task, **dict(configs.get(task, {}))) for task in tasks}
