"""Build hook: install ``medzero_eval_hook.pth`` at the top of site-packages.

All project metadata lives in pyproject.toml. This file only adds the start-up hook that lets a
plain ``lm_eval --tasks rarearena_rdc`` find medzero's tasks (see ``medzero_eval/discovery.py``).
setuptools' ``package-data`` cannot place a file outside a package, so ``build_py`` copies it:

* regular wheels (``pip install .``): into ``build_lib``, whose top level becomes site-packages;
* editable installs (``pip install -e .``, PEP 660): straight into the editable wheel's top level,
  because setuptools' default (lenient) editable mode ignores build_lib files outside packages.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

HOOK = "medzero_eval_hook.pth"


class build_py_with_hook(build_py):  # noqa: N801 (setuptools command naming)
    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / HOOK
        if getattr(self, "editable_mode", False):
            # editable_wheel points install_lib at the unpacked editable wheel's root
            target_dir = Path(self.get_finalized_command("install").install_lib)
        else:
            target_dir = Path(self.build_lib)
        target_dir.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(source), str(target_dir / HOOK))

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            outputs.append(str(Path(self.build_lib) / HOOK))
        return outputs


def packages() -> list[str]:
    """Every folder that ships: the Python packages, their data folders (medzero_eval.data.rarebench) and
    the task folders, whose YAML lm-eval reads by path. medzero_tasks is tasks/ (package-dir in
    pyproject.toml), which a finder cannot rename, so its folders are found under tasks/ and prefixed."""
    skip = ["*__pycache__*", "*.egg-info"]
    found = find_namespace_packages(include=["medzero_eval", "medzero_eval.*", "medzero_train", "medzero_train.*"],
                                    exclude=skip)
    tasks = find_namespace_packages(where="tasks", exclude=skip)
    return found + ["medzero_tasks"] + [f"medzero_tasks.{name}" for name in tasks]


setup(
    packages=packages(),
    cmdclass={"build_py": build_py_with_hook},
)
