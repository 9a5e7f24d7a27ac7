"""Reports over lm-eval ``--log_samples`` output: plots per checkpoint and a Markdown + HTML summary.

lm-eval 0.4.13 writes ``<output>/<model_name_sanitized>/results_<date>.json`` (aggregated metrics and
each task's config under ``"configs"``) and ``samples_<task>_<date>.jsonl`` (one JSON object per doc
and filter: ``doc_id, doc, target, arguments, resps, filtered_resps, filter, metrics`` plus each
metric's per-sample value). :func:`write_report` reads one or several such directories (checkpoints of
a training run), orders them by the step number in their path (``checkpoint-500``, ``step_1000``) when
every one has one, and writes accuracy / output-length / failure-rate plots, score histograms, a
per-checkpoint metrics table and the worst cases of the last checkpoint.

With ``rescore=True`` each task's samples are re-scored from ``filtered_resps`` + ``doc`` by the
``medzero_rewards`` scorer the documents name (medzero's tasks store ``scorer`` and ``reference`` in each
document), else the one in the task config (``metadata.scorer`` / ``metadata.scorer_config``), else one
guessed from the task name; the per-checkpoint metrics are then that scorer's ``aggregate``.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Metrics shown on the accuracy plot, in this order, whichever a task has; the generic names are a fallback.
ACCURACY_METRICS = (
    "top1", "top5", "top1_judged", "top5_judged",
    "accuracy0", "accuracy5", "accuracy10", "accuracyN", "execution_accuracy",
)
GENERIC_ACCURACY_METRICS = ("accuracy", "exact_match", "acc")
FAILURE_RATE_METRICS = ("format_failure_rate", "mixed_language_rate", "error_rate", "timeout_rate")
# Per-sample value used for histograms and worst cases when no Score is available, best first.
SAMPLE_SCORE_METRICS = ("reward", "mean_reward") + ACCURACY_METRICS + GENERIC_ACCURACY_METRICS

_STEP_RE = re.compile(r"(?:checkpoint|ckpt|global[-_]?step|step|iter(?:ation)?)s?[-_=]?(\d+)", re.IGNORECASE)
_DATE = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_RESULTS_RE = re.compile(rf"^results_(?P<date>{_DATE})\.json$")
_SAMPLES_RE = re.compile(rf"^samples_(?P<task>.+)_(?P<date>{_DATE})\.jsonl$")
_TASK_SCORER_GUESSES = (("ehrsql", "ehrsql"), ("rds", "rarearena_rds"), ("rarearena", "rarearena_rdc"),
                        ("rarebench", "rarearena_rdc"), ("diagnos", "rarearena_rdc"))


@dataclass
class SampleRow:
    """One logged lm-eval sample, reduced to what the report shows."""

    doc_id: Any
    prompt: str
    response: str
    target: str
    doc: dict[str, Any]
    metrics: dict[str, float]  # per-sample numeric metric values
    score: float | None = None  # the value ranked in worst cases and histogrammed
    status: str = ""


@dataclass
class TaskRun:
    """One task's aggregated metrics and samples at one checkpoint."""

    task: str
    metrics: dict[str, float]
    samples: list[SampleRow]
    config: dict[str, Any] = field(default_factory=dict)
    score_name: str = ""  # what SampleRow.score holds ("reward", "top1", ...)
    scorer: str = ""  # the medzero_rewards scorer used to rescore, if any


@dataclass
class Checkpoint:
    """One lm-eval output directory (one model / checkpoint) and its tasks."""

    label: str
    path: Path
    step: int | None
    tasks: dict[str, TaskRun]


# ---------------------------------------------------------------------------------------------- loading


def parse_step(text: str) -> int | None:
    """The training step named in a path, from its last ``checkpoint-N`` / ``step_N`` / ``global_stepN``.

    >>> parse_step("runs/grpo/checkpoint-500"), parse_step("out/step_1000/eval"), parse_step("base")
    (500, 1000, None)
    """
    matches = _STEP_RE.findall(str(text))
    return int(matches[-1]) if matches else None


