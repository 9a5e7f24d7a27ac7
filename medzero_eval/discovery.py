"""Make ``lm_eval --tasks rarearena_rdc`` find medzero's tasks without ``--include_path``.

lm-evaluation-harness 0.4.13 finds tasks only in its own folder and in ``--include_path``; it has no
plugin registry for tasks yet (an upstream pull request adds an ``lm_eval.tasks`` entry-point group,
which medzero already declares). Until then medzero ships the start-up hook
``medzero_eval_hook.pth``, which calls :func:`install`. The hook is kept as small as it can be:

* it imports nothing but the standard library at start-up, and never ``lm_eval`` itself;
* it adds a :data:`sys.meta_path` finder that acts only when ``lm_eval.tasks.manager`` is imported,
  and then wraps ``TaskManager.__init__`` so that medzero's task folder is added to the include paths
  (before the user's own ``include_path``, which therefore still wins on a name clash);
* it does nothing for an lm-eval outside the tested range (:data:`SUPPORTED`), when
  ``include_defaults=False`` is asked for, or when ``MEDZERO_NO_LM_EVAL_HOOK=1`` is set.

``medzero-eval run`` calls :func:`install` with ``force=True`` and so works without the ``.pth`` file.
"""

from __future__ import annotations

# Only os and sys at module level: this module is imported by every Python start-up (via the .pth
# file), so everything heavier is imported inside the functions that need it.
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

OPT_OUT_ENV = "MEDZERO_NO_LM_EVAL_HOOK"
TARGET_MODULE = "lm_eval.tasks.manager"
SUPPORTED = ((0, 4, 13), (0, 5, 0))  # lm-eval versions the hook is tested with: >= 0.4.13, < 0.5
_PATCHED_ATTR = "__medzero_patched__"

def tasks_dir() -> Path:
    """The folder holding medzero's task YAML (the installed ``medzero_tasks`` package)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("medzero_tasks")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("medzero_tasks is not installed (pip install medzero)")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def opted_out() -> bool:
    """True when ``MEDZERO_NO_LM_EVAL_HOOK`` is set to anything but ``""``/``0``/``false``."""
    return os.environ.get(OPT_OUT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _version_tuple(version: str) -> tuple[int, int, int]:
    import re

    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))  # type: ignore[return-value]


def supported_version(version: str) -> bool:
    """Whether the hook may patch this lm-eval version (see :data:`SUPPORTED`).

    >>> supported_version("0.4.13"), supported_version("0.4.12"), supported_version("0.5.0")
    (True, False, False)
    """
    low, high = SUPPORTED
    return low <= _version_tuple(version) < high


def _lm_eval_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    for name in ("lm_eval", "lm-eval"):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def with_medzero_path(include_path: Any) -> list[str | Path]:
    """``include_path`` (``None``, one path or a list) with medzero's task folder first, without duplicates."""
    from pathlib import Path

    ours = tasks_dir()
    if include_path is None:
        paths: list[str | Path] = []
    elif isinstance(include_path, (list, tuple)):
        paths = list(include_path)
    else:
        paths = [include_path]
    if any(Path(p).expanduser().resolve() == ours for p in paths):
        return paths
    return [ours, *paths]


def patch_task_manager(module: Any) -> bool:
    """Wrap ``module.TaskManager.__init__`` to include medzero's tasks; True if patched now or before."""
    manager = getattr(module, "TaskManager", None)
    if manager is None:
        return False
    original = manager.__init__
    if getattr(original, _PATCHED_ATTR, False):
        return True
    import functools
    import logging

    version = _lm_eval_version()
    if version is None or not supported_version(version):
        logging.getLogger(__name__).info("medzero: lm-eval %s is outside the tested range; not adding medzero's tasks "
                 "(use `medzero-eval run` or --include_path %s)", version, tasks_dir())
        return False

    @functools.wraps(original)
    def __init__(self, verbosity=None, include_path=None, include_defaults=True, metadata=None):
        if include_defaults:
            try:
                include_path = with_medzero_path(include_path)
            except ModuleNotFoundError:  # medzero uninstalled underneath a stale hook
                pass
        original(self, verbosity=verbosity, include_path=include_path,
                 include_defaults=include_defaults, metadata=metadata)

    setattr(__init__, _PATCHED_ATTR, True)
    __init__.__medzero_original__ = original  # type: ignore[attr-defined]
    manager.__init__ = __init__
    return True


def unpatch_task_manager(module: Any) -> None:
    """Undo :func:`patch_task_manager` (for tests)."""
    manager = getattr(module, "TaskManager", None)
    current = getattr(manager, "__init__", None)
    if current is not None and getattr(current, _PATCHED_ATTR, False):
        manager.__init__ = current.__medzero_original__


class _PatchingLoader:
    """Runs the real loader of ``lm_eval.tasks.manager``, then patches ``TaskManager``."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        try:
            patch_task_manager(module)
        except Exception:  # never break lm-eval because of the hook
            import logging

            logging.getLogger(__name__).warning("medzero: could not add medzero's tasks to lm-eval", exc_info=True)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, ... for tracebacks
        return getattr(self._loader, name)


class LmEvalTasksFinder:
    """A :data:`sys.meta_path` finder that only ever answers for ``lm_eval.tasks.manager``.

    (Duck-typed rather than an ``importlib.abc.MetaPathFinder``: importing ``importlib.abc`` would
    cost every Python start-up tens of milliseconds.)"""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != TARGET_MODULE:
            return None
        for finder in sys.meta_path:  # ask the finders behind this one for the real spec
            if finder is self or isinstance(finder, LmEvalTasksFinder) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def installed() -> bool:
    """Whether the finder is on :data:`sys.meta_path`."""
    return any(isinstance(f, LmEvalTasksFinder) for f in sys.meta_path)


def install(force: bool = False) -> bool:
    """Install the hook (called by ``medzero_eval_hook.pth`` at start-up); True if it is active.

    Without ``force`` it does nothing when ``MEDZERO_NO_LM_EVAL_HOOK`` is set. If lm-eval's task
    manager is already imported, it is patched at once.
    """
    if opted_out() and not force:
        return False
    if not installed():
        sys.meta_path.insert(0, LmEvalTasksFinder())
    module = sys.modules.get(TARGET_MODULE)
    if module is not None:
        return patch_task_manager(module)
    return True


def uninstall() -> None:
    """Remove the finder and undo any patch (for tests)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, LmEvalTasksFinder)]
    module = sys.modules.get(TARGET_MODULE)
    if module is not None:
        unpatch_task_manager(module)
