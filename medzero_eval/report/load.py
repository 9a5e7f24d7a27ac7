"""Reading lm-eval ``--output_path`` folders: results and samples files into checkpoints, tasks and samples.

lm-eval 0.4.13 writes ``<output>/<model_name_sanitized>/results_<date>.json`` (aggregated metrics,
each task's config under ``"configs"``, the model under ``"model_name"`` / ``"config.model_args"``)
and ``samples_<task>_<date>.jsonl`` (one JSON object per doc and filter: ``doc_id, doc, target,
arguments, resps, filtered_resps, filter, metrics`` plus each metric's per-sample value; medzero's
tasks log the item's ``Score`` there). :func:`load_checkpoints` reads one or several such folders
(checkpoints of a training run), labels each by its model and step, and orders them by step when every
one has one. A file that is not UTF-8 or not JSON raises :class:`ReportInputError` naming it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medzero_eval.report.formatting import user_message

# Metrics shown on the accuracy chart, in this order, whichever a task has; the generic names are a fallback.
ACCURACY_METRICS = ("top1", "top5", "top1_judged", "top5_judged", "accuracy0", "execution_accuracy")
RELIABILITY_METRICS = ("accuracy5", "accuracy10", "accuracyN")  # EHRSQL's official scores (table only)
GENERIC_ACCURACY_METRICS = ("accuracy", "exact_match", "acc")
FAILURE_RATE_METRICS = ("format_failure_rate", "mixed_language_rate", "error_rate", "timeout_rate")
# Per-sample value used for histograms and worst cases when no Score is available, best first.
SAMPLE_SCORE_METRICS = ("reward", "mean_reward") + ACCURACY_METRICS + GENERIC_ACCURACY_METRICS

_STEP_RE = re.compile(r"(?:checkpoint|ckpt|global[-_]?step|step|iter(?:ation)?)s?[-_=]?(\d+)", re.IGNORECASE)
_DATE = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_RESULTS_RE = re.compile(rf"^results_(?P<date>{_DATE})\.json$")
_SAMPLES_RE = re.compile(rf"^samples_(?P<task>.+)_(?P<date>{_DATE})\.jsonl$")
_MODEL_ARG_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")  # lm-eval's order for model_name


class ReportInputError(ValueError):
    """An lm-eval output file the report cannot read; the message names the file and what is wrong."""


@dataclass
class SampleRow:
    """One logged lm-eval sample, reduced to what the report shows."""

    doc_id: Any
    prompt: str  # the readable question (the user turn of a chat prompt)
    response: str
    target: str
    doc: dict[str, Any]
    metrics: dict[str, float]  # per-sample numeric metric values
    score: float | None = None  # the value ranked in worst cases and histogrammed
    status: str = ""  # the medzero Score's status ("" when the sample carries no Score)
    correct: bool | None = None
    extracted: str | None = None
    reason: str = ""


@dataclass
class TaskRun:
    """One task's aggregated metrics and samples at one checkpoint."""

    task: str
    metrics: dict[str, float]
    samples: list[SampleRow]
    config: dict[str, Any] = field(default_factory=dict)
    score_name: str = ""  # what SampleRow.score holds ("reward", "top1", ...)
    scorer: str = ""  # the medzero_rewards scorer used to rescore, if any
    stderr: dict[str, float] = field(default_factory=dict)  # lm-eval's standard errors, by metric
    has_samples: bool = True  # False: the results name the task but no samples file was written

    @property
    def has_scores(self) -> bool:
        """Whether the samples carry medzero Scores (statuses, reasons, extracted answers)."""
        return bool(self.samples) and all(s.status for s in self.samples)