def find_run_dirs(log_dir: Path) -> list[Path]:
    """Directories at or under ``log_dir`` that hold lm-eval ``results_*.json`` or ``samples_*.jsonl`` files."""
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        raise FileNotFoundError(f"log directory not found: {log_dir}")
    dirs = {
        p.parent
        for p in log_dir.rglob("*.json*")
        if _RESULTS_RE.match(p.name) or _SAMPLES_RE.match(p.name)
    }
    if not dirs:
        raise FileNotFoundError(
            f"no lm-eval results_<date>.json or samples_<task>_<date>.jsonl under {log_dir} "
            "(run lm-eval with --output_path and --log_samples)"
        )
    return sorted(dirs)


def to_float(value: Any, metric: str | None = None) -> float | None:
    """A per-sample metric value as a float, tolerating the shapes custom lm-eval metrics log.

    Numbers and booleans pass through; dicts are searched for ``metric`` (also under ``details``),
    ``value`` or ``score``; lists/tuples give their first usable element; numeric strings parse
    (also ``metric=0.5`` / ``'metric': 0.5`` inside a logged object repr).

    >>> to_float(True), to_float({"reward": 0.5, "details": {"top1": 1}}, "top1"), to_float(("0.25", "x"))
    (1.0, 1.0, 0.25)
    """
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
            return number if math.isfinite(number) else None
        except ValueError:
            if metric:
                key = re.escape(metric)
                m = re.search(rf"(?:\b{key}=|['\"]{key}['\"]:\s*)(True|False|[-+\d.eE]+)", value)
                if m:
                    return 1.0 if m.group(1) == "True" else 0.0 if m.group(1) == "False" else to_float(m.group(1))
            return None
    if isinstance(value, Mapping):
        for key in (metric, "value", "score"):
            if key and key in value:
                found = to_float(value[key], metric)
                if found is not None:
                    return found
        details = value.get("details")
        if metric and isinstance(details, Mapping) and metric in details:
            return to_float(details[metric], metric)
        return None
    if isinstance(value, (list, tuple)):
        for element in value:
            found = to_float(element, metric)
            if found is not None:
                return found
    return None


def _score_like(value: Any) -> dict[str, Any] | None:
    """A logged ``Score`` (dict with ``reward`` and ``correct``), possibly inside a payload dict or a tuple/list.

    medzero's tasks log ``{"scorer": <spec>, "score": <Score as JSON>}`` as every metric's per-sample value.
    """
    if isinstance(value, Mapping):
        if "reward" in value and "correct" in value:
            return dict(value)
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for element in value:
            found = _score_like(element)
            if found is not None:
                return found
    return None


