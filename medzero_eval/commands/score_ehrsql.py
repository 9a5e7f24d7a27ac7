"""`medzero-eval score-ehrsql`: score an official EHRSQL 2024 submission offline, as the official
program does, and print the metrics as JSON.

Inputs are the official files: ``label.json`` (``{id: gold SQL or "null"}``) and ``prediction.json``
(``{id: predicted SQL or "null"}``); the two must have exactly the same ids. Gold SQL is executed on
``--db`` (once; with ``--cache-dir`` once per database across runs), unless ``--gold-answers`` gives
precomputed results (``answer.json`` format).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import click

from medzero_eval.commands import UserError, atomic_output, warn
from medzero_eval.scoring import (
    DEFAULT_MAX_ERROR_SHARE,
    InputError,
    check_failures,
    describe_config_error,
    summary_line,
    tally_failures,
)

_ID_MAP_FIX = 'the official format is one JSON object {id: SQL or "null"}'


def _load_id_map(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UserError(f"not UTF-8 (byte at line {line})", file=f"{path}:{line}", fix="save it as UTF-8") from exc
    except OSError as exc:
        raise UserError(f"cannot read {what} ({exc.strerror or exc})", file=path, fix="check the path") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"cannot read {what}: not valid JSON ({exc.msg} at column {exc.colno})",
                        file=f"{path}:{exc.lineno}", fix=_ID_MAP_FIX) from exc
    if not isinstance(data, dict):
        raise UserError(f"{what} must be a JSON object, got {type(data).__name__}", file=path, fix=_ID_MAP_FIX)
    return data


def check_ids(labels: dict[str, Any], predictions: dict[str, Any], labels_path: Path | str = "labels",
              predictions_path: Path | str = "predictions") -> None:
    """Raise :class:`UserError` unless there are ids, both files have the same ids, and every value is a string."""
    if not labels:
        raise UserError("no questions (the labels object is empty); no metric can be reported",
                        file=labels_path, fix="pass the split's label.json")
    missing = [k for k in labels if k not in predictions]
    extra = [k for k in predictions if k not in labels]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} label ids have no prediction (e.g. {', '.join(missing[:3])})")
        if extra:
            parts.append(f"{len(extra)} prediction ids are not in the labels (e.g. {', '.join(extra[:3])})")
        raise UserError("IDs do not match: " + "; ".join(parts), file=predictions_path,
                        fix=f"predict every id of {labels_path} and no other")
    for what, data, path in (("label", labels, labels_path), ("prediction", predictions, predictions_path)):
        bad = [k for k, v in data.items() if not isinstance(v, str)]
        if bad:
            raise UserError(
                f"{len(bad)} {what} values are not strings (SQL or \"null\"), e.g. id {bad[0]}: {data[bad[0]]!r}",
                file=path, fix='write each value as SQL text or "null"',
            )


@click.command("score-ehrsql")
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="EHRSQL SQLite database (opened read-only).")
@click.option("--labels", "labels_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="label.json: {id: gold SQL or \"null\"}.")
@click.option("--predictions", "predictions_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="prediction.json: {id: predicted SQL or \"null\"}.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Time limit per query in seconds.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Worker processes (default: CPU count, at most 8; 0 = in-process).")
@click.option("--gold-answers", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Precomputed gold results (answer.json format) instead of executing the gold SQL.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep gold results in this folder (one file per database content) for later runs.")
@click.option("--per-question", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write one JSON line per question (id, outcome, status, error) to this file "
                   "(written only when the run succeeds).")
@click.option("--max-error-share", default=DEFAULT_MAX_ERROR_SHARE, show_default=True,
              type=click.FloatRange(0.0, 1.0),
              help="Refuse the run (exit 2, nothing written) when more than this share of questions cannot be "
                   "scored (e.g. the gold SQL fails on --db).")
@click.option("--allow-errors", is_flag=True,
              help="Report anyway when more than --max-error-share of questions fail (a warning line names "
                   "them); a run where every question fails is always refused.")
def score_ehrsql(
    db_path: Path,
    labels_path: Path,
    predictions_path: Path,
    timeout_s: float,
    workers: int | None,
    gold_answers: Path | None,
    cache_dir: Path | None,
    per_question: Path | None,
    max_error_share: float,
    allow_errors: bool,
) -> None:
    """Score an EHRSQL 2024 prediction.json like the official scoring program; print metrics as JSON on
    stdout and a one-line human summary on stderr.

    The official keys are accuracy0, accuracy5, accuracy10 and accuracyN (reliability score ×100 with
    penalty 0, 5, 10 and N); execution_accuracy, abstention_precision/recall, error_rate and
    timeout_rate (fractions in [0, 1]) and counts follow.

    \b
    Failure behaviour: a user error prints one line, `error: <file>: <what> — <fix>`, exits with
    code 2 and writes no --per-question file: unreadable or mismatched label/prediction files, no
    questions, a --db that is not an EHRSQL database, or questions whose gold answer cannot be computed
    (the gold SQL fails on --db) -- all of them, or more than --max-error-share unless --allow-errors
    (then one `warning:` line with the counts, and exit 0).
    """
    from medzero_rewards.ehrsql.scorer import EhrsqlConfig, EhrsqlScorer

    start = time.monotonic()
    labels = _load_id_map(labels_path, "labels")
    predictions = _load_id_map(predictions_path, "predictions")
    check_ids(labels, predictions, labels_path, predictions_path)
    options: dict[str, Any] = {
        "db_path": db_path, "timeout_s": timeout_s, "gold_answers": gold_answers, "cache_dir": cache_dir,
    }
    if workers is not None:
        options["workers"] = workers
    ids = list(labels)
    references = [{"id": qid, "label": labels[qid]} for qid in ids]
    try:
        scorer = EhrsqlScorer(EhrsqlConfig(**options))
    except (ValueError, OSError, sqlite3.Error) as exc:  # the scorer checks the database at construction
        detail = describe_config_error(exc)
        if str(db_path) in detail:  # the scorer's own line names the file and the fix (db_path is --db here)
            raise UserError(detail.replace(" as db_path", " with --db")) from exc
        raise UserError(detail, file=db_path, fix="pass the EHRSQL 2024 SQLite database (mimic_iv.sqlite)") from exc
    with scorer:
        scores = scorer.score_sql_batch([predictions[qid] for qid in ids], references)
        metrics = scorer.aggregate(scores)
    try:
        warning = check_failures(
            tally_failures(ids, scores), db_path, max_share=max_error_share, allow=allow_errors,
            fix=f"pass the database {labels_path.name} was written for (EHRSQL 2024 mimic_iv.sqlite), "
                "or its gold results with --gold-answers",
        )
    except InputError as exc:
        raise UserError(str(exc)) from exc
    if warning:
        warn(warning)
    if per_question is not None:
        with atomic_output(per_question) as fh:
            for qid, s in zip(ids, scores):
                fh.write(json.dumps({
                    "id": qid, "outcome": s.details["outcome"], "status": s.status.value,
                    "answerable": s.details["answerable"], "abstained": s.details["abstained"],
                    "error": s.details["error"], "timed_out": s.details["timed_out"],
                }) + "\n")
    click.echo(summary_line(metrics, time.monotonic() - start), err=True)
    click.echo(json.dumps(metrics))


if __name__ == "__main__":  # pragma: no cover
    score_ehrsql(sys.argv[1:])
