"""The sections of a report: one per task, with its metrics table, charts and worst cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from medzero_eval.report import charts
from medzero_eval.report.document import _Doc, _safe_name, _strip_common_prefix, excerpt, format_number
from medzero_eval.report.load import (
    ACCURACY_METRICS, FAILURE_RATE_METRICS, GENERIC_ACCURACY_METRICS, Checkpoint, SampleRow, TaskRun, _mean,
)

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
        path = charts.plot_series(acc_series, labels, steps, f"{task}: accuracy",
                                 "score (%)" if percent else "accuracy", fig_dir / f"{safe}_accuracy.png",
                                 unit_interval=True)
        doc.image(rel(path), f"{task} accuracy per checkpoint")
    if any("mean_length" in m for m in metrics):
        lengths, name = [m.get("mean_length") for m in metrics], "mean_length"
    else:
        lengths, name = [_mean_response_chars(r) for r in runs], "mean response characters"
    if any(v is not None for v in lengths):
        path = charts.plot_series({name: lengths}, labels, steps, f"{task}: mean output length",
                                 "characters", fig_dir / f"{safe}_length.png")
        doc.image(rel(path), f"{task} mean output length per checkpoint")
    rate_names = [n for n in FAILURE_RATE_METRICS if any(n in m for m in metrics)]
    if rate_names:
        path = charts.plot_series({n: [m.get(n) for m in metrics] for n in rate_names}, labels, steps,
                                 f"{task}: failure rates", "rate", fig_dir / f"{safe}_rates.png", unit_interval=True)
        doc.image(rel(path), f"{task} failure rates per checkpoint")
    score_names = sorted({r.score_name for r in present if r.score_name})
    hist = {c.label: [s.score for s in r.samples if s.score is not None] for c, r in zip(checkpoints, runs) if r}
    if score_names and any(hist.values()):
        xlabel = " / ".join(score_names)
        path = charts.plot_histograms(hist, f"{task}: per-sample {xlabel}", xlabel, fig_dir / f"{safe}_scores.png")
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
