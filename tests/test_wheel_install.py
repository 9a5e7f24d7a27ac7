"""The wheels, as `pip install medzero-rewards "medzero[eval]"` from an index would install them.

Both wheels are built from a clean copy of the sources (no stale build/ folders) with no packaging warning
from this project, then installed NON-editable into a fresh venv that cannot see the checkout. The
third-party dependencies come from this .venv through a folder of links that leaves out every medzero
distribution and the editable finders, so pip resolves the wheels' declared dependencies offline
(``--no-index``) and installs only the two wheels. Then a plain ``lm_eval ls tasks`` (``python -m lm_eval``)
lists every task of tasks/ from the installed ``medzero_tasks``, and ``medzero-eval demo --help`` runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT_WARNINGS = re.compile(r"would be ignored|is deprecated|absent from the .packages. configuration|"
                              r"license.*(table|classifier)", re.I)
HIDDEN = re.compile(r"^(medzero|__editable__|medzero_eval_hook\.pth$)", re.I)


def _sources(dest: Path) -> Path:
    """The checkout's files that a clean clone would have (git's view when available)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                                capture_output=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        listed = []
    if listed:
        for rel in filter(None, listed):
            source = REPO / rel
            if source.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / rel)
    else:
        ignore = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so",
                                        ".pytest_cache", ".hypothesis", "out", "runs")
        shutil.copytree(REPO, dest, ignore=ignore, dirs_exist_ok=True)
    return dest


def _expected_tasks() -> set[str]:
    names = set()
    for path in (REPO / "tasks").rglob("*.yaml"):
        names.update(re.findall(r"^(?:task|group):[ \t]*(\w+)", path.read_text(encoding="utf-8"), re.M))
    return names


def _third_party_only(dest: Path) -> Path:
    """Links to this venv's installed packages, without any medzero distribution or editable finder."""
    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir()
    for entry in site.iterdir():
        if not HIDDEN.match(entry.name) and not entry.name.endswith(".pth"):
            (dest / entry.name).symlink_to(entry)
    return dest


@pytest.mark.slow
def test_wheels_install_into_a_fresh_venv_and_lm_eval_lists_every_task(tmp_path: Path) -> None:
    src = _sources(tmp_path / "src")
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
         "--disable-pip-version-check", "-w", str(wheels), str(src / "rewards"), str(src)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    warnings = [line for line in (build.stdout + build.stderr).splitlines() if PROJECT_WARNINGS.search(line)]
    assert not warnings, "\n".join(warnings)
    built = sorted(p.name for p in wheels.glob("*.whl"))
    assert [n.split("-")[0] for n in built] == ["medzero", "medzero_rewards"], built

    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    env_site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
    (env_site / "zz_third_party.pth").write_text(f"{_third_party_only(tmp_path / 'third_party')}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MEDZERO"))}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(py), *args], capture_output=True, text=True, cwd=tmp_path, env=env)

    # the declared dependencies resolve against what is installed, offline: only the two wheels go in
    install = run("-m", "pip", "install", "--no-index", "--find-links", str(wheels), "--disable-pip-version-check",
                  "medzero-rewards", "medzero[eval]")
    assert install.returncode == 0, install.stdout + install.stderr
    assert re.search(r"Successfully installed medzero-0\.1\.0 medzero-rewards-0\.1\.0\s*$", install.stdout), install.stdout

    where = run("-c", "import medzero_rewards, medzero_eval, medzero_tasks, medzero_rewards.trl, medzero_rewards.verl;"
                      "print(medzero_rewards.__file__, medzero_eval.__file__, medzero_tasks.__file__)")
    assert where.returncode == 0, where.stderr
    assert all(Path(p).is_relative_to(env_site) for p in where.stdout.split()), where.stdout
    assert (env_site / "medzero_eval_hook.pth").is_file()
    assert len(list((env_site / "medzero_eval" / "data" / "rarebench").glob("*.csv"))) == 5

    listing = run("-m", "lm_eval", "ls", "tasks")
    assert listing.returncode == 0, listing.stderr[-3000:]
    expected = _expected_tasks()
    assert {"rarearena_rdc", "rarebench", "ehrsql", "medzero_medical"} <= expected
    found = {name: location for name, location in re.findall(r"^\|\s*(\w+)\s*\|\s*(\S+)", listing.stdout, re.M)}
    missing = sorted(expected - found.keys())
    assert not missing, f"lm_eval ls tasks does not list {missing}"
    for name in expected:  # from the installed package, not the checkout
        assert Path(found[name]).is_relative_to(env_site / "medzero_tasks"), (name, found[name])

    demo = subprocess.run([str(env_dir / "bin" / "medzero-eval"), "demo", "--help"], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert demo.returncode == 0 and "Usage:" in demo.stdout, demo.stdout + demo.stderr
