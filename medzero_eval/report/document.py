"""The report as a list of blocks (headings, paragraphs, tables, images) rendered to Markdown and HTML."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

@dataclass
class _Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class _Image:
    path: str
    alt: str


@dataclass
class _Doc:
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("table", _Table(header, rows)))

    def image(self, path: str, alt: str) -> None:
        self.blocks.append(("img", _Image(path, alt)))

    def markdown(self) -> str:
        out: list[str] = []
        for kind, value in self.blocks:
            if kind == "h":
                out.append("#" * value[0] + " " + value[1])
            elif kind == "p":
                out.append(value)
            elif kind == "img":
                out.append(f"![{value.alt}]({value.path})")
            else:
                out.append("| " + " | ".join(_md_cell(h) for h in value.header) + " |")
                out.append("|" + "|".join("---" for _ in value.header) + "|")
                out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in value.rows)
            out.append("")
        return "\n".join(out)

    def html(self, title: str) -> str:
        out = [
            "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
            "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
            "th{background:#f3f3f3}img{max-width:100%}</style></head><body>",
        ]
        for kind, value in self.blocks:
            if kind == "h":
                out.append(f"<h{value[0]}>{html.escape(value[1])}</h{value[0]}>")
            elif kind == "p":
                out.append(f"<p>{html.escape(value)}</p>")
            elif kind == "img":
                out.append(f'<p><img src="{html.escape(value.path)}" alt="{html.escape(value.alt)}"></p>')
            else:
                out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in value.header)
                           + "</tr></thead><tbody>")
                out.extend("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in value.rows)
                out.append("</tbody></table>")
        out.append("</body></html>")
        return "\n".join(out)


def _md_cell(text: str) -> str:
    """Table-safe Markdown: one line, pipes escaped, angle brackets as entities (``<think>`` stays visible)."""
    one_line = " ".join(str(text).split())
    return one_line.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


COUNT_METRICS = frozenset({"judge_calls", "judge_cache_hits", "tokens_in", "tokens_out"})


def format_number(value: float | None, metric: str = "") -> str:
    """How the report prints a metric: ``-`` when missing, counts (``n``, ``n_*``, judge calls/tokens) as
    integers, everything else with four decimals.

    >>> format_number(None), format_number(50.0, "accuracy0"), format_number(1 / 3), format_number(12.0, "n")
    ('-', '50.0000', '0.3333', '12')
    """
    if value is None:
        return "-"
    is_count = metric == "n" or metric.startswith("n_") or metric in COUNT_METRICS
    if is_count and float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}"


def excerpt(text: str, width: int = 160) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


def _strip_common_prefix(texts: Sequence[str]) -> list[str]:
    """Drop the prefix every prompt shares (system prompt, chat template) so excerpts show the case."""
    if len(texts) < 2:
        return list(texts)
    prefix_len = len(_common_prefix(texts))
    return [t[prefix_len:] for t in texts]


def _common_prefix(texts: Sequence[str]) -> str:
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]



def _safe_name(task: str) -> str:
    return re.sub(r"[^\w.-]+", "_", task)
