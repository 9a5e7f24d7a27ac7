"""Schema text for prompts, from a Spider-style ``tables.json`` (as shipped with EHRSQL 2024)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["schema_prompt"]


def _pick_db(data: Any, db_id: str | None) -> dict[str, Any]:
    dbs = data if isinstance(data, list) else [data]
    if not dbs or not all(isinstance(d, dict) for d in dbs):
        raise ValueError("tables.json must hold a database object or a list of them")
    if db_id is None:
        if len(dbs) != 1:
            raise ValueError(f"tables.json holds {len(dbs)} databases; pass db_id")
        return dbs[0]
    for d in dbs:
        if d.get("db_id") == db_id:
            return d
    raise ValueError(f"db_id {db_id!r} not in tables.json (have {[d.get('db_id') for d in dbs]})")


def schema_prompt(tables_json_path: str | Path, db_id: str | None = None) -> str:
    """Compact schema text: one ``table(col, col, ...)`` line per table, in ``tables.json`` order.

    Uses the original (database) table and column names, which is what the SQL must use.

    >>> import json, tempfile
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    >>> json.dump([{"db_id": "x", "table_names_original": ["patients", "admissions"],
    ...   "column_names_original": [[-1, "*"], [0, "subject_id"], [0, "gender"], [1, "hadm_id"]]}], f); f.close()
    >>> print(schema_prompt(f.name))
    patients(subject_id, gender)
    admissions(hadm_id)
    """
    data = json.loads(Path(tables_json_path).read_text(encoding="utf-8"))
    db = _pick_db(data, db_id)
    try:
        tables: list[str] = list(db["table_names_original"])
        columns: list[list[Any]] = list(db["column_names_original"])
    except KeyError as exc:
        raise ValueError(f"tables.json database lacks {exc.args[0]!r}") from exc
    per_table: list[list[str]] = [[] for _ in tables]
    for table_idx, name in columns:
        if isinstance(table_idx, int) and 0 <= table_idx < len(tables):
            per_table[table_idx].append(str(name))
    return "\n".join(f"{t}({', '.join(cols)})" for t, cols in zip(tables, per_table))
