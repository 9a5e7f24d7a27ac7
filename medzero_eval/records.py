"""Loaders that turn the task data sets into plain record dicts the scorers understand.

Every loader returns RareArena-shaped diagnosis records (``_id, case_report, test_results, diagnosis,
Orpha_name, Orpha_id, age, gender, pub_date``, plus ``synonyms``) or EHRSQL records
(``id, question, label, answer``). The lm-eval tasks and the training dataset builders both call
these, so a record means the same thing in evaluation and in training.
"""

from __future__ import annotations

import ast
import csv
import json
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

RAREARENA_FIELDS = (
    "_id", "case_report", "test_results", "diagnosis", "Orpha_name", "Orpha_id", "age", "gender", "pub_date",
)
RAREBENCH_SUBSETS = ("hms", "lirical", "mme", "pumch_adm", "ramedis")
RAREARENA_REPO = "THUMedInfo/RareArena"
"""The Hugging Face Hub dataset repository holding RareArena's ``RDC.json`` and ``RDS.json``."""
RAREARENA_SETTINGS = ("RDC", "RDS")
RAREARENA_HELP = (
    f"Pass the path of RDC.json / RDS.json (JSON Lines; from https://huggingface.co/datasets/{RAREARENA_REPO}): "
    "set MEDZERO_RAREARENA_RDC / MEDZERO_RAREARENA_RDS (every tool reads them); or, for lm_eval and "
    "medzero-eval run, --metadata '{\"data_path\": \"/path/RDC.json\"}' (rarearena_rdc_path / "
    "rarearena_rds_path in a group); for medzero-train, the rarearena entry's path: in the config's train_data."
)


class DataNotFoundError(FileNotFoundError):
    """A data file the user must supply is missing; the message says where to get it."""


