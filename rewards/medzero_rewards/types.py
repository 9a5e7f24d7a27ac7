"""Result types shared by every scorer."""

from __future__ import annotations

from enum import Enum
from typing import Any

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
