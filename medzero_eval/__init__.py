"""medzero_eval: lm-evaluation-harness tasks, offline scoring and reports over medzero_rewards."""