@dataclass
class Checkpoint:
    """One lm-eval output folder (one model / checkpoint) and its tasks."""

    label: str  # model and step, e.g. "grpo/checkpoint-500" or "SmolLM2-135M-Instruct.Q4_1"
    path: Path
    step: int | None
    tasks: dict[str, TaskRun]
    model: str = ""
    eval_seconds: float | None = None  # lm-eval's total_evaluation_time_seconds
    warnings: list[str] = field(default_factory=list)


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

    medzero's tasks log ``{"scorer": <spec>, "score": <Score as JSON>}`` as a metric's per-sample value.
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


_SAMPLE_KEYS = frozenset({"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
                          "doc_hash", "prompt_hash", "target_hash"})


def parse_sample(raw: Mapping[str, Any]) -> SampleRow:
    """Turn one line of a ``samples_<task>_<date>.jsonl`` file into a :class:`SampleRow`.

    The medzero ``Score`` is searched in every per-sample metric value (and any other non-standard key).
    """
    metric_names = list(raw.get("metrics") or [])
    metrics: dict[str, float] = {}
    score_obj: dict[str, Any] | None = None
    for name in metric_names + sorted(k for k in raw if k not in _SAMPLE_KEYS and k not in metric_names):
        if name not in raw:
            continue
        score_obj = score_obj or _score_like(raw[name])
        number = to_float(raw[name], name)
        if number is not None and name in metric_names:
            metrics[name] = number
    doc = raw.get("doc")
    row = SampleRow(
        doc_id=raw.get("doc_id"),
        prompt=user_message(_prompt_text(raw.get("arguments"))),
        response=_first_text(raw.get("filtered_resps", raw.get("resps"))),
        target=_first_text(raw.get("target", "")),
        doc=dict(doc) if isinstance(doc, Mapping) else {"doc": doc},
        metrics=metrics,
    )
    if score_obj is not None:
        row.score = to_float(score_obj.get("reward"))
        row.status = str(score_obj.get("status") or "ok")
        row.correct = bool(score_obj.get("correct"))
        extracted = score_obj.get("extracted")
        row.extracted = None if extracted is None else str(extracted)
        row.reason = str(score_obj.get("reason") or "")
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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReportInputError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "pass lm-eval's own output files, or remove this one"
        ) from None
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot be read ({exc.strerror})") from None


def read_results(path: Path) -> dict[str, Any]:
    """An lm-eval ``results_<date>.json`` file as a dict; :class:`ReportInputError` naming the file otherwise."""
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportInputError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); the file is truncated or corrupt: "
            "re-run lm-eval or remove it"
        ) from None
    if not isinstance(data, dict):
        raise ReportInputError(f"{path}: expected a JSON object (lm-eval results), found {type(data).__name__}")
    return data


def read_samples(path: Path) -> list[dict[str, Any]]:
    """The lines of an lm-eval ``samples_<task>_<date>.jsonl`` file; :class:`ReportInputError` naming the
    file and line otherwise."""
    rows = []
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReportInputError(
                f"{path}:{lineno}: not valid JSON ({exc.msg}); the file is truncated or corrupt: "
                "re-run lm-eval or remove it"
            ) from None
        if not isinstance(row, dict):
            raise ReportInputError(f"{path}:{lineno}: expected a JSON object (one lm-eval sample per line)")
        rows.append(row)
    return rows


def _aggregated_metrics(
    task_results: Mapping[str, Any], filter_key: str | None
) -> tuple[dict[str, float], dict[str, float]]:
    """``{"top1,raw": 0.5, "top1_stderr,raw": 0.2, "alias": ...}`` -> ``({"top1": 0.5}, {"top1": 0.2})``
    (values, standard errors) for one filter."""
    by_filter: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
    for key, value in task_results.items():
        metric, sep, filt = key.partition(",")
        if not sep:
            continue
        is_err = metric.endswith("_stderr")
        name = metric[: -len("_stderr")] if is_err else metric
        number = to_float(value, name)
        if number is not None:
            by_filter.setdefault(filt, ({}, {}))[1 if is_err else 0][name] = number
    by_filter = {k: v for k, v in by_filter.items() if v[0]}
    if not by_filter:
        return {}, {}
    for candidate in (filter_key, "none"):
        if candidate in by_filter:
            return by_filter[candidate]
    return next(iter(by_filter.values()))


