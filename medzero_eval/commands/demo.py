"""`medzero-eval demo`: a real lm-eval run of the embedded SmolLM2-135M-Instruct on CPU, then a report.

The demo is an ordinary lm-eval evaluation (``--model hf`` with the GGUF file, ``--apply_chat_template``,
``--log_samples``) of medzero's tasks, scored by medzero_rewards, followed by
:func:`medzero_eval.report.write_report`. Nothing is mocked; only the scale is small (a few cases,
short generations) so that it finishes in minutes on two CPU cores. On a GPU run the same tasks with
``medzero-eval run --model vllm ...`` (printed at the end).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

DEFAULT_TASKS = ("rarebench_mme",)


def demo_lm_eval_args(
    *,
    model_args: str,
    tasks: list[str],
    output: Path,
    limit: int | None,
    max_gen_toks: int,
    batch_size: int,
    metadata: dict,
) -> list[str]:
    """The `lm-eval run` arguments of the demo."""
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
    if limit is not None:
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
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Cases per task.")
@click.option("--ehrsql-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              envvar="MEDZERO_EHRSQL_DIR", help="EHRSQL 2024 folder (with mimic_iv.sqlite); adds the ehrsql task. [env: MEDZERO_EHRSQL_DIR]")
@click.option("--max-gen-toks", type=click.IntRange(min=1), default=96, show_default=True,
              help="Generation cap per answer (kept small for CPU).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Generation batch size (1 is fastest for this model on CPU).")
@click.option("--gguf", "gguf_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Another GGUF file instead of the embedded SmolLM2-135M-Instruct.")
@click.option("--no-report", is_flag=True, help="Only run lm-eval.")
def demo(output: Path, tasks: str, limit: int, ehrsql_dir: Path | None, max_gen_toks: int, batch_size: int,
         gguf_path: Path | None, no_report: bool) -> None:
    """Evaluate the embedded SmolLM2-135M-Instruct (GGUF, CPU) on medzero's tasks and write the report."""
    from medzero_eval.commands.run import run_lm_eval
    from medzero_eval.model import ModelNotFoundError, default_model, gguf_model

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")  # everything the demo needs is local
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        model = gguf_model(gguf_path) if gguf_path else default_model()
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    task_list = [t for t in tasks.split(",") if t]
    metadata: dict = {}
    if ehrsql_dir is not None:
        if "ehrsql" not in task_list:
            task_list.append("ehrsql")
        metadata.update(ehrsql_metadata(ehrsql_dir))
    logs = output / "lm_eval"
    args = demo_lm_eval_args(model_args=model.hf_model_args(), tasks=task_list, output=logs, limit=limit,
                             max_gen_toks=max_gen_toks, batch_size=batch_size, metadata=metadata)
    click.echo(f"medzero demo: {model.path.name} on {', '.join(task_list)} (limit {limit}, CPU)", err=True)
    click.echo("  lm-eval " + " ".join(args), err=True)
    start = time.monotonic()
    run_lm_eval(args)
    eval_s = time.monotonic() - start
    report_path = None
    if not no_report:
        from medzero_eval.report import write_report

        report_path = write_report([logs], output / "report", title="medzero demo: SmolLM2-135M-Instruct (CPU)")
    total_s = time.monotonic() - start
    click.echo(f"\nlm-eval logs: {logs}  (evaluation {eval_s:.0f} s, total {total_s:.0f} s)")
    if report_path is not None:
        click.echo(f"report: {report_path}")
    click.echo(
        "On a GPU, evaluate a real model the same way:\n"
        "  medzero-eval run --model vllm --model_args pretrained=<model>,max_model_len=8192 "
        f"--tasks {','.join(task_list)} --apply_chat_template --log_samples --output_path {logs}"
    )
