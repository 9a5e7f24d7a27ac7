"""The contract between the diagnosis scorer and an LLM synonym judge.

The diagnosis scorer only depends on :class:`SynonymJudge`; the OpenAI-compatible client in this
package implements it, and so can anything else (a local model, a lookup table in tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

Grade = Literal[0, 1, 2]  # 2 = same disease or synonym, 1 = broader category containing it, 0 = other


class JudgeRequest(BaseModel):
    """One item to judge: a single answer or a ranked list, against the reference name sets."""

    answers: list[str]
    gold_names: list[str]  # score-2 set: the record's diagnosis and Orpha_name (+ synonyms)
    broader_names: list[str] = Field(default_factory=list)  # score-1 set: Orphanet parents


class JudgeVerdict(BaseModel):
    """The judge's answer for one :class:`JudgeRequest`; ``grades`` aligns with ``answers``."""

    grades: list[Grade | None]  # None where that answer could not be judged
    status: Literal["judged", "unjudged"]
    reason: str = ""
    cached: bool = False
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


@runtime_checkable
class SynonymJudge(Protocol):
    """Anything that grades diagnosis answers against reference names."""

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeVerdict]:
        """Judge every request (concurrently where possible); never raises for one bad item."""
        ...
