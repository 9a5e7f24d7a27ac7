"""The Orphanet hierarchy RareArena's updated protocol uses for "broader diagnosis" credit.

The file is a JSON list of entities in RareArena's ``orphanet_hypernym.json`` format::

    [{"Orphanetid": "5", "name": "Long chain 3-hydroxyacyl-CoA dehydrogenase deficiency",
      "type": "Disease",
      "parents": [{"parent": "3-hydroxyacyl-CoA dehydrogenase deficiency",
                   "parent_child_count": 2, "parent_disease_count": 2}, ...]}, ...]

:class:`OrphanetHierarchy` indexes every entity by its normalised name and by its Orphanet id, so
the scorer can list the *broader* names of a gold diagnosis: its direct parents with
``parent_disease_count <= max_parent_disease_count`` (10 in RareArena). An answer that matches one of
them earns the ``hypernym`` tier, which is reported but never counted as correct. The package never
reads a default location: callers pass the path (:func:`load_hierarchy` caches one instance per file).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from medzero_rewards.normalize import normalize_name

__all__ = ["OrphanetHierarchy", "Parent", "load_hierarchy"]


@dataclass(frozen=True, slots=True)
class Parent:
    """One parent (broader group) of an Orphanet entity."""

    name: str
    child_count: int
    disease_count: int


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class OrphanetHierarchy:
    """Orphanet entities and their direct parents, looked up by name (normalised) or Orphanet id.

    >>> h = OrphanetHierarchy([{"Orphanetid": "1", "name": "Glycogen storage disease type Ia",
    ...     "parents": [{"parent": "Glycogen storage disease type I", "parent_child_count": 2,
    ...                  "parent_disease_count": 2}]}])
    >>> h.broader_names(["Glycogen storage disease type IA"])
    ['Glycogen storage disease type I']
    """

    def __init__(self, entities: Iterable[Mapping[str, Any]]) -> None:
        self._by_name: dict[str, list[Parent]] = {}
        self._by_id: dict[str, list[Parent]] = {}
        self._names: dict[str, str] = {}  # normalised -> display name, entities and parents
        self._parent_keys: dict[str, str] = {}  # a parent's display name -> its normalised name
        self._ids: set[str] = set()
        n = 0
        for ent in entities:
            if not isinstance(ent, Mapping) or not isinstance(ent.get("name"), str):
                raise ValueError(f"hierarchy entity #{n} has no 'name' string: {str(ent)[:120]}")
            parents = []
            for p in ent.get("parents") or ():
                if isinstance(p, Mapping) and isinstance(p.get("parent"), str) and p["parent"].strip():
                    parents.append(
                        Parent(
                            name=p["parent"].strip(),
                            child_count=_as_int(p.get("parent_child_count"), 0),
                            # unknown size: treat as too broad to earn hypernym credit
                            disease_count=_as_int(p.get("parent_disease_count"), 1 << 30),
                        )
                    )
            key = normalize_name(ent["name"])
            self._by_name.setdefault(key, []).extend(parents)
            self._names.setdefault(key, ent["name"])
            oid = ent.get("Orphanetid")
            if oid is not None and str(oid).strip():
                self._by_id.setdefault(str(oid).strip(), []).extend(parents)
                self._ids.add(str(oid).strip())
            for p in parents:
                key = self._parent_keys.setdefault(p.name, normalize_name(p.name))
                self._names.setdefault(key, p.name)
            n += 1
        self._n = n

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> OrphanetHierarchy:
        """Load a JSON file in the ``orphanet_hypernym.json`` format (``ValueError`` if malformed)."""
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: not valid JSON ({e})") from e
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of Orphanet entities, got {type(data).__name__}")
        return cls(data)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_name(name) in self._by_name

    def knows(self, normalized: str) -> bool:
        """Whether an already-normalised name is an entity or parent name in the file.

        >>> OrphanetHierarchy([{"name": "Fraser syndrome", "parents": []}]).knows("fraser syndrome")
        True
        """
        return normalized in self._names

    def knows_id(self, orpha_id: str | int) -> bool:
        """Whether an Orphanet id (``"324"``, ``324`` or ``"ORPHA:324"``) is an entity in the file.

        >>> OrphanetHierarchy([{"Orphanetid": "324", "name": "Fabry disease", "parents": []}]).knows_id("ORPHA:324")
        True
        """
        oid = str(orpha_id).strip()
        if oid.upper().startswith("ORPHA:"):
            oid = oid[6:].strip()
        return oid in self._ids

    def parents(self, name: str | None = None, orpha_id: str | int | None = None) -> list[Parent]:
        """Direct parents of the entity called ``name`` (any surface variant) or with ``orpha_id``.

        Parents found through the id and the name are merged (each parent name once).
        """
        found: list[Parent] = []
        if orpha_id is not None and str(orpha_id).strip():
            oid = str(orpha_id).strip()
            if oid.upper().startswith("ORPHA:"):
                oid = oid[6:].strip()
            found.extend(self._by_id.get(oid, ()))
        if isinstance(name, str) and name.strip():
            found.extend(self._by_name.get(normalize_name(name), ()))
        seen: set[str] = set()
        out: list[Parent] = []
        for p in found:
            if p.name not in seen:
                seen.add(p.name)
                out.append(p)
        return out

    def broader_names(
        self,
        names: Sequence[str],
        orpha_id: str | int | None = None,
        *,
        max_parent_disease_count: int = 10,
    ) -> list[str]:
        """Names of the direct parents of any of ``names`` (or of ``orpha_id``) that group at most
        ``max_parent_disease_count`` diseases (RareArena's rule), in file order, each once."""
        seen: set[str] = set()
        out: list[str] = []
        gold = {normalize_name(n) for n in names if isinstance(n, str)}
        for i, name in enumerate([None, *names]):
            for p in self.parents(name, orpha_id if i == 0 else None):
                if p.disease_count > max_parent_disease_count:
                    continue
                key = self._parent_keys[p.name]
                if key not in seen and key not in gold:
                    seen.add(key)
                    out.append(p.name)
        return out


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int, size: int) -> OrphanetHierarchy:
    return OrphanetHierarchy.from_file(path)


def load_hierarchy(path: str | os.PathLike[str]) -> OrphanetHierarchy:
    """Load (once per file version) the hierarchy at ``path``.

    >>> load_hierarchy("/no/such/file.json")
    Traceback (most recent call last):
    ...
    FileNotFoundError: Orphanet hierarchy not found: /no/such/file.json
    """
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"Orphanet hierarchy not found: {path}") from None
    return _load_cached(str(p.resolve()), st.st_mtime_ns, st.st_size)
