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
    except ValidationError as exc:
        raise click.ClickException(f"invalid config {config_path}:\n{exc}") from exc
    except ValueError as exc:
        raise click.ClickException(f"invalid config {config_path}: {exc}") from exc

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

    from medzero_train.train import run

    summary = run(cfg)
    click.echo(json.dumps(summary, indent=2, default=str) if as_json else
               f"done: {summary['global_step']} steps, output in {summary['output_dir']}, "
               f"reward share of step time {summary['reward_share']}")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
