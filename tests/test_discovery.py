"""How lm-eval finds medzero's tasks: the .pth start-up hook, `medzero-eval run`, the entry point.

Start-up behaviour is checked in fresh interpreters (subprocesses), so this test process's own
imports cannot hide a problem.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

import pytest

from medzero_eval import discovery
from medzero_eval.commands.run import lm_eval_argv

REPO = Path(__file__).resolve().parents[1]
LM_EVAL = Path(sys.executable).with_name("lm_eval")


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    full_env.pop("MEDZERO_NO_LM_EVAL_HOOK", None) if "MEDZERO_NO_LM_EVAL_HOOK" not in env else None
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                          cwd="/", check=True, timeout=300)


def test_the_pth_hook_is_installed_next_to_the_packages() -> None:
    purelib = Path(sysconfig.get_paths()["purelib"])
    hook = purelib / "medzero_eval_hook.pth"
    assert hook.is_file(), f"{hook} missing: reinstall medzero (pip install -e .)"
    assert hook.read_text() == (REPO / "medzero_eval_hook.pth").read_text()
    assert str(purelib) in site.getsitepackages() + [site.getusersitepackages()]


def test_startup_installs_only_a_finder_and_imports_nothing_heavy() -> None:
    """The hook adds its finder and loads medzero_eval.discovery -- and nothing else, lm_eval least of all."""
    code = "import sys, json; print(json.dumps([sorted(sys.modules), [type(f).__name__ for f in sys.meta_path]]))"
    with_hook, finders = json.loads(_python(code).stdout)
    without_hook, finders_off = json.loads(_python(code, MEDZERO_NO_LM_EVAL_HOOK="1").stdout)
    assert finders[0] == "LmEvalTasksFinder" and "LmEvalTasksFinder" not in finders_off
    assert set(with_hook) - set(without_hook) <= {"medzero_eval", "medzero_eval.discovery", "__future__"}
    assert "lm_eval" not in with_hook


def test_plain_task_manager_finds_medzero_tasks_after_startup() -> None:
    out = _python(
        "from lm_eval.tasks import TaskManager; tm = TaskManager();"
        "print(all(t in tm.all_tasks for t in ('rarearena_rdc', 'rarebench_mme', 'ehrsql', 'medzero_medical',"
        " 'gsm8k')))"
    )
    assert out.stdout.strip().endswith("True")


def test_opt_out_environment_variable() -> None:
    out = _python(
        "import sys; from lm_eval.tasks import TaskManager; tm = TaskManager();"
        "print(any(type(f).__name__ == 'LmEvalTasksFinder' for f in sys.meta_path), 'rarebench_mme' in tm.all_tasks)",
        MEDZERO_NO_LM_EVAL_HOOK="1",
    )
    assert out.stdout.strip().endswith("False False")


def test_user_include_path_is_kept_and_wins(tmp_path: Path) -> None:
    """medzero's folder goes first; a user's task of the same name (later path) overrides it."""
    (tmp_path / "mine.yaml").write_text(
        "task: rarebench_mme\ndataset_path: x\noutput_type: generate_until\ntest_split: test\n"
        "doc_to_text: q\ndoc_to_target: a\n"
    )
    out = _python(
        f"from lm_eval.tasks import TaskManager; tm = TaskManager(include_path={str(tmp_path)!r});"
        "print(tm.include_path[1:], tm.task_index['rarebench_mme'].yaml_path.parent, 'rarearena_rdc' in tm.all_tasks)"
    )
    assert out.stdout.strip().endswith(f"['{tmp_path}'] {tmp_path} True")


def test_supported_versions() -> None:
    assert discovery.supported_version("0.4.13")
    assert discovery.supported_version("0.4.99")
    assert not discovery.supported_version("0.4.12")
    assert not discovery.supported_version("0.5.0")
    assert not discovery.supported_version("1.0")


def test_with_medzero_path_prepends_once() -> None:
    ours = discovery.tasks_dir()
    assert discovery.with_medzero_path(None) == [ours]
    assert discovery.with_medzero_path("/x") == [ours, "/x"]
    assert discovery.with_medzero_path(["/x", str(ours)]) == ["/x", str(ours)]


class _FakeManager:
    def __init__(self, verbosity=None, include_path=None, include_defaults=True, metadata=None):
        self.include_path = include_path
        self.include_defaults = include_defaults


def test_patch_is_version_guarded_and_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.SimpleNamespace(TaskManager=type("TM", (_FakeManager,), {}))
    monkeypatch.setattr(discovery, "_lm_eval_version", lambda: "0.5.1")
    assert not discovery.patch_task_manager(module)
    assert module.TaskManager().include_path is None
    monkeypatch.setattr(discovery, "_lm_eval_version", lambda: "0.4.13")
    assert discovery.patch_task_manager(module) and discovery.patch_task_manager(module)
    assert module.TaskManager().include_path == [discovery.tasks_dir()]
    assert module.TaskManager(None, "/x").include_path == [discovery.tasks_dir(), "/x"]
    assert module.TaskManager(include_defaults=False).include_path is None
    discovery.unpatch_task_manager(module)
    assert module.TaskManager().include_path is None


def test_run_passes_arguments_through_with_our_folder() -> None:
    ours = str(discovery.tasks_dir())
    assert lm_eval_argv(["--model", "hf", "--tasks", "ehrsql"]) == [
        "run", "--model", "hf", "--tasks", "ehrsql", "--include_path", ours]
    assert lm_eval_argv(["run", "--tasks", "x", "--include_path=/mine"]) == ["run", "--tasks", "x", "--include_path=/mine"]
    assert lm_eval_argv(["ls", "tasks"]) == ["ls", "tasks"]
    assert lm_eval_argv(["--help"]) == ["run", "--help"]


def test_entry_point_is_declared() -> None:
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="lm_eval.tasks") if e.name == "medzero"]
    module = ep.load()
    assert Path(module.__file__).resolve().parent == discovery.tasks_dir()
    assert (discovery.tasks_dir() / "rarearena" / "rarearena_rdc.yaml").is_file()


def _results(output: Path) -> dict:
    (path,) = list(output.glob("*/results_*.json"))
    return json.loads(path.read_text())


def test_real_lm_eval_command_finds_and_runs_medzero_tasks(tmp_path: Path) -> None:
    """`lm_eval` itself (no --include_path) with lm-eval's dummy model, end to end through the scorer."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("MEDZERO_NO_LM_EVAL_HOOK", None)
    subprocess.run(
        [str(LM_EVAL), "--model", "dummy", "--tasks", "rarebench_mme", "--limit", "2",
         "--output_path", str(tmp_path / "out"), "--log_samples"],
        check=True, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    results = _results(tmp_path / "out")["results"]["rarebench_mme"]
    # the dummy model answers "lol": no tags, no diagnosis
    assert results["top1,raw"] == 0.0 and results["format_rate,raw"] == 0.0 and results["mean_length,raw"] == 3.0


def test_medzero_eval_run_works_with_the_hook_opted_out(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MEDZERO_NO_LM_EVAL_HOOK": "1"}
    medzero_eval = Path(sys.executable).with_name("medzero-eval")
    proc = subprocess.run(
        # lm-eval's dummy model has no chat template of its own (its tokenizer is on the Hub)
        [str(medzero_eval), "run", "--no-chat-template", "--model", "dummy", "--tasks", "rarebench_lirical",
         "--limit", "1", "--output_path", str(tmp_path / "out")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _results(tmp_path / "out")["results"]["rarebench_lirical"]["top1,raw"] == 0.0
    # ... while plain lm_eval, opted out, does not know the task
    plain = subprocess.run([str(LM_EVAL), "--model", "dummy", "--tasks", "rarebench_lirical", "--limit", "1"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert plain.returncode != 0


def _copy_project(dest: Path) -> Path:
    import shutil

    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("pyproject.toml", "setup.py", "medzero_eval_hook.pth", "README.md"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    (dest / "README.md").touch()
    for name in ("medzero_eval", "medzero_train", "tasks"):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("editable", [False, True], ids=["wheel", "editable"])
def test_pip_install_places_a_working_hook(tmp_path: Path, editable: bool) -> None:
    """`pip install .` and `pip install -e .` both put medzero_eval_hook.pth and the task files in place."""
    import venv

    project = _copy_project(tmp_path / "project")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    target = ["-e", str(project)] if editable else [str(project)]
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", *target],
                   check=True, capture_output=True, text=True, timeout=300)
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    assert (purelib / "medzero_eval_hook.pth").read_text() == (REPO / "medzero_eval_hook.pth").read_text()
    # lm-eval and its dependencies come from this test's environment, appended after start-up.
    ours = sysconfig.get_paths()["purelib"]
    code = (
        "import sys, json; finder = type(sys.meta_path[0]).__name__; loaded = 'lm_eval' in sys.modules;"
        f"sys.path.append({ours!r});"
        "from lm_eval.tasks import TaskManager; tm = TaskManager();"
        "from medzero_eval.discovery import tasks_dir; d = tasks_dir();"
        "print(json.dumps([finder, loaded, 'rarearena_rdc' in tm.all_tasks, 'ehrsql' in tm.all_tasks, str(d),"
        " sorted(p.name for p in d.rglob('*') if p.is_file() and '__pycache__' not in p.parts)]))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MEDZERO_NO_LM_EVAL_HOOK", "PYTHONPATH")}
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path,
                         env={**env, "HF_HUB_OFFLINE": "1"}, timeout=300)
    finder, loaded, has_rdc, has_ehrsql, folder, files = json.loads(out.stdout.strip().splitlines()[-1])
    assert (finder, loaded, has_rdc, has_ehrsql) == ("LmEvalTasksFinder", False, True, True)
    assert Path(folder) == (project / "tasks" if editable else purelib / "medzero_tasks")
    for name in ("README.md", "_rarearena_yaml", "rarearena_rdc.yaml", "utils.py", "ehrsql.yaml",
                 "rarebench.yaml", "medzero_medical.yaml"):
        assert name in files, name
    subprocess.run([str(py), "-m", "pip", "uninstall", "-y", "-q", "medzero"], check=True, capture_output=True)
    assert not (purelib / "medzero_eval_hook.pth").exists()
