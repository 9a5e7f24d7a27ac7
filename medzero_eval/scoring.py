"""Offline scoring: completions + reference records -> per-item :class:`Score` s and corpus metrics.

This is the library behind ``medzero-eval score``. It calls the same ``medzero_rewards`` scorer
(:meth:`Scorer.score_batch`, then :meth:`Scorer.aggregate`) that the GRPO reward and the lm-eval
metrics call, so an offline score is exactly the number training and evaluation see.

Accepted JSON Lines shapes (one object per line; blank lines are skipped):

* nested: ``{"id": "c1", "completion": "<think>...</think><answer>...</answer>", "reference": {...}}``
* flat: ``{"_id": "c1", "case_report": "...", "diagnosis": "...", "completion": "..."}`` -- the
  reference record is the line minus the completion field.

The completion field name is ``completion`` unless told otherwise; the reference is taken from
``reference_field`` when given, else from ``"reference"`` when that key holds an object, else the
flat line. An item's id is the line's ``id``, else the reference's ``_id`` or ``id``, else its
1-based line number.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medzero_rewards import Score, get_scorer

DEFAULT_BATCH_SIZE = 64


class InputError(ValueError):
    """A line of the input file cannot be scored; the message names the file and line."""


@dataclass(frozen=True)
class ScoringItem:
    """One line of a completions file: its id, the completion text and the reference record."""

    id: str
    completion: str
    reference: dict[str, Any]


def parse_item(
    obj: Any,
    where: str,
    completion_field: str = "completion",
    reference_field: str | None = None,
    default_id: str = "",
) -> ScoringItem:
    """Turn one decoded JSON line into a :class:`ScoringItem`; ``where`` (``file:line``) prefixes errors."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if completion_field not in obj:
        raise InputError(f"{where}: no {completion_field!r} field (keys: {', '.join(sorted(obj)) or 'none'})")
    completion = obj[completion_field]
    if isinstance(completion, list) and len(completion) == 1:  # e.g. a one-element lm-eval response list
        completion = completion[0]
    if not isinstance(completion, str):
        raise InputError(f"{where}: {completion_field!r} must be a string, got {type(completion).__name__}")
    if reference_field is not None:
        if not isinstance(obj.get(reference_field), dict):
            raise InputError(f"{where}: {reference_field!r} must be a JSON object with the reference record")
        reference = dict(obj[reference_field])
    elif isinstance(obj.get("reference"), dict):
        reference = dict(obj["reference"])
    else:
        reference = {k: v for k, v in obj.items() if k != completion_field}
    if not reference:
        raise InputError(f"{where}: the reference record is empty")
    item_id = obj.get("id", reference.get("_id", reference.get("id", default_id)))
    return ScoringItem(id=str(item_id), completion=completion, reference=reference)


def read_items(
    path: str | Path, completion_field: str = "completion", reference_field: str | None = None
) -> list[ScoringItem]:
    """Read a completions JSON Lines file (``-`` for stdin); raises :class:`InputError` naming the bad line."""
    if str(path) == "-":
        lines: Iterable[str] = sys.stdin
        name = "<stdin>"
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{p}: no such file")
        lines = p.read_text(encoding="utf-8").splitlines()
        name = str(p)
    items = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
        items.append(parse_item(obj, where, completion_field, reference_field, default_id=str(lineno)))
    return items


def parse_set_option(assignment: str) -> tuple[str, Any]:
    """Parse ``key=value``; the value is read as JSON when it parses (``3``, ``true``, ``[1]``), else kept as text.

    >>> parse_set_option("answer_format=ranked"), parse_set_option("timeout_s=2.5")
    (('answer_format', 'ranked'), ('timeout_s', 2.5))
    """
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set expects key=value, got {assignment!r}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def build_config(config_path: str | Path | None = None, assignments: Sequence[str] = ()) -> dict[str, Any]:
    """Scorer keyword configuration: a JSON object file, then ``key=value`` overrides on top."""
    config: dict[str, Any] = {}
    if config_path is not None:
        loaded = json.loads(Path(config_path).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"{config_path}: the scorer config must be a JSON object")
        config.update(loaded)
    for assignment in assignments:
        key, value = parse_set_option(assignment)
        config[key] = value
    return config


def score_records(
    scorer_name: str,
    completions: Sequence[str],
    references: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
) -> tuple[list[Score], dict[str, float | None]]:
    """Score ``completions`` against ``references`` with the named ``medzero_rewards`` scorer.

    Scores in chunks of ``batch_size`` through :meth:`Scorer.score_batch` (a tqdm bar on stderr when
    ``progress``) and returns the per-item scores with ``scorer.aggregate(scores)``, unchanged (EHRSQL's
    metrics are percentages and may be ``None``, e.g. abstention precision without abstentions). A scorer
    with a ``close`` method (worker processes) is closed afterwards.
    """
    if len(completions) != len(references):
        raise ValueError(f"got {len(completions)} completions but {len(references)} references")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    scorer = get_scorer(scorer_name, **dict(config or {}))
    scores: list[Score] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(completions), desc=f"scoring ({scorer_name})", unit="item", file=sys.stderr)
    try:
        for start in range(0, len(completions), batch_size):
            chunk = scorer.score_batch(
                list(completions[start : start + batch_size]), list(references[start : start + batch_size])
            )
            scores.extend(chunk)
            if bar is not None:
                bar.update(len(chunk))
        metrics = scorer.aggregate(scores)
    finally:
        if bar is not None:
            bar.close()
        close = getattr(scorer, "close", None)  # e.g. the EHRSQL scorer's worker processes
        if callable(close):
            close()
    return scores, metrics


def score_to_json(item_id: str, score: Score) -> dict[str, Any]:
    """One output line: ``{"id": ..., **score}`` with the :class:`Score` in JSON mode."""
    return {"id": item_id, **score.model_dump(mode="json")}


def write_scores(path: str | Path, ids: Sequence[str], scores: Sequence[Score]) -> None:
    """Write one :func:`score_to_json` line per item to ``path`` (JSON Lines, UTF-8)."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for item_id, score in zip(ids, scores, strict=True):
            fh.write(json.dumps(score_to_json(item_id, score), ensure_ascii=False) + "\n")
