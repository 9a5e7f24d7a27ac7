"""User-supplied synonym tables for disease names.

A table is a set of *groups*: names that denote the same disease. Sources accepted by
:func:`build_synonym_table`:

* a mapping ``{"Wilson disease": ["hepatolenticular degeneration", ...], ...}`` (a value may also be
  a single string);
* a list of groups ``[["Wilson disease", "hepatolenticular degeneration"], ...]``;
* a path to a ``.json`` file holding either of the above, or to a ``.tsv``/``.txt`` file with one
  group per line, names separated by tabs (blank lines and lines starting with ``#`` are skipped);
* an existing :class:`SynonymTable`.

Lookups go through :func:`~medzero_rewards.normalize.normalize_name`, so any surface variant of a
name finds its group.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from medzero_rewards.normalize import normalize_name

__all__ = ["SynonymSource", "SynonymTable", "build_synonym_table"]


class SynonymTable:
    """Groups of equivalent disease names, indexed by normalised name.

    >>> t = SynonymTable([["Wilson disease", "Hepatolenticular degeneration"]])
    >>> t.synonyms_of(["Wilson's disease"])
    ['Hepatolenticular degeneration']
    """

    def __init__(self, groups: Iterable[Iterable[str]]) -> None:
        self._groups: list[tuple[str, ...]] = []
        self._index: dict[str, list[int]] = {}
        for group in groups:
            if isinstance(group, str):
                raise ValueError(f"a synonym group must be a list of names, got the string {group!r}")
            names = tuple(n.strip() for n in group if isinstance(n, str) and n.strip())
            if len(names) < 2:
                continue
            gid = len(self._groups)
            self._groups.append(names)
            for n in names:
                ids = self._index.setdefault(normalize_name(n), [])
                if gid not in ids:
                    ids.append(gid)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> SynonymTable:
        """``{name: [synonym, ...]}`` (or ``{name: synonym}``) -> table."""
        groups = []
        for name, syns in mapping.items():
            if isinstance(syns, str):
                syns = [syns]
            if not isinstance(syns, Iterable):
                raise ValueError(f"synonyms of {name!r} must be a string or a list, got {type(syns).__name__}")
            groups.append([name, *syns])
        return cls(groups)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SynonymTable:
        """Load a ``.json`` (mapping or list of groups) or ``.tsv``/``.txt`` (tab-separated groups) file."""
        p = Path(path).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"synonym table not found: {path}")
        if p.suffix.lower() == ".json":
            with p.open(encoding="utf-8") as f:
                try:
                    data = json.load(f)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}: not valid JSON ({e})") from e
            if isinstance(data, Mapping):
                return cls.from_mapping(data)
            if isinstance(data, list):
                return cls(data)
            raise ValueError(f"{path}: expected a JSON object or list, got {type(data).__name__}")
        with p.open(encoding="utf-8") as f:
            lines = [ln.rstrip("\n\r") for ln in f]
        return cls(ln.split("\t") for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))

    def __len__(self) -> int:
        return len(self._groups)

    def synonyms_of(self, names: Iterable[str]) -> list[str]:
        """Every name sharing a group with any of ``names``, excluding those names, each once."""
        names = [n for n in names if isinstance(n, str)]
        own = {normalize_name(n) for n in names}
        seen: set[str] = set()
        out: list[str] = []
        for key in own:
            for gid in self._index.get(key, ()):
                for n in self._groups[gid]:
                    k = normalize_name(n)
                    if k not in own and k not in seen:
                        seen.add(k)
                        out.append(n)
        return out


SynonymSource = SynonymTable | Mapping[str, Any] | Iterable[Iterable[str]] | str | os.PathLike[str] | None


def build_synonym_table(source: SynonymSource) -> SynonymTable | None:
    """Turn a scorer's ``synonyms=`` argument into a :class:`SynonymTable` (None stays None).

    >>> build_synonym_table({"Wilson disease": "Hepatolenticular degeneration"}).synonyms_of(["wilson disease"])
    ['Hepatolenticular degeneration']
    """
    if source is None or isinstance(source, SynonymTable):
        return source
    if isinstance(source, (str, os.PathLike)):
        return SynonymTable.from_file(source)
    if isinstance(source, Mapping):
        return SynonymTable.from_mapping(source)
    if isinstance(source, Iterable):
        return SynonymTable(source)
    raise TypeError(f"synonyms must be a mapping, a list of groups or a path, got {type(source).__name__}")
