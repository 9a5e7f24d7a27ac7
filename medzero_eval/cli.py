"""`medzero-eval`: offline scoring, lm-eval runs and reports with medzero's scorers.

User errors from any subcommand (a missing or unreadable file, a bad line, an unknown setting, a
meaningless run) print one line, ``error: <file>: <what> — <fix>``, and exit with code 2
(:class:`medzero_eval.commands.UserError`); a bug keeps its traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from medzero_eval.commands import as_user_error

# Each subcommand lives in its own module under medzero_eval.commands and is imported on use,
# so `medzero-eval score` works without lm-eval or matplotlib installed.
_COMMANDS = {
    "run": "medzero_eval.commands.run:run",
    "score": "medzero_eval.commands.score:score",
    "score-ehrsql": "medzero_eval.commands.score_ehrsql:score_ehrsql",
    "report": "medzero_eval.commands.report:report",
    "demo": "medzero_eval.commands.demo:demo",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context) -> Any:
        # The CLI boundary: known user errors (and click's usage errors) become one `error:` line.
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            converted = as_user_error(exc)
            if converted is None or converted is exc:
                raise
            raise converted from exc


@click.group(cls=_LazyGroup)
@click.version_option(package_name="medzero")
def main() -> None:
    """Score completions with medzero's scorers, run lm-eval tasks and write reports."""


if __name__ == "__main__":
    main(prog_name="medzero-eval")
