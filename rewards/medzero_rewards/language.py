"""Detect language mixing by writing system (script), e.g. a Chinese paragraph in an English answer.

Python's :mod:`re` has no ``\\p{Script=…}``, so each script is a character class over its Unicode
blocks (:data:`SCRIPT_RANGES`); all scripts are matched by one compiled alternation, so the work is
C-speed regex scanning plus one Python step per *run* of same-script characters, never per character.
Pure ASCII text takes a fast path.

What counts as a letter of a script: the letters of its blocks, plus its own punctuation (CJK and
full-width punctuation such as ``，。：`` count as Han; Arabic punctuation as Arabic). Digits,
ASCII punctuation, math symbols, super/subscripts, letter-like symbols (``℃``, ``ℓ``) and emoji
belong to no script. Letters of scripts not listed are counted as ``"Other"``.

Which scripts are allowed besides the expected one (:data:`ALLOWED`):

* Greek is allowed everywhere: it is standard medical notation (α-thalassemia, β-blocker, κ light
  chain, µg).
* Latin is allowed everywhere too: abbreviations and gene names (CT, HbA1c, GLA) are normal in
  Chinese, Japanese, Russian… medical text, so only a *non*-Latin intrusion counts for those.
* Japanese (``"Kana"``) allows Han (kanji); Chinese (``"Han"``) does not allow Kana, and Korean
  (``"Hangul"``) does not allow Han.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "ALLOWED",
    "SCRIPTS",
    "SCRIPT_RANGES",
    "ScriptReport",
    "detect_scripts",
    "foreign_letter_count",
    "language_mixing",
    "script_counts",
]

_SCRIPT_RANGES: dict[str, str] = {
    # A regex character-class body per script (Unicode blocks; letters and the script's own punctuation).
    "Latin": (
        "A-Za-z\u00aa\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02af\u1d00-\u1dbf\u1e00-\u1eff"
        "\u2c60-\u2c7f\ua720-\ua7ff\uab30-\uab6f\ufb00-\ufb06\uff21-\uff3a\uff41-\uff5a"
    ),
    "Greek": "\u00b5\u0370-\u0377\u037a-\u037d\u037f\u0386\u0388-\u03ff\u1f00-\u1fff",
    "Cyrillic": "\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f",
    "Armenian": "\u0531-\u058f\ufb13-\ufb17",
    "Hebrew": "\u0591-\u05f4\ufb1d-\ufb4f",
    "Arabic": "\u0600-\u065f\u066a-\u06ef\u06fa-\u06ff\u0750-\u077f\u0870-\u08ff\ufb50-\ufdff\ufe70-\ufefc",
    "Syriac": "\u0700-\u074f",
    "Thaana": "\u0780-\u07bf",
    "Devanagari": "\u0900-\u0965\u0970-\u097f\ua8e0-\ua8ff",
    "Bengali": "\u0980-\u09e5\u09f0-\u09ff",
    "Gurmukhi": "\u0a00-\u0a65\u0a70-\u0a7f",
    "Gujarati": "\u0a80-\u0ae5\u0af0-\u0aff",
    "Oriya": "\u0b00-\u0b65\u0b70-\u0b7f",
    "Tamil": "\u0b80-\u0be5\u0bf0-\u0bff",
    "Telugu": "\u0c00-\u0c65\u0c70-\u0c7f",
    "Kannada": "\u0c80-\u0ce5\u0cf0-\u0cff",
    "Malayalam": "\u0d00-\u0d65\u0d70-\u0d7f",
    "Sinhala": "\u0d80-\u0dff",
    "Thai": "\u0e00-\u0e4f\u0e5a-\u0e7f",
    "Lao": "\u0e80-\u0ecf\u0eda-\u0eff",
    "Tibetan": "\u0f00-\u0f1f\u0f2a-\u0fff",
    "Myanmar": "\u1000-\u103f\u104a-\u108f\u109a-\u109f",
    "Georgian": "\u10a0-\u10ff\u1c90-\u1cbf\u2d00-\u2d2f",
    "Ethiopic": "\u1200-\u139f\u2d80-\u2ddf",
    "Khmer": "\u1780-\u17df\u17f0-\u17ff\u19e0-\u19ff",
    "Mongolian": "\u1800-\u180f\u181a-\u18af",
    "Hangul": "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uffa0-\uffdc",
    "Kana": "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\U0001b000-\U0001b16f",
    "Han": (
        "\u2e80-\u2fdf\u2ff0-\u2fff\u3000-\u303f\u3190-\u319f\u3200-\u32ff\u3400-\u4dbf\u4e00-\u9fff"
        "\uf900-\ufaff\ufe10-\ufe1f\ufe30-\ufe4f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
        "\U00020000-\U0003134f"
    ),
}
SCRIPT_RANGES: Mapping[str, str] = MappingProxyType(_SCRIPT_RANGES)
"""Character-class bodies (for ``re``) of every supported script (read-only)."""

OTHER = "Other"
SCRIPTS: tuple[str, ...] = (*SCRIPT_RANGES, OTHER)
"""Supported script names; ``"Other"`` collects letters of scripts not listed."""

ALLOWED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        name: frozenset({name, "Latin", "Greek"} | ({"Han"} if name == "Kana" else set()))
        for name in SCRIPTS
    }
)
"""For each expected script, the scripts whose letters do not count as foreign (read-only)."""

# Characters that Python's ``\w`` calls alphanumeric but that are notation, not a script's letters.
_NOTATION = (
    "\u00b2\u00b3\u00b9\u00bc-\u00be\u02b0-\u036f\u2070-\u209f\u2100-\u218f\u2460-\u24ff\u2776-\u2793"
    "\U0001d400-\U0001d7ff\U0001f100-\U0001f1ff"
)
_ALL_KNOWN = "".join(SCRIPT_RANGES.values())


def _class(body: str) -> str:
    """A regex matching one character of ``body``; astral ranges go in their own class so the BMP
    class compiles to a bitmap (a class mixing in astral ranges is matched by a slower range scan)."""
    bmp = "".join(re.findall(r"[\x00-\uffff](?:-[\x00-\uffff])?", body))
    astral = "".join(re.findall(r"[\U00010000-\U0010ffff](?:-[\U00010000-\U0010ffff])?", body))
    return f"(?:[{bmp}]|[{astral}])" if astral else f"[{bmp}]"


_RUNS_RE = re.compile(
    "|".join(f"(?P<{name}>{_class(body)}+)" for name, body in SCRIPT_RANGES.items())
    + f"|(?P<{OTHER}>(?:(?![{_ALL_KNOWN}{_NOTATION}])[^\\W\\d_])+)"
)
_ALL_ASCII = bytes(range(128))
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class ScriptReport:
    """How much of a text is written in scripts other than the expected one.

    Attributes:
        scripts: writing systems seen among letters, e.g. ``{"Latin", "Han"}``.
        foreign_chars: letters not in the expected script nor an allowed one (:data:`ALLOWED`).
        foreign_share: ``foreign_chars / letters`` (0.0 when there are no letters).
        mixed: ``foreign_chars >= min_chars``.
        letters: letters counted in any script (the denominator of ``foreign_share``).
    """

    scripts: frozenset[str]
    foreign_chars: int
    foreign_share: float
    mixed: bool
    letters: int = 0


def script_counts(text: str) -> dict[str, int]:
    """Letters per script (only scripts that occur; non-string input gives ``{}``).

    >>> script_counts("β-thalassemia 地中海贫血。")
    {'Latin': 11, 'Greek': 1, 'Han': 6}
    """
    if not isinstance(text, str):
        return {}
    # UTF-8 keeps ASCII and non-ASCII characters in disjoint byte ranges, so byte deletions (C speed)
    # count the ASCII letters and leave the non-ASCII characters, in order, as valid UTF-8.
    data = text.encode("utf-8", "surrogatepass")
    n_ascii = len(data) - len(data.translate(None, _ASCII_LETTERS))
    counts: dict[str, int] = {"Latin": n_ascii} if n_ascii else {}
    if not text.isascii():
        _count_runs(data.translate(None, _ALL_ASCII).decode("utf-8", "surrogatepass"), counts)
    return counts


def _count_runs(non_ascii: str, counts: dict[str, int]) -> dict[str, int]:
    """Add the letters per script of ``non_ascii`` (a text with no ASCII characters) to ``counts``."""
    for m in _RUNS_RE.finditer(non_ascii):
        name = m.lastgroup
        if name is not None:
            counts[name] = counts.get(name, 0) + (m.end() - m.start())
    return counts


def detect_scripts(text: str) -> frozenset[str]:
    """The writing systems whose letters occur in ``text`` (names from :data:`SCRIPTS`).

    >>> sorted(detect_scripts("Fabry disease (法布里病), α-galactosidase"))
    ['Greek', 'Han', 'Latin']
    >>> detect_scripts("37.5 ℃, 10² ≥ ½ 😀")
    frozenset()
    """
    return frozenset(script_counts(text))


def language_mixing(
    text: str,
    expected: str = "Latin",
    *,
    min_chars: int = 2,
    allowed: Iterable[str] = (),
) -> ScriptReport:
    """Measure letters written outside the expected script (and the scripts it allows).

    ``expected`` is a name from :data:`SCRIPTS` (``ValueError`` otherwise); ``allowed`` adds scripts
    to :data:`ALLOWED` ``[expected]``. ``mixed`` is ``foreign_chars >= max(min_chars, 1)``. Pure
    ASCII text is never mixed for an expected script that allows Latin (all of them). Non-string
    text gives an empty, unmixed report.

    >>> r = language_mixing("<answer>Fabry disease</answer> 以上が診断です。")
    >>> sorted(r.scripts), r.foreign_chars, r.mixed
    (['Han', 'Kana', 'Latin'], 8, True)
    >>> language_mixing("α-thalassemia, β-blocker, 5 µg").mixed
    False
    >>> language_mixing("诊断为法布里病 (Fabry disease)。", expected="Han").mixed
    False
    """
    if expected not in ALLOWED:
        raise ValueError(f"unknown script {expected!r}; expected one of {', '.join(SCRIPTS)}")
    ok = ALLOWED[expected]
    extra = frozenset(allowed)
    if extra:
        unknown = extra - set(SCRIPTS)
        if unknown:
            raise ValueError(f"unknown script(s) in allowed: {sorted(unknown)}")
        ok = ok | extra
    counts = script_counts(text)
    letters = sum(counts.values())
    foreign = sum(n for name, n in counts.items() if name not in ok)
    return ScriptReport(
        scripts=frozenset(counts),
        foreign_chars=foreign,
        foreign_share=foreign / letters if letters else 0.0,
        mixed=foreign >= max(min_chars, 1),
        letters=letters,
    )


def foreign_letter_count(text: str, expected: str = "Latin", *, allowed: Iterable[str] = ()) -> int:
    """``language_mixing(text, expected, allowed=allowed).foreign_chars``, looking only at non-ASCII characters.

    ASCII letters are Latin, which every expected script allows (:data:`ALLOWED`), so they are never
    foreign: the count needs no pass over the (mostly ASCII) rest of the text. Use it when only "is it
    mixed" matters (``foreign_letter_count(...) >= min_chars``); :func:`language_mixing` also gives the share.

    >>> foreign_letter_count("Fabry disease, 以上です。")  # 以上 (Han), です (Kana), 。 (Han punctuation)
    5
    >>> foreign_letter_count("α-thalassemia")
    0
    """
    if expected not in ALLOWED:
        raise ValueError(f"unknown script {expected!r}; expected one of {', '.join(SCRIPTS)}")
    if not isinstance(text, str) or text.isascii():
        return 0
    ok = ALLOWED[expected] | frozenset(allowed) if allowed else ALLOWED[expected]
    rest = text.encode("utf-8", "surrogatepass").translate(None, _ALL_ASCII).decode("utf-8", "surrogatepass")
    return sum(n for name, n in _count_runs(rest, {}).items() if name not in ok)
