"""`medzero-eval score`: score a completions file offline with a medzero_rewards scorer."""

from __future__ import annotations

import json
from pathlib import Path

import click
from medzero_rewards import list_scorers

from medzero_eval.scoring import DEFAULT_BATCH_SIZE, InputError, build_config, read_items, score_records, write_scores


@click.command()
@click.option("--scorer", "scorer_name", required=True,
              help="Scorer name, e.g. rarearena_rdc, rarearena_rds, ehrsql.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help='JSON Lines: {"completion": ..., "reference": {...}} or a flat record with a completion '
                   "field ('-' = stdin).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="Scorer config (JSON object).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Scorer config override (value parsed as JSON if it can be); repeatable.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False),
              help="Write per-item scores here (JSON Lines: id + the Score).")
@click.option("--completion-field", default="completion", show_default=True,
              help="Field holding the completion text.")
@click.option("--reference-field", default=None,
              help="Field holding the reference record (default: 'reference' if it is an object, else the flat line).")
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=click.IntRange(min=1),
              help="Items per score_batch call.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def score(
    scorer_name: str,
    input_path: str,
    config_path: str | None,
    assignments: tuple[str, ...],
    output_path: str | None,
    completion_field: str,
    reference_field: str | None,
    batch_size: int,
    no_progress: bool,
) -> None:
    """Score completions against reference records; print the aggregate metrics as JSON.

    The aggregate is exactly ``scorer.aggregate(scorer.score_batch(...))`` -- the same numbers the
    lm-eval metric and the RL reward compute.
    """
    if scorer_name not in list_scorers():
        raise click.BadParameter(
            f"unknown scorer {scorer_name!r}; available: {', '.join(list_scorers())}", param_hint="--scorer"
        )
    try:
        config = build_config(config_path, assignments)
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--config/--set") from exc
    try:
        items = read_items(input_path, completion_field, reference_field)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    scores, metrics = score_records(
        scorer_name,
        [it.completion for it in items],
        [it.reference for it in items],
        config=config,
        batch_size=batch_size,
        progress=not no_progress,
    )
    if output_path:
        Path(output_path).parent.mkdir(parents=True, exist_ok=True)
        write_scores(output_path, [it.id for it in items], scores)
        click.echo(f"wrote {len(scores)} scores to {output_path}", err=True)
    click.echo(json.dumps(metrics, indent=2, ensure_ascii=False))
