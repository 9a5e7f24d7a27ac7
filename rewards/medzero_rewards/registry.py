"""Name -> scorer factory registry behind :func:`get_scorer`, and one-line configuration errors."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from medzero_rewards.base import Scorer

__all__ = ["ScorerConfigError", "config_error", "get_scorer", "list_scorers", "register_scorer"]

ScorerFactory = Callable[..., Scorer]


class ScorerConfigError(ValueError):
    """A scorer's configuration is invalid; the message is one line naming each problem and the fix.

    ``problems`` lists them as ``(setting, message)`` pairs.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def _problem(error: Any) -> tuple[str, str]:
    loc = ".".join(str(part) for part in error.get("loc", ())) or "(configuration)"
    kind = error.get("type", "")
    if kind == "missing":
        return loc, f"{loc} is required"
    if kind == "extra_forbidden":
        return loc, f"{loc} is not a setting of this scorer"
    msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    shown = repr(value) if isinstance(value, (str, int, float, bool)) or value is None else type(value).__name__
    return loc, f"{loc}={shown[:80]}: {msg}"


def config_error(name: str, exc: Exception) -> ScorerConfigError:
    """A pydantic ``ValidationError`` (or any exception) as a one-line :class:`ScorerConfigError`.

    >>> from pydantic import BaseModel, ConfigDict
    >>> class C(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     db_path: str
    >>> try:
    ...     C(timeout=3)
    ... except ValueError as exc:
    ...     print(config_error("ehrsql", exc))
    invalid configuration for scorer 'ehrsql': db_path is required; timeout is not a setting of this scorer (fix: get_scorer('ehrsql', db_path=...))
    """
    errors = getattr(exc, "errors", None)
    problems = [_problem(e) for e in errors()] if callable(errors) else [("(configuration)", " ".join(str(exc).split()))]
    required = [loc for loc, msg in problems if msg.endswith(" is required")]
    fix = f"get_scorer({name!r}, " + ", ".join(f"{loc}=..." for loc in required) + ")" if required else (
        f"pass valid settings to get_scorer({name!r}, ...)"
    )
    return ScorerConfigError(
        f"invalid configuration for scorer {name!r}: " + "; ".join(msg for _, msg in problems) + f" (fix: {fix})",
        problems,
    )

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

    An invalid configuration raises :class:`ScorerConfigError` (a ``ValueError``) with a one-line
    message naming every problem and the fix; an unknown name raises ``KeyError``.

    >>> from medzero_rewards import get_scorer
    >>> scorer = get_scorer("rarearena_rdc")
    >>> scorer.score("<think>hi</think><answer>Wilson disease</answer>", {"diagnosis": "Wilson's disease"}).correct
    True
    """
    if name in _REGISTERED:
        factory = _REGISTERED[name]
    elif name in _BUILTIN:
        module_name, attr = _BUILTIN[name].split(":")
        factory = getattr(importlib.import_module(module_name), attr)
    else:
        raise KeyError(f"unknown scorer {name!r}; available: {', '.join(list_scorers())}")
    try:
        return factory(**config)
    except ScorerConfigError:
        raise
    except ValueError as exc:  # pydantic's ValidationError is a ValueError: one line, not its traceback
        if type(exc).__name__ != "ValidationError":
            raise
        raise config_error(name, exc) from None
