"""The reference side: the gold names of a RareArena record, normalised once per distinct record.

A record's gold names are its ``diagnosis``, ``Orpha_name`` and ``synonyms`` plus the user's synonym
table entries for them; with a hierarchy, also the *broader* names (direct Orphanet parents small
enough for RareArena's hypernym credit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medzero_rewards.hierarchy import OrphanetHierarchy
from medzero_rewards.normalize import NameKey, analyze_name
from medzero_rewards.parsing import split_candidates
from medzero_rewards.synonyms import SynonymTable

from .cache import ByteBoundedCache

__all__ = ["GoldIndex", "GoldSet", "names_from_record"]



@dataclass(frozen=True, slots=True)
class GoldSet:
    """The reference names of one record, normalised once."""

    uid: int
    names: tuple[str, ...]  # diagnosis first, then Orpha_name, record synonyms, table synonyms
    keys: tuple[NameKey, ...]
    broader: tuple[str, ...]
    broader_keys: tuple[NameKey, ...]
    keep: frozenset[str]  # for split_candidates: gold names never split
    splittable: bool  # some gold name would itself be split ("Familial or sporadic ..."): pass keep
    orpha_id: str | None = None


def names_from_record(reference: Any) -> tuple[tuple[str, ...], str | None] | str:
    """(gold names, Orpha_id) from a RareArena record, or a reason string when unusable.

    >>> names_from_record({"diagnosis": "Fabry disease", "synonyms": ["Anderson-Fabry disease"], "Orpha_id": 324})
    (('Fabry disease', 'Anderson-Fabry disease'), '324')
    >>> names_from_record({"diagnosis": " "})
    'reference has no gold name (diagnosis / Orpha_name missing or blank)'
    """
    if not isinstance(reference, Mapping):
        return f"reference is not a mapping: {type(reference).__name__}"
    names: list[str] = []
    for field in ("diagnosis", "Orpha_name"):
        v = reference.get(field)
        if isinstance(v, str) and v.strip():
            names.append(v.strip())
    syns = reference.get("synonyms")
    if isinstance(syns, str):
        syns = [syns]
    if isinstance(syns, Sequence):
        names.extend(s.strip() for s in syns if isinstance(s, str) and s.strip())
    if not names:
        return "reference has no gold name (diagnosis / Orpha_name missing or blank)"
    oid = reference.get("Orpha_id")
    return tuple(names), (str(oid).strip() if oid is not None and str(oid).strip() else None)


class GoldIndex:
    """Builds and caches :class:`GoldSet` s (each gets a ``uid`` the decision cache keys on).

    >>> idx = GoldIndex()
    >>> g = idx.for_record({"diagnosis": "Wilson disease"})
    >>> g.names, idx.for_record({"diagnosis": "Wilson disease"}) is g
    (('Wilson disease',), True)
    """

    def __init__(
        self,
        hierarchy: OrphanetHierarchy | None = None,
        synonym_table: SynonymTable | None = None,
        *,
        max_parent_disease_count: int = 10,
        cache_bytes: int = 16 << 20,
    ) -> None:
        self.hierarchy = hierarchy
        self.synonym_table = synonym_table
        self.max_parent_disease_count = max_parent_disease_count
        self._next_uid = 0
        self._by_names: ByteBoundedCache[tuple[tuple[str, ...], str | None], GoldSet] = ByteBoundedCache(cache_bytes // 2)
        self._by_record: ByteBoundedCache[tuple[Any, ...], GoldSet] = ByteBoundedCache(cache_bytes // 2)

    def gold(self, names: tuple[str, ...], orpha_id: str | None) -> GoldSet:
        """The gold set of these names (and Orphanet id), built once."""
        cache_key = (names, orpha_id)
        g = self._by_names.get(cache_key)
        if g is not None:
            return g
        all_names = list(names)
        if self.synonym_table is not None:
            all_names.extend(self.synonym_table.synonyms_of(names))
        uniq: dict[str, str] = {}
        for n in all_names:
            k = analyze_name(n)
            if k.text and k.text not in uniq:
                uniq[k.text] = n
        broader: list[str] = []
        if self.hierarchy is not None:
            broader = self.hierarchy.broader_names(
                list(uniq.values()), orpha_id, max_parent_disease_count=self.max_parent_disease_count
            )
        self._next_uid += 1
        g = GoldSet(
            uid=self._next_uid,
            names=tuple(uniq.values()),
            keys=tuple(analyze_name(n) for n in uniq.values()),
            broader=tuple(broader),
            broader_keys=tuple(analyze_name(b) for b in broader),
            keep=frozenset(n.casefold() for n in uniq.values()),
            splittable=any(len(split_candidates(n)) > 1 for n in uniq.values()),
            orpha_id=orpha_id,
        )
        self._by_names.put(cache_key, g, _size(names) * 4)
        return g

    def for_record(self, reference: Any) -> GoldSet | str:
        """The record's gold set (cached per distinct record values), or why there is none."""
        key: tuple[Any, ...] | None
        try:
            syn = reference.get("synonyms")
            key = (reference.get("diagnosis"), reference.get("Orpha_name"), reference.get("Orpha_id"),
                   tuple(syn) if isinstance(syn, list) else syn)  # fmt: skip
            g = self._by_record.get(key)
        except (AttributeError, TypeError):  # not a mapping, or unhashable values: the slow path
            key, g = None, None
        if g is None:
            parsed = names_from_record(reference)
            if isinstance(parsed, str):
                return parsed
            g = self.gold(*parsed)
            if key is not None:
                self._by_record.put(key, g, _size(key))
        return g


def _size(values: Any) -> int:
    """Characters in the strings of a (nested) tuple: the estimated size of a cache key."""
    if isinstance(values, str):
        return len(values)
    if isinstance(values, tuple):
        return sum(_size(v) for v in values)
    return 8
