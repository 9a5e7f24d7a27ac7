"""Reports over lm-eval ``--log_samples`` output: charts per checkpoint and a Markdown + HTML summary.

The package is split by job, so a new section or chart goes in one obvious place:

* :mod:`~medzero_eval.report.load` reads lm-eval's results and samples files into checkpoints;
* :mod:`~medzero_eval.report.rescore` re-scores logged samples with a medzero_rewards scorer;
* :mod:`~medzero_eval.report.sections` builds each task's sections (a new section: a function in ``SECTIONS``);
* :mod:`~medzero_eval.report.charts` draws the matplotlib figures (a new chart: a function there);
* :mod:`~medzero_eval.report.formatting` writes numbers and texts for people (percentages, seconds);
* :mod:`~medzero_eval.report.document` renders the blocks as Markdown and standalone HTML;
* :mod:`~medzero_eval.report.writer` ties them together in :func:`write_report`.
"""

from medzero_eval.report.formatting import excerpt, format_metric, format_seconds
from medzero_eval.report.load import (
    Checkpoint, ReportInputError, SampleRow, TaskRun, find_run_dirs, load_checkpoints, load_run, model_name,
    parse_sample, parse_step, step_of, to_float,
)
from medzero_eval.report.rescore import rescore_task, scorer_for_task, scoring_inputs
from medzero_eval.report.sections import best_samples, outcome, worst_samples
from medzero_eval.report.writer import write_report

__all__ = [
    "Checkpoint", "ReportInputError", "SampleRow", "TaskRun", "best_samples", "excerpt", "find_run_dirs",
    "format_metric", "format_seconds", "load_checkpoints", "load_run", "model_name", "outcome", "parse_sample",
    "parse_step", "rescore_task", "scorer_for_task", "scoring_inputs", "step_of", "to_float", "worst_samples",
    "write_report",
]
