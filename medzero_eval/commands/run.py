"""`medzero-eval run`: lm-eval's own CLI with medzero's task folder included.

Before lm-eval starts (and so before any model loads) the command

* checks the data every requested medzero task reads (RareArena file, EHRSQL folder, RareBench
  folder) and stops with one line naming the missing file and how to pass it (:func:`check_task_inputs`);
* adds ``--apply_chat_template`` -- medzero's prompts are the chat prompts of training -- unless the
  user gave one or ``--no-chat-template``;
* sets the CPU thread count for the machine (:func:`cpu_threads`), unless ``--threads N`` or
  ``OMP_NUM_THREADS`` says otherwise: torch's default oversubscribes a busy machine.
"""

from __future__ import annotations

import fnmatch
import io
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import click

_SUBCOMMANDS = ("run", "ls", "validate")
NO_CHAT_TEMPLATE = "--no-chat-template"
THREADS = "--threads"
_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


MEDZERO_OPTIONS_HELP = f"""medzero-eval run: lm-eval run with medzero's tasks. medzero's own options:
  {NO_CHAT_TEMPLATE}  do not add --apply_chat_template (added by default: medzero's prompts are the
                      chat prompts of training)
  {THREADS} N         CPU threads (default: the usable cores less the current load, unless
                      OMP_NUM_THREADS is set; 0 = torch's default)
The data of every requested medzero task is checked before the model loads. lm-eval's options follow.
"""


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


# --------------------------------------------------------------------------- medzero's own options


def split_medzero_options(args: Sequence[str]) -> tuple[list[str], bool, int | None]:
    """Take ``--no-chat-template`` and ``--threads N`` out of ``args`` (the rest goes to lm-eval).

    >>> split_medzero_options(["--tasks", "ehrsql", "--threads", "2", "--no-chat-template"])
    (['--tasks', 'ehrsql'], False, 2)
    """
    rest: list[str] = []
    chat_template, threads = True, None
    it = iter(args)
    for arg in it:
        if arg == NO_CHAT_TEMPLATE:
            chat_template = False
        elif arg == THREADS or arg.startswith(THREADS + "="):
            value = arg.partition("=")[2] if "=" in arg else next(it, "")
            try:
                threads = int(value)
            except ValueError:
                threads = -1
            if threads < 0:
                raise click.UsageError(f"{THREADS} needs a whole number >= 0 (0 = torch's default), got {value!r}")
        else:
            rest.append(arg)
    return rest, chat_template, threads


