"""medzero_rewards.language: script detection and language-mixing reports."""

from __future__ import annotations

import doctest
import json
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import medzero_rewards.language as language
from medzero_rewards.language import (
    ALLOWED,
    SCRIPT_RANGES,
    SCRIPTS,
    ScriptReport,
    detect_scripts,
    language_mixing,
    script_counts,
)

ENGLISH = (
    "The patient has angiokeratomas, acroparesthesia, hypohidrosis and proteinuria; "
    "alpha-galactosidase A activity is 0.4 nmol/h/mL (<5% of normal). Diagnosis: Fabry disease."
)
JAPANESE = "以上の所見から、ファブリー病が最も考えられます。酵素補充療法を検討してください。"
CHINESE = "综上所述，该患者最可能的诊断是家族性地中海热，建议进行基因检测以确认诊断。"
KOREAN = "가장 가능성이 높은 진단은 파브리병입니다."
RUSSIAN = "Наиболее вероятный диагноз — болезнь Фабри."


def test_supported_scripts() -> None:
    for name in ("Latin", "Greek", "Cyrillic", "Armenian", "Hebrew", "Arabic", "Devanagari", "Thai",
                 "Hangul", "Kana", "Han", "Other"):
        assert name in SCRIPTS
    assert set(SCRIPT_RANGES) | {"Other"} == set(SCRIPTS)
    assert set(ALLOWED) == set(SCRIPTS)


@pytest.mark.parametrize(
    ("text", "scripts"),
    [
        (ENGLISH, {"Latin"}),
        (JAPANESE, {"Han", "Kana"}),
        (CHINESE, {"Han"}),
        (KOREAN, {"Hangul"}),
        (RUSSIAN, {"Cyrillic"}),
        ("مرض فابري", {"Arabic"}),
        ("מחלת פברי", {"Hebrew"}),
        ("फैब्री रोग", {"Devanagari"}),
        ("โรคฟาบรี", {"Thai"}),
        ("Ֆաբրիի հիվանդություն", {"Armenian"}),
        ("ფაბრის დაავადება", {"Georgian"}),
        ("α-thalassemia, β-blocker, κ light chain, 5 µg", {"Latin", "Greek"}),
        ("Sjögren-Larsson syndrome, Behçet disease, Chédiak-Higashi", {"Latin"}),
        ("ﾌｧﾌﾞﾘｰ病", {"Kana", "Han"}),  # half-width katakana
        ("Ｆａｂｒｙ", {"Latin"}),  # full-width Latin
        ("ᏣᎳᎩ", {"Other"}),  # Cherokee: a script not listed
        ("37.5 ℃, 10² mg/m² … ≥ ½ ∑ ∞ ± → 😀 🧬 ①", {"Latin"}),  # only 'mg'/'m' are letters
        ("℃ ² ≥ ½ ∑ ∞ ± → 😀 🧬 ① 123 ,.;:!?", set()),
        ("", set()),
    ],
)
def test_detect_scripts(text: str, scripts: set[str]) -> None:
    assert detect_scripts(text) == frozenset(scripts)


def test_script_counts_are_letters() -> None:
    assert script_counts("Fabry 病。") == {"Latin": 5, "Han": 2}  # CJK punctuation counts as Han text
    assert script_counts("e\u0301") == {"Latin": 1}  # a combining accent is not a letter of its own
    assert script_counts(JAPANESE) == {"Han": 18, "Kana": 22}  # 15 kanji + 、。。; kana incl. ー
    assert script_counts(None) == {}  # type: ignore[arg-type]


def test_english_answer_with_foreign_paragraph_is_mixed() -> None:
    r = language_mixing(f"<answer>Fabry disease</answer>\n{JAPANESE}")
    assert r.mixed and r.scripts == frozenset({"Latin", "Han", "Kana"})
    assert r.foreign_chars == len(JAPANESE)  # every character there is Han or Kana (incl. 、。)
    assert r.letters == len("answerFabrydiseaseanswer") + len(JAPANESE)
    assert r.foreign_share == pytest.approx(r.foreign_chars / r.letters)
    for other in (CHINESE, KOREAN, RUSSIAN):
        assert language_mixing(f"{ENGLISH} {other}").mixed


def test_greek_and_notation_never_mix_latin() -> None:
    text = "α-thalassemia, β-blocker, κ light chain, γ-GT 45 U/L, 5 µg/kg, Δ 3 °C, 10⁹/L, ≥ 2 SD 😀"
    r = language_mixing(text)
    assert not r.mixed and r.foreign_chars == 0 and r.foreign_share == 0.0
    assert "Greek" in r.scripts


def test_min_chars_threshold() -> None:
    assert not language_mixing("Fabry disease 病").mixed  # one stray character
    assert language_mixing("Fabry disease 病名").mixed
    assert language_mixing("Fabry disease 病", min_chars=1).mixed
    assert language_mixing("Fabry disease 病", min_chars=0).mixed  # clamped to 1
    assert not language_mixing("Fabry disease 病名", min_chars=3).mixed


def test_expected_han_allows_latin_but_not_kana_or_hangul() -> None:
    zh = "诊断：法布里病（Fabry disease），α-半乳糖苷酶A活性降低，GLA基因突变。"
    r = language_mixing(zh, expected="Han")
    assert not r.mixed and r.foreign_chars == 0 and r.scripts >= {"Han", "Latin", "Greek"}
    assert language_mixing(zh + "ファブリー病です", expected="Han").mixed
    assert language_mixing(zh + KOREAN, expected="Han").mixed
    # the same Chinese text is foreign in an English answer
    assert language_mixing(zh).mixed