def resolve_rarearena_file(
    setting: str, path: str | os.PathLike[str] | None = None, *, revision: str | None = None
) -> Path:
    """The RareArena case file of ``setting`` (``"RDC"`` or ``"RDS"``).

    ``path`` given: checked and returned. ``None``: ``<setting>.json`` from the Hugging Face Hub dataset
    :data:`RAREARENA_REPO` through ``huggingface_hub.hf_hub_download`` -- its cache, ``HF_HOME`` /
    ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE=1`` (cache only) and ``revision`` (a commit hash pins the data).
    Any failure raises a one-line :class:`DataNotFoundError` naming the file or the repository and
    how to pass a path.

    >>> import tempfile
    >>> f = tempfile.NamedTemporaryFile(suffix=".json", delete=False); f.close()
    >>> resolve_rarearena_file("rdc", f.name).name == Path(f.name).name
    True
    >>> try:
    ...     resolve_rarearena_file("RDC", "/no/such/RDC.json")
    ... except DataNotFoundError as exc:
    ...     print(str(exc)[:55])
    RareArena RDC file not found: /no/such/RDC.json. Pass t
    """
    name = str(setting).upper()
    if name not in RAREARENA_SETTINGS:
        raise ValueError(f"unknown RareArena setting {setting!r}; choose from {RAREARENA_SETTINGS}")
    if path is not None and str(path) != "":
        p = Path(path).expanduser()
        if not p.is_file():
            raise DataNotFoundError(f"RareArena {name} file not found: {p}. {RAREARENA_HELP}")
        return p
    filename = f"{name}.json"
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=RAREARENA_REPO, filename=filename, repo_type="dataset",
                                    revision=revision))
    except Exception as exc:  # offline, unreachable, unknown revision, no huggingface_hub: one clear line
        at = f" at revision {revision}" if revision else ""
        offline = " (HF_HUB_OFFLINE is set: only the local Hugging Face cache is read)" if _hub_offline() else ""
        detail = " ".join(str(exc).split())[:300].rstrip(". ")
        raise DataNotFoundError(
            f"RareArena {name}: could not get {filename} from the Hugging Face Hub dataset {RAREARENA_REPO}{at}"
            f"{offline}: {type(exc).__name__}: {detail}. {RAREARENA_HELP}"
        ) from None


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _iter_json_records(path: Path) -> Iterator[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array, tolerated although RareArena ships JSON Lines
        yield from json.loads(stripped)
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not a JSON Lines record ({exc.msg})") from exc


def load_rarearena(path: str | Path) -> list[dict[str, Any]]:
    """Load RareArena RDC or RDS records (JSON Lines, despite the ``.json`` name).

    Missing optional fields become ``""``; a record without ``case_report`` or ``diagnosis`` is an error.

    >>> import json, tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    >>> _ = f.write(json.dumps({"_id": "1", "case_report": "A boy...", "diagnosis": "Wilson disease"}) + "\\n"); f.close()
    >>> load_rarearena(f.name)[0]["Orpha_name"]
    ''
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"RareArena file not found: {p}. {RAREARENA_HELP}")
    records = []
    for i, raw in enumerate(_iter_json_records(p)):
        missing = [k for k in ("case_report", "diagnosis") if not raw.get(k)]
        if missing:
            raise ValueError(f"{p}: record {i} lacks {', '.join(missing)}")
        rec = {k: raw.get(k, "") if raw.get(k) is not None else "" for k in RAREARENA_FIELDS}
        rec["_id"] = str(raw.get("_id", i))
        rec["synonyms"] = list(raw.get("synonyms") or [])
        records.append(rec)
    return records


def rarearena_input(record: dict[str, Any], setting: str = "rdc") -> str:
    """The model input for a RareArena record: RDC is ``case_report + " " + test_results``; RDS is ``case_report``."""
    if setting.lower() == "rdc" and record.get("test_results"):
        return f"{record['case_report']} {record['test_results']}"
    return str(record["case_report"])


def _rarebench_file(subset: str, data_dir: str | Path | None) -> Path:
    name = subset.lower()
    if name not in RAREBENCH_SUBSETS:
        raise ValueError(f"unknown RareBench subset {subset!r}; choose from {RAREBENCH_SUBSETS}")
    filename = f"{name.upper()}_categorized.csv"
    if data_dir is not None:
        return Path(data_dir) / filename
    return Path(str(resources.files("medzero_eval") / "data" / "rarebench" / filename))


def load_rarebench(subset: str, data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Load a RareBench subset as RareArena-shaped records (the embedded copy unless ``data_dir`` is given).

    ``case_report`` is ``"Phenotypes: "`` + the HPO labels; ``diagnosis`` and ``Orpha_name`` are the first
    listed disease name and the other names are kept as ``synonyms``. Cases without a diagnosis are dropped.

    >>> recs = load_rarebench("mme")
    >>> len(recs), recs[0]["diagnosis"]
    (28, 'Mandibulofacial dysostosis-microcephaly syndrome')
    """
    path = _rarebench_file(subset, data_dir)
    records = []
    with path.open(newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            names = [n.strip() for n in ast.literal_eval(row["RareDisease"]) if str(n).strip()]
            if not names:
                continue
            phenotypes = [str(p) for p in ast.literal_eval(row["Phenotype"])]
            records.append({
                "_id": f"{subset.lower()}-{i}",
                "case_report": "Phenotypes: " + "; ".join(phenotypes),
                "test_results": "",
                "diagnosis": names[0],
                "Orpha_name": names[0],
                "Orpha_id": "",
                "age": "",
                "gender": "",
                "pub_date": "",
                "synonyms": names[1:],
                "department": row.get("Department", ""),
                "ern_category": row.get("ERN Category", ""),
            })
    return records


def load_ehrsql(data_dir: str | Path, split: str, *, answers: str | None = "answer.json") -> list[dict[str, Any]]:
    """Load an EHRSQL 2024 split as ``{id, question, label, answer}`` records.

    ``label`` is the gold SQL or ``"null"`` (unanswerable); ``answer`` is the gold result string from
    ``answers`` (``answer.json`` or ``answer_rebuilt.json``) when that file exists, else ``None``
    (the scorer then executes the gold SQL itself).
    """
    root = Path(data_dir) / split
    data_path, label_path = root / "data.json", root / "label.json"
    for p in (data_path, label_path):
        if not p.is_file():
            raise DataNotFoundError(f"EHRSQL file not found: {p} (expected the EHRSQL 2024 layout <dir>/<split>/data.json)")
    questions = json.loads(data_path.read_text(encoding="utf-8"))["data"]
    labels = json.loads(label_path.read_text(encoding="utf-8"))
    gold: dict[str, Any] = {}
    if answers and (root / answers).is_file():
        gold = json.loads((root / answers).read_text(encoding="utf-8"))
    return [
        {"id": q["id"], "question": q["question"], "label": labels[q["id"]], "answer": gold.get(q["id"])}
        for q in questions
    ]
