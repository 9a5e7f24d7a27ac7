"""TRL reward functions from any ``medzero_rewards`` scorer (no torch, no trl needed to import).

:func:`reward_functions` turns a registered scorer into the reward functions TRL's ``GRPOTrainer`` takes:
one per weighted component of the scorer's reward (``format``, ``accuracy``, ``language`` for the diagnosis
scorers; ``accuracy``, ``format``, ``executable`` for EHRSQL), named ``<scorer>_<component>_reward``, so TRL
logs ``rewards/<scorer>_<component>_reward/mean`` for each. The components of a completion sum to the
scorer's ``Score.reward``: keep TRL's ``reward_weights`` at 1 (the weights live in the scorer config).
A scorer without declared components gives one function, ``<scorer>_reward``.

Each batch is scored **once**: the first function TRL calls runs ``scorer.score_batch`` and caches the
:class:`~medzero_rewards.ScoreBatch` (keyed on the batch's completions and references); the other functions
read its columns. :func:`async_reward_functions` gives the same functions as coroutines (TRL 1.16 runs async
reward functions concurrently on its own event loop): scoring runs in a worker thread, once per batch.

What a function accepts (TRL passes every dataset column as a keyword argument):

* ``completions``: standard (``str``) or conversational (``[{"role": "assistant", "content": ...}]``);
* the reference record of each row, either as a ``reference`` column (a dict, or its JSON string) or as the
  record's own columns (``diagnosis``, ``Orpha_name``, ``synonyms`` ... / ``id``, ``question``, ``label`` ...);
* TRL's ``log_metric`` / ``log_extra`` (when given, each batch logs ``medzero/<scorer>/accuracy``, tier and
  status shares, the scorer-error count and the scoring time, and the extracted answer and status columns).

A row whose scoring failed (``Status.error``: e.g. a judge that never answered, a gold query the database
cannot run) or whose reference cannot be read gets ``None``, which TRL 1.16 treats as "no reward" (NaN,
left out of the group mean) instead of a made-up 0; such rows are counted (:attr:`TRLRewards.n_errors`) and
reported in one warning per batch.

>>> from medzero_rewards.trl import reward_functions
>>> funcs = reward_functions("rarearena_rdc")
>>> [f.__name__ for f in funcs]
['rarearena_rdc_format_reward', 'rarearena_rdc_accuracy_reward', 'rarearena_rdc_language_reward']
>>> completions = [[{"role": "assistant", "content": "<think>low ceruloplasmin</think><answer>Wilson's disease</answer>"}],
...                [{"role": "assistant", "content": "Gaucher disease"}]]
>>> columns = {"diagnosis": ["Wilson disease"] * 2, "Orpha_name": ["Wilson disease"] * 2}
>>> [f(completions=completions, **columns) for f in funcs]
[[0.2, 0.0], [1.0, 0.0], [0.0, 0.0]]
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from medzero_rewards.base import Scorer
from medzero_rewards.registry import get_scorer
from medzero_rewards.types import Score, ScoreBatch, Status, Tier

__all__ = [
    "AsyncRewardFunction",
    "RewardFunction",
    "TRLRewards",
    "async_reward_functions",
    "completion_text",
    "reward_functions",
]

logger = logging.getLogger(__name__)

Completion = str | list[dict[str, Any]]

# keyword arguments TRL passes that are not dataset columns
_TRL_KWARGS = frozenset({"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric",
                         "environments"})


def completion_text(completion: Completion) -> str:
    """The text a scorer sees for one TRL completion: the string, or the assistant turns' content joined.

    >>> completion_text("<answer>x</answer>")
    '<answer>x</answer>'
    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "<answer>x</answer>"}]}])
    '<answer>x</answer>'

    Anything else never raises: ``None`` is the empty completion (scored as such), one message dict is
    a one-message conversation, a list item that is a plain string is its text, other values their ``str``.

    >>> completion_text(None), completion_text({"role": "assistant", "content": "a"}), completion_text(["a", 1])
    ('', 'a', 'a1')
    """
    if isinstance(completion, str):
        return completion
    if completion is None:
        return ""
    if isinstance(completion, Mapping):
        completion = [completion]
    elif not isinstance(completion, (list, tuple)):
        return str(completion)
    parts: list[str] = []
    for message in completion:
        if not isinstance(message, Mapping):
            parts.append("" if message is None else str(message))
            continue
        if message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content") or ""
        if isinstance(content, list):  # content blocks
            content = "".join(str(block.get("text") or "") for block in content if isinstance(block, dict))
        parts.append(str(content))
    return "".join(parts)


class _Unreadable:
    """A reference that cannot be scored, with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _decode_reference(value: Any) -> dict[str, Any] | _Unreadable:
    if value is None:
        return _Unreadable("no reference")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            return _Unreadable(f"reference is not valid JSON ({exc.msg})")
    if not isinstance(value, Mapping):
        return _Unreadable(f"reference must be a JSON object, got {type(value).__name__}")
    return dict(value)


