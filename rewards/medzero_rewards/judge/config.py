"""Configuration of the OpenAI-compatible synonym judge.

The same fields are accepted as a :class:`JudgeConfig`, a plain ``dict`` (from YAML/JSON configs of
``medzero-train`` or the lm-eval tasks) or keyword arguments. The API key itself is never a field:
only the *name* of the environment variable holding it, so configs, caches and reports never
contain a secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SECRET_FIELDS = ("api_key", "openai_api_key", "key", "token", "api_token")


def default_cache_path() -> Path:
    """``$MEDZERO_JUDGE_CACHE`` if set, else ``$XDG_CACHE_HOME/medzero/judge_cache.sqlite``."""
    env = os.environ.get("MEDZERO_JUDGE_CACHE")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "medzero" / "judge_cache.sqlite"


class JudgeConfig(BaseModel):
    """Everything needed to build an :class:`~medzero_rewards.judge.client.OpenAIJudge`.

    Only ``model`` is required. Unknown fields are rejected (a typo must not silently fall back to
    a default), and so is any field that looks like a literal API key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)  # never echo a pasted key

    model: str = Field(min_length=1, description="Model name sent to the endpoint, e.g. 'gpt-4o-2024-08-06'.")
    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint, e.g. 'http://127.0.0.1:8000/v1' for `vllm serve`; None = api.openai.com.",
    )
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY",
        description="Name of the environment variable holding the API key; None for endpoints that need no key.",
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int | None = Field(default=None, description="Sampling seed, sent when set (best-effort determinism).")
    max_tokens: int = Field(default=256, ge=16, description="Output cap per call (a ranked list of 5 needs ~80).")
    max_answers_per_call: int = Field(
        default=10, ge=1, description="Longer answer lists are split over several calls (keeps replies short)."
    )
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens", description="Which request field carries max_tokens (newer OpenAI models want max_completion_tokens)."
    )
    structured: bool = Field(
        default=True,
        description="Ask for a JSON-schema response_format; falls back to free text if the server rejects it.",
    )
    timeout_s: float = Field(default=60.0, gt=0.0, description="Per-request timeout in seconds.")
    max_retries: int = Field(default=4, ge=0, description="Retries after a 429, 5xx, timeout or connection error.")
    parse_retries: int = Field(default=1, ge=0, description="Re-asks after an empty or unparseable reply.")
    backoff_base_s: float = Field(default=1.0, ge=0.0, description="First backoff delay; doubles per retry.")
    backoff_max_s: float = Field(default=30.0, ge=0.0, description="Cap on the exponential backoff delay.")
    max_retry_after_s: float = Field(default=120.0, ge=0.0, description="Cap on a server's Retry-After wait.")
    max_concurrency: int = Field(default=8, ge=1, description="Requests in flight at once (all callers of one judge).")
    rpm: float | None = Field(default=None, gt=0.0, description="Requests-per-minute limit; None = unlimited.")
    tpm: float | None = Field(default=None, gt=0.0, description="Tokens-per-minute limit (estimated prompt + max_tokens).")
    cache_path: Path | None = Field(
        default_factory=default_cache_path,
        description="SQLite cache file; None disables the persistent cache.",
    )
    show_progress: bool = Field(default=False, description="tqdm progress bar over calls (if tqdm is installed).")
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Extra JSON fields for the request body (server-specific options)."
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_literal_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in _SECRET_FIELDS:
                if name in data:
                    raise ValueError(
                        f"judge config field {name!r} is not accepted: put the key in an environment "
                        "variable and name that variable in 'api_key_env'"
                    )
        return data

    @field_validator("cache_path", mode="before")
    @classmethod
    def _expand_cache_path(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip() == "":
                raise ValueError("cache_path must be a file path or null (to disable the cache)")
            return Path(value).expanduser()
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value

    def resolve_api_key(self) -> str:
        """Read the API key from the environment (never stored on the config).

        Raises :class:`ValueError` naming the variable (not its value) when it is unset.
        """
        if self.api_key_env is None:
            return "EMPTY"  # the openai client insists on some key; keyless servers ignore it
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ValueError(
                f"judge API key: environment variable {self.api_key_env!r} is not set "
                "(set it, or use api_key_env: null for an endpoint that needs no key)"
            )
        return key
