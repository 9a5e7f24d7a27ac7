"""Reading the answer out of a completion: the answer block (per preset) and the language check.

* preset ``recommended``: :func:`~medzero_rewards.parsing.parse_completion` (the last complete
  ``<answer>`` block, partial format credit);
* preset ``diagnosis_zero``: :func:`seed_answer`, what the seed's ``<answer>(.*?)</answer>`` search
  (first match, DOTALL) finds, in linear time.
"""

from __future__ import annotations

from medzero_rewards.language import foreign_letter_count, language_mixing

__all__ = ["LanguageCheck", "seed_answer"]

_OPEN, _CLOSE = "<answer>", "</answer>"
_MIN_FOREIGN = 2  # foreign letters that make a part "mixed" (language_mixing's default min_chars)


def seed_answer(text: str) -> str | None:
    """``re.search(r"<answer>(.*?)</answer>", text, re.DOTALL).group(1)`` (None when it finds
    nothing), in two ``str.find`` calls.

    The regex tries every ``<answer>`` and scans to the end of the text from each when there is no
    ``</answer>`` after it (quadratic); its first match is always the first ``<answer>`` with the
    first ``</answer>`` after it, and when that ``<answer>`` has none, no later one has either.

    >>> seed_answer("<answer>a</answer><answer>b</answer>"), seed_answer("<answer><answer>x</answer>")
    ('a', '<answer>x')
    >>> seed_answer("<answer>open"), seed_answer("<answer></answer>")
    (None, '')
    """
    start = text.find(_OPEN)
    if start < 0:
        return None
    start += len(_OPEN)
    end = text.find(_CLOSE, start)
    return None if end < 0 else text[start:end]


class LanguageCheck:
    """Which parts of a completion mix scripts (``expected_script`` and the ``language_penalty`` rule).

    >>> LanguageCheck("Latin", share=False)((("think", "fever"), ("answer", "法布里病")))
    (['answer'], 0.0)
    """

    def __init__(self, expected_script: str = "Latin", *, share: bool = False) -> None:
        self.expected = expected_script
        self.share = share

    def __call__(self, parts: tuple[tuple[str, str | None], ...]) -> tuple[list[str], float]:
        """(names of the parts that mix scripts, the largest foreign-letter share; 0.0 unless
        ``share``, the only place it is used)."""
        expected = self.expected
        mixed_in: list[str] = []
        share = 0.0
        for part_name, part in parts:
            if not part or (expected == "Latin" and part.isascii()):
                continue
            if self.share:
                rep = language_mixing(part, expected)
                if rep.mixed:
                    mixed_in.append(part_name)
                    share = max(share, rep.foreign_share)
            elif foreign_letter_count(part, expected) >= _MIN_FOREIGN:
                mixed_in.append(part_name)
        return mixed_in, share
