"""`medzero-eval score`: score a completions file offline with a medzero_rewards scorer."""

from __future__ import annotations

import json
import time

import click

from medzero_eval.commands import UserError, warn
from medzero_eval.scoring import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ERROR_SHARE,
    InputError,
    build_config,
    check_failures,
    check_scorer_name,
    make_scorer,
    read_items,
    score_records,
    summary_line,
    tally_failures,
    write_scores,
)


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
              help="Write per-item scores here (JSON Lines: id + the Score); written only when the run succeeds.")
@click.option("--completion-field", default="completion", show_default=True,
              help="Field holding the completion text.")
@click.option("--reference-field", default=None,
              help="Field holding the reference record (default: 'reference' if it is an object, else the flat line).")
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=click.IntRange(min=1),
              help="Items per score_batch call.")
@click.option("--max-error-share", default=DEFAULT_MAX_ERROR_SHARE, show_default=True,
              type=click.FloatRange(0.0, 1.0),
              help="Refuse the run (exit 2, nothing written) when more than this share of items cannot be scored.")
@click.option("--allow-errors", is_flag=True,
              help="Report anyway when more than --max-error-share of items fail (a warning line names them); "
                   "a run where every item fails is always refused.")
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
    max_error_share: float,
    allow_errors: bool,
    no_progress: bool,
) -> None:
    """Score completions against reference records; print the aggregate metrics as JSON on stdout
    and a one-line human summary on stderr.

    The aggregate is exactly ``scorer.aggregate(scorer.score_batch(...))`` -- the same numbers the
    lm-eval metric and the RL reward compute.

    \b
    Failure behaviour: a user error prints one line, `error: <file>: <what> — <fix>`, exits with
    code 2 and writes no --output: an empty input, a line that is not UTF-8 or not JSON (file:line),
    an unknown scorer or setting, a judge that left more than its max_unjudged_share of items
    unjudged, or a run where items cannot be scored (no gold answer; an EHRSQL database that cannot
    run the gold queries) -- all of them, or more than --max-error-share of them unless
    --allow-errors (then one `warning:` line with the counts, and exit 0).
    """
    start = time.monotonic()
    source = config_path or "--set"
    try:
        check_scorer_name(scorer_name)
        config = build_config(config_path, assignments)
        items = read_items(input_path, completion_field, reference_field)
        scorer = make_scorer(scorer_name, config, source=source)
    except InputError as exc:
        raise UserError(str(exc)) from exc
    from medzero_rewards.diagnosis import UnjudgedError

    try:
        scores, metrics = score_records(
            scorer,
            [it.completion for it in items],
            [it.reference for it in items],
            batch_size=batch_size,
            progress=not no_progress,
        )
    except UnjudgedError as exc:  # the judge was down or answered nonsense for too many items
        raise UserError(str(exc), file=source) from exc
    try:
        warning = check_failures(
            tally_failures([it.id for it in items], scores), input_path, max_share=max_error_share, allow=allow_errors
        )
    except InputError as exc:
        raise UserError(str(exc)) from exc
    if warning:
        warn(warning)
    if output_path:
        write_scores(output_path, [it.id for it in items], scores)
        click.echo(f"wrote {len(scores)} scores to {output_path}", err=True)
    click.echo(summary_line(metrics, time.monotonic() - start), err=True)
    click.echo(json.dumps(metrics, indent=2, ensure_ascii=False))
