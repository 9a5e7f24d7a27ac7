"""Configuration of the diagnosis scorer: :class:`DiagnosisConfig`, the preset weights, and the
``config=`` / keyword merging the ``get_scorer`` factories use."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from medzero_rewards.language import language_mixing
from medzero_rewards.matching import DEFAULT_HI, DEFAULT_LO

__all__ = ["DEFAULT_WEIGHTS", "DiagnosisConfig", "resolve_config"]

DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "recommended": {"format": 0.2, "accuracy": 1.0, "language": 0.0},
    "diagnosis_zero": {"format": 0.1, "accuracy": 0.9, "language": 0.0},
}
"""Component weights per preset; ``weights=`` overrides individual keys."""


class DiagnosisConfig(BaseModel):
    """Configuration of :class:`~medzero_rewards.diagnosis.DiagnosisScorer` (also accepted as keyword
    arguments to ``get_scorer``).

    >>> DiagnosisConfig(answer_format="ranked").k
    5
    >>> DiagnosisConfig(judge=None).judge_mode
    'never'
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    answer_format: Literal["single", "ranked"] = "single"
    k: int = Field(5, ge=1, description="ranked mode: how many items count for top-k")
    preset: Literal["recommended", "diagnosis_zero"] = "recommended"
    weights: dict[str, float] | None = Field(None, description="overrides of DEFAULT_WEIGHTS[preset]")
    hierarchy_path: Path | None = Field(None, description="orphanet_hypernym.json-format file")
    max_parent_disease_count: int = Field(10, ge=0)
    synonyms: Any = Field(None, description="mapping, list of groups, JSON/TSV path or SynonymTable")
    expected_script: str = "Latin"
    language_penalty: Literal["binary", "share"] = "binary"
    think_prefilled: bool | None = None
    tokenizer: Any = None
    fuzzy_hi: float = Field(DEFAULT_HI, ge=0, le=100)
    fuzzy_lo: float = Field(DEFAULT_LO, ge=0, le=100)
    judge: Any = Field(None, description="a SynonymJudge, or a JudgeConfig / mapping / model name")
    judge_mode: Literal["never", "fallback", "always"] | None = None
    judge_misses: bool = False
    max_unjudged_share: float = Field(0.05, ge=0, le=1)
    max_completion_chars: int = Field(
        100_000, ge=1, description="longer completions are not parsed: status format_error, reward 0"
    )
    max_answer_chars: int = Field(
        4_000, ge=1, description="longer answers are not read as a diagnosis: status format_error, no accuracy"
    )
    cache_mb: float = Field(64.0, gt=0, description="memory budget of the scorer's caches (MB, estimated)")

    @field_validator("weights")
    @classmethod
    def _known_weights(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None:
            unknown = set(v) - {"format", "accuracy", "language"}
            if unknown:
                raise ValueError(f"unknown weight(s) {sorted(unknown)}; use format, accuracy, language")
        return v

    @model_validator(mode="after")
    def _check(self) -> DiagnosisConfig:
        if self.fuzzy_lo > self.fuzzy_hi:
            raise ValueError(f"fuzzy_lo ({self.fuzzy_lo}) must not exceed fuzzy_hi ({self.fuzzy_hi})")
        if self.judge_mode is None:
            self.judge_mode = "never" if self.judge is None else "fallback"
        language_mixing("", self.expected_script)  # ValueError for an unknown script
        return self

    def resolved_weights(self) -> dict[str, float]:
        """The preset's weights with ``weights`` overrides applied.

        >>> DiagnosisConfig(preset="diagnosis_zero", weights={"language": 0.5}).resolved_weights()
        {'format': 0.1, 'accuracy': 0.9, 'language': 0.5}
        """
        return {**DEFAULT_WEIGHTS[self.preset], **(self.weights or {})}


def resolve_config(config: dict[str, Any]) -> DiagnosisConfig:
    """A :class:`DiagnosisConfig` from factory keywords: ``config=DiagnosisConfig(...)`` (optional) with
    the other keywords overriding its fields.

    >>> resolve_config({"config": DiagnosisConfig(k=2), "answer_format": "ranked"}).k
    2
    """
    base = config.pop("config", None)
    if base is None:
        return DiagnosisConfig(**config)
    if not isinstance(base, DiagnosisConfig):
        raise TypeError(f"config must be a DiagnosisConfig, got {type(base).__name__}")
    return DiagnosisConfig(**{**dict(base), **config}) if config else base