def _first_text(value: Any) -> str:
    """The first string in a (nested) lm-eval ``resps`` / ``filtered_resps`` value."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and value:
        return _first_text(value[0])
    return "" if value is None else str(value)


def _prompt_text(arguments: Any) -> str:
    """The context string of the first request in a logged ``arguments`` field."""
    if isinstance(arguments, Mapping):  # as saved: {"gen_args_0": {"arg_0": context, "arg_1": gen_kwargs}}
        first = next(iter(arguments.values()), {})
        if isinstance(first, Mapping):
            return str(first.get("arg_0", ""))
        return _first_text(first)
    return _first_text(arguments)  # in memory: [(context, gen_kwargs), ...]


def parse_sample(raw: Mapping[str, Any]) -> SampleRow:
    """Turn one line of a ``samples_<task>_<date>.jsonl`` file into a :class:`SampleRow`."""
    metric_names = list(raw.get("metrics") or [])
    metrics: dict[str, float] = {}
    score_obj: dict[str, Any] | None = None
    for name in metric_names:
        if name not in raw:
            continue
        score_obj = score_obj or _score_like(raw[name])
        number = to_float(raw[name], name)
        if number is not None:
            metrics[name] = number
    doc = raw.get("doc")
    row = SampleRow(
        doc_id=raw.get("doc_id"),
        prompt=_prompt_text(raw.get("arguments")),
        response=_first_text(raw.get("filtered_resps", raw.get("resps"))),
        target=str(raw.get("target", "")),
        doc=dict(doc) if isinstance(doc, Mapping) else {"doc": doc},
        metrics=metrics,
    )
    if score_obj is not None:
        row.score = to_float(score_obj.get("reward"))
        row.status = str(score_obj.get("status", ""))
        if row.score is not None:
            row.metrics.setdefault("reward", row.score)
    return row


def _pick_sample_score(samples: Sequence[SampleRow]) -> str:
    """The per-sample metric to rank and histogram: the first of SAMPLE_SCORE_METRICS every sample has."""
    for name in SAMPLE_SCORE_METRICS:
        if samples and all(name in s.metrics for s in samples):
            return name
    common = set.intersection(*(set(s.metrics) for s in samples)) if samples else set()
    return sorted(common)[0] if common else ""


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
    return rows


def _aggregated_metrics(task_results: Mapping[str, Any], filter_key: str | None) -> dict[str, float]:
    """``{"top1,none": 0.5, "top1_stderr,none": "N/A", "alias": ...}`` -> ``{"top1": 0.5}`` for one filter."""
    by_filter: dict[str, dict[str, float]] = {}
    for key, value in task_results.items():
        metric, sep, filt = key.partition(",")
        if not sep or metric.endswith("_stderr"):
            continue
        number = to_float(value, metric)
        if number is not None:
            by_filter.setdefault(filt, {})[metric] = number
    if not by_filter:
        return {}
    for candidate in (filter_key, "none"):
        if candidate in by_filter:
            return by_filter[candidate]
    return next(iter(by_filter.values()))


def load_run(run_dir: Path, label: str, step: int | None) -> Checkpoint:
    """Load the latest results and samples files of one lm-eval output directory."""
    results_files = sorted((p for p in run_dir.iterdir() if _RESULTS_RE.match(p.name)), key=lambda p: p.name)
    results: dict[str, Any] = {}
    result_date: str | None = None
    if results_files:  # the latest run in this directory (dates sort as text)
        results = json.loads(results_files[-1].read_text(encoding="utf-8"))
        result_date = results_files[-1].name[len("results_"):-len(".json")]
    sample_files: dict[str, tuple[str, Path]] = {}
    for p in run_dir.iterdir():
        m = _SAMPLES_RE.match(p.name)
        if not m:
            continue
        task, date = m.group("task"), m.group("date")
        best = sample_files.get(task)
        # prefer the samples written with the chosen results file, else the latest
        rank = (date == result_date, date)
        if best is None or rank > (best[0] == result_date, best[0]):
            sample_files[task] = (date, p)
    configs = results.get("configs", {}) or {}
    task_results = results.get("results", {}) or {}
    tasks: dict[str, TaskRun] = {}
    for task in sorted(set(sample_files) | {t for t in task_results if t in configs}):
        raw_samples = _read_jsonl(sample_files[task][1]) if task in sample_files else []
        filters = [r.get("filter") for r in raw_samples if r.get("filter")]
        filter_key = filters[0] if filters else None
        if filter_key is not None:  # one row per doc: the samples of the filter the table reports
            raw_samples = [r for r in raw_samples if r.get("filter") in (None, filter_key)]
        samples = [parse_sample(r) for r in raw_samples]
        metrics = _aggregated_metrics(task_results.get(task, {}), filter_key)
        if not metrics and samples:  # no results file: plain means of the per-sample values
            names = sorted({k for s in samples for k in s.metrics})
            metrics = {k: _mean([s.metrics[k] for s in samples if k in s.metrics]) for k in names}
        run = TaskRun(task=task, metrics=metrics, samples=samples, config=dict(configs.get(task, {}) or {}))
        _assign_sample_scores(run)
        tasks[task] = run
    return Checkpoint(label=label, path=run_dir, step=step, tasks=tasks)


def _assign_sample_scores(run: TaskRun) -> None:
    if run.samples and all(s.score is not None for s in run.samples):
        run.score_name = "reward"
        return
    name = _pick_sample_score(run.samples)
    run.score_name = name
    for s in run.samples:
        s.score = s.metrics.get(name) if name else None


def _unique_labels(paths: Sequence[Path]) -> list[str]:
    """Shortest path suffixes that tell the directories apart (``checkpoint-500``, ``a/eval``...)."""
    parts = [p.resolve().parts for p in paths]
    for depth in range(1, max((len(x) for x in parts), default=1) + 1):
        labels = ["/".join(x[-depth:]) for x in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]


def step_of(log_dir: Path, run_dir: Path) -> int | None:
    """The step of a run: from the given directory's name and the path below it (the last match), else
    from the name of the directory above (``ckpt/checkpoint-500/lm_eval``). Higher folders are ignored."""
    below = run_dir.resolve().relative_to(log_dir.resolve())
    step = parse_step("/".join((log_dir.resolve().name, *below.parts)))
    return step if step is not None else parse_step(log_dir.resolve().parent.name)


def load_checkpoints(log_dirs: Sequence[Path]) -> list[Checkpoint]:
    """Load every lm-eval output directory under ``log_dirs``; order by step when all have one, else as given."""
    found: list[tuple[Path, Path]] = []  # (given log dir, run dir)
    for log_dir in log_dirs:
        found.extend((Path(log_dir), run_dir) for run_dir in find_run_dirs(Path(log_dir)))
    # a run dir is labelled by the given dir, plus its sub-path when one log dir holds several runs
    named: list[Path] = []
    for log_dir, run_dir in found:
        siblings = sum(1 for d, _ in found if d == log_dir)
        named.append(run_dir if siblings > 1 else log_dir)
    labels = _unique_labels(named)
    checkpoints = []
    for (log_dir, run_dir), label in zip(found, labels):
        step = step_of(log_dir, run_dir)
        checkpoints.append(load_run(run_dir, label, step))
    if checkpoints and all(c.step is not None for c in checkpoints):
        checkpoints.sort(key=lambda c: c.step)  # type: ignore[arg-type, return-value]
    return checkpoints


# --------------------------------------------------------------------------------------------- rescoring


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def scorer_for_task(task: str, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The scorer name and config a task config declares, else one guessed from the task name.

    The config keys are ``metadata.scorer`` and ``metadata.scorer_config`` (a JSON object or its text).
    """
    metadata = config.get("metadata") or {}
    if isinstance(metadata, Mapping):
        name = metadata.get("scorer") or metadata.get("scorer_name")
        scorer_config = _json_value(metadata.get("scorer_config")) or {}
        if name:
            return str(name), dict(scorer_config) if isinstance(scorer_config, Mapping) else {}
    lowered = task.lower()
    for needle, name in _TASK_SCORER_GUESSES:
        if needle in lowered:
            return name, {}
    raise ValueError(
        f"task {task!r} names no medzero_rewards scorer (set metadata.scorer in its config, or pass --scorer)"
    )


