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
import math
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medzero_rewards import Score, Scorer, Status, get_scorer

DEFAULT_BATCH_SIZE = 64
DEFAULT_MAX_ERROR_SHARE = 0.05
"""Share of items that may fail (``Status.error``, or a gold answer that cannot be computed) before
``medzero-eval score`` refuses the run (unless ``--allow-errors``)."""
INPUT_SHAPE = 'one JSON object per line, {"completion": ..., "reference": {...}}'


class InputError(ValueError):
    """Input that cannot be scored; the message names the file (and line) and the fix, on one line."""


class SettingError(InputError):
    """The scorer configuration (``--config`` / ``--set``) is invalid; the message names the setting and the fix."""


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
        raise InputError(
            f"{where}: expected a JSON object, got {type(obj).__name__} — the input is JSON Lines: {INPUT_SHAPE}"
        )
    if completion_field not in obj:
        raise InputError(
            f"{where}: no {completion_field!r} field (keys: {', '.join(sorted(obj)) or 'none'}) "
            "— name the completion's field with --completion-field"
        )
    completion = obj[completion_field]
    if isinstance(completion, list) and len(completion) == 1:  # e.g. a one-element lm-eval response list
        completion = completion[0]
    if not isinstance(completion, str):
        raise InputError(
            f"{where}: {completion_field!r} must be a string, got {type(completion).__name__} "
            "— give the completion's text (or a one-element list of it)"
        )
    if reference_field is not None:
        if not isinstance(obj.get(reference_field), dict):
            raise InputError(
                f"{where}: {reference_field!r} must be a JSON object with the reference record "
                "— check --reference-field"
            )
        reference = dict(obj[reference_field])
    elif isinstance(obj.get("reference"), dict):
        reference = dict(obj["reference"])
    else:
        reference = {k: v for k, v in obj.items() if k != completion_field}
    if not reference:
        raise InputError(
            f"{where}: the reference record is empty — give each line its reference record "
            "(under \"reference\", or as the line's other fields), with the gold answer"
        )
    item_id = obj.get("id", reference.get("_id", reference.get("id", default_id)))
    return ScoringItem(id=str(item_id), completion=completion, reference=reference)


def read_items(
    path: str | Path, completion_field: str = "completion", reference_field: str | None = None
) -> list[ScoringItem]:
    """Read a completions JSON Lines file (``-`` for stdin); raises :class:`InputError` naming the bad line."""
    if str(path) == "-":
        raw: Iterable[bytes] = sys.stdin.buffer
        name = "<stdin>"
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{p}: no such file — check the --input path")
        try:
            raw = p.read_bytes().splitlines()
        except OSError as exc:
            raise InputError(f"{p}: cannot read ({exc.strerror or exc}) — check the file's permissions") from exc
        name = str(p)
    items = []
    for lineno, raw_line in enumerate(raw, 1):
        where = f"{name}:{lineno}"
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{where}: not UTF-8 (byte 0x{raw_line[exc.start]:02x} at column {exc.start + 1}) "
                "— save the file as UTF-8"
            ) from exc
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{where}: not valid JSON ({exc.msg} at column {exc.colno}) — the input is JSON Lines: {INPUT_SHAPE}"
            ) from exc
        items.append(parse_item(obj, where, completion_field, reference_field, default_id=str(lineno)))
    if not items:
        raise InputError(f"{name}: no items (the file is empty) — give JSON Lines, {INPUT_SHAPE}")
    return items


