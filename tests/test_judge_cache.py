"""The SQLite judge cache: keys, persistence, and what is never stored."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from medzero_rewards.judge.cache import (
    JudgeCache,
    cache_key,
    normalize_key_name,
    reference_key,
)


def test_key_normalisation_merges_spellings_only() -> None:
    assert normalize_key_name("  Wilson\u2019s   Disease. ") == normalize_key_name("wilson disease")
    assert normalize_key_name("Charcot\u2013Marie\u2013Tooth") == normalize_key_name("charcot-marie-tooth")
    assert normalize_key_name("Mucolipidosis type II") == normalize_key_name("Mucolipidosis type 2")
    assert normalize_key_name("Type 1") != normalize_key_name("Type 2")
    assert normalize_key_name("Fragile X syndrome") != normalize_key_name("Fragile X disease")
    assert normalize_key_name("\u5a01\u5c14\u900a\u75c5")  # non-Latin names keep their letters
    assert normalize_key_name("???") != normalize_key_name("!!!")  # punctuation-only answers stay distinct


def test_reference_key_ignores_order_case_and_duplicates() -> None:
    a = reference_key(["Amyotrophic lateral sclerosis", "ALS"], ["Motor neuron disease"])
    b = reference_key(["als", "AMYOTROPHIC LATERAL SCLEROSIS", "ALS"], ["motor neuron disease"])
    assert a == b
    assert reference_key(["ALS"], []) != reference_key(["ALS"], ["Motor neuron disease"])  # broader set matters


def test_cache_key_separates_model_prompt_answer_and_references() -> None:
    ref = reference_key(["ALS"], [])
    base = cache_key("m", "v1", "Lou Gehrig disease", ref)
    assert base == cache_key("m", "v1", "lou gehrig  disease", ref)
    assert len({base, cache_key("m2", "v1", "Lou Gehrig disease", ref), cache_key("m", "v2", "Lou Gehrig disease", ref),
                cache_key("m", "v1", "Wilson disease", ref), cache_key("m", "v1", "Lou Gehrig disease", reference_key(["MND"], []))}) == 5


def test_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "judge.sqlite"
    cache = JudgeCache(path)
    cache.put_many({"k1": ("m", "v1", "a", 2), "k2": ("m", "v1", "b", 0)})
    cache.close()
    again = JudgeCache(path)
    assert again.get_many(["k1", "k2", "k3"]) == {"k1": 2, "k2": 0}
    assert len(again) == 2
    again.close()


def test_only_real_grades_are_storable(tmp_path: Path) -> None:
    cache = JudgeCache(tmp_path / "c.sqlite")
    with pytest.raises(sqlite3.IntegrityError):
        cache.put_many({"k": ("m", "v1", "a", 5)})  # type: ignore[dict-item]
    assert len(cache) == 0  # the failed batch was rolled back
    cache.close()


def test_concurrent_writers_and_many_keys(tmp_path: Path) -> None:
    cache = JudgeCache(tmp_path / "c.sqlite")

    def write(t: int) -> None:
        cache.put_many({f"{t}-{i}": ("m", "v1", f"a{i}", i % 3) for i in range(300)})

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    keys = [f"{t}-{i}" for t in range(4) for i in range(300)]
    got = cache.get_many(keys)  # > 999 keys: chunked queries
    assert len(got) == 1200 and got["3-299"] == 299 % 3
    cache.close()


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "judge.sqlite"
    path.write_bytes(b"this is not a database, just some text that happens to be here" * 20)
    with pytest.raises(ValueError, match="not a usable SQLite file"):
        JudgeCache(path)
