"""`medzero-eval run`: lm-eval's own CLI with medzero's task folder included."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

_SUBCOMMANDS = ("run", "ls", "validate")


def lm_eval_argv(args: Sequence[str]) -> list[str]:
    """lm-eval CLI arguments for ``args``: ``run`` is implied, and ``--include_path`` names medzero's
    tasks unless the user gave one (the in-process hook adds medzero's folder next to theirs).

    >>> lm_eval_argv(["--model", "hf", "--include_path", "/x"])
    ['run', '--model', 'hf', '--include_path', '/x']
    """
    from medzero_eval import discovery

    argv = list(args)
    if not argv or argv[0] not in _SUBCOMMANDS:
        argv = ["run", *argv]
    has_include = any(a == "--include_path" or a.startswith("--include_path=") for a in argv)
    if argv[0] in ("run", "validate") and not has_include and not {"-h", "--help"} & set(argv):
        argv += ["--include_path", str(discovery.tasks_dir())]
    return argv


def run_lm_eval(args: Sequence[str]) -> None:
    """Run lm-eval's CLI in this process with medzero's tasks discoverable (raises SystemExit on errors)."""
    from medzero_eval import discovery

    discovery.install(force=True)  # medzero's tasks even without the .pth hook or with it opted out
    from lm_eval.__main__ import cli_evaluate

    saved = sys.argv
    sys.argv = ["lm-eval", *lm_eval_argv(args)]
    try:
        cli_evaluate()
    finally:
        sys.argv = saved


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("lm_eval_args", nargs=-1, type=click.UNPROCESSED)
def run(lm_eval_args: tuple[str, ...]) -> None:
    """Run lm-evaluation-harness with medzero's tasks: every argument goes to `lm-eval run`.

    \b
    Example (CPU, the embedded model; see `medzero-eval demo` for the whole set-up):
      medzero-eval run --model hf --model_args pretrained=DIR,gguf_file=FILE \\
          --tasks rarebench_mme --apply_chat_template --log_samples --output_path out/
    Example (GPU):
      medzero-eval run --model vllm --model_args pretrained=MODEL --tasks rarebench \\
          --apply_chat_template --log_samples --output_path out/
    Task options go in --metadata JSON, e.g. '{"data_path": "/data/RDC.json"}' (see tasks/README.md).
    `medzero-eval run --help` shows lm-eval's own options.
    """
    run_lm_eval(lm_eval_args)