def scoring_inputs(doc: Mapping[str, Any]) -> tuple[tuple[str, dict[str, Any]] | None, dict[str, Any]]:
    """The scorer spec and the reference record a logged lm-eval ``doc`` carries.

    medzero's task documents hold ``scorer`` (``{"name", "config"}``, JSON) and ``reference`` (the
    record, JSON); other documents are taken as the reference record themselves, with no spec.
    """
    spec = _json_value(doc.get("scorer"))
    parsed_spec = None
    if isinstance(spec, Mapping) and spec.get("name"):
        parsed_spec = (str(spec["name"]), dict(spec.get("config") or {}))
    reference = _json_value(doc.get("reference"))
    return parsed_spec, dict(reference) if isinstance(reference, Mapping) else dict(doc)


def rescore_task(
    run: TaskRun, scorer: str | None = None, config: Mapping[str, Any] | None = None, progress: bool = True
) -> TaskRun:
    """Re-score ``run``'s samples (``filtered_resps`` + ``doc``) with a medzero_rewards scorer, in place.

    The scorer is the one each document names (medzero's tasks), else the task config's
    ``metadata.scorer``, else a guess from the task name. ``scorer`` replaces the name (the declared
    config is kept only when the name is unchanged); ``config`` is merged on top. Per-sample metrics
    become the Score's numeric details plus ``reward`` and ``correct``; the task metrics become
    ``scorer.aggregate(scores)``.
    """
    from medzero_eval.scoring import score_records

    specs, references = [], []
    for sample in run.samples:
        spec, reference = scoring_inputs(sample.doc)
        if spec is None:
            try:
                spec = scorer_for_task(run.task, run.config)
            except ValueError:
                if scorer is None:
                    raise
                spec = (scorer, {})
        name, declared = spec
        if scorer is not None and scorer != name:
            name, declared = scorer, {}
        specs.append(json.dumps([name, {**declared, **dict(config or {})}], sort_keys=True, default=str))
        references.append(reference)
    if len(set(specs)) > 1:
        raise ValueError(f"task {run.task!r}: samples name different scorers; pass --scorer to rescore them alike")
    name, merged = json.loads(specs[0])
    scores, metrics = score_records(
        name, [s.response for s in run.samples], references, config=merged, progress=progress
    )
    for sample, score in zip(run.samples, scores):
        sample.metrics = {k: v for k, v in ((k, to_float(v)) for k, v in score.details.items()) if v is not None}
        sample.metrics["reward"] = score.reward
        sample.metrics["correct"] = float(score.correct)
        sample.score = score.reward
        sample.status = score.status.value
    run.metrics = {k: v for k, v in ((k, to_float(v)) for k, v in metrics.items()) if v is not None}
    run.score_name = "reward"
    run.scorer = name
    return run