def _model_args(results: Mapping[str, Any]) -> dict[str, str]:
    config = results.get("config") if isinstance(results.get("config"), Mapping) else {}
    args = config.get("model_args") if config else None
    if isinstance(args, Mapping):
        return {str(k): str(v) for k, v in args.items()}
    if isinstance(args, str):
        return dict(part.split("=", 1) for part in args.split(",") if "=" in part)
    return {}


def model_name(results: Mapping[str, Any], folder: Path) -> str:
    """A readable model name for one lm-eval output folder.

    A GGUF file's name (``gguf_file``); else the model lm-eval names (``model_name``, or the
    ``pretrained=``/``model=`` argument; medzero-train's ``config.model``), a local path shortened to
    its last part (two parts for ``.../run/checkpoint-500``); else the folder name, with lm-eval's
    ``__`` path separators undone.

    >>> model_name({"model_name": "/data/runs/grpo/checkpoint-500"}, Path("x"))
    'grpo/checkpoint-500'
    >>> model_name({"config": {"model_args": "pretrained=/m,gguf_file=SmolLM2-135M.Q4_1.gguf"}}, Path("x"))
    'SmolLM2-135M.Q4_1'
    >>> model_name({}, Path("out/Qwen__Qwen2.5-7B")), model_name({"model_name": "Qwen/Qwen2.5-7B"}, Path("x"))
    ('Qwen/Qwen2.5-7B', 'Qwen/Qwen2.5-7B')
    """
    args = _model_args(results)
    if args.get("gguf_file"):
        name = Path(args["gguf_file"]).name
        return name[: -len(".gguf")] if name.endswith(".gguf") else name
    config = results.get("config") if isinstance(results.get("config"), Mapping) else {}
    candidates = [results.get("model_name"), *(args.get(k) for k in _MODEL_ARG_KEYS)]
    if config and config.get("source") == "medzero-train":
        candidates.insert(0, config.get("model"))
    name = next((str(c) for c in candidates if c), "")
    if not name:
        return folder.name.replace("__", "/").strip("/") or folder.name
    return _short_path(name)


