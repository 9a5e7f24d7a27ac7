"""``write_report``: load the lm-eval output, optionally re-score it, render ``report.md`` / ``report.html``."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from medzero_eval.report.document import Code, Doc
from medzero_eval.report.formatting import format_seconds
from medzero_eval.report.load import Checkpoint, load_checkpoints
from medzero_eval.report.rescore import rescore_task
from medzero_eval.report.sections import TaskView, task_section

logger = logging.getLogger("medzero_eval.report")

HOW_TO_READ = (
    "Per task: the metrics of each checkpoint (rates in %, ± the standard error where lm-eval gives one), "
    "charts (bars for one checkpoint, lines over training steps for several), the outcome of every sample "
    "(correct, wrong, or the scorer's failure status), the most common failure reasons, and real outputs "
    "with their gold answer, the extracted answer, the score and the scorer's reason."
)


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
    on_warning: Callable[[str], None] | None = None,
) -> Path:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` for lm-eval log directories; return the Markdown path.

    ``log_dirs`` are lm-eval ``--output_path`` directories (or the per-model folders inside them), one
    per checkpoint. With ``rescore`` the per-sample metrics and the task metrics are recomputed by the
    medzero_rewards scorer the task config names (``scorer`` / ``scorer_config`` override it).
    Everything is read before anything is written: an unreadable file raises
    :class:`~medzero_eval.report.load.ReportInputError` (naming it) and leaves ``out_dir`` untouched.
    Warnings (a task without samples) go to ``on_warning`` (default: the ``medzero_eval.report`` logger)
    and into the report. ``report.html`` embeds its figures and stands alone.
    """
    if not log_dirs:
        raise ValueError("write_report needs at least one log directory")
    warn = on_warning or logger.warning
    checkpoints = load_checkpoints([Path(d) for d in log_dirs])
    if rescore:
        for ckpt in checkpoints:
            for run in ckpt.tasks.values():
                if run.samples:
                    rescore_task(run, scorer=scorer, config=scorer_config, progress=progress)
    warnings = [w for c in checkpoints for w in c.warnings]
    for message in warnings:
        warn(message)

    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    doc = Doc()
    doc.heading(title, 1)
    doc.para(f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} from "
             f"{len(checkpoints)} lm-eval output folder{'' if len(checkpoints) == 1 else 's'}. {HOW_TO_READ}")
    _checkpoints_table(doc, checkpoints)
    for message in warnings:
        doc.warning(message)
    for task in sorted({t for c in checkpoints for t in c.tasks}):
        task_section(TaskView(task, checkpoints, doc, fig_dir, out_dir, worst_n))

    md_path = out_dir / "report.md"
    md_path.write_text(doc.markdown(), encoding="utf-8")
    (out_dir / "report.html").write_text(doc.html(title), encoding="utf-8")
    return md_path


def _checkpoints_table(doc: Doc, checkpoints: Sequence[Checkpoint]) -> None:
    doc.heading("Checkpoints", 2)
    doc.table(
        ["checkpoint", "model", "step", "evaluation time", "tasks", "lm-eval folder"],
        [[c.label, c.model, "-" if c.step is None else str(c.step), format_seconds(c.eval_seconds),
          ", ".join(sorted(c.tasks)), Code(_display_path(c.path))] for c in checkpoints],
    )


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, else as it is."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:
        return str(path)
