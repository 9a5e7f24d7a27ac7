"""The sections of one task's part of the report, in order; add a section by adding a function to :data:`SECTIONS`.

Each section is a function of a :class:`TaskView` (the task's runs across checkpoints, the document
and the figure folder) that appends blocks to the document:

* :func:`metrics_section`: one row per checkpoint, rates as percentages (± lm-eval's standard error);
* :func:`charts_section`: bar charts for one checkpoint, lines over steps for several;
* :func:`status_section`: outcome counts per checkpoint (correct, wrong, each failure status) and a stacked bar;
* :func:`reasons_section`: the most common reasons for failures, counted per checkpoint;
* :func:`outputs_section`: real outputs with gold, extracted answer, score and reason at the first and last
  checkpoint: worst cases (and best cases when some are right), or the outputs as they come when every
  sample scored the same, then a few outputs in full.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from medzero_eval.report import charts
from medzero_eval.report.document import Cell, Code, Doc, Image
from medzero_eval.report.formatting import (
    as_percent, excerpt, format_count, format_metric, safe_name, strip_common_prefix,
)
from medzero_eval.report.load import (
    ACCURACY_METRICS, FAILURE_RATE_METRICS, GENERIC_ACCURACY_METRICS, RELIABILITY_METRICS, Checkpoint, SampleRow,
    TaskRun, _mean,
)

FULL_OUTPUTS = 3  # outputs shown in full per checkpoint, one per outcome
FULL_OUTPUT_CHARS = 3000
TOP_REASONS = 10


@dataclass
class TaskView:
    """One task across the checkpoints (``runs[i]`` is None where checkpoint ``i`` lacks the task)."""

    task: str
    checkpoints: Sequence[Checkpoint]
    doc: Doc
    fig_dir: Path
    out_dir: Path
    cases: int  # rows per worst/best/outputs table

    @property
    def runs(self) -> list[TaskRun | None]:
        return [c.tasks.get(self.task) for c in self.checkpoints]

    @property
    def scored(self) -> list[tuple[Checkpoint, TaskRun]]:
        """(checkpoint, run) where the run has samples with medzero Scores."""
        return [(c, r) for c, r in zip(self.checkpoints, self.runs) if r is not None and r.has_scores]

    def figure(self, kind: str) -> Path:
        return self.fig_dir / f"{safe_name(self.task)}_{kind}.png"

    def image(self, path: Path, alt: str) -> Image:
        return Image(path, path.relative_to(self.out_dir).as_posix(), alt)


def outcome(sample: SampleRow) -> str:
    """``correct``, ``wrong`` (scored ``ok`` but not correct) or the failure status of a scored sample."""
    if sample.correct:
        return "correct"
    return "wrong" if sample.status == "ok" else sample.status


def outcome_counts(run: TaskRun) -> Counter[str]:
    """Samples per outcome, ordered correct, wrong, then the failure statuses by count."""
    counts = Counter(outcome(s) for s in run.samples)
    head = [k for k in ("correct", "wrong") if k in counts]
    rest = sorted((k for k in counts if k not in head), key=lambda k: (-counts[k], k))
    return Counter({k: counts[k] for k in head + rest})


def reason_pattern(reason: str) -> str:
    """A reason with its item-specific parts (quoted names, numbers) replaced, so alike failures group.

    >>> reason_pattern("no match for 'Phenylketonuria' (similarity 0.41)")
    "no match for '…' (similarity #)"
    """
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason.strip())
    return re.sub(r"(?<![\w<])-?\d+(?:\.\d+)?", "#", text)


# ------------------------------------------------------------------------------------------------ sections


def _with_derived(metrics: Mapping[str, float]) -> dict[str, float]:
    out = dict(metrics)
    if "format_rate" in out and "format_failure_rate" not in out:
        out["format_failure_rate"] = 1.0 - out["format_rate"]
    return out


def _accuracy_names(runs: Sequence[TaskRun]) -> list[str]:
    present = {k for t in runs for k in t.metrics}
    names = [m for m in ACCURACY_METRICS if m in present]
    return names or [m for m in GENERIC_ACCURACY_METRICS if m in present]


def metrics_section(view: TaskView) -> None:
    """Metrics per checkpoint: rates as percentages with lm-eval's standard error when it has one."""
    runs = view.runs
    metrics = [_with_derived(r.metrics) if r else {} for r in runs]
    present = [r for r in runs if r is not None]
    preferred = [*_accuracy_names(present), *RELIABILITY_METRICS, "mean_length", "format_rate", "format_failure_rate",
                 "mixed_language_rate", "hypernym_rate", "error_rate", "timeout_rate", "mean_reward"]
    all_names = {k for m in metrics for k in m}
    columns = [n for n in preferred if n in all_names] + sorted(all_names - set(preferred))
    rows: list[list[Cell]] = []
    for ckpt, run, m in zip(view.checkpoints, runs, metrics):
        stderr = run.stderr if run else {}
        rows.append([ckpt.label, "-" if ckpt.step is None else str(ckpt.step),
                     str(len(run.samples)) if run and run.has_samples else "-",
                     *(format_metric(m.get(n), n, stderr.get(n)) for n in columns)])
    view.doc.heading("Metrics per checkpoint", 3)
    view.doc.table(["checkpoint", "step", "samples", *columns], rows)