def _short_path(name: str) -> str:
    """A hub id stays; a local path keeps its last part, or its last two when the last names a step."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    is_path = name.startswith(("/", ".", "~")) or len(parts) > 2
    if not is_path or not parts:
        return name
    return "/".join(parts[-2:]) if parse_step(parts[-1]) is not None and len(parts) > 1 else parts[-1]


def load_run(run_dir: Path, label: str, step: int | None) -> Checkpoint:
    """Load the latest results and samples files of one lm-eval output folder.

    ``step`` None: medzero-train's ``config.step`` in the results, else a step in the model name.

    A task the results name without a samples file gets an empty :class:`TaskRun` (``has_samples``
    False) and a warning on the checkpoint.
    """
    results_files = sorted((p for p in run_dir.iterdir() if _RESULTS_RE.match(p.name)), key=lambda p: p.name)
    results: dict[str, Any] = {}
    result_date: str | None = None
    if results_files:  # the latest run in this directory (dates sort as text)
        results = read_results(results_files[-1])
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
    warnings: list[str] = []
    for task in sorted(set(sample_files) | {t for t in task_results if t in configs}):
        raw_samples = read_samples(sample_files[task][1]) if task in sample_files else []
        filters = [r.get("filter") for r in raw_samples if r.get("filter")]
        filter_key = filters[0] if filters else None
        if filter_key is not None:  # one row per doc: the samples of the filter the table reports
            raw_samples = [r for r in raw_samples if r.get("filter") in (None, filter_key)]
        samples = [parse_sample(r) for r in raw_samples]
        metrics, stderr = _aggregated_metrics(task_results.get(task, {}), filter_key)
        # a metric whose per-sample values are all payloads (medzero's `score`: the Score itself, aggregated
        # as the item count) is no rate to report
        declared = {str(name) for r in raw_samples for name in (r.get("metrics") or [])}
        for name in declared - {k for s in samples for k in s.metrics}:
            metrics.pop(name, None)
            stderr.pop(name, None)
        if not metrics and samples:  # no results file: plain means of the per-sample values
            names = sorted({k for s in samples for k in s.metrics})
            metrics = {k: _mean([s.metrics[k] for s in samples if k in s.metrics]) for k in names}
        run = TaskRun(task=task, metrics=metrics, samples=samples, config=dict(configs.get(task, {}) or {}),
                      stderr=stderr, has_samples=task in sample_files)
        if not run.has_samples:
            warnings.append(f"{run_dir}: no samples file for task {task} (lm-eval ran without --log_samples); "
                            "the report shows its metrics only")
        _assign_sample_scores(run)
        tasks[task] = run
    model = model_name(results, run_dir)
    if step is None:  # medzero-train writes config.step; else a step in the model's name
        config = results.get("config")
        config_step = config.get("step") if isinstance(config, Mapping) else None
        has_step = isinstance(config_step, int) and not isinstance(config_step, bool)
        step = config_step if has_step else parse_step(model)
    seconds = to_float(results.get("total_evaluation_time_seconds"))
    return Checkpoint(label=label, path=run_dir, step=step, tasks=tasks, model=model, eval_seconds=seconds,
                      warnings=warnings)


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


def checkpoint_label(model: str, step: int | None) -> str:
    """A checkpoint's label: its model, and the step when the model name does not already say it.

    >>> checkpoint_label("grpo/checkpoint-500", 500), checkpoint_label("Qwen/Qwen2.5-7B", 0)
    ('grpo/checkpoint-500', 'Qwen/Qwen2.5-7B @ step 0')
    >>> checkpoint_label("SmolLM2-135M-Instruct.Q4_1", None)
    'SmolLM2-135M-Instruct.Q4_1'
    """
    if step is None or parse_step(model) == step:
        return model
    return f"{model} @ step {step}"


def load_checkpoints(log_dirs: Sequence[Path]) -> list[Checkpoint]:
    """Load every lm-eval output folder under ``log_dirs``; label each by model and step; order by step when
    all have one, else keep the order given.

    The step comes from the folder path (``checkpoint-500``, ``step_1000``; also the folder above a given
    one), else from medzero-train's ``config.step`` or the model name. Labels that would repeat (one model
    evaluated in several folders) get the folder that tells them apart in brackets.
    """
    found: list[tuple[Path, Path]] = []  # (given log dir, run dir)
    for log_dir in log_dirs:
        found.extend((Path(log_dir), run_dir) for run_dir in find_run_dirs(Path(log_dir)))
    # a run dir is named by the given dir, plus its sub-path when one log dir holds several runs
    named: list[Path] = []
    for log_dir, run_dir in found:
        siblings = sum(1 for d, _ in found if d == log_dir)
        named.append(run_dir if siblings > 1 else log_dir)
    folders = _unique_labels(named)
    checkpoints = []
    for (log_dir, run_dir), folder in zip(found, folders):
        ckpt = load_run(run_dir, folder, step_of(log_dir, run_dir))
        ckpt.label = checkpoint_label(ckpt.model, ckpt.step)
        checkpoints.append(ckpt)
    labels = [c.label for c in checkpoints]
    for ckpt, folder in zip(checkpoints, folders):
        if labels.count(ckpt.label) > 1:
            ckpt.label = f"{ckpt.label} [{folder}]"
    if checkpoints and all(c.step is not None for c in checkpoints):
        checkpoints.sort(key=lambda c: c.step)  # type: ignore[arg-type, return-value]
    return checkpoints


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
