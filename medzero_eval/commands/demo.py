"""`medzero-eval demo`: a real lm-eval run of the embedded SmolLM2-135M-Instruct on CPU, then a report.

The demo is an ordinary lm-eval evaluation (``--model hf`` with the GGUF file, ``--apply_chat_template``,
``--log_samples``) of medzero's tasks, scored by medzero_rewards, followed by
:func:`medzero_eval.report.write_report`. Nothing is mocked; only the scale is small (a few cases,
short generations) so that it finishes in minutes on two CPU cores. The cases are spread over
different gold answers (:func:`spread_doc_ids`, passed to lm-eval as ``--samples``), the CPU threads
are set for the machine (:func:`medzero_eval.commands.run.set_cpu_threads`), and EHRSQL is added when
its data folder is given. On a GPU run the same tasks with ``medzero-eval run --model vllm ...``
(printed at the end).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from medzero_eval.commands import UserError

DEFAULT_TASKS = ("rarebench_mme",)
WHAT_TO_LOOK_AT = (
    "In the report, per task: 'Statuses' says how many answers were correct, wrong or failed and why "
    "(format_error: the model did not write the <think>/<answer> tags); 'Most common failure reasons' "
    "gives the scorer's words for it; 'Outputs' shows what the model actually wrote next to the gold "
    "answer, the extracted answer, the score and the reason."
)


def spread_doc_ids(targets: Sequence[str], n: int) -> list[int]:
    """``n`` document indices spread over the distinct gold answers: the first document of each gold in
    order, then the second of each, and so on (deterministic; sorted).

    >>> spread_doc_ids(["a", "b", "b", "b", "c", "a"], 4)
    [0, 1, 4, 5]
    >>> spread_doc_ids(["a", "a"], 5)
    [0, 1]
    """
    by_gold: dict[str, list[int]] = {}
    for i, target in enumerate(targets):
        by_gold.setdefault(" ".join(str(target).lower().split()), []).append(i)
    queues = list(by_gold.values())
    chosen: list[int] = []
    depth = 0
    while len(chosen) < n and any(depth < len(q) for q in queues):
        chosen.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return sorted(chosen[:n])


def task_targets(tasks: Sequence[str], metadata: Mapping[str, Any]) -> dict[str, list[str]]:
    """The gold answer (``doc_to_target``) of every evaluation document of medzero's ``tasks``, as lm-eval
    builds them."""
    from lm_eval.tasks import TaskManager, get_task_dict

    from medzero_eval.discovery import tasks_dir

    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=dict(metadata))
    out: dict[str, list[str]] = {}
    for name, task in get_task_dict(list(tasks), manager).items():
        out[str(name)] = [str(task.doc_to_target(doc)) for doc in task.eval_docs]
    return out


def demo_lm_eval_args(
    *,
    model_args: str,
    tasks: list[str],
    output: Path,
    limit: int | None,
    max_gen_toks: int,
    batch_size: int,
    metadata: dict,
    samples: Mapping[str, Sequence[int]] | None = None,
) -> list[str]:
    """The `lm-eval run` arguments of the demo (``samples``: doc indices per task, instead of ``limit``)."""
    args = [
        "run",
        "--model", "hf",
        "--model_args", model_args,
        "--tasks", ",".join(tasks),
        "--apply_chat_template",
        "--log_samples",
        "--output_path", str(output),
        "--gen_kwargs", f"max_gen_toks={max_gen_toks}",
        "--batch_size", str(batch_size),
        "--device", "cpu",
    ]
    if samples:
        args += ["--samples", json.dumps({t: list(ids) for t, ids in samples.items()})]
    elif limit is not None:
        args += ["--limit", str(limit)]
    if metadata:
        args += ["--metadata", json.dumps(metadata)]
    return args


def ehrsql_metadata(ehrsql_dir: Path) -> dict:
    """``--metadata`` for the EHRSQL task; uses ``answer_rebuilt.json`` (gold results on a rebuilt
    database, as shipped next to medzero's test data) when the folder has it, else ``answer.json``."""
    meta: dict = {"ehrsql_dir": str(ehrsql_dir)}
    if (ehrsql_dir / "test" / "answer_rebuilt.json").is_file():
        meta["answers"] = "answer_rebuilt.json"
    return meta


@click.command()
@click.option("--output", "output", type=click.Path(file_okay=False, path_type=Path), default=Path("out/demo"),
              show_default=True, help="Folder for lm-eval's logs (lm_eval/) and the report (report/).")
@click.option("--tasks", "tasks", default=",".join(DEFAULT_TASKS), show_default=True,
              help="Comma-separated medzero tasks (ehrsql is added when --ehrsql-dir is given).")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Cases per task, spread over different gold answers (first case of each gold, then the second...).")
@click.option("--ehrsql-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              envvar="MEDZERO_EHRSQL_DIR",
              help="EHRSQL 2024 folder (with mimic_iv.sqlite); adds the ehrsql task. [env: MEDZERO_EHRSQL_DIR]")
@click.option("--max-gen-toks", type=click.IntRange(min=1), default=96, show_default=True,
              help="Generation cap per answer (kept small for CPU).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Generation batch size (1 is fastest for this model on CPU).")
@click.option("--threads", type=click.IntRange(min=0), default=None,
              help="CPU threads for torch (OMP_NUM_THREADS, torch.set_num_threads). Default: the usable cores "
                   "less the current load average, at least 1 (every core on an idle machine; one thread per "
                   "core on a busy one makes the threads wait on each other), unless OMP_NUM_THREADS is set; "
                   "0 = torch's default.")
@click.option("--gguf", "gguf_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Another GGUF file instead of the embedded SmolLM2-135M-Instruct.")
@click.option("--no-report", is_flag=True, help="Only run lm-eval.")
def demo(output: Path, tasks: str, limit: int, ehrsql_dir: Path | None, max_gen_toks: int, batch_size: int,
         threads: int | None, gguf_path: Path | None, no_report: bool) -> None:
    """Evaluate the embedded SmolLM2-135M-Instruct (GGUF, CPU) on medzero's tasks and write the report.

    The cases of each task are spread over different diagnoses (EHRSQL: different queries); the CPU
    threads are set for the machine (see --threads). Prints the time taken and what to look at in the
    report (out/demo/report/report.html by default).
    """
    from medzero_eval.commands.run import run_lm_eval
    from medzero_eval.model import ModelNotFoundError, default_model, gguf_model
    from medzero_eval.report.formatting import format_seconds

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")  # everything the demo needs is local
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        model = gguf_model(gguf_path) if gguf_path else default_model()
    except ModelNotFoundError as exc:
        raise UserError(str(exc)) from exc
    task_list = [t for t in tasks.split(",") if t]
    metadata: dict = {}
    if ehrsql_dir is not None:
        if "ehrsql" not in task_list:
            task_list.append("ehrsql")
        metadata.update(ehrsql_metadata(ehrsql_dir))
    start = time.monotonic()
    try:
        targets = task_targets(task_list, metadata)
    except (KeyError, ValueError, OSError) as exc:
        raise UserError(f"cannot build the demo's tasks {', '.join(task_list)}: {exc}") from exc
    samples = {task: spread_doc_ids(golds, limit) for task, golds in targets.items()}
    logs = output / "lm_eval"
    args = demo_lm_eval_args(model_args=model.hf_model_args(), tasks=task_list, output=logs, limit=limit,
                             max_gen_toks=max_gen_toks, batch_size=batch_size, metadata=metadata, samples=samples)
    spread = ", ".join(f"{t}: {len(ids)} cases, {len({targets[t][i] for i in ids})} different golds"
                       for t, ids in samples.items())
    click.echo(f"medzero demo: {model.path.name} on {spread} (CPU)", err=True)
    click.echo("  lm-eval " + " ".join(args), err=True)
    run_lm_eval(args, threads=threads)
    eval_s = time.monotonic() - start
    report_path = None
    if not no_report:
        from medzero_eval.report import write_report

        report_path = write_report([logs], output / "report", title=f"medzero demo: {model.path.stem} (CPU)",
                                   on_warning=lambda message: click.echo(f"warning: {message}", err=True))
    total_s = time.monotonic() - start
    click.echo(f"\nlm-eval logs: {logs}  (evaluation {format_seconds(eval_s)}, total {format_seconds(total_s)})")
    if report_path is not None:
        click.echo(f"report: {report_path.with_suffix('.html')} (and {report_path.name}, figures/)")
        click.echo(WHAT_TO_LOOK_AT)
    click.echo(
        "On a GPU, evaluate a real model the same way:\n"
        "  medzero-eval run --model vllm --model_args pretrained=<model>,max_model_len=8192 "
        f"--tasks {','.join(task_list)} --apply_chat_template --log_samples --output_path {logs}"
    )
