"""The official EHRSQL 2024 SQL post-processing, applied to gold and predicted SQL before execution.

The official scoring program rewrites every query textually before running it. To score exactly as it
does, this module reproduces that rewrite step for step, including its textual nature (a placeholder
inside a string literal is rewritten too). The rewrites are a fixed specification, not SQL parsing, so
they are string replacements and the official patterns rather than a sqlglot transform, which would
normalise more than the official program does and change results.

Steps, in order:

1. newlines become spaces, runs of spaces collapse to one, surrounding whitespace is stripped;
2. ``> =``, ``< =``, ``! =`` become ``>=``, ``<=``, ``!=``;
3. MySQL ``DATE_SUB(x, INTERVAL n UNIT)`` / ``DATE_ADD(...)`` (UNIT = DAY, MONTH, YEAR; x a literal
   or a ``FUNC()`` call) become SQLite ``datetime(x, '-n unit(s)')`` / ``datetime(x, '+n unit(s)')``;
4. the clock is pinned: ``current_time``, ``'now'`` and ``NOW()`` to ``'2100-12-31 23:59:00'``,
   ``current_date`` and ``CURDATE()`` to ``'2100-12-31'``, ``CURTIME()`` to ``'23:59:00'``;
5. vital-sign placeholders ``<vital>_lower`` / ``<vital>_upper`` become the fixed normal range
   (:data:`VITAL_RANGES`) when the first of each names the same known vital;
6. ``%y`` becomes ``%Y`` and ``%j`` becomes ``%J``.
"""

from __future__ import annotations

import re

from medzero_rewards.ehrsql.lru import ByteLRU

__all__ = ["CURRENT_DATE", "CURRENT_TIME", "NOW", "NULL_LABEL", "VITAL_RANGES", "post_process_sql"]

CURRENT_DATE = "2100-12-31"
"""The date EHRSQL's database treats as today."""
CURRENT_TIME = "23:59:00"
"""The time of day EHRSQL's database treats as now."""
NOW = f"{CURRENT_DATE} {CURRENT_TIME}"
"""The timestamp EHRSQL's database treats as now."""
NULL_LABEL = "null"
"""The label (and prediction) meaning "unanswerable / abstain"."""

VITAL_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (35.5, 38.1),
    "sao2": (95.0, 100.0),
    "heart rate": (60.0, 100.0),
    "respiration": (12.0, 18.0),
    "systolic bp": (90.0, 120.0),
    "diastolic bp": (60.0, 90.0),
    "mean bp": (60.0, 110.0),
}
"""Normal ranges substituted for ``<vital>_lower`` / ``<vital>_upper`` (underscores read as spaces)."""

_SPACES = re.compile(r"[ ]+")
_INTERVAL = re.compile(r"(DATE_SUB|DATE_ADD)\((\w+\(\)|'[^']+')[, ]+ INTERVAL (\d+) (MONTH|YEAR|DAY)\)")
_LOWER = re.compile(r"[ \n]+([a-zA-Z0-9_]+_lower)")
_UPPER = re.compile(r"[ \n]+([a-zA-Z0-9_]+_upper)")
# Applied in this order; each is a plain substring replacement.
_CLOCK: tuple[tuple[str, str], ...] = (
    ("current_time", f"'{NOW}'"),
    ("current_date", f"'{CURRENT_DATE}'"),
    ("'now'", f"'{NOW}'"),
    ("NOW()", f"'{NOW}'"),
    ("CURDATE()", f"'{CURRENT_DATE}'"),
    ("CURTIME()", f"'{CURRENT_TIME}'"),
)


_MEMO_MAX_CHARS = 20_000  # RL repeats the same SQL; long (hostile) SQL is not memoised
_MEMO = ByteLRU[str](32 << 20)  # at most 32 MB of SQL text, however long the policy's SQL


def _interval_to_sqlite(m: re.Match[str]) -> str:
    func, base, number, unit = m.group(1), m.group(2), m.group(3), m.group(4).lower()
    unit = unit if number == "1" else unit + "s"
    sign = "-" if func == "DATE_SUB" else "+"
    return f"datetime({base}, '{sign}{number} {unit}')"


def _replace_vitals(query: str) -> str:
    if "_lower" not in query or "_upper" not in query:  # fast path: the patterns cannot match
        return query
    lower, upper = _LOWER.search(query), _UPPER.search(query)
    if lower is None or upper is None:
        return query
    lower_expr, upper_expr = lower.group(1), upper.group(1)
    names = {lower_expr[: -len("_lower")], upper_expr[: -len("_upper")]}
    if len(names) != 1:
        return query
    vital = names.pop().replace("_", " ")
    if vital not in VITAL_RANGES:
        return query
    low, high = VITAL_RANGES[vital]
    return query.replace(lower_expr, f"{low}").replace(upper_expr, f"{high}")


def post_process_sql(query: str) -> str:
    """Rewrite ``query`` exactly as the official EHRSQL 2024 scorer does before executing it.

    ``"null"`` (abstention) passes through unchanged. Raises :class:`TypeError` for a non-``str``.

    >>> post_process_sql("SELECT  x FROM t\\nWHERE a > = 1")
    'SELECT x FROM t WHERE a >= 1'
    >>> post_process_sql("SELECT DATE_SUB(NOW(), INTERVAL 1 YEAR)")
    "SELECT datetime('2100-12-31 23:59:00', '-1 year')"
    >>> post_process_sql("SELECT strftime('%y', current_time)")
    "SELECT strftime('%Y', '2100-12-31 23:59:00')"
    >>> post_process_sql("SELECT v FROM c WHERE v BETWEEN heart_rate_lower AND heart_rate_upper")
    'SELECT v FROM c WHERE v BETWEEN 60.0 AND 100.0'
    >>> post_process_sql(" null ")
    'null'
    """
    if not isinstance(query, str):
        raise TypeError(f"SQL must be a str, not {type(query).__name__}")
    return _MEMO.memo(query, _post_process, max_key_chars=_MEMO_MAX_CHARS)


def _post_process(query: str) -> str:
    query = _SPACES.sub(" ", query.replace("\n", " ")).strip()
    query = query.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")
    if "DATE_SUB(" in query or "DATE_ADD(" in query:
        query = _INTERVAL.sub(_interval_to_sqlite, query)
    for old, new in _CLOCK:
        query = query.replace(old, new)
    query = _replace_vitals(query)
    return query.replace("%y", "%Y").replace("%j", "%J")

