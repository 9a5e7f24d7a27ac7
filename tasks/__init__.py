"""lm-evaluation-harness task configs for medzero (installed as the package `medzero_tasks`)."""
