"""Judge configuration: validation, secrets, build_judge, and the light install without openai."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from medzero_rewards.judge import JudgeConfig, JudgeRequest, JudgeVerdict, build_judge
from medzero_rewards.judge.client import JudgeUnavailableError, OpenAIJudge
from pydantic import ValidationError


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDZERO_JUDGE_CACHE", str(tmp_path / "c.sqlite"))
    cfg = JudgeConfig(model="gpt-4o-2024-08-06")
    assert cfg.temperature == 0.0
    assert cfg.api_key_env == "OPENAI_API_KEY"
    assert cfg.structured is True
    assert cfg.cache_path == tmp_path / "c.sqlite"


def test_dict_with_null_cache_and_string_path(tmp_path: Path) -> None:
    assert JudgeConfig.model_validate({"model": "m", "cache_path": None}).cache_path is None
    assert JudgeConfig.model_validate({"model": "m", "cache_path": str(tmp_path / "x.db")}).cache_path == tmp_path / "x.db"


@pytest.mark.parametrize(
    "bad",
    [
        {},  # model required
        {"model": ""},
        {"model": "m", "temprature": 0.5},  # typo: unknown field
        {"model": "m", "base_url": "127.0.0.1:8000/v1"},  # no scheme
        {"model": "m", "max_concurrency": 0},
        {"model": "m", "rpm": 0},
        {"model": "m", "cache_path": ""},
    ],
)
def test_invalid_configs_are_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        JudgeConfig.model_validate(bad)


def test_literal_api_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as info:
        JudgeConfig.model_validate({"model": "m", "api_key": "sk-secret-value-123"})
    assert "api_key_env" in str(info.value)
    assert "sk-secret-value-123" not in str(info.value)


def test_missing_key_env_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDZERO_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(JudgeUnavailableError, match="MEDZERO_TEST_NO_SUCH_KEY"):
        OpenAIJudge({"model": "m", "api_key_env": "MEDZERO_TEST_NO_SUCH_KEY", "cache_path": None})


def test_key_is_read_from_env_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDZERO_TEST_KEY", "sk-very-secret")
    judge = OpenAIJudge({"model": "m", "api_key_env": "MEDZERO_TEST_KEY", "base_url": "http://127.0.0.1:9/v1", "cache_path": None})
    assert "sk-very-secret" not in repr(judge)
    assert "sk-very-secret" not in judge.config.model_dump_json()
    judge.close()


class TableJudge:
    def judge_many(self, requests):
        return [JudgeVerdict(grades=[0] * len(r.answers), status="judged") for r in requests]


def test_build_judge_accepts_every_form(tmp_path: Path) -> None:
    assert build_judge(None) is None
    table = TableJudge()
    assert build_judge(table) is table
    common = {"base_url": "http://127.0.0.1:9/v1", "api_key_env": None, "cache_path": None}
    for form in ({"model": "m", **common}, JudgeConfig(model="m", **common)):
        judge = build_judge(form)
        assert isinstance(judge, OpenAIJudge) and judge.model == "m"
        judge.close()
    with pytest.raises(TypeError, match="judge must be"):
        build_judge(42)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        build_judge({"model": "m", "bogus": 1})


def test_judge_package_imports_without_openai() -> None:
    code = (
        "import sys; sys.modules['openai'] = None\n"
        "import medzero_rewards.judge as j\n"
        "cfg = j.JudgeConfig(model='m', api_key_env=None, cache_path=None)\n"
        "req = j.JudgeRequest(answers=['a'], gold_names=['b'])\n"
        "try:\n"
        "    j.build_judge(cfg)\n"
        "except j.JudgeUnavailableError as e:\n"
        "    print('unavailable:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "pip install 'medzero-rewards[judge]'" in out


def test_request_contract_is_unchanged() -> None:
    req = JudgeRequest(answers=["a"], gold_names=["b"])
    assert req.broader_names == []
    assert set(JudgeVerdict.model_fields) >= {"grades", "status", "reason", "cached", "calls", "tokens_in", "tokens_out"}
