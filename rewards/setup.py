"""Build hook for the optional C accelerator (everything else is in pyproject.toml).

``medzero_rewards._speedups`` compiles ``parsing.strict_spans``, the one function the GRPO reward calls
once per completion. ``optional=True``: without a C compiler the build goes on without it and the
package uses the pure-Python version, which gives the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("medzero_rewards._speedups", ["medzero_rewards/_speedups.c"], optional=True),
    ]
)
