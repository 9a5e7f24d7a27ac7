"""Subcommands of `medzero-eval`, one module each, and the one way they report a user error.

A user error (a missing or unreadable file, a bad line, an unknown setting, a meaningless run) is a
:class:`UserError`: one line on stderr, ``error: <file>: <what> — <fix>``, and exit code 2, never a
traceback. Anything else is a bug and keeps its traceback.

>>> UserError("no items", file="empty.jsonl", fix="give one JSON object per line").format_message()
'empty.jsonl: no items — give one JSON object per line'
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

__all__ = ["UserError", "as_user_error", "atomic_output", "one_line", "warn"]


def one_line(text: str) -> str:
    """``text`` with its lines joined by ``"; "`` (an error or warning is always one line).

    >>> one_line("1 validation error\\n  x\\n    bad")
    '1 validation error; x; bad'
    """
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


class UserError(click.ClickException):
    """A user error: printed as ``error: <file>: <what> — <fix>`` on one line, exit code 2."""

    exit_code = 2

    def __init__(self, what: str, *, file: str | os.PathLike[str] | None = None, fix: str | None = None) -> None:
        self.what, self.file, self.fix = one_line(what), file, fix
        message = f"{file}: {self.what}" if file is not None else self.what
        if fix:
            message += f" — {fix}"
        super().__init__(message)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {one_line(self.format_message())}", file=file or sys.stderr)


def warn(message: str) -> None:
    """One ``warning: ...`` line on stderr."""
    click.echo(f"warning: {one_line(message)}", err=True)


def _known_user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types that always mean bad user input, from the medzero modules already imported
    (a module that was never imported cannot have raised)."""
    names = {
        "medzero_eval.scoring": ("InputError",),
        "medzero_eval.records": ("DataNotFoundError", "DataFormatError"),
        "medzero_eval.model": ("ModelNotFoundError",),
        "medzero_eval.lm_eval_glue": ("TaskConfigError",),
    }
    found: list[type[BaseException]] = []
    for module_name, attrs in names.items():
        module = sys.modules.get(module_name)
        for attr in attrs:
            cls = getattr(module, attr, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                found.append(cls)
    return tuple(found)


def as_user_error(exc: BaseException) -> UserError | None:
    """The :class:`UserError` for a known user-error exception (or a click usage error), else None."""
    if isinstance(exc, UserError):
        return exc
    if isinstance(exc, click.UsageError):
        command = exc.ctx.command_path if exc.ctx is not None else "medzero-eval"
        return UserError(exc.format_message().rstrip("."), fix=f"see `{command} --help`")
    known = _known_user_error_types()
    if known and isinstance(exc, known):
        return UserError(str(exc))
    return None


@contextmanager
def atomic_output(path: str | os.PathLike[str], mode: str = "w", encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Write ``path`` through a temporary file in the same folder, renamed over ``path`` only when the
    block succeeds; on any error the temporary file is removed and ``path`` is left as it was."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

