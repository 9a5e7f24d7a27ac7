"""The official EHRSQL 2024 result normalisation: rows -> one comparable string.

The official scorer turns every execution result into ``str(sorted(rows)[:100])`` where each row is a
list of cells and each cell is ``str(round(float(cell), 3))`` when ``float(cell)`` works (ints, floats,
numeric text and numeric blobs) and ``str(cell)`` otherwise. Two results agree when these strings are
equal. This module computes the same string while streaming: only the 100 smallest rows are kept
(``heapq.nsmallest`` is documented to equal ``sorted(...)[:n]``), so a large result costs no memory.

``answer.json``-style files store gold results in an older string format (integers kept as ``'0'``);
:func:`normalize_answer` re-normalises such a string so it compares with executed results.
"""

from __future__ import annotations

import ast
import heapq
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["MAX_COMPARED_ROWS", "normalize_answer", "normalize_cell", "normalize_rows", "normalize_row"]

MAX_COMPARED_ROWS = 100
"""Only the first 100 rows of the sorted result are compared (official rule)."""


def normalize_cell(value: Any) -> str:
    """One cell as the official scorer writes it: rounded to 3 decimals if it parses as a number.

    >>> [normalize_cell(v) for v in (7.41999, 3, "12", "abc", None, b"1.5")]
    ['7.42', '3.0', '12.0', 'abc', 'None', '1.5']
    """
    try:
        value = round(float(value), 3)
    except Exception:  # the official scorer keeps anything float() or round() rejects as it is
        pass
    return str(value)


def normalize_row(row: Iterable[Any]) -> list[str]:
    """Every cell of ``row`` normalised (a list, as the official string shows lists)."""
    return [normalize_cell(c) for c in row]


def normalize_rows(rows: Iterable[Sequence[Any]]) -> str:
    """The comparison string of an execution result (any iterable of rows; consumed once).

    >>> normalize_rows([(2, "b"), (1.23456, "a")])
    "[['1.235', 'a'], ['2.0', 'b']]"
    >>> normalize_rows([])
    '[]'
    """
    return str(heapq.nsmallest(MAX_COMPARED_ROWS, (normalize_row(r) for r in rows)))


def normalize_answer(answer: str) -> str:
    """Re-normalise a stored answer string (``answer.json`` format) like an executed result.

    A string that is not a Python-literal list of rows (``"null"``, an error marker) is returned as is,
    as the official scorer does.

    >>> normalize_answer("[['0'], ['7.42']]")
    "[['0.0'], ['7.42']]"
    >>> normalize_answer("null")
    'null'
    """
    try:
        parsed = ast.literal_eval(answer)
    except Exception:
        return answer
    if isinstance(parsed, str):
        return parsed
    try:
        return normalize_rows(parsed)
    except TypeError:  # not a list of rows (a bare number, say): keep the text
        return answer
