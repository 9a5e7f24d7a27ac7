"""How the report writes numbers and texts: rates as percentages, lengths in characters, times in seconds."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

# The official EHRSQL reliability scores are on a percentage scale already (and may be negative).
PERCENT_METRICS = frozenset({"accuracy0", "accuracy5", "accuracy10", "accuracyN"})
COUNT_METRICS = frozenset({"n", "judge_calls", "judge_cache_hits", "tokens_in", "tokens_out"})
LENGTH_METRICS = frozenset({"mean_length", "n_chars", "mean response characters"})
_FRACTION_RE = re.compile(r"(^top\d|_rate$|^rate_|accuracy$|^abstention_|_share$|^judge_agreement$|^correct$|"
                          r"^exact_match$|^acc$|_judged$)")


def is_fraction(metric: str) -> bool:
    """Whether ``metric`` is a rate in [0, 1] by the project's convention (shown as a percentage).

    >>> is_fraction("top1"), is_fraction("format_rate"), is_fraction("accuracy0"), is_fraction("mean_reward")
    (True, True, False, False)
    """
    return metric not in PERCENT_METRICS and bool(_FRACTION_RE.search(metric))


def as_percent(metric: str, value: float) -> float | None:
    """``value`` of ``metric`` on a 0-100 scale, or None when the metric is not a rate.

    A "fraction" metric above 1 was written on a percentage scale by an older version and is kept.

    >>> as_percent("top1", 0.25), as_percent("accuracy0", 50.0), as_percent("mean_reward", 0.5)
    (25.0, 50.0, None)
    """
    if metric in PERCENT_METRICS:
        return value
    if is_fraction(metric):
        return value if value > 1.0 + 1e-9 else 100.0 * value
    return None


def format_metric(value: float | None, metric: str = "", stderr: float | None = None) -> str:
    """A metric as the report prints it: rates as percentages (with the standard error when known),
    counts as integers, lengths in characters, anything else with three decimals; ``-`` when missing.

    >>> format_metric(1 / 3, "top1"), format_metric(0.5, "top1", 0.1), format_metric(50.0, "accuracy0")
    ('33.3 %', '50.0 % ± 10.0', '50.0 %')
    >>> format_metric(12.0, "n"), format_metric(163.5, "mean_length"), format_metric(-0.25, "mean_reward")
    ('12', '164 chars', '-0.250')
    >>> format_metric(None)
    '-'
    """
    if value is None:
        return "-"
    percent = as_percent(metric, value)
    if percent is not None:
        text = f"{percent:.1f} %"
        if stderr is not None:
            err = as_percent(metric, stderr) if value <= 1.0 + 1e-9 or metric in PERCENT_METRICS else stderr
            text += f" ± {err:.1f}"
        return text
    is_count = (metric in COUNT_METRICS or metric.startswith("n_")) and metric not in LENGTH_METRICS
    if is_count and float(value).is_integer():
        return str(int(value))
    if metric in LENGTH_METRICS:
        return f"{value:.0f} chars"
    return f"{value:.3f}"


def format_count(count: int, total: int) -> str:
    """``count`` of ``total`` with its share.

    >>> format_count(3, 10), format_count(0, 0)
    ('3 (30 %)', '0')
    """
    return f"{count} ({100 * count / total:.0f} %)" if total else str(count)


def format_seconds(seconds: float | None) -> str:
    """A duration for people.

    >>> format_seconds(7.25), format_seconds(125), format_seconds(3725), format_seconds(None)
    ('7.2 s', '2 min 05 s', '1 h 02 min', '-')
    """
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def excerpt(text: str, width: int = 160) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis.

    >>> excerpt("a\\n b   c"), excerpt("x" * 10, 5)
    ('a b c', 'xxxx…')
    """
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


# The user turn in prompts rendered by common chat templates (ChatML, Llama 3, Gemma, Mistral/Llama 2).
_TEMPLATE_USER_TURNS = (
    re.compile(r"<\|im_start\|>user\s*\n(.*?)(?:<\|im_end\|>|$)", re.DOTALL),
    re.compile(r"<\|start_header_id\|>user<\|end_header_id\|>\s*(.*?)(?:<\|eot_id\|>|$)", re.DOTALL),
    re.compile(r"<start_of_turn>user\s*\n(.*?)(?:<end_of_turn>|$)", re.DOTALL),
    re.compile(r"\[INST\](.*?)\[/INST\]", re.DOTALL),
)


def user_message(prompt: str) -> str:
    """The readable question in a logged prompt: the last user turn of a serialised chat (what lm-eval logs
    for API models under ``--apply_chat_template``) or of a prompt rendered by a ChatML / Llama 3 / Gemma /
    Mistral chat template (what ``--model hf`` logs), else the prompt itself.

    >>> user_message('[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Case: x"}]')
    'Case: x'
    >>> user_message("<|im_start|>system\\nBe brief.<|im_end|>\\n<|im_start|>user\\nCase: y<|im_end|>\\n")
    'Case: y'
    >>> user_message("Patient case: z")
    'Patient case: z'
    """
    text = prompt.strip()
    if text.startswith("[") and '"role"' in text[:200]:
        try:
            messages = json.loads(text)
        except json.JSONDecodeError:
            messages = None
        if isinstance(messages, list):
            turns = [m for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)]
            users = [m["content"] for m in turns if m.get("role") == "user"]
            if users or turns:
                return users[-1] if users else turns[-1]["content"]
    for pattern in _TEMPLATE_USER_TURNS:
        found = pattern.findall(text)
        if found:
            return found[-1].strip()
    return prompt


def strip_common_prefix(texts: Sequence[str]) -> list[str]:
    """Drop the prefix every text shares (a fixed instruction), from its last line break, so excerpts show the case.

    >>> strip_common_prefix(["Case:\\nfever", "Case:\\ncough"])
    ['fever', 'cough']
    """
    if len(texts) < 2:
        return list(texts)
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    cut = first.rfind("\n", 0, n) + 1  # keep whole lines of the case
    return [t[cut:] for t in texts]


def safe_name(task: str) -> str:
    """A task name usable in a file name.

    >>> safe_name("a/b c")
    'a_b_c'
    """
    return re.sub(r"[^\w.-]+", "_", task)