# ---------------------------------------------------------------------------------------------- document


@dataclass
class _Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class _Image:
    path: str
    alt: str


@dataclass
class _Doc:
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("table", _Table(header, rows)))

    def image(self, path: str, alt: str) -> None:
        self.blocks.append(("img", _Image(path, alt)))

    def markdown(self) -> str:
        out: list[str] = []
        for kind, value in self.blocks:
            if kind == "h":
                out.append("#" * value[0] + " " + value[1])
            elif kind == "p":
                out.append(value)
            elif kind == "img":
                out.append(f"![{value.alt}]({value.path})")
            else:
                out.append("| " + " | ".join(_md_cell(h) for h in value.header) + " |")
                out.append("|" + "|".join("---" for _ in value.header) + "|")
                out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in value.rows)
            out.append("")
        return "\n".join(out)

    def html(self, title: str) -> str:
        out = [
            "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
            "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
            "th{background:#f3f3f3}img{max-width:100%}</style></head><body>",
        ]
        for kind, value in self.blocks:
            if kind == "h":
                out.append(f"<h{value[0]}>{html.escape(value[1])}</h{value[0]}>")
            elif kind == "p":
                out.append(f"<p>{html.escape(value)}</p>")
            elif kind == "img":
                out.append(f'<p><img src="{html.escape(value.path)}" alt="{html.escape(value.alt)}"></p>')
            else:
                out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in value.header)
                           + "</tr></thead><tbody>")
                out.extend("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in value.rows)
                out.append("</tbody></table>")
        out.append("</body></html>")
        return "\n".join(out)


def _md_cell(text: str) -> str:
    """Table-safe Markdown: one line, pipes escaped, angle brackets as entities (``<think>`` stays visible)."""
    one_line = " ".join(str(text).split())
    return one_line.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


COUNT_METRICS = frozenset({"judge_calls", "judge_cache_hits", "tokens_in", "tokens_out"})


def format_number(value: float | None, metric: str = "") -> str:
    """How the report prints a metric: ``-`` when missing, counts (``n``, ``n_*``, judge calls/tokens) as
    integers, everything else with four decimals.

    >>> format_number(None), format_number(50.0, "accuracy0"), format_number(1 / 3), format_number(12.0, "n")
    ('-', '50.0000', '0.3333', '12')
    """
    if value is None:
        return "-"
    is_count = metric == "n" or metric.startswith("n_") or metric in COUNT_METRICS
    if is_count and float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}"


def excerpt(text: str, width: int = 160) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