def parse_set_option(assignment: str) -> tuple[str, Any]:
    """Parse ``key=value``; the value is read as JSON when it parses (``3``, ``true``, ``[1]``), else kept as text.

    >>> parse_set_option("answer_format=ranked"), parse_set_option("timeout_s=2.5")
    (('answer_format', 'ranked'), ('timeout_s', 2.5))
    """
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise SettingError(f"--set expects key=value, got {assignment!r} — write e.g. --set k=5")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def build_config(config_path: str | Path | None = None, assignments: Sequence[str] = ()) -> dict[str, Any]:
    """Scorer keyword configuration: a JSON object file, then ``key=value`` overrides on top."""
    config: dict[str, Any] = {}
    if config_path is not None:
        fix = 'the scorer config is a JSON object, e.g. {"hierarchy_path": "/data/orphanet.json"}'
        try:
            loaded = json.loads(Path(config_path).read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise SettingError(f"{config_path}: not UTF-8 — save it as UTF-8") from exc
        except json.JSONDecodeError as exc:
            raise SettingError(
                f"{config_path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno}) — {fix}"
            ) from exc
        except OSError as exc:
            raise SettingError(f"{config_path}: cannot read ({exc.strerror or exc}) — check the path") from exc
        if not isinstance(loaded, dict):
            raise SettingError(f"{config_path}: not a JSON object — {fix}")
        config.update(loaded)
    for assignment in assignments:
        key, value = parse_set_option(assignment)
        config[key] = value
    return config


def _config_fields(model_name: str) -> list[str]:
    """Field names of the ``medzero_rewards`` pydantic config class called ``model_name`` (for the
    "valid settings" hint), found among the loaded subclasses of :class:`pydantic.BaseModel`."""
    from pydantic import BaseModel

    todo: list[type] = [BaseModel]
    while todo:
        cls = todo.pop()
        if cls.__name__ == model_name and cls.__module__.startswith("medzero_rewards"):
            return sorted(cls.model_fields)  # type: ignore[attr-defined]
        todo.extend(cls.__subclasses__())
    return []


def _validation_error(exc: BaseException) -> Any:
    """The pydantic ``ValidationError`` behind ``exc``: itself, or the one it was raised from (also
    ``raise ... from None``, which keeps it as the context), else None."""
    from pydantic import ValidationError

    for candidate in (exc, exc.__cause__, exc.__context__):
        if isinstance(candidate, ValidationError):
            return candidate
    return None


def describe_config_error(exc: Exception) -> str:
    """One line for a scorer-config error: each bad setting and why; for an unknown setting, the valid ones.

    >>> from pydantic import BaseModel, ConfigDict, ValidationError
    >>> class Demo(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     k: int = 1
    >>> try:
    ...     Demo(k="x")
    ... except ValidationError as e:
    ...     describe_config_error(e)
    "setting 'k': Input should be a valid integer, unable to parse string as an integer"
    """
    exc = _validation_error(exc) or exc
    if not hasattr(exc, "errors") or not hasattr(exc, "title"):
        return " ".join(str(exc).split())
    parts, unknown = [], False
    for err in exc.errors(include_url=False, include_input=False):
        key = ".".join(str(x) for x in err["loc"]) or "(config)"
        if err["type"] == "extra_forbidden":
            unknown = True
            parts.append(f"unknown setting {key!r}")
        elif err["type"] == "missing":
            parts.append(f"setting {key!r} is required")
        else:
            parts.append(f"setting {key!r}: {err['msg']}")
    message = "; ".join(parts)
    valid = _config_fields(exc.title)
    if unknown and valid:
        message += f" (valid settings: {', '.join(valid)})"
    return message


def check_scorer_name(scorer_name: str) -> None:
    """Raise :class:`SettingError` unless ``scorer_name`` is registered."""
    from medzero_rewards import list_scorers

    if scorer_name not in list_scorers():
        raise SettingError(
            f"--scorer: unknown scorer {scorer_name!r} — choose one of {', '.join(list_scorers())}"
        )


def make_scorer(scorer_name: str, config: Mapping[str, Any] | None = None, *, source: str = "--config/--set") -> Scorer:
    """``get_scorer(scorer_name, **config)``; a bad configuration raises :class:`SettingError`
    (one line naming ``source``, the bad setting and the fix) instead of a pydantic traceback."""
    from medzero_rewards.judge.client import JudgeUnavailableError

    check_scorer_name(scorer_name)
    try:
        return get_scorer(scorer_name, **dict(config or {}))
    except JudgeUnavailableError as exc:  # the openai extra or the API key is missing
        raise SettingError(
            f"{source}: judge: {exc} — fix the environment, or leave the judge out of the {scorer_name} settings"
        ) from exc
    except (ValueError, TypeError, OSError) as exc:  # pydantic's ValidationError is a ValueError
        validation = _validation_error(exc)
        errors = validation.errors() if validation is not None else []
        missing = [".".join(map(str, e["loc"])) for e in errors if e["type"] == "missing"]
        fix = (
            "pass " + " ".join(f"--set {key}=VALUE" for key in missing) if missing
            else f"fix the {scorer_name} settings"
        )
        raise SettingError(f"{source}: {describe_config_error(exc)} — {fix}") from exc


def failure_reason(score: Score) -> str | None:
    """Why an item could not be scored, or None: ``Status.error`` (the scorer failed on the item, e.g. a
    reference without gold), or a gold answer that could not be computed (EHRSQL ``gold_error``)."""
    gold_error = score.details.get("gold_error") if isinstance(score.details, Mapping) else None
    if gold_error:
        return f"gold SQL failed on this database: {gold_error}"
    if score.status == Status.error:
        return score.reason or "scorer error"
    return None


@dataclass(frozen=True)
class FailureTally:
    """Items that could not be scored: count, total, the commonest reasons and one example id."""

    failed: int
    total: int
    reasons: list[tuple[str, int]]
    example_id: str | None
    gold_failed: int = 0
    """Items whose gold answer could not be computed (EHRSQL: the gold SQL failed on the database)."""
    gold_total: int = 0
    """Items with a gold answer to compute (EHRSQL: answerable questions)."""

    @property
    def share(self) -> float:
        return self.failed / self.total if self.total else 0.0

    def describe(self) -> str:
        """``"3 of 10 items (30.0%) could not be scored (2× reason a; 1× reason b; e.g. id c7)"``."""
        shown = "; ".join(f"{count}× {reason}" for reason, count in self.reasons[:2])
        more = f"; +{len(self.reasons) - 2} other reasons" if len(self.reasons) > 2 else ""
        example = f"; e.g. id {self.example_id}" if self.example_id is not None else ""
        return (
            f"{self.failed} of {self.total} items ({100 * self.share:.1f}%) could not be scored "
            f"({shown}{more}{example})"
        )


def tally_failures(ids: Sequence[str], scores: Sequence[Score]) -> FailureTally:
    """Count the items :func:`failure_reason` flags."""
    reasons: Counter[str] = Counter()
    example = None
    gold_failed = gold_total = 0
    for item_id, score in zip(ids, scores, strict=True):
        reason = failure_reason(score)
        if reason is not None:
            reasons[" ".join(reason.split())[:160]] += 1
            example = item_id if example is None else example
        gold_total += score.details.get("answerable") is True
        gold_failed += bool(score.details.get("gold_error"))
    return FailureTally(sum(reasons.values()), len(scores), reasons.most_common(), example, gold_failed, gold_total)


def check_failures(
    tally: FailureTally,
    source: str | Path,
    *,
    max_share: float = DEFAULT_MAX_ERROR_SHARE,
    allow: bool = False,
    fix: str = "fix the reference records (every item needs its gold answer) or the scorer settings",
) -> str | None:
    """Refuse a meaningless run, else return a warning line (or None when nothing failed).

    Raises :class:`InputError` (naming ``source``) when no item could be scored (no gold), when no gold
    answer could be computed (a database that cannot run any gold query), or when more than ``max_share`` of the items failed and ``allow`` is
    False; ``fix`` is the advice that ends the line. Returns the warning text when some items failed
    but the run stands.
    """
    if tally.failed == 0:
        return None
    if tally.failed == tally.total:
        raise InputError(f"{source}: {tally.describe()}; no metric can be reported — {fix}")
    if tally.gold_total and tally.gold_failed >= tally.gold_total:
        raise InputError(
            f"{source}: {tally.describe()}: the gold answer of every answerable question failed, "
            f"so no metric can be reported — {fix}"
        )
    if tally.share > max_share and not allow:
        raise InputError(
            f"{source}: {tally.describe()}, above --max-error-share {100 * max_share:.1f}% — {fix}, "
            "or pass --allow-errors to report the others"
        )
    allowed = "--allow-errors" if tally.share > max_share else f"within --max-error-share {100 * max_share:.1f}%"
    return f"{source}: {tally.describe()} ({allowed})"


_PERCENT_KEYS = frozenset({"accuracy0", "accuracy5", "accuracy10", "accuracyN"})  # official EHRSQL, already ×100


def format_metric(key: str, value: Any) -> str:
    """A metric for people: rates (fractions) as percentages with one decimal, the official EHRSQL
    scores (already ×100) with a percent sign, counts as integers, means with two decimals.

    >>> format_metric("top1", 0.5), format_metric("accuracy0", 40.0), format_metric("n", 6), format_metric("mean_length", 812.25)
    ('50.0%', '40.0%', '6', '812.25')
    >>> format_metric("judge_calls", 12), format_metric("judge_agreement", float("nan"))
    ('12', 'n/a')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if key == "n" or key.startswith("n_") or (isinstance(value, int) and not isinstance(value, bool)):
        return str(int(value))
    if key in _PERCENT_KEYS:
        return f"{value:.1f}%"
    if key.startswith("mean_"):
        return f"{value:.2f}"
    if isinstance(value, (int, float)):
        return f"{100 * value:.1f}%"
    return str(value)


def summary_line(metrics: Mapping[str, Any], elapsed_s: float) -> str:
    """One human-readable line: ``6 items in 0.4 s: top1 50.0%, format_rate 83.3%, ...``."""
    n = metrics.get("n", 0)
    shown = ", ".join(f"{k} {format_metric(k, v)}" for k, v in metrics.items() if k != "n")
    return f"{int(n or 0)} items in {elapsed_s:.1f} s: {shown}"


def score_records(
    scorer_name: str | Scorer,
    completions: Sequence[str],
    references: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
) -> tuple[list[Score], dict[str, float | None]]:
    """Score ``completions`` against ``references`` with the named ``medzero_rewards`` scorer (or a
    scorer built already, e.g. by :func:`make_scorer`).

    Scores in chunks of ``batch_size`` through :meth:`Scorer.score_batch` (a tqdm bar on stderr when
    ``progress``) and returns the per-item scores with ``scorer.aggregate(scores)``, unchanged (rates are
    fractions, ``n`` an int, the official EHRSQL ``accuracy*`` scores percentages; a metric may be
    ``None``, e.g. abstention precision without abstentions). A scorer
    with a ``close`` method (worker processes) is closed afterwards.
    """
    if len(completions) != len(references):
        raise ValueError(f"got {len(completions)} completions but {len(references)} references")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if isinstance(scorer_name, Scorer):
        scorer, scorer_name = scorer_name, scorer_name.name
    else:
        scorer = make_scorer(scorer_name, config)
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
    """Write one :func:`score_to_json` line per item to ``path`` (JSON Lines, UTF-8), atomically: a
    temporary file renamed over ``path`` once complete, so a failure never leaves a partial file."""
    from medzero_eval.commands import atomic_output

    with atomic_output(path) as fh:
        for item_id, score in zip(ids, scores, strict=True):
            fh.write(json.dumps(score_to_json(item_id, score), ensure_ascii=False) + "\n")