def charts_section(view: TaskView) -> None:
    """One checkpoint: bars of its rates and a histogram of output lengths; several: lines over steps."""
    runs = view.runs
    present = [r for r in runs if r is not None]
    metrics = [_with_derived(r.metrics) if r else {} for r in runs]
    labels = [c.label for c in view.checkpoints]
    steps = [c.step for c in view.checkpoints]
    task, images = view.task, []
    rate_names = [*_accuracy_names(present), *(n for n in FAILURE_RATE_METRICS if any(n in m for m in metrics))]
    if len(view.checkpoints) == 1:
        rates = {n: as_percent(n, metrics[0][n]) for n in rate_names if n in metrics[0]}
        rates = {n: v for n, v in rates.items() if v is not None}
        if rates:
            path = charts.bar_chart(rates, f"{task}: rates", "%", view.figure("rates"), percent=True)
            images.append(view.image(path, f"{task}: accuracy and failure rates"))
        lengths = {labels[0]: [float(len(s.response)) for s in present[0].samples]} if present else {}
        if any(lengths.values()):
            path = charts.histograms(lengths, f"{task}: output length", "characters", view.figure("length"))
            images.append(view.image(path, f"{task}: distribution of output lengths"))
    else:
        acc_names = _accuracy_names(present)
        if acc_names:
            series = {n: [_pct(n, m.get(n)) for m in metrics] for n in acc_names}
            path = charts.line_chart(series, labels, steps, f"{task}: accuracy", "%", view.figure("accuracy"), True)
            images.append(view.image(path, f"{task}: accuracy per checkpoint"))
        if any("mean_length" in m for m in metrics):
            lengths_series, name = [m.get("mean_length") for m in metrics], "mean_length"
        else:
            lengths_series = [_mean([float(len(s.response)) for s in r.samples]) if r and r.samples else None
                              for r in runs]
            name = "mean output characters"
        if any(v is not None for v in lengths_series):
            path = charts.line_chart({name: lengths_series}, labels, steps, f"{task}: mean output length",
                                     "characters", view.figure("length"))
            images.append(view.image(path, f"{task}: mean output length per checkpoint"))
        failure_names = [n for n in FAILURE_RATE_METRICS if any(n in m for m in metrics)]
        if failure_names:
            series = {n: [_pct(n, m.get(n)) for m in metrics] for n in failure_names}
            path = charts.line_chart(series, labels, steps, f"{task}: failure rates", "%", view.figure("failures"),
                                     True)
            images.append(view.image(path, f"{task}: format failures, mixed language and errors per checkpoint"))
    score_names = sorted({r.score_name for r in present if r.score_name})
    hist = {c.label: [s.score for s in r.samples if s.score is not None]
            for c, r in zip(view.checkpoints, runs) if r}
    if score_names and any(hist.values()):
        xlabel = " / ".join(score_names)
        path = charts.histograms(hist, f"{task}: per-sample {xlabel}", xlabel,  # type: ignore[arg-type]
                                 view.figure("scores"))
        images.append(view.image(path, f"{task}: distribution of the per-sample {xlabel}"))
    view.doc.images(images)


