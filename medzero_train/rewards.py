"""TRL reward functions built from ``medzero_rewards`` scorers (a thin adapter: no scoring logic lives here).

Each scorer's :class:`~medzero_rewards.Score` splits its ``reward`` into weighted ``components``
(``format``, ``accuracy``, ``language`` ...). The adapter exposes one TRL reward function per component
(``format_reward``, ``accuracy_reward`` ...), so TRL logs ``rewards/<component>_reward/mean`` for each; a row
gets each component from its own task's scorer, and a row's components sum to that scorer's reward
(TRL's ``reward_weights`` stay 1; the weights live in the scorer config). A completion batch is scored
**once**: the first component function of a batch calls ``scorer.score_batch`` and caches the ``Score`` s,
the others read the cache.

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
from typing import Any

from medzero_rewards import Score, Scorer, Status, Tier, get_scorer

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


class BatchScorer:
    """Scores each completion batch once with one scorer; component reward functions read the cached scores.

    Rows whose ``task`` column names another scorer are not scored (``None``). Per batch it logs, through
    TRL's ``log_metric``: the accuracy, the share of each tier and status, the number of scorer errors and the
    wall time of scoring (``medzero/<task>/reward_time_s``); through ``log_extra``: the extracted answer.

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
        self.n_errors = 0  # completions whose scoring failed (returned as None)
        self.seconds = 0.0  # wall time spent inside the reward functions of this scorer
        self._key: tuple[Any, ...] | None = None
        self._cached: list[Score | None] = []
        self._lock = threading.Lock()
        self._pending: dict[tuple[Any, ...], asyncio.Future[list[Score | None]]] = {}

    # -- scoring -------------------------------------------------------------------------------------------
    def _applicable(self, tasks: Sequence[Any] | None, n: int) -> list[bool]:
        if tasks is None:
            return [True] * n
        return [t is None or t == self.task for t in tasks]

    def _score_now(
        self, texts: list[str], refs: list[dict[str, Any] | None], mask: list[bool]
    ) -> list[Score | None]:
        idx = [i for i, ok in enumerate(mask) if ok and refs[i] is not None]
        out: list[Score | None] = [None] * len(texts)
        if not idx:
            return out
        sub_texts = [texts[i] for i in idx]
        sub_refs = [refs[i] for i in idx]
        try:
            scores: list[Score | None] = list(self.scorer.score_batch(sub_texts, sub_refs))  # type: ignore[arg-type]
        except Exception:  # fall back to one by one, so one bad item does not void the batch
            logger.exception("%s: score_batch failed; scoring items one by one", self.task)
            scores = []
            for text, ref in zip(sub_texts, sub_refs):
                try:
                    scores.append(self.scorer.score(text, ref))  # type: ignore[arg-type]
                except Exception:
                    logger.exception("%s: scorer failed on one completion", self.task)
                    scores.append(None)
        for i, score in zip(idx, scores):
            if score is not None and score.status == Status.error:
                logger.warning("%s: scorer error on a completion: %s", self.task, score.reason)
                score = None
            if score is not None and self.weighted:
                total = sum(float(score.components.get(c, 0.0)) for c in self.components)
                if abs(total - score.reward) > 1e-6:
                    self.n_mismatch += 1
                    raise ValueError(
                        f"{self.task}: components {score.components} do not sum to the reward {score.reward}; "
                        "the per-component reward functions would train on a different reward"
                    )
            out[i] = score
        for i in idx:
            if out[i] is None:
                self.n_errors += 1
        self.n_scored += len(idx)
        return out

    @staticmethod
    def _key_of(texts: list[str], refs: Sequence[Any], mask: list[bool]) -> tuple[Any, ...]:
        return (tuple(texts), tuple(json.dumps(r, sort_keys=True, default=str) for r in refs), tuple(mask))

    def _log(self, scores: list[Score | None], mask: list[bool], elapsed: float, kwargs: Mapping[str, Any]) -> None:
        log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
        log_extra: Callable[[str, list[Any]], None] | None = kwargs.get("log_extra")
        mine = [s for s, ok in zip(scores, mask) if ok]
        if log_metric is not None and mine:
            ok = [s for s in mine if s is not None]
            prefix = f"medzero/{self.task}"
            log_metric(f"{prefix}/reward_time_s", elapsed)
            log_metric(f"{prefix}/scorer_errors", float(len(mine) - len(ok)))
            if ok:
                log_metric(f"{prefix}/accuracy", sum(s.correct for s in ok) / len(ok))
                log_metric(f"{prefix}/reward", sum(s.reward for s in ok) / len(ok))
                for c in self.components:
                    log_metric(f"{prefix}/component/{c}", sum(float(s.components.get(c, 0.0)) for s in ok) / len(ok))
                for tier in Tier:
                    log_metric(f"{prefix}/tier/{tier.value}", sum(s.tier == tier for s in ok) / len(ok))
                for status in Status:
                    log_metric(f"{prefix}/status/{status.value}", sum(s.status == status for s in ok) / len(ok))
        if log_extra is not None:
            log_extra(f"{self.task}/extracted", [s.extracted if s is not None else None for s in scores])
            log_extra(f"{self.task}/status", [s.status.value if s is not None else None for s in scores])

    def scores(
        self,
        completions: Sequence[Completion],
        references: Sequence[dict[str, Any] | None],
        tasks: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[Score | None]:
        """Scores of a batch: computed on the first call for this batch, cached for the next ones."""
        texts = [completion_text(c) for c in completions]
        mask = self._applicable(tasks, len(texts))
        key = self._key_of(texts, references, mask)
        with self._lock:
            if key == self._key:
                return self._cached
            start = time.perf_counter()
            scores = self._score_now(texts, list(references), mask)
            elapsed = time.perf_counter() - start
            self._key, self._cached = key, scores
        self._log(scores, mask, elapsed, kwargs)
        return scores

    async def ascores(
        self,
        completions: Sequence[Completion],
        references: Sequence[dict[str, Any] | None],
        tasks: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[Score | None]:
        """Async :meth:`scores`: scoring runs in a worker thread; concurrent calls for one batch share it."""
        texts = [completion_text(c) for c in completions]
        mask = self._applicable(tasks, len(texts))
        key = self._key_of(texts, references, mask)
        if key == self._key:
            return self._cached
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self.scores, completions, references, tasks, **kwargs))
            self._pending = {key: pending}  # only the current batch is ever pending
        return await asyncio.shield(pending)

    # -- per-component values ----------------------------------------------------------------------------------
    def component_values(self, component: str, scores: Sequence[Score | None]) -> list[float | None]:
        """One component of each score (``None`` where not scored); a component a score lacks contributed 0."""
        return [None if s is None else float(s.components.get(component, 0.0)) for s in scores]




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

    def _merge(self, per_task: Mapping[str, list[Score | None]], tasks: list[Any] | None, n: int) -> list[Score | None]:
        if tasks is None:
            return next(iter(per_task.values()))
        return [per_task[t][i] if t in per_task else None for i, t in enumerate(tasks)]

    def scores(self, completions: Sequence[Completion], **kwargs: Any) -> list[Score | None]:
        """Every row's :class:`Score` from its own task's scorer (each batch is scored once per task)."""
        refs, tasks = self._route(len(completions), kwargs)
        present = set(tasks) if tasks is not None else set(self.batch_scorers)
        per_task = {
            t: bs.scores(completions, refs, tasks, **kwargs) for t, bs in self.batch_scorers.items() if t in present
        }
        return self._merge(per_task, tasks, len(completions))

    async def ascores(self, completions: Sequence[Completion], **kwargs: Any) -> list[Score | None]:
        """Async :meth:`scores`: the tasks' scorers run concurrently, off the event loop."""
        refs, tasks = self._route(len(completions), kwargs)
        present = set(tasks) if tasks is not None else set(self.batch_scorers)
        names = [t for t in self.batch_scorers if t in present]
        results = await asyncio.gather(*(self.batch_scorers[t].ascores(completions, refs, tasks, **kwargs) for t in names))
        return self._merge(dict(zip(names, results)), tasks, len(completions))

    def _values(self, component: str, scores: list[Score | None], tasks: list[Any] | None) -> list[float | None]:
        values: list[float | None] = []
        for i, score in enumerate(scores):
            task = tasks[i] if tasks is not None else next(iter(self.batch_scorers))
            bs = self.batch_scorers.get(task)
            if score is None or bs is None:
                values.append(None)
            elif not bs.weighted:
                values.append(float(score.reward) if component == task else None)
            elif component in bs.components:
                values.append(float(score.components.get(component, 0.0)))
            else:
                values.append(None)
        return values

    def values(self, component: str, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:
        """One component of every row's score (``None``: not applicable to the row's task, or scoring failed)."""
        start = time.perf_counter()
        try:
            return self._values(component, self.scores(completions, **kwargs), kwargs.get("task"))
        finally:
            self.seconds += time.perf_counter() - start

    async def avalues(self, component: str, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:
        """Async :meth:`values`."""
        start = time.perf_counter()
        try:
            return self._values(component, await self.ascores(completions, **kwargs), kwargs.get("task"))
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
