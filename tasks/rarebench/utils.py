"""Thin glue for the RareBench tasks; the logic lives in medzero_eval.lm_eval_glue and medzero_rewards."""

from functools import partial

from medzero_eval.lm_eval_glue import (  # noqa: F401  (re-exported for the YAML !function tags)
    MedzeroTask,
    agg_score,
    load_rarebench,
    process_results,
)

load_hms = partial(load_rarebench, "hms")
load_lirical = partial(load_rarebench, "lirical")
load_mme = partial(load_rarebench, "mme")
load_pumch_adm = partial(load_rarebench, "pumch_adm")
load_ramedis = partial(load_rarebench, "ramedis")