def _key_part(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


class _Scored:
    """One batch scored by one scorer: its ScoreBatch and, per row, the item index there (None: no reward)."""

    __slots__ = ("batch", "index")

    def __init__(self, batch: ScoreBatch, index: list[int | None]) -> None:
        self.batch = batch
        self.index = index

    def column(self, values: Sequence[Any]) -> list[Any]:
        return [None if j is None else values[j] for j in self.index]


class TRLRewards:
    """A scorer as TRL reward functions: scores each batch once, shared by its component functions.

    Args:
        scorer: a :class:`~medzero_rewards.Scorer`, or a registered scorer name built with ``scorer_config``.
        name: the prefix of the function names and logged metrics (default: the scorer name).
        task_column: route rows: only rows whose value in this column equals ``name`` are scored, the others
            get ``None`` (use it when one dataset mixes tasks, as ``medzero-train`` does with ``task``).
        **scorer_config: keyword configuration for ``get_scorer(scorer, ...)`` when ``scorer`` is a name.

    Attributes ``n_scored`` (completions scored), ``n_errors`` (rows without a reward: scorer error or an
    unreadable reference) and ``seconds`` (wall time inside the reward functions) accumulate over the run.

    >>> rewards = TRLRewards("rarearena_rds", preset="diagnosis_zero", task_column="task")
    >>> [f.__name__ for f in rewards.functions()]
    ['rarearena_rds_format_reward', 'rarearena_rds_accuracy_reward', 'rarearena_rds_language_reward']
    >>> [s and s.reward for s in rewards.scores(["<think>x</think><answer>Fabry disease</answer>"] * 2,
    ...                                        reference=['{"diagnosis": "Fabry disease"}'] * 2,
    ...                                        task=["rarearena_rds", "ehrsql"])]
    [1.0, None]
    """

    def __init__(self, scorer: Scorer | str, *, name: str | None = None, task_column: str | None = None,
                 **scorer_config: Any) -> None:
        if isinstance(scorer, str):
            name = name or scorer
            scorer = get_scorer(scorer, **scorer_config)
        elif scorer_config:
            raise TypeError("scorer_config is only used with a scorer name, not with a built scorer")
        self.scorer = scorer
        self.name = name or scorer.name or type(scorer).__name__.lower()
        self.task_column = task_column
        self.components: list[str] = list(getattr(scorer, "component_names", ()) or ())
        self.n_scored = 0
        self.n_errors = 0
        self.seconds = 0.0
        self._init_cache()

    def _init_cache(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._cached: _Scored | None = None
        self._pending: dict[tuple[Any, ...], asyncio.Future[_Scored]] = {}

    def __getstate__(self) -> dict[str, Any]:  # picklable: the lock, cache and pending futures are rebuilt
        state = self.__dict__.copy()
        for key in ("_lock", "_key", "_cached", "_pending"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_cache()

    # -- the functions TRL calls ------------------------------------------------------------------------
    def functions(self) -> list[RewardFunction]:
        """One synchronous reward function per component (or one for the whole reward), sharing this object."""
        return [RewardFunction(self, c) for c in (self.components or [None])]

    def async_functions(self) -> list[AsyncRewardFunction]:
        """The async twins of :meth:`functions` (same names, same numbers)."""
        return [AsyncRewardFunction(self, c) for c in (self.components or [None])]

    def values(self, component: str | None, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:
        """One component (``None``: the whole reward) of every row; ``None`` for rows without a reward."""
        start = time.perf_counter()
        try:
            return self._values(component, self.scored(completions, **kwargs))
        finally:
            self.seconds += time.perf_counter() - start

    async def avalues(self, component: str | None, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:
        """Async :meth:`values`: concurrent calls for one batch share one scoring, run in a worker thread."""
        start = time.perf_counter()
        try:
            return self._values(component, await self.ascored(completions, **kwargs))
        finally:
            self.seconds += time.perf_counter() - start

    def scores(self, completions: Sequence[Completion], **kwargs: Any) -> list[Score | None]:
        """Every row's :class:`~medzero_rewards.Score` (``None``: not scored); from the same per-batch cache."""
        scored = self.scored(completions, **kwargs)
        return scored.column(scored.batch)

    # -- one scoring per batch --------------------------------------------------------------------------
    def _rows(self, n: int, kwargs: Mapping[str, Any]) -> tuple[list[Any], list[bool], tuple[Any, ...]]:
        """Raw reference values, the rows this scorer applies to, and the part of the cache key they make."""
        if self.task_column is not None and kwargs.get(self.task_column) is not None:
            mine = [t == self.name for t in kwargs[self.task_column]]
        else:
            mine = [True] * n
        if kwargs.get("reference") is not None:
            raw = list(kwargs["reference"])
            return raw, mine, tuple(_key_part(v) for v in raw)
        columns = {k: v for k, v in kwargs.items()
                   if k not in _TRL_KWARGS and k != self.task_column and isinstance(v, (list, tuple)) and len(v) == n}
        raw = [{k: v[i] for k, v in columns.items()} for i in range(n)]
        return raw, mine, tuple((k, tuple(_key_part(x) for x in v)) for k, v in sorted(columns.items()))

    def scored(self, completions: Sequence[Completion], **kwargs: Any) -> _Scored:
        """The batch's scores: computed by the first call for this batch, cached for the next ones."""
        texts = [completion_text(c) for c in completions]
        raw, mine, ref_key = self._rows(len(texts), kwargs)
        key = (tuple(texts), ref_key, tuple(mine))
        with self._lock:
            if key == self._key and self._cached is not None:
                return self._cached
            start = time.perf_counter()
            scored = self._score(texts, raw, mine)
            elapsed = time.perf_counter() - start
            self._key, self._cached = key, scored
        self._log(scored, mine, elapsed, kwargs)
        return scored

    async def ascored(self, completions: Sequence[Completion], **kwargs: Any) -> _Scored:
        """Async :meth:`scored`."""
        texts = [completion_text(c) for c in completions]
        raw, mine, ref_key = self._rows(len(texts), kwargs)
        key = (tuple(texts), ref_key, tuple(mine))
        if key == self._key and self._cached is not None:
            return self._cached
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self.scored, completions, **kwargs))
            self._pending = {key: pending}  # only the current batch is ever pending
        return await asyncio.shield(pending)

    def _score(self, texts: list[str], raw: list[Any], mine: list[bool]) -> _Scored:
        failures: Counter[str] = Counter()
        refs: list[dict[str, Any]] = []
        rows: list[int] = []
        for i, (value, applies) in enumerate(zip(raw, mine)):
            if not applies:
                continue
            ref = _decode_reference(value)
            if isinstance(ref, _Unreadable):
                failures[ref.reason] += 1
                continue
            rows.append(i)
            refs.append(ref)
        batch = self._score_batch([texts[i] for i in rows], refs)
        index: list[int | None] = [None] * len(texts)
        statuses = batch.statuses
        for k, i in enumerate(rows):
            if statuses[k] is Status.error:
                failures[batch[k].reason or "scorer error"] += 1
            else:
                index[i] = k
        self._check_components(batch, [k for k in index if k is not None])
        self.n_scored += len(rows)
        if failures:
            n_failed = sum(failures.values())
            self.n_errors += n_failed
            common = "; ".join(f"{n}x {reason}" for reason, n in failures.most_common(3))
            more = f" (+{len(failures) - 3} other reasons)" if len(failures) > 3 else ""
            logger.warning("%s: %d of %d completions get no reward (None): %s%s",
                           self.name, n_failed, sum(mine), common, more)
        return _Scored(batch, index)

    def _score_batch(self, texts: list[str], refs: list[dict[str, Any]]) -> ScoreBatch:
        if not texts:
            return ScoreBatch([], component_names=self.components)
        try:
            batch = self.scorer.score_batch(texts, refs)
            return batch if isinstance(batch, ScoreBatch) else ScoreBatch(list(batch), component_names=self.components)
        except Exception as exc:  # one item must not void the batch: score one by one
            logger.warning("%s: score_batch failed (%r); scoring the %d items one by one", self.name, exc, len(texts))
        scores = []
        for text, ref in zip(texts, refs):
            try:
                scores.append(self.scorer.score(text, ref))
            except Exception as exc:
                scores.append(Score(reward=0.0, correct=False, status=Status.error, reason=f"scorer raised {exc!r}"))
        return ScoreBatch(scores, component_names=self.components)

    def _check_components(self, batch: ScoreBatch, items: list[int]) -> None:
        """The component functions must sum to the reward, or TRL would train on another reward."""
        if not self.components or not items:
            return
        columns = [batch.component(c) for c in self.components]
        rewards = batch.rewards
        for k in items:
            total = sum(col[k] for col in columns)
            if abs(total - rewards[k]) > 1e-6:
                raise ValueError(f"{self.name}: components {batch[k].components} do not sum to the reward "
                                 f"{rewards[k]}; the per-component reward functions would train on another reward")

    def _values(self, component: str | None, scored: _Scored) -> list[float | None]:
        column = scored.batch.rewards if component is None else scored.batch.component(component)
        return [None if j is None else float(column[j]) for j in scored.index]

    def _log(self, scored: _Scored, mine: list[bool], elapsed: float, kwargs: Mapping[str, Any]) -> None:
        log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
        log_extra: Callable[[str, list[Any]], None] | None = kwargs.get("log_extra")
        batch = scored.batch
        if log_metric is not None and any(mine):
            ok = [j for j in scored.index if j is not None]
            prefix = f"medzero/{self.name}"
            log_metric(f"{prefix}/reward_time_s", elapsed)
            log_metric(f"{prefix}/scorer_errors", float(sum(mine) - len(ok)))
            if ok:
                n = len(ok)
                correct, rewards, tiers, statuses = batch.correct, batch.rewards, batch.tiers, batch.statuses
                log_metric(f"{prefix}/accuracy", sum(correct[j] for j in ok) / n)
                log_metric(f"{prefix}/reward", sum(rewards[j] for j in ok) / n)
                for tier in Tier:
                    log_metric(f"{prefix}/tier/{tier.value}", sum(tiers[j] == tier for j in ok) / n)
                for status in Status:
                    log_metric(f"{prefix}/status/{status.value}", sum(statuses[j] == status for j in ok) / n)
        if log_extra is not None:
            log_extra(f"{self.name}/extracted", scored.column(batch.extracted))
            log_extra(f"{self.name}/status", [None if s is None else s.value for s in scored.column(batch.statuses)])


def _function_doc(rewards: TRLRewards, component: str | None) -> str:
    part = f"the weighted ``{component}`` component of" if component else "the whole"
    return (f"TRL reward function: {part} the ``{rewards.name}`` scorer's reward, per completion "
            "(``None`` where the row is not scored). See :mod:`medzero_rewards.trl`.")


class RewardFunction:
    """A TRL reward function for one component of a :class:`TRLRewards` (picklable, named for TRL's logs)."""

    def __init__(self, rewards: TRLRewards, component: str | None) -> None:
        self.rewards = rewards
        self.component = component
        self.__name__ = f"{rewards.name}_{component}_reward" if component else f"{rewards.name}_reward"
        self.__doc__ = _function_doc(rewards, component)

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:
        return self.rewards.values(self.component, completions, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__}>"


class AsyncRewardFunction(RewardFunction):
    """The async twin of :class:`RewardFunction` (TRL awaits it on its event loop; same name and numbers)."""

    async def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:  # type: ignore[override]
        return await self.rewards.avalues(self.component, completions, **kwargs)


def reward_functions(name: str, **scorer_config: Any) -> list[RewardFunction]:
    """TRL reward functions for the registered scorer ``name``, configured with ``scorer_config``.

    One function per weighted component of the scorer's reward (they sum to ``Score.reward``), all sharing
    one ``score_batch`` per batch. Pass them as ``GRPOTrainer(reward_funcs=...)``.

    >>> funcs = reward_functions("rarearena_rds", preset="recommended", weights={"language": 0.1})
    >>> [f.__name__ for f in funcs]
    ['rarearena_rds_format_reward', 'rarearena_rds_accuracy_reward', 'rarearena_rds_language_reward']
    >>> reference = ['{"diagnosis": "Fabry disease", "Orpha_name": "Fabry disease"}'] * 2
    >>> completions = ["<think>angiokeratoma</think><answer>Fabry's disease</answer>",
    ...                "<think>angiokeratoma, 疼痛</think><answer>Gaucher disease</answer>"]
    >>> [sum(values) for values in zip(*(f(completions, reference=reference) for f in funcs))]
    [1.2, 0.1]
    """
    return TRLRewards(name, **scorer_config).functions()


def async_reward_functions(name: str, **scorer_config: Any) -> list[AsyncRewardFunction]:
    """The async variant of :func:`reward_functions` (same names and numbers; TRL runs them concurrently).

    Scoring runs in a worker thread, once per batch, so an LLM judge or the SQL worker pool does not block
    TRL's event loop.

    >>> import asyncio
    >>> funcs = async_reward_functions("rarearena_rdc")
    >>> async def step():
    ...     return await asyncio.gather(*(f(["<think>x</think><answer>Fabry disease</answer>"],
    ...                                     reference=[{"diagnosis": "Fabry disease"}]) for f in funcs))
    >>> asyncio.run(step())
    [[0.2], [1.0], [0.0]]
    """
    return TRLRewards(name, **scorer_config).async_functions()