def _pct(metric: str, value: float | None) -> float | None:
    return None if value is None else as_percent(metric, value)


def status_section(view: TaskView) -> None:
    """Outcome counts per checkpoint and a stacked bar of them."""
    view.doc.heading("Statuses", 3)
    scored = view.scored
    if not scored:
        view.doc.para("The samples carry no medzero Score, so there are no statuses or reasons: run ",
                      Code("medzero-eval report --rescore"), " to score the logged outputs with a medzero_rewards "
                      "scorer.")
        return
    counts = [outcome_counts(r) for _, r in scored]
    order = list(dict.fromkeys(k for c in counts for k in c))
    view.doc.para("Each sample is ", Code("correct"), ", ", Code("wrong"), " (answered and scored, but not right) "
                  "or failed with the scorer's status (", Code("format_error"), ": the answer tags are missing or "
                  "malformed, so no answer could be extracted; see the reasons below).")
    view.doc.table(["checkpoint", "samples", *order],
                   [[c.label, str(len(r.samples)), *(format_count(n.get(k, 0), len(r.samples)) for k in order)]
                    for (c, r), n in zip(scored, counts)])
    path = charts.status_bars(counts, [c.label for c, _ in scored], f"{view.task}: outcomes", view.figure("statuses"))
    view.doc.images([view.image(path, f"{view.task}: outcomes per checkpoint (stacked)")])


def reasons_section(view: TaskView) -> None:
    """The most common reasons of the samples that are not correct, counted per checkpoint."""
    scored = view.scored
    if not scored:
        return
    view.doc.heading("Most common failure reasons", 3)
    per_ckpt: list[Counter[tuple[str, str]]] = []
    examples: dict[tuple[str, str], str] = {}
    for _, run in scored:
        counter: Counter[tuple[str, str]] = Counter()
        for s in run.samples:
            if s.correct:
                continue
            key = (outcome(s), reason_pattern(s.reason or "(no reason given)"))
            counter[key] += 1
            examples.setdefault(key, s.reason or "(no reason given)")
        per_ckpt.append(counter)
    total = sum(per_ckpt, Counter())
    if not total:
        view.doc.para("Every sample is correct.")
        return
    top = sorted(total, key=lambda k: (-total[k], k))[:TOP_REASONS]
    view.doc.para(f"Samples that are not correct, grouped by the scorer's reason (quoted names and numbers "
                  f"replaced by '…' and #); the {len(top)} most common of {len(total)}, with one example each.")
    view.doc.table(
        ["outcome", "reason", "example", *(c.label for c, _ in scored)],
        [[k[0], Code(k[1]), Code(excerpt(examples[k], 160)), *(str(n.get(k, 0)) for n in per_ckpt)] for k in top],
    )


def _case_rows(samples: Sequence[SampleRow], prompts: Mapping[int, str], score_name: str) -> list[list[Cell]]:
    return [[str(s.doc_id), outcome(s) if s.status else "-", format_metric(s.score, score_name),
             Code(excerpt(s.target, 80)), Code(excerpt(s.extracted or "", 80)), Code(excerpt(s.reason, 120)),
             Code(excerpt(prompts[id(s)], 120)), Code(excerpt(s.response, 200))] for s in samples]


CASE_HEADER = ["doc", "outcome", "score", "gold", "extracted", "reason", "prompt", "output"]


def worst_samples(run: TaskRun, n: int = 10) -> list[SampleRow]:
    """The ``n`` lowest-scoring samples below the run's best score (ties in doc order); unscored samples are skipped."""
    scored = [s for s in run.samples if s.score is not None]
    if scored:
        best = max(s.score for s in scored)  # type: ignore[type-var]
        scored = [s for s in scored if s.score < best]  # type: ignore[operator]
    order = sorted(range(len(scored)), key=lambda i: (scored[i].score, i))
    return [scored[i] for i in order[:n]]


