"""EHRSQL 2024 scoring: official post-processing, result normalisation and reliability score, with
safe read-only execution in a persistent worker pool.

Modules: :mod:`.postprocess` (official SQL rewrite), :mod:`.results` (official result string),
:mod:`.executor` (read-only guarded execution), :mod:`.pool` (worker processes), :mod:`.metrics`
(reliability score), :mod:`.extract` (completion -> SQL or abstention), :mod:`.scorer`
(:class:`EhrsqlScorer`), :mod:`.schema` (``tables.json`` -> prompt text), :mod:`.database` (is this
file an EHRSQL database?), :mod:`.lru` (caches bounded by bytes), :mod:`.cache` (persistent gold results).

Importing this package is cheap; the scorer and the database check are loaded on first attribute access.
"""

from __future__ import annotations

from typing import Any

from medzero_rewards.ehrsql.metrics import ehrsql_metrics, outcome, penalized_score, reliability_scores
from medzero_rewards.ehrsql.postprocess import post_process_sql
from medzero_rewards.ehrsql.results import normalize_answer, normalize_rows
from medzero_rewards.ehrsql.schema import schema_prompt

__all__ = [
    "EHRSQL_TABLES",
    "EhrsqlConfig",
    "EhrsqlDatabaseError",
    "EhrsqlScorer",
    "ehrsql_metrics",
    "make_ehrsql",
    "normalize_answer",
    "normalize_rows",
    "outcome",
    "penalized_score",
    "check_database",
    "post_process_sql",
    "reliability_scores",
    "schema_prompt",
]


def __getattr__(name: str) -> Any:
    if name in ("EhrsqlConfig", "EhrsqlScorer", "make_ehrsql"):
        from medzero_rewards.ehrsql import scorer

        return getattr(scorer, name)
    if name in ("EHRSQL_TABLES", "EhrsqlDatabaseError", "check_database"):
        from medzero_rewards.ehrsql import database

        return getattr(database, name)
    raise AttributeError(name)