def _strip_common_prefix(texts: Sequence[str]) -> list[str]:
    """Drop the prefix every prompt shares (system prompt, chat template) so excerpts show the case."""
    if len(texts) < 2:
        return list(texts)
    prefix_len = len(_common_prefix(texts))
    return [t[prefix_len:] for t in texts]


def _common_prefix(texts: Sequence[str]) -> str:
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _safe_name(task: str) -> str:
    return re.sub(r"[^\w.-]+", "_", task)


# ------------------------------------------------------------------------------------------------ report


def _with_derived(metrics: Mapping[str, float]) -> dict[str, float]:
    out = dict(metrics)
    if "format_rate" in out and "format_failure_rate" not in out:
        out["format_failure_rate"] = 1.0 - out["format_rate"]
    return out


def _accuracy_names(tasks: Sequence[TaskRun]) -> list[str]:
    present = {k for t in tasks for k in t.metrics}
    names = [m for m in ACCURACY_METRICS if m in present]
    return names or [m for m in GENERIC_ACCURACY_METRICS if m in present]


def _mean_response_chars(run: TaskRun | None) -> float | None:
    if run is None or not run.samples:
        return None
    return _mean([float(len(s.response)) for s in run.samples])


def _task_section(
    doc: _Doc, task: str, checkpoints: Sequence[Checkpoint], fig_dir: Path, out_dir: Path, worst_n: int
) -> None:
    from medzero_eval import plots

    runs = [c.tasks.get(task) for c in checkpoints]
    present = [r for r in runs if r is not None]
    labels = [c.label for c in checkpoints]
    steps = [c.step for c in checkpoints]
    metrics = [_with_derived(r.metrics) if r else {} for r in runs]
    safe = _safe_name(task)
    doc.heading(f"Task: {task}", 2)
    scorers = sorted({r.scorer for r in present if r.scorer})
    if scorers:
        doc.para(f"Metrics re-scored from the logged responses with medzero_rewards scorer {', '.join(scorers)}.")

    # table: one row per checkpoint
    preferred = [*_accuracy_names(present), "mean_length", "format_rate", "format_failure_rate",
                 "mixed_language_rate", "hypernym_rate", "error_rate", "timeout_rate", "mean_reward"]
    all_names = {k for m in metrics for k in m}
    columns = [n for n in preferred if n in all_names] + sorted(all_names - set(preferred))
    rows = []
    for ckpt, run, m in zip(checkpoints, runs, metrics):
        rows.append([ckpt.label, "-" if ckpt.step is None else str(ckpt.step),
                     str(len(run.samples)) if run else "-", *(format_number(m.get(n), n) for n in columns)])
    doc.heading("Metrics per checkpoint", 3)
    doc.table(["checkpoint", "step", "samples", *columns], rows)

    def rel(p: Path) -> str:
        return p.relative_to(out_dir).as_posix()

    acc_names = _accuracy_names(present)
    if acc_names:
        acc_series = {n: [m.get(n) for m in metrics] for n in acc_names}
        percent = any(v is not None and not 0 <= v <= 1 for vals in acc_series.values() for v in vals)
        path = plots.plot_series(acc_series, labels, steps, f"{task}: accuracy",
                                 "score (%)" if percent else "accuracy", fig_dir / f"{safe}_accuracy.png",
                                 unit_interval=True)
        doc.image(rel(path), f"{task} accuracy per checkpoint")
    if any("mean_length" in m for m in metrics):
        lengths, name = [m.get("mean_length") for m in metrics], "mean_length"
    else:
        lengths, name = [_mean_response_chars(r) for r in runs], "mean response characters"
    if any(v is not None for v in lengths):
        path = plots.plot_series({name: lengths}, labels, steps, f"{task}: mean output length",
                                 "characters", fig_dir / f"{safe}_length.png")
        doc.image(rel(path), f"{task} mean output length per checkpoint")
    rate_names = [n for n in FAILURE_RATE_METRICS if any(n in m for m in metrics)]
    if rate_names:
        path = plots.plot_series({n: [m.get(n) for m in metrics] for n in rate_names}, labels, steps,
                                 f"{task}: failure rates", "rate", fig_dir / f"{safe}_rates.png", unit_interval=True)
        doc.image(rel(path), f"{task} failure rates per checkpoint")
    score_names = sorted({r.score_name for r in present if r.score_name})
    hist = {c.label: [s.score for s in r.samples if s.score is not None] for c, r in zip(checkpoints, runs) if r}
    if score_names and any(hist.values()):
        xlabel = " / ".join(score_names)
        path = plots.plot_histograms(hist, f"{task}: per-sample {xlabel}", xlabel, fig_dir / f"{safe}_scores.png")
        doc.image(rel(path), f"{task} per-sample {xlabel} distribution")

    last_ckpt, last = next(((c, r) for c, r in zip(reversed(checkpoints), reversed(runs)) if r), (None, None))
    if last is not None and last_ckpt is not None:
        _worst_cases(doc, last_ckpt, last, worst_n)


