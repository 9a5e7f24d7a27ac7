"""RareArena from the Hugging Face Hub: the real ``huggingface_hub`` code path, offline, on a prepared cache.

The cache is laid out as huggingface_hub documents it (``HF_HOME/hub/datasets--THUMedInfo--RareArena/``
with ``blobs/``, ``snapshots/<commit>/RDC.json`` and ``refs/main``), the folder name from
huggingface_hub's own ``repo_folder_name``. Every call runs in a fresh interpreter with ``HF_HOME`` and
``HF_HUB_OFFLINE=1`` set before huggingface_hub is imported (it reads both at import time). Nothing
of the library is mocked. The RDC records follow the documented schema and name real Orphanet diseases.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medzero_eval import records

COMMIT = "f551879a0c2b3d4e5f60718293a4b5c6d7e8f901"  # any 40-hex commit id; refs/main points at it


def _rdc_records(orphanet_path: Path) -> list[dict]:
    entities = [e for e in json.loads(orphanet_path.read_text(encoding="utf-8")) if e.get("type") == "Disease"]
    picked = entities[:: max(1, len(entities) // 5)][:5]
    return [
        {
            "_id": f"PMC-hub-{i}",
            "case_report": f"A {30 + i}-year-old woman presented with progressive weakness and fatigue.",
            "test_results": "Genetic testing found a pathogenic variant." if i % 2 == 0 else "",
            "diagnosis": e["name"],
            "Orpha_name": e["name"],
            "Orpha_id": str(e["Orphanetid"]),
            "age": [[30 + i, "year"]],
            "gender": "F",
            "pub_date": "2020-05-01",
        }
        for i, e in enumerate(picked)
    ]


def _write_cache(hf_home: Path, files: dict[str, str], commit: str = COMMIT) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    repo = hf_home / "hub" / repo_folder_name(repo_id=records.RAREARENA_REPO, repo_type="dataset")
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for name, text in files.items():
        data = text.encode("utf-8")
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    return snapshot


def _run(code: str, hf_home: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **env}
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "MEDZERO_RAREARENA_RDC", "MEDZERO_RAREARENA_RDS"):
        full.pop(key, None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=300)


@pytest.fixture()
def hub(tmp_path: Path, orphanet_path: Path) -> tuple[Path, list[dict]]:
    recs = _rdc_records(orphanet_path)
    _write_cache(tmp_path / "hf", {"RDC.json": "".join(json.dumps(r) + "\n" for r in recs)})
    return tmp_path / "hf", recs


def test_no_path_reads_the_cached_hub_file_offline(hub) -> None:
    hf_home, recs = hub
    code = (
        "import json; from medzero_eval import records, lm_eval_glue as g\n"
        "p = records.resolve_rarearena_file('RDC')\n"
        "pinned = records.resolve_rarearena_file('rdc', revision=%r)\n"
        "docs = g.load_rarearena('rdc', 'r1')['test'].to_list()\n"
        "print(json.dumps([str(p), str(pinned), [d['target'] for d in docs], [d['prompt'] for d in docs]]))"
    ) % COMMIT
    proc = _run(code, hf_home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    path, pinned, targets, prompts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert path == pinned and path.endswith(f"snapshots/{COMMIT}/RDC.json") and path.startswith(str(hf_home))
    assert targets == [r["diagnosis"] for r in recs]
    assert all(r["case_report"] in p for r, p in zip(recs, prompts))
    assert "Genetic testing" in prompts[0] and "Genetic testing" not in prompts[1]  # RDC input = report + tests


def test_lm_eval_task_without_a_path_uses_the_hub_file(hub) -> None:
    hf_home, recs = hub
    code = (
        "from lm_eval.tasks import TaskManager; from medzero_eval.discovery import tasks_dir\n"
        "tm = TaskManager(include_path=str(tasks_dir()), include_defaults=False)\n"
        "task = tm.load(['rarearena_rdc'])['tasks']['rarearena_rdc']\n"
        "print(len(list(task.test_docs())))"
    )
    proc = _run(code, hf_home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(len(recs))


def test_offline_miss_is_one_line_naming_the_repo_and_the_way_out(hub) -> None:
    hf_home, _ = hub
    code = (
        "from medzero_eval import records\n"
        "for args in (('RDS', None, None), ('RDC', None, '0' * 40)):\n"
        "    try:\n"
        "        records.resolve_rarearena_file(args[0], args[1], revision=args[2])\n"
        "    except records.DataNotFoundError as exc:\n"
        "        print(exc)\n"
    )
    proc = _run(code, hf_home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2  # one line per failure
    for line, name in zip(lines, ("RDS.json", "RDC.json")):
        assert f"could not get {name} from the Hugging Face Hub dataset THUMedInfo/RareArena" in line
        assert "HF_HUB_OFFLINE" in line and "data_path" in line and "MEDZERO_RAREARENA_" in line
    assert "at revision " + "0" * 40 in lines[1]


def test_empty_cache_offline_fails_cleanly(tmp_path: Path) -> None:
    code = (
        "from medzero_eval import lm_eval_glue as g, records\n"
        "try:\n    g.load_rarearena('rds', 'r1')\nexcept records.DataNotFoundError as exc:\n    print('ERR', exc)\n"
    )
    proc = _run(code, tmp_path / "empty")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("ERR RareArena RDS: could not get RDS.json")


def test_a_given_path_wins_and_is_checked(tmp_path: Path, orphanet_path: Path) -> None:
    f = tmp_path / "mine.json"
    f.write_text("".join(json.dumps(r) + "\n" for r in _rdc_records(orphanet_path)), encoding="utf-8")
    assert records.resolve_rarearena_file("RDS", f) == f
    with pytest.raises(records.DataNotFoundError, match="RareArena RDS file not found"):
        records.resolve_rarearena_file("RDS", tmp_path / "absent.json")
    with pytest.raises(ValueError, match="unknown RareArena setting"):
        records.resolve_rarearena_file("RDX", f)
