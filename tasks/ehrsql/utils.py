"""Thin glue for the EHRSQL tasks; the logic lives in medzero_eval.lm_eval_glue and medzero_rewards."""

from functools import partial

from medzero_eval.lm_eval_glue import (  # noqa: F401  (re-exported for the YAML !function tags)
    MedzeroTask,
    agg_accuracyN,
    agg_score,
    load_ehrsql,
    process_results,
)

load_test = partial(load_ehrsql, "test")
load_valid = partial(load_ehrsql, "valid")
