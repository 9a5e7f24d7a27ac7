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


class DataFormatError(ValueError):
    """A data file is there but unreadable (not UTF-8, not JSON, not the expected layout); the one-line
    message names the file, what is wrong and what to do."""


EHRSQL_FIX = "re-download it from the EHRSQL 2024 release (https://github.com/glee4810/ehrsql-2024)"


def read_json_file(path: Path, fix: str) -> Any:
    """The JSON content of ``path``; a file that is not UTF-8 or not JSON raises :class:`DataFormatError`.

    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "label.json"; _ = bad.write_text('{"a": "SELECT')
    >>> try:
    ...     read_json_file(bad, "download it again")
    ... except DataFormatError as exc:
    ...     print(str(exc).split(": ", 1)[1])
    not valid JSON (Unterminated string starting at: line 1, column 7) — download it again
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 (byte at offset {exc.start}) — {fix}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise DataFormatError(f"{path}: not valid JSON ({exc.msg}: {where}) — {fix}") from None


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
    fix = "pass RareArena's RDC.json / RDS.json as released (one JSON object per line)"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 (byte at offset {exc.start}) — {fix}") from None
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array, tolerated although RareArena ships JSON Lines
        yield from read_json_file(path, fix)
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"{path}:{lineno}: not a JSON Lines record ({exc.msg}) — {fix}") from None


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
            raise DataFormatError(f"{p}: record {i} lacks {', '.join(missing)} — pass RareArena's RDC.json / "
                                  "RDS.json (records with case_report and diagnosis)")
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
    data = read_json_file(data_path, EHRSQL_FIX)
    labels = read_json_file(label_path, EHRSQL_FIX)
    gold: Any = {}
    if answers and (root / answers).is_file():
        gold = read_json_file(root / answers, EHRSQL_FIX)
    questions = data.get("data") if isinstance(data, dict) else None
    if not isinstance(questions, list) or not all(isinstance(q, dict) and "id" in q and "question" in q
                                                  for q in questions):
        raise DataFormatError(f"{data_path}: not EHRSQL's data.json ({{\"data\": [{{\"id\", \"question\"}}, ...]}}) "
                              f"— {EHRSQL_FIX}")
    for path, mapping in ((label_path, labels), (root / str(answers), gold)):
        if not isinstance(mapping, dict):
            raise DataFormatError(f"{path}: not a JSON object {{id: ...}} — {EHRSQL_FIX}")
    unlabelled = [q["id"] for q in questions if q["id"] not in labels]
    if unlabelled:
        raise DataFormatError(f"{label_path}: {len(unlabelled)} question(s) of {data_path.name} have no label "
                              f"(e.g. {unlabelled[0]}) — use the label.json of the same split and release")
    return [
        {"id": q["id"], "question": q["question"], "label": labels[q["id"]], "answer": gold.get(q["id"])}
        for q in questions
    ]
