"""Is this file an EHRSQL database? Checked once, when a scorer is built.

A wrong ``db_path`` (truncated, garbage, empty, a schema without data, another database) would
otherwise make every gold query fail or return nothing, and every answer score -1 with results that
look valid. :func:`check_database` refuses such a file with one line naming the path, what is wrong
and the fix. It is cheap (the file header, the table list and one row per table; no full scan):

* the file exists, is not empty and starts with the SQLite header;
* it is not shorter than the size its header records (a truncated copy);
* it opens read-only and its schema can be read;
* every required table (by default the 17 tables of EHRSQL 2024's MIMIC-IV database) exists and holds
  at least one row.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from medzero_rewards.registry import ScorerConfigError

__all__ = ["EHRSQL_TABLES", "EhrsqlDatabaseError", "check_database"]

EHRSQL_TABLES: tuple[str, ...] = (
    "patients", "admissions", "d_icd_diagnoses", "d_icd_procedures", "d_labitems", "d_items",
    "diagnoses_icd", "procedures_icd", "labevents", "prescriptions", "cost", "chartevents",
    "inputevents", "outputevents", "microbiologyevents", "icustays", "transfers",
)  # fmt: skip
"""The tables of EHRSQL 2024's ``mimic_iv.sqlite`` (its ``tables.json``)."""

_MAGIC = b"SQLite format 3\x00"
_FIX = (
    "pass the EHRSQL 2024 mimic_iv.sqlite (from the EHRSQL 2024 release, or built by its preprocessing) "
    "as db_path"
)
_checked: set[tuple[str, int, int, tuple[str, ...]]] = set()


class EhrsqlDatabaseError(ScorerConfigError):
    """The EHRSQL database file is missing, not SQLite, damaged, or lacks the EHRSQL tables."""


def _fail(path: Path, why: str) -> EhrsqlDatabaseError:
    return EhrsqlDatabaseError(f"EHRSQL database {path}: {why}; {_FIX}")


def _header_problem(path: Path, size: int) -> str | None:
    with path.open("rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(_MAGIC):
        return "not an SQLite database (no SQLite header)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"damaged SQLite header (page size {page_size})"
    n_pages = int.from_bytes(header[28:32], "big")
    counter_valid = header[24:28] == header[92:96]
    if counter_valid and n_pages and size < n_pages * page_size:
        return f"truncated: {size} bytes, its header records {n_pages * page_size}"
    if size % page_size:
        return f"truncated: {size} bytes is not a whole number of {page_size}-byte pages"
    return None


def check_database(db_path: str | os.PathLike[str], required_tables: Sequence[str] = EHRSQL_TABLES) -> None:
    """Raise :class:`EhrsqlDatabaseError` (a ``ValueError``) unless ``db_path`` is a usable EHRSQL database.

    A file that passed is remembered (by path, size and modification time) and not checked again.

    >>> import tempfile, os
    >>> bad = os.path.join(tempfile.mkdtemp(), "x.sqlite"); _ = open(bad, "wb").write(b"not a database")
    >>> try:
    ...     check_database(bad)
    ... except ValueError as exc:
    ...     print(str(exc).split(";")[0].endswith("not an SQLite database (no SQLite header)"))
    True
    """
    path = Path(db_path)
    if not path.exists():
        raise _fail(path, "file not found")
    if not path.is_file():
        raise _fail(path, "not a file")
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, tuple(required_tables))
    if key in _checked:
        return
    if st.st_size == 0:
        raise _fail(path, "empty file")
    try:
        problem = _header_problem(path, st.st_size)
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from None
    if problem:
        raise _fail(path, problem)
    try:
        con = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise _fail(path, f"cannot be opened read-only ({exc})") from None
    try:
        tables = {name.lower() for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in required_tables if t.lower() not in tables]
        if missing:
            raise _fail(path, f"not an EHRSQL database: missing tables {', '.join(missing)}")
        empty = [t for t in required_tables if con.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() is None]
        if empty:
            raise _fail(path, f"tables without rows: {', '.join(empty)}")
    except sqlite3.Error as exc:
        raise _fail(path, f"damaged or unreadable ({type(exc).__name__}: {exc})") from None
    finally:
        con.close()
    _checked.add(key)
