"""`medzero-eval report`: charts and a Markdown + standalone HTML summary from lm-eval --log_samples folders."""

from __future__ import annotations

from pathlib import Path

import click

from medzero_eval.commands import UserError


@click.command()
@click.argument("log_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--output", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for report.md, report.html and figures/.")
@click.option("--title", default="medzero report", show_default=True, help="Report title.")
@click.option("--rescore", is_flag=True,
              help="Recompute per-sample metrics from resps + doc with the medzero_rewards scorer the task config names.")
@click.option("--scorer", "scorer_name", default=None, help="With --rescore: use this scorer for every task instead.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="With --rescore: scorer config (JSON object) merged over the task's.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="With --rescore: scorer config override (value parsed as JSON if it can be); repeatable.")
@click.option("--worst", "worst_n", default=10, show_default=True, type=click.IntRange(min=0),
              help="Rows in each table of cases (worst, best, or the outputs when all scored alike).")
@click.option("--no-progress", is_flag=True, help="Hide progress bars while re-scoring.")
def report(
    log_dirs: tuple[Path, ...],
    out_dir: Path,
    title: str,
    rescore: bool,
    scorer_name: str | None,
    config_path: str | None,
    assignments: tuple[str, ...],
    worst_n: int,
    no_progress: bool,
) -> None:
    """Write a report over one or several lm-eval output directories (LOG_DIRS, one per checkpoint).

    Per task and checkpoint: metrics (rates in %), charts (bars for one checkpoint, lines over steps for
    several), outcome counts (correct, wrong, each failure status), the most common failure reasons and
    real outputs with gold, extracted answer, score and reason. Checkpoints are labelled by model and
    step and ordered by step (checkpoint-500, step_1000) when every one has one, else kept in the order
    given. Writes report.md, a standalone report.html (figures embedded) and figures/*.png; prints the
    path of the Markdown report. An unreadable results or samples file stops with one line naming it.
    """
    from medzero_eval.report import write_report
    from medzero_eval.scoring import build_config

    if (scorer_name or config_path or assignments) and not rescore:
        raise click.UsageError("--scorer, --config and --set only apply with --rescore")
    try:
        scorer_config = build_config(config_path, assignments)
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--config/--set") from exc
    try:
        md_path = write_report(
            list(log_dirs), out_dir, title=title, rescore=rescore, scorer=scorer_name,
            scorer_config=scorer_config, worst_n=worst_n, progress=not no_progress,
            on_warning=lambda message: click.echo(f"warning: {message}", err=True),
        )
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    click.echo(str(md_path))
