"""Name -> scorer factory registry behind :func:`get_scorer`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from medzero_rewards.base import Scorer

ScorerFactory = Callable[..., Scorer]

# Built-in scorers are imported lazily, so `import medzero_rewards` stays cheap.
_BUILTIN: dict[str, str] = {
    "rarearena_rdc": "medzero_rewards.diagnosis:make_rarearena_rdc",
    "rarearena_rds": "medzero_rewards.diagnosis:make_rarearena_rds",
    "ehrsql": "medzero_rewards.ehrsql.scorer:make_ehrsql",
}
_REGISTERED: dict[str, ScorerFactory] = {}


def register_scorer(name: str) -> Callable[[ScorerFactory], ScorerFactory]:
    """Register a scorer factory under ``name`` (decorator)."""

    def wrap(factory: ScorerFactory) -> ScorerFactory:
        _REGISTERED[name] = factory
        return factory

    return wrap


def list_scorers() -> list[str]:
    """Names accepted by :func:`get_scorer`."""
    return sorted(set(_BUILTIN) | set(_REGISTERED))


def get_scorer(name: str, **config: Any) -> Scorer:
    """Build the scorer called ``name`` with keyword configuration.

    >>> from medzero_rewards import get_scorer
    >>> scorer = get_scorer("rarearena_rdc")
    >>> scorer.score("<think>hi</think><answer>Wilson disease</answer>", {"diagnosis": "Wilson's disease"}).correct
    True
    """
    if name in _REGISTERED:
        return _REGISTERED[name](**config)
    if name not in _BUILTIN:
        raise KeyError(f"unknown scorer {name!r}; available: {', '.join(list_scorers())}")
    module_name, attr = _BUILTIN[name].split(":")
    factory: ScorerFactory = getattr(importlib.import_module(module_name), attr)
    return factory(**config)
