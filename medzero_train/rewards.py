"""The run's TRL reward functions: the config's scorers through :mod:`medzero_rewards.trl` (config glue only).

Each training task gets a :class:`~medzero_rewards.trl.TRLRewards` routed on the dataset's ``task`` column,
so a row is scored by its own task's scorer, once per batch, and gets ``None`` from the other tasks'
functions. The functions are named ``<task>_<component>_reward`` and a row's values sum to its scorer's
``Score.reward`` (TRL's ``reward_weights`` stay 1; weights belong to the scorer config).

>>> rewards = make_rewards(make_scorers(["rarearena_rds"], {"rarearena_rds": {"preset": "diagnosis_zero"}}))
>>> [f.__name__ for f in reward_functions(rewards)]
['rarearena_rds_format_reward', 'rarearena_rds_accuracy_reward', 'rarearena_rds_language_reward']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from medzero_rewards import Scorer, get_scorer
from medzero_rewards.trl import RewardFunction, TRLRewards

TASK_COLUMN = "task"


def make_scorers(tasks: Sequence[str], configs: Mapping[str, Mapping[str, Any]]) -> dict[str, Scorer]:
    """``get_scorer(task, **configs[task])`` for each task (training and held-out evaluation share them)."""
    return {task: get_scorer(task, **dict(configs.get(task, {}))) for task in tasks}


def make_rewards(scorers: Mapping[str, Scorer], tasks: Iterable[str] | None = None) -> dict[str, TRLRewards]:
    """``{task: TRLRewards}`` for ``tasks`` (default: every scorer), each routed on the ``task`` column."""
    names = list(scorers) if tasks is None else list(tasks)
    return {task: TRLRewards(scorers[task], name=task, task_column=TASK_COLUMN) for task in names}


def reward_functions(rewards: Mapping[str, TRLRewards], *, use_async: bool = False) -> list[RewardFunction]:
    """Every task's reward functions, in task order (async variants with ``use_async``)."""
    out: list[RewardFunction] = []
    for r in rewards.values():
        out.extend(r.async_functions() if use_async else r.functions())
    return out


def reward_seconds(rewards: Mapping[str, TRLRewards]) -> float:
    """Wall time spent inside all reward functions so far."""
    return sum(r.seconds for r in rewards.values())
