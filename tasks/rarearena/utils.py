"""Thin glue for the RareArena tasks; the logic lives in medzero_eval.lm_eval_glue and medzero_rewards."""

from functools import partial

from medzero_eval.lm_eval_glue import (  # noqa: F401  (re-exported for the YAML !function tags)
    MedzeroTask,
    agg_score,
    load_rarearena,
    process_results,
)

load_rdc_r1 = partial(load_rarearena, "rdc", "r1")
load_rdc_top5 = partial(load_rarearena, "rdc", "top5")
load_rds_r1 = partial(load_rarearena, "rds", "r1")
load_rds_top5 = partial(load_rarearena, "rds", "top5")
