"""`medzero-eval score-ehrsql`: score an official EHRSQL 2024 submission offline, as the official
program does, and print the metrics as JSON.

Inputs are the official files: ``label.json`` (``{id: gold SQL or "null"}``) and ``prediction.json``
(``{id: predicted SQL or "null"}``); the two must have exactly the same ids. Gold SQL is executed on
``--db`` (once; with ``--cache-dir`` once per database across runs), unless ``--gold-answers`` gives
precomputed results (``answer.json`` format).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def _load_id_map(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.UsageError(f"cannot read {what} {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise click.UsageError(f"{what} {path} must be a JSON object {{id: SQL or \"null\"}}, got {type(data).__name__}")
    return data


def check_ids(labels: dict[str, Any], predictions: dict[str, Any]) -> None:
    """Raise :class:`click.UsageError` unless both files have the same ids and string values."""
    missing = [k for k in labels if k not in predictions]
    extra = [k for k in predictions if k not in labels]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} label ids have no prediction (e.g. {', '.join(missing[:3])})")
        if extra:
            parts.append(f"{len(extra)} prediction ids are not in the labels (e.g. {', '.join(extra[:3])})")
        raise click.UsageError("IDs do not match: " + "; ".join(parts))
    for what, data in (("label", labels), ("prediction", predictions)):
        bad = [k for k, v in data.items() if not isinstance(v, str)]
        if bad:
            raise click.UsageError(
                f"{len(bad)} {what} values are not strings (SQL or \"null\"), e.g. id {bad[0]}: {data[bad[0]]!r}"
            )


@click.command("score-ehrsql")
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="EHRSQL SQLite database (opened read-only).")
@click.option("--labels", "labels_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="label.json: {id: gold SQL or \"null\"}.")
@click.option("--predictions", "predictions_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="prediction.json: {id: predicted SQL or \"null\"}.")
@click.option("--timeout", "timeout_s", type=float, default=10.0, show_default=True,
              help="Time limit per query in seconds.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: CPU count, at most 8; 0 = in-process).")
@click.option("--gold-answers", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Precomputed gold results (answer.json format) instead of executing the gold SQL.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep gold results in this folder (one file per database content) for later runs.")
@click.option("--per-question", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write one JSON line per question (id, outcome, status, error) to this file.")
def score_ehrsql(
    db_path: Path,
    labels_path: Path,
    predictions_path: Path,
    timeout_s: float,
    workers: int | None,
    gold_answers: Path | None,
    cache_dir: Path | None,
    per_question: Path | None,
) -> None:
    """Score an EHRSQL 2024 prediction.json like the official scoring program; print metrics as JSON.

    The official keys are accuracy0, accuracy5, accuracy10 and accuracyN (reliability score ×100 with
    penalty 0, 5, 10 and N); execution_accuracy, abstention_precision/recall, error_rate and
    timeout_rate (also ×100) and counts follow.
    """
    from medzero_rewards.ehrsql.scorer import EhrsqlConfig, EhrsqlScorer

    labels = _load_id_map(labels_path, "labels")
    predictions = _load_id_map(predictions_path, "predictions")
    check_ids(labels, predictions)
    if timeout_s <= 0:
        raise click.BadParameter("must be > 0", param_hint="--timeout")
    if workers is not None and workers < 0:
        raise click.BadParameter("must be >= 0", param_hint="--workers")
    options: dict[str, Any] = {
        "db_path": db_path, "timeout_s": timeout_s, "gold_answers": gold_answers, "cache_dir": cache_dir,
    }
    if workers is not None:
        options["workers"] = workers
    ids = list(labels)
    references = [{"id": qid, "label": labels[qid]} for qid in ids]
    with EhrsqlScorer(EhrsqlConfig(**options)) as scorer:
        scores = scorer.score_sql_batch([predictions[qid] for qid in ids], references)
        metrics = scorer.aggregate(scores)
    if per_question is not None:
        with per_question.open("w", encoding="utf-8") as fh:
            for qid, s in zip(ids, scores):
                fh.write(json.dumps({
                    "id": qid, "outcome": s.details["outcome"], "status": s.status.value,
                    "answerable": s.details["answerable"], "abstained": s.details["abstained"],
                    "error": s.details["error"], "timed_out": s.details["timed_out"],
                }) + "\n")
    click.echo(json.dumps(metrics))


if __name__ == "__main__":  # pragma: no cover
    score_ehrsql(sys.argv[1:])
