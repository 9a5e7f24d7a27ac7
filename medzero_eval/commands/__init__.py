"""Subcommands of `medzero-eval`, one module each."""