def best_samples(run: TaskRun, n: int = 10) -> list[SampleRow]:
    """The ``n`` highest-scoring right samples (``correct``; without Scores: those at the best score), in doc
    order on ties."""
    scored = [s for s in run.samples if s.score is not None]
    if not scored:
        return []
    if run.has_scores:
        right = [s for s in scored if s.correct]
    else:
        best = max(s.score for s in scored)  # type: ignore[type-var]
        right = [s for s in scored if s.score == best and best > min(x.score for x in scored)]  # type: ignore[operator]
    order = sorted(range(len(right)), key=lambda i: (-right[i].score, i))  # type: ignore[operator]
    return [right[i] for i in order[:n]]


def outputs_section(view: TaskView) -> None:
    """Real outputs at the first and the last checkpoint (one when there is one)."""
    pairs = [(c, r) for c, r in zip(view.checkpoints, view.runs) if r is not None]
    for ckpt, run in pairs[:1] + pairs[1:][-1:]:
        _outputs_at(view, ckpt, run)


def _outputs_at(view: TaskView, ckpt: Checkpoint, run: TaskRun) -> None:
    doc, n = view.doc, view.cases
    doc.heading(f"Outputs at {ckpt.label}", 3)
    if not run.has_samples:
        doc.warning(f"No samples file for {view.task} at {ckpt.label} (lm-eval ran without --log_samples): "
                    "no statuses, reasons or outputs to show.")
        return
    if not run.samples:
        doc.para("No samples.")
        return
    prompts = dict(zip((id(s) for s in run.samples), strip_common_prefix([s.prompt for s in run.samples])))
    name = run.score_name or "score"
    worst = worst_samples(run, n)
    if worst:
        doc.para(f"Worst cases (lowest {name} first):")
        doc.table(CASE_HEADER, _case_rows(worst, prompts, name))
        best = best_samples(run, n)
        if best:
            doc.para(f"Best cases (right answers, highest {name} first):")
            doc.table(CASE_HEADER, _case_rows(best, prompts, name))
    else:
        same = format_metric(run.samples[0].score, name)
        doc.para(f"Every sample has the same {name} ({same}); the first {min(n, len(run.samples))} outputs:")
        doc.table(CASE_HEADER, _case_rows(run.samples[:n], prompts, name))
    _full_outputs(doc, run, worst or run.samples)


def _full_outputs(doc: Doc, run: TaskRun, ranked: Sequence[SampleRow]) -> None:
    """A few outputs in full: the first sample of each outcome in ``ranked``, then the best one."""
    chosen: dict[str, SampleRow] = {}
    for s in [*ranked, *best_samples(run, 1)]:
        chosen.setdefault(outcome(s) if s.status else str(s.score), s)
    for s in list(chosen.values())[:FULL_OUTPUTS]:
        label = outcome(s) if s.status else "output"
        doc.para(f"Doc {s.doc_id} in full ({label}, {run.score_name or 'score'} "
                 f"{format_metric(s.score, run.score_name)}): gold ", Code(excerpt(s.target, 120)),
                 ", extracted ", Code(excerpt(s.extracted or "", 120)) if s.extracted else "none",
                 *((", reason ", Code(excerpt(s.reason, 300))) if s.reason else ()), ".")
        text = s.response if len(s.response) <= FULL_OUTPUT_CHARS else (
            s.response[:FULL_OUTPUT_CHARS] + f"\n[… {len(s.response) - FULL_OUTPUT_CHARS} more characters]")
        doc.pre(text if text.strip() else "(empty output)")


SECTIONS: tuple[Callable[[TaskView], None], ...] = (
    metrics_section, charts_section, status_section, reasons_section, outputs_section,
)


def task_section(view: TaskView) -> None:
    """The whole part of the report about one task: a heading, then every section in :data:`SECTIONS`."""
    view.doc.heading(f"Task: {view.task}", 2)
    scorers = sorted({r.scorer for r in view.runs if r is not None and r.scorer})
    if scorers:
        view.doc.para(f"Metrics re-scored from the logged responses with medzero_rewards scorer {', '.join(scorers)}.")
    for section in SECTIONS:
        section(view)
