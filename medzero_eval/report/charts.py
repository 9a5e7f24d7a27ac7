"""Matplotlib (Agg) figures for ``medzero-eval report``: one function per kind of chart, each saving a PNG.

One checkpoint gets bar charts (:func:`bar_chart`), several get lines over training steps
(:func:`line_chart`); every report has a stacked status bar (:func:`status_bars`) and score
histograms (:func:`histograms`). Imported only by the report, so ``medzero-eval score`` never needs
matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

FIGSIZE = (6.4, 3.9)
DPI = 100
# Fixed colours per outcome, so a status looks the same in every chart; others cycle through the rest.
OUTCOME_COLOURS = {
    "correct": "#2e7d32", "wrong": "#90a4ae", "format_error": "#ef6c00", "empty": "#ffb74d",
    "hacking": "#8e24aa", "abstained": "#5c6bc0", "sql_error": "#c62828", "refused": "#6d4c41",
    "timeout": "#f9a825", "unjudged": "#00838f", "error": "#000000",
}
_SPARE_COLOURS = ("#d81b60", "#1e88e5", "#7cb342", "#fdd835", "#546e7a")


def _x_axis(labels: Sequence[str], steps: Sequence[int | None]) -> tuple[list[float], str, bool]:
    """Step numbers when there are several checkpoints and every one has one, else positions with labels as ticks."""
    if len(steps) > 1 and all(s is not None for s in steps):
        return [float(s) for s in steps if s is not None], "training step", False
    return [float(i) for i in range(len(labels))], "checkpoint", True


def line_chart(
    series: Mapping[str, Sequence[float | None]],
    labels: Sequence[str],
    steps: Sequence[int | None],
    title: str,
    ylabel: str,
    path: Path,
    percent: bool = False,
) -> Path:
    """One line per metric across checkpoints (missing values are gaps); saves a PNG at ``path``.

    ``percent``: the values are percentages; the y axis spans 0..100 when they fit.
    """
    xs, xlabel, use_labels = _x_axis(labels, steps)
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    for name, values in series.items():
        points = [(x, v) for x, v in zip(xs, values) if v is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", linewidth=1.8, label=name)
            if len(xs) <= 12:
                for x, v in points:
                    ax.annotate(f"{v:.3g}", (x, v), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    if use_labels:
        ax.set_xticks(xs)
        ax.set_xticklabels([_short(label) for label in labels], rotation=20, ha="right", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    finite = [v for values in series.values() for v in values if v is not None]
    if percent and finite and 0 <= min(finite) and max(finite) <= 100:
        ax.set_ylim(-2, 108)
    return _save(fig, ax, path)


def bar_chart(values: Mapping[str, float], title: str, ylabel: str, path: Path, percent: bool = False) -> Path:
    """One bar per metric of one checkpoint, each labelled with its value; saves a PNG at ``path``."""
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    names = list(values)
    bars = ax.bar(range(len(names)), [values[n] for n in names], color="#1e88e5")
    ax.bar_label(bars, labels=[f"{values[n]:.1f}{' %' if percent else ''}" for n in names], fontsize=8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if percent and values and 0 <= min(values.values()) and max(values.values()) <= 100:
        ax.set_ylim(0, 110)
    return _save(fig, ax, path, legend=False)


def status_bars(counts: Sequence[Mapping[str, int]], labels: Sequence[str], title: str, path: Path) -> Path:
    """A stacked bar of outcome counts per checkpoint (correct, wrong, then each failure status); saves a PNG."""
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    order = list(dict.fromkeys(k for c in counts for k in c))
    spare = iter(_SPARE_COLOURS * 4)
    xs = list(range(len(labels)))
    bottoms = [0] * len(labels)
    for outcome in order:
        heights = [c.get(outcome, 0) for c in counts]
        colour = OUTCOME_COLOURS.get(outcome) or next(spare)
        bars = ax.bar(xs, heights, bottom=bottoms, label=outcome, color=colour, width=0.6)
        ax.bar_label(bars, labels=[str(h) if h else "" for h in heights], label_type="center", fontsize=8,
                     color="white" if outcome not in ("wrong", "empty", "timeout") else "black")
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    ax.set_xticks(xs)
    ax.set_xticklabels([_short(label) for label in labels], rotation=20 if len(labels) > 1 else 0,
                       ha="right" if len(labels) > 1 else "center", fontsize=8)
    ax.set_xlim(-0.8, len(labels) - 0.2 + (1.2 if len(labels) < 3 else 0.4))  # room for the legend
    ax.set_ylabel("samples")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    return _save(fig, ax, path, legend_loc="upper right")


def histograms(
    values_by_checkpoint: Mapping[str, Sequence[float]], title: str, xlabel: str, path: Path, bins: int = 20
) -> Path:
    """Overlaid histograms of per-sample values, one per checkpoint; saves a PNG at ``path``."""
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    finite = [v for vals in values_by_checkpoint.values() for v in vals]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    n = len(values_by_checkpoint)
    for label, vals in values_by_checkpoint.items():
        if vals:
            ax.hist(list(vals), bins=bins, range=(lo, hi), alpha=0.85 if n == 1 else 0.45, label=_short(label))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    return _save(fig, ax, path, legend=n > 1)


def _save(fig: Any, ax: Any, path: Path, legend: bool = True, legend_loc: str = "best") -> Path:
    """Grid, legend (when anything is labelled), tight layout; write the PNG and free the figure."""
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc=legend_loc)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else "…" + label[-(width - 1):]