def with_chat_template(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--apply_chat_template`` added to an lm-eval ``run`` that has none.

    >>> with_chat_template(["run", "--tasks", "ehrsql"])
    ['run', '--tasks', 'ehrsql', '--apply_chat_template']
    >>> with_chat_template(["run", "--apply_chat_template=chatml"])
    ['run', '--apply_chat_template=chatml']
    """
    argv = list(argv)
    if argv and argv[0] != "run" or {"-h", "--help"} & set(argv):
        return argv
    if any(a == "--apply_chat_template" or a.startswith("--apply_chat_template=") for a in argv):
        return argv
    return [*argv, "--apply_chat_template"]


# --------------------------------------------------------------------------- CPU threads


def available_cores() -> int:
    """CPU cores this process may use: its affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def cpu_threads(cores: int | None = None, load: float | None = None) -> int:
    """Threads for CPU inference: the usable cores less the machine's current load (1-minute load
    average), at least 1. On a busy machine torch's default (one thread per core) makes its threads
    wait on each other; on an idle one this is every core.

    >>> cpu_threads(cores=2, load=3.5), cpu_threads(cores=16, load=0.2), cpu_threads(cores=8, load=2.4)
    (1, 16, 6)
    """
    cores = available_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    return max(1, min(cores, math.floor(cores - load + 0.5)))


def set_cpu_threads(threads: int | None) -> str | None:
    """Set the CPU threads of this process (before torch loads; also torch itself when already loaded).

    ``threads`` None: :func:`cpu_threads`, unless ``OMP_NUM_THREADS`` is set (then left alone); 0:
    leave torch's default. Returns a one-line note of what was set, or None.
    """
    if threads == 0:
        return None
    if threads is None:
        if os.environ.get("OMP_NUM_THREADS"):
            return None
        threads, why = cpu_threads(), f"{available_cores()} cores less the current load"
    else:
        why = THREADS
    for var in _THREAD_ENV:
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    return f"medzero-eval: {threads} CPU thread{'s' if threads != 1 else ''} ({why}; change with {THREADS} N)"


# --------------------------------------------------------------------------- task inputs


def _lm_eval_option_error(exc: BaseException) -> Exception:
    """lm-eval's rejection of its command line (``--metadata`` that is not JSON, an unknown task...) as
    one :class:`~medzero_eval.lm_eval_glue.TaskConfigError` line instead of lm-eval's traceback."""
    from medzero_eval.commands import one_line
    from medzero_eval.lm_eval_glue import TaskConfigError

    text = one_line(str(exc))
    fix = ("`lm_eval list tasks` lists lm-eval's tasks, tasks/README.md medzero's" if text.startswith("Tasks not found")
           else "see `medzero-eval run --help` and tasks/README.md")
    return TaskConfigError(f"lm-eval options: {text} — {fix}")


def parse_run_args(argv: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """The tasks and the task metadata (``--metadata`` merged over ``--model_args``, as lm-eval merges
    them) of an lm-eval ``run`` command line, parsed by lm-eval's own parser. ``([], {})`` when lm-eval
    would reject the command line (it then reports that itself)."""
    from lm_eval._cli import HarnessCLI
    from lm_eval.config.evaluate_config import EvaluatorConfig

    parser = HarnessCLI()._parser
    try:
        with redirect_stderr(io.StringIO()), redirect_stdout(io.StringIO()):  # lm-eval reports it itself
            namespace = parser.parse_args(list(argv))
            if getattr(namespace, "command", None) != "run":
                return [], {}
            config = EvaluatorConfig.from_cli(namespace)
    except SystemExit:  # an argparse usage error: lm-eval prints its usage line itself
        return [], {}
    except (ValueError, TypeError, FileNotFoundError) as exc:  # lm-eval would raise it with a traceback
        raise _lm_eval_option_error(exc) from None
    tasks = config.tasks if isinstance(config.tasks, list) else str(config.tasks or "").split(",")
    return [t for task in tasks if isinstance(task, str) for t in task.split(",") if t], dict(config.metadata or {})


def _task_index(tasks_dir: Path) -> tuple[dict[str, list[str]], set[str]]:
    """medzero's groups (name -> members) and task names, read from the task YAML."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    groups: dict[str, list[str]] = {}
    tasks: set[str] = set()
    for path in sorted(tasks_dir.rglob("*.yaml")):
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(doc, dict):
            continue
        if isinstance(doc.get("group"), str) and isinstance(doc.get("task"), list):
            groups[doc["group"]] = [t for t in doc["task"] if isinstance(t, str)]
        elif isinstance(doc.get("task"), str):
            tasks.add(doc["task"])
    return groups, tasks


def medzero_tasks(requested: Iterable[str], tasks_dir: Path | None = None) -> list[str]:
    """The medzero tasks among ``requested`` task names, groups and patterns (other tasks are dropped)."""
    from medzero_eval import discovery

    groups, tasks = _task_index(tasks_dir or discovery.tasks_dir())
    known = sorted(tasks | set(groups))
    out: list[str] = []

    def add(name: str, seen: frozenset[str]) -> None:
        if name in groups and name not in seen:
            for member in groups[name]:
                add(member, seen | {name})
        elif name in tasks and name not in out:
            out.append(name)

    for name in requested:
        for match in fnmatch.filter(known, name) if any(c in name for c in "*?[") else [name]:
            add(match, frozenset())
    return out


def check_task_inputs(tasks: Iterable[str], metadata: Mapping[str, Any]) -> None:
    """Raise :class:`~medzero_eval.records.DataNotFoundError` (one line: the file and how to pass it)
    when a medzero task's data is missing, :class:`~medzero_eval.records.DataFormatError` when a data file
    is damaged, :class:`~medzero_eval.lm_eval_glue.TaskConfigError` when the EHRSQL database or the scorer
    settings are not usable. Reads the data files once (seconds); loads no model, runs no query."""
    from medzero_eval import lm_eval_glue, records

    ehrsql_paths = getattr(lm_eval_glue, "ehrsql_paths", None) or getattr(lm_eval_glue, "_ehrsql_paths")
    for task in tasks:
        if task.startswith(("rarearena_rdc", "rarearena_rds", "rarebench_")):
            # the scorer (its judge, hierarchy file, settings) is built here, so a bad one stops the run in
            # one line before the model loads; lm-eval's tasks reuse it (same process, cached per spec)
            style = "top5" if task.endswith("_top5") else "r1"
            name = "rarearena_rdc" if task.startswith("rarearena_rdc") else "rarearena_rds"
            config = lm_eval_glue.diagnosis_scorer_config(metadata, style)
            lm_eval_glue.build_scorer(lm_eval_glue.scorer_spec(name, config, metadata))
        if task.startswith(("rarearena_rdc", "rarearena_rds")):
            setting = task[len("rarearena_"):][:3]
            path = Path(lm_eval_glue.rarearena_path(setting, metadata))
            if not path.is_file():
                raise records.DataNotFoundError(
                    f"{path}: RareArena {setting.upper()} file not found ({task}) — pass it with --metadata "
                    f"'{{\"data_path\": \"/path/{setting.upper()}.json\"}}' or set MEDZERO_RAREARENA_{setting.upper()}"
                )
            records.load_rarearena(path)  # a damaged file stops here (DataFormatError), not after the model
        elif task.startswith("ehrsql"):
            root, db, tables = ehrsql_paths(metadata)
            lm_eval_glue.check_ehrsql_database(db)
            split = "valid" if task.endswith("_valid") else "test"
            for name in ("data.json", "label.json"):
                if not (root / split / name).is_file():
                    raise records.DataNotFoundError(
                        f"{root / split / name}: EHRSQL file not found ({task}) — --metadata ehrsql_dir must be "
                        "the EHRSQL 2024 folder with <split>/data.json and label.json"
                    )
            # damaged question, label, answer or schema files stop here (DataFormatError), not after the model
            answers = metadata.get("answers") or os.environ.get("MEDZERO_EHRSQL_ANSWERS") or "answer.json"
            records.load_ehrsql(root, split, answers=answers)
            lm_eval_glue._schema_text(str(tables))
        elif task.startswith("rarebench") and metadata.get("rarebench_dir"):
            folder = Path(str(metadata["rarebench_dir"])).expanduser()
            if not folder.is_dir():
                raise records.DataNotFoundError(
                    f"{folder}: RareBench folder not found ({task}) — --metadata rarebench_dir must hold "
                    "the <SUBSET>_categorized.csv files (or leave it out for the embedded copy)"
                )


# --------------------------------------------------------------------------- running


def run_lm_eval(args: Sequence[str], *, threads: int | None = None, check_inputs: bool = True) -> None:
    """Run lm-eval's CLI in this process with medzero's tasks discoverable (raises SystemExit on errors).

    Before lm-eval ``run`` starts, the data of every requested medzero task is checked
    (:func:`check_task_inputs`; ``check_inputs=False`` skips it), so a missing file is one line in
    seconds, not a traceback after the model has loaded; then the CPU threads are set
    (:func:`set_cpu_threads`; ``threads`` None = for the machine, 0 = torch's default).
    """
    from medzero_eval import discovery

    argv = lm_eval_argv(args)
    if argv[0] == "run" and not {"-h", "--help"} & set(argv):
        if check_inputs:
            requested, metadata = parse_run_args(argv)
            check_task_inputs(medzero_tasks(requested), metadata)
        note = set_cpu_threads(threads)
        if note:
            click.echo(note, err=True)
    discovery.install(force=True)  # medzero's tasks even without the .pth hook or with it opted out
    from lm_eval.__main__ import cli_evaluate

    saved = sys.argv
    sys.argv = ["lm-eval", *argv]
    try:
        cli_evaluate()
    except ValueError as exc:  # only lm-eval's own check of the task names; anything else keeps its traceback
        if not str(exc).startswith("Tasks not found"):
            raise
        raise _lm_eval_option_error(exc) from None
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
    medzero's own options (taken out before lm-eval sees the rest):
      --no-chat-template  do not add --apply_chat_template (added by default: medzero's prompts
                          are the chat prompts of training)
      --threads N         CPU threads (default: the usable cores less the current load, unless
                          OMP_NUM_THREADS is set; 0 = torch's default)
    The data of every requested medzero task is checked before the model loads.

    \b
    Example (CPU, the embedded model; see `medzero-eval demo` for the whole set-up):
      medzero-eval run --model hf --model_args pretrained=DIR,gguf_file=FILE \\
          --tasks rarebench_mme --log_samples --output_path out/
    Example (GPU):
      medzero-eval run --model vllm --model_args pretrained=MODEL --tasks rarebench \\
          --log_samples --output_path out/
    Task options go in --metadata JSON, e.g. '{"data_path": "/data/RDC.json"}' (see tasks/README.md).
    `medzero-eval run --help` shows lm-eval's own options.
    """
    args, chat_template, threads = split_medzero_options(lm_eval_args)
    if {"-h", "--help"} & set(args):
        click.echo(MEDZERO_OPTIONS_HELP)
    argv = lm_eval_argv(args)
    if chat_template:
        argv = with_chat_template(argv)
    run_lm_eval(argv, threads=threads)