def worst_samples(run: TaskRun, n: int = 10) -> list[SampleRow]:
    """The ``n`` lowest-scoring samples below the run's best score (ties in doc order); unscored samples are skipped."""
    scored = [s for s in run.samples if s.score is not None]
    if scored:
        best = max(s.score for s in scored)  # type: ignore[type-var]
        scored = [s for s in scored if s.score < best]  # type: ignore[operator]
    order = sorted(range(len(scored)), key=lambda i: (scored[i].score, i))
    return [scored[i] for i in order[:n]]


def _worst_cases(doc: _Doc, ckpt: Checkpoint, run: TaskRun, n: int) -> None:
    worst = worst_samples(run, n)
    if not worst:
        if run.samples:
            doc.para(f"No worst cases at {ckpt.label}: every sample has the same {run.score_name or 'score'}.")
        return
    prompts = dict(zip((id(s) for s in run.samples), _strip_common_prefix([s.prompt for s in run.samples])))
    doc.heading(f"Worst cases at {ckpt.label} (lowest {run.score_name})", 3)
    rows = [[str(s.doc_id), format_number(s.score), s.status or "-", excerpt(prompts[id(s)], 200),
             excerpt(s.response, 200), excerpt(s.target, 100)] for s in worst]
    doc.table(["doc_id", run.score_name, "status", "prompt", "response", "target"], rows)


def write_report(
    log_dirs: Sequence[Path],
    out_dir: Path,
    title: str = "medzero report",
    rescore: bool = False,
    *,
    scorer: str | None = None,
    scorer_config: Mapping[str, Any] | None = None,
    worst_n: int = 10,
    progress: bool = True,
) -> Path:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` for lm-eval log directories; return the Markdown path.

    ``log_dirs`` are lm-eval ``--output_path`` directories (or the per-model folders inside them), one
    per checkpoint. With ``rescore`` the per-sample metrics and the task metrics are recomputed by the
    medzero_rewards scorer the task config names (``scorer`` / ``scorer_config`` override it).
    """
    if not log_dirs:
        raise ValueError("write_report needs at least one log directory")
    checkpoints = load_checkpoints([Path(d) for d in log_dirs])
    if rescore:
        for ckpt in checkpoints:
            for run in ckpt.tasks.values():
                if run.samples:
                    rescore_task(run, scorer=scorer, config=scorer_config, progress=progress)
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)

    doc = _Doc()
    doc.heading(title, 1)
    doc.para(f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} from "
             f"{len(checkpoints)} lm-eval output director{'y' if len(checkpoints) == 1 else 'ies'}.")
    doc.table(["checkpoint", "step", "path", "tasks"],
              [[c.label, "-" if c.step is None else str(c.step), str(c.path), ", ".join(sorted(c.tasks))]
               for c in checkpoints])
    tasks = sorted({t for c in checkpoints for t in c.tasks})
    for task in tasks:
        _task_section(doc, task, checkpoints, fig_dir, out_dir, worst_n)

    md_path = out_dir / "report.md"
    md_path.write_text(doc.markdown(), encoding="utf-8")
    (out_dir / "report.html").write_text(doc.html(title), encoding="utf-8")
    return md_path
