"""Matplotlib (Agg) figures for ``medzero-eval report``: metrics per checkpoint and score histograms.

Imported only by the report, so ``medzero-eval score`` never needs matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def _x_axis(labels: Sequence[str], steps: Sequence[int | None]) -> tuple[list[float], str, bool]:
    """Step numbers when there are several checkpoints and every one has one, else positions with labels as ticks."""
    if len(steps) > 1 and all(s is not None for s in steps):
        return [float(s) for s in steps if s is not None], "training step", False
    return [float(i) for i in range(len(labels))], "checkpoint", True


def plot_series(
    series: Mapping[str, Sequence[float | None]],
    labels: Sequence[str],
    steps: Sequence[int | None],
    title: str,
    ylabel: str,
    path: Path,
    unit_interval: bool = False,
) -> Path:
    """One line per metric across checkpoints (missing values are gaps); saves a PNG at ``path``.

    ``unit_interval``: the values are rates; the y axis spans 0..1 (or 0..100 for percentages).
    """
    xs, xlabel, use_labels = _x_axis(labels, steps)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
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
    if unit_interval and finite and min(finite) >= 0:  # rates: 0..1, or 0..100 for EHRSQL's percentages
        top = 1.0 if max(finite) <= 1 else 100.0 if max(finite) <= 100 else None
        if top is not None:
            ax.set_ylim(-0.02 * top, 1.08 * top)
    return _save(fig, ax, path)


def plot_histograms(
    values_by_checkpoint: Mapping[str, Sequence[float]], title: str, xlabel: str, path: Path, bins: int = 20
) -> Path:
    """Overlaid histograms of per-sample scores, one per checkpoint; saves a PNG at ``path``."""
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
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
    return _save(fig, ax, path)


def _save(fig: Any, ax: Any, path: Path) -> Path:
    """Grid, legend (when anything is labelled), tight layout; write the PNG and free the figure."""
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else "…" + label[-(width - 1):]