def test_expected_kana_allows_han_expected_hangul_does_not() -> None:
    assert not language_mixing(JAPANESE + " GLA", expected="Kana").mixed
    assert language_mixing(KOREAN + " 病名", expected="Hangul").mixed
    assert not language_mixing(KOREAN + " GLA", expected="Hangul").mixed
    assert language_mixing(RUSSIAN, expected="Latin").mixed
    assert not language_mixing(RUSSIAN + " HbA1c", expected="Cyrillic").mixed


def test_allowed_extends_the_rule() -> None:
    assert not language_mixing(f"{ENGLISH} {RUSSIAN}", allowed={"Cyrillic"}).mixed
    with pytest.raises(ValueError, match="allowed"):
        language_mixing("x", allowed={"Klingon"})


def test_unknown_expected_script_is_a_loud_error() -> None:
    with pytest.raises(ValueError, match="unknown script"):
        language_mixing("x", expected="English")


@pytest.mark.parametrize("bad", [None, 3, b"bytes"])
def test_non_string_text_gives_an_empty_report(bad: object) -> None:
    assert language_mixing(bad) == ScriptReport(frozenset(), 0, 0.0, False, 0)  # type: ignore[arg-type]
    assert detect_scripts(bad) == frozenset()  # type: ignore[arg-type]


def test_lone_surrogates_do_not_crash() -> None:
    r = language_mixing("Fabry \ud800 disease")
    assert not r.mixed


def test_every_range_holds_its_scripts_letters() -> None:
    """Cross-check the hand-written ranges against unicodedata names for every BMP letter."""
    wrong = []
    prefixes = {
        "Latin": ("LATIN",), "Greek": ("GREEK",), "Cyrillic": ("CYRILLIC",), "Armenian": ("ARMENIAN",),
        "Hebrew": ("HEBREW",), "Arabic": ("ARABIC",), "Devanagari": ("DEVANAGARI",), "Thai": ("THAI",),
        "Hangul": ("HANGUL",), "Kana": ("HIRAGANA", "KATAKANA"), "Han": ("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH"),
        "Georgian": ("GEORGIAN",), "Bengali": ("BENGALI",), "Tamil": ("TAMIL",),
    }
    for cp in range(0x80, 0x10000):
        ch = chr(cp)
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        if "SUBSCRIPT" in name or "SMALL CAPITAL" in name or "REVERSED C" in name:
            continue  # phonetic small capitals and subscripts are notation, not running text
        for script, pre in prefixes.items():
            if name.startswith(pre) and script_counts(ch) != {script: 1}:
                wrong.append((hex(cp), name, script_counts(ch)))
    assert wrong == []


def test_real_disease_names_are_latin(orphanet_path: Path) -> None:
    names = [e["name"] for e in json.loads(orphanet_path.read_text(encoding="utf-8"))]
    mixed = [n for n in names if language_mixing(n).mixed]
    assert mixed == []
    assert any(not n.isascii() for n in names)  # accents (Sjögren, Behçet) are covered above


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)), st.sampled_from(SCRIPTS))
def test_pure_ascii_is_never_mixed(text: str, expected: str) -> None:
    r = language_mixing(text, expected)
    assert not r.mixed and r.foreign_chars == 0
    assert r.scripts <= {"Latin"}
    assert r.letters == len(re.findall(r"[A-Za-z]", text))


MIXED_TEXT = st.lists(
    st.one_of(st.text(), st.sampled_from([ENGLISH, JAPANESE, CHINESE, KOREAN, RUSSIAN, "αβγ µg", "😀", "\ud800"])),
    max_size=8,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(MIXED_TEXT, st.sampled_from(SCRIPTS), st.integers(min_value=-1, max_value=5))
def test_language_mixing_never_crashes_and_is_consistent(text: str, expected: str, min_chars: int) -> None:
    r = language_mixing(text, expected, min_chars=min_chars)
    counts = script_counts(text)
    assert r.scripts == frozenset(counts) == detect_scripts(text)
    assert r.letters == sum(counts.values())
    assert 0 <= r.foreign_chars <= r.letters
    assert 0.0 <= r.foreign_share <= 1.0
    assert r.mixed == (r.foreign_chars >= max(min_chars, 1))
    assert r.foreign_chars == sum(n for s, n in counts.items() if s not in ALLOWED[expected])
    assert language.foreign_letter_count(text, expected) == r.foreign_chars
    assert language.foreign_letter_count(text, expected, allowed=["Han"]) == \
        language_mixing(text, expected, allowed=["Han"]).foreign_chars


@settings(max_examples=200, deadline=None)
@given(MIXED_TEXT)
def test_counts_match_a_per_character_reference(text: str) -> None:
    """The run-based regex scan counts exactly what a slow per-character classification counts."""
    classes = {name: re.compile(f"[{body}]") for name, body in SCRIPT_RANGES.items()}
    expected: dict[str, int] = {}
    for ch in text:
        for name, rx in classes.items():
            if rx.fullmatch(ch):
                expected[name] = expected.get(name, 0) + 1
                break
    got = {k: v for k, v in script_counts(text).items() if k != "Other"}
    assert got == expected


def test_doctests() -> None:
    result = doctest.testmod(language)
    assert result.attempted >= 5 and result.failed == 0
