"""The LLM synonym judge for diagnosis answers (RareArena's 2/1/0 rubric) over any OpenAI-compatible endpoint.

Importing this package does not import ``openai``; building an :class:`OpenAIJudge` does (install
``medzero-rewards[judge]``). See ``docs/judge.md`` for the configuration fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from medzero_rewards.judge.cache import JudgeCache
from medzero_rewards.judge.config import JudgeConfig
from medzero_rewards.judge.parse import VerdictParseError, parse_grades
from medzero_rewards.judge.prompt import PROMPT_VERSION
from medzero_rewards.judge.types import Grade, JudgeRequest, JudgeVerdict, SynonymJudge

if TYPE_CHECKING:
    from medzero_rewards.judge.client import (
        JudgeStats,
        JudgeUnavailableError,
        OpenAIJudge,
    )

__all__ = [
    "PROMPT_VERSION",
    "Grade",
    "JudgeCache",
    "JudgeConfig",
    "JudgeRequest",
    "JudgeStats",
    "JudgeUnavailableError",
    "JudgeVerdict",
    "OpenAIJudge",
    "SynonymJudge",
    "VerdictParseError",
    "build_judge",
    "parse_grades",
]

_LAZY = {"OpenAIJudge", "JudgeStats", "JudgeUnavailableError"}


def __getattr__(name: str) -> Any:
    # client.py itself imports openai only inside OpenAIJudge.__init__, but keep it lazy anyway
    if name in _LAZY:
        from medzero_rewards.judge import client

        return getattr(client, name)
    raise AttributeError(f"module 'medzero_rewards.judge' has no attribute {name!r}")


def build_judge(judge: SynonymJudge | JudgeConfig | Mapping[str, Any] | str | None) -> SynonymJudge | None:
    """Turn a scorer's ``judge=`` argument into a judge.

    - ``None`` -> ``None`` (no judge);
    - an object with ``judge_many`` (any :class:`SynonymJudge`) -> returned as is;
    - a :class:`JudgeConfig`, or a mapping of its fields -> an :class:`OpenAIJudge`;
    - a string -> an :class:`OpenAIJudge` for that model name with default settings.

    Raises ``TypeError`` for anything else, ``pydantic.ValidationError`` for a bad config and
    :class:`JudgeUnavailableError` when ``openai`` or the API key is missing.
    """
    if judge is None:
        return None
    if isinstance(judge, SynonymJudge):
        return judge
    from medzero_rewards.judge.client import OpenAIJudge

    if isinstance(judge, JudgeConfig):
        return OpenAIJudge(judge)
    if isinstance(judge, Mapping):
        return OpenAIJudge(JudgeConfig.model_validate(dict(judge)))
    if isinstance(judge, str):
        return OpenAIJudge(JudgeConfig(model=judge))
    raise TypeError(
        f"judge must be a SynonymJudge, a JudgeConfig, a dict of its fields or a model name; got {type(judge).__name__}"
    )
