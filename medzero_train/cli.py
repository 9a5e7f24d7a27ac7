"""``medzero-train``: GRPO on TRL with medzero's scorers as rewards, from one YAML config.

    medzero-train --config configs/rdc_qwen2.5-7b.yaml               # train
    medzero-train --config configs/smoke_cpu.yaml --dry-run          # validate + plan, no model loaded
    medzero-train --config c.yaml --set grpo.max_steps=10            # override any key (value read as YAML)
    medzero-train --config c.yaml --export-verl data/verl            # verl parquet files, then exit
    accelerate launch --config_file configs/accelerate/zero3.yaml -m medzero_train --config c.yaml
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from medzero_rewards.judge.client import JudgeUnavailableError
from medzero_train.config import TrainConfig

# what a user can fix (a missing file or model, a bad setting, a judge without its API key or the openai
# extra): one line, exit 1, no traceback
USER_ERRORS = (FileNotFoundError, ValueError, KeyError, JudgeUnavailableError)


def one_line(exc: BaseException) -> str:
    """An exception as one line: pydantic's errors as ``loc: msg`` joined by ``; ``.

    >>> one_line(ValueError("bad\\n  value"))
    'bad value'
    """
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or e.get('type', '')}: {e['msg']}" for e in exc.errors())
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(str(text).split())


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def summary_line(summary: dict) -> str:
    """The closing line of a run, in human units.

    >>> summary_line({"global_step": 2, "output_dir": "runs/x", "train_runtime_s": 31.2,
    ...               "step_time_s": [14.0, 15.1], "reward_time_s": [0.0009, 0.0011], "reward_share": 6.9e-05})
    'done: 2 steps in 31.2 s, output in runs/x; rewards took 1.0 ms per step on average, 0.0069 % of the step time'
    """
    steps = summary["global_step"]
    runtime = summary.get("train_runtime_s")
    text = f"done: {steps} steps" + (f" in {runtime:.1f} s" if runtime is not None else "")
    text += f", output in {summary['output_dir']}"
    rewards, share = summary.get("reward_time_s") or [], summary.get("reward_share")
    if rewards and share is not None:
        text += (f"; rewards took {_ms(sum(rewards) / len(rewards))} per step on average, "
                 f"{share * 100:.2g} % of the step time")
    return text


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="YAML run configuration.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key (dotted path; value parsed as YAML). Repeatable.")
@click.option("--dry-run", is_flag=True, help="Validate, build datasets and rewards, score samples, print the plan.")
@click.option("--samples", default=2, show_default=True, help="Rows per task scored in --dry-run.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan / summary as JSON.")
@click.option("--export-verl", type=click.Path(file_okay=False), default=None,
              help="Write train.parquet (and test.parquet with eval data) in verl's format to this dir, then exit.")
@click.version_option(package_name="medzero")
def main(config_path: str, overrides: tuple[str, ...], dry_run: bool, samples: int, as_json: bool,
         export_verl: str | None) -> None:
    """Train a policy with GRPO (TRL) on medzero tasks; the rewards are the evaluation scorers."""
    from medzero_train.config import load_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(config_path, overrides)
    except (ValueError, OSError) as exc:  # pydantic's ValidationError is a ValueError; YAML errors too
        raise click.ClickException(f"invalid config {config_path}: {one_line(exc)}") from None
    try:
        _run(cfg, dry_run, samples, as_json, export_verl)
    except USER_ERRORS as exc:
        raise click.ClickException(f"{config_path}: {one_line(exc)}") from None


def _run(cfg: TrainConfig, dry_run: bool, samples: int, as_json: bool, export_verl: str | None) -> None:
    if export_verl:
        from medzero_train import data as data_mod
        from medzero_train.verl import export_parquet

        configs = data_mod.scorer_configs(cfg)
        out = Path(export_verl)
        written = [export_parquet(list(data_mod.build_dataset(cfg.train_data, cfg.shuffle_seed)), configs,
                                  out / "train.parquet", "train")]
        if cfg.eval is not None:
            written.append(export_parquet(list(data_mod.build_dataset(cfg.eval.data)), configs,
                                          out / "test.parquet", "test"))
        for p in written:
            click.echo(str(p))
        return

    if dry_run:
        from medzero_train.dry_run import dry_run as make_plan
        from medzero_train.dry_run import format_plan

        plan = make_plan(cfg, samples)
        click.echo(json.dumps(plan, indent=2, default=str) if as_json else format_plan(plan))
        return

    from medzero_train.train import prepare, run

    prepared = prepare(cfg)  # user errors surface here, before any weights load
    try:
        summary = run(cfg, prepared)
    except USER_ERRORS as exc:  # inside training a ValueError is no user error: keep its traceback
        raise RuntimeError(f"training failed: {exc}") from exc
    click.echo(json.dumps(summary, indent=2, default=str) if as_json else summary_line(summary))


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
