"""``write_report``: load the lm-eval output, optionally re-score it, render ``report.md`` / ``report.html``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from medzero_eval.report.document import _Doc
from medzero_eval.report.load import load_checkpoints
from medzero_eval.report.rescore import rescore_task
from medzero_eval.report.sections import _task_section

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
