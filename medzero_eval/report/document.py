"""The report as a list of blocks (headings, paragraphs, tables, images, code) rendered to Markdown and HTML.

Text that comes from the data (model outputs, golds, reasons, prompts) is wrapped in :class:`Code`:
in Markdown it becomes a code span or a fenced block, shown verbatim (``<think>`` stays ``<think>``,
nothing is HTML-escaped); in HTML it is escaped. Images are files beside ``report.md`` and are
embedded in ``report.html`` as base64 data URIs, so the HTML file stands alone.
"""

from __future__ import annotations

import base64
import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.8em 0;font-size:0.88em;display:block;overflow-x:auto}"
    "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
    "td{max-width:34em}td.nw{white-space:nowrap}td code{overflow-wrap:anywhere}th{background:#f3f3f3}"
    "code{background:#f4f4f4;padding:0 2px;font-size:0.92em}"
    "pre{background:#f6f6f6;border:1px solid #ddd;padding:0.6em;white-space:pre-wrap;overflow-wrap:anywhere}"
    "img{max-width:100%;border:1px solid #eee}.figs{display:flex;flex-wrap:wrap;gap:8px}"
    ".figs img{max-width:49%}.warning{background:#fff4e5;border-left:4px solid #f0a020;padding:0.4em 0.8em}"
)


@dataclass(frozen=True)
class Code:
    """Verbatim text from the data: a code span in a table or paragraph, escaped in HTML."""

    text: str


Cell = Union[str, Code]


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell]]


@dataclass
class Image:
    path: Path  # the PNG file
    rel: str  # its path relative to report.md
    alt: str


@dataclass
class Doc:
    """An ordered list of blocks; :meth:`markdown` and :meth:`html` render the same content."""

    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def para(self, *parts: Cell) -> None:
        """A paragraph of plain text and :class:`Code` parts, joined as given."""
        self.blocks.append(("p", list(parts)))

    def warning(self, text: str) -> None:
        self.blocks.append(("warn", text))

    def table(self, header: list[str], rows: list[list[Cell]]) -> None:
        self.blocks.append(("table", Table(header, rows)))

    def images(self, images: list[Image]) -> None:
        """A row of figures (side by side in HTML)."""
        if images:
            self.blocks.append(("img", images))

    def pre(self, text: str) -> None:
        """A verbatim block (a model output)."""
        self.blocks.append(("pre", text))

    def markdown(self) -> str:
        out: list[str] = []
        for kind, value in self.blocks:
            if kind == "h":
                level, text = value  # type: ignore[misc]
                out.append("#" * level + " " + md_text(text))
            elif kind == "p":
                out.append("".join(md_inline(p) for p in value))  # type: ignore[union-attr]
            elif kind == "warn":
                out.append("> **Warning:** " + md_text(str(value)))
            elif kind == "img":
                out.append("\n".join(f"![{md_text(i.alt)}]({i.rel})" for i in value))  # type: ignore[union-attr]
            elif kind == "pre":
                out.append(md_fence(str(value)))
            else:
                t: Table = value  # type: ignore[assignment]
                out.append("| " + " | ".join(md_cell(h) for h in t.header) + " |")
                out.append("|" + "|".join("---" for _ in t.header) + "|")
                out.extend("| " + " | ".join(md_cell(c) for c in row) + " |" for row in t.rows)
            out.append("")
        return "\n".join(out)

    def html(self, title: str) -> str:
        out = [
            "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>", f"<style>{_CSS}</style></head><body>",
        ]
        ids: Counter[str] = Counter()
        for kind, value in self.blocks:
            if kind == "h":
                level, text = value  # type: ignore[misc]
                ids[anchor(text)] += 1
                unique = anchor(text) + (f"-{ids[anchor(text)]}" if ids[anchor(text)] > 1 else "")
                out.append(f'<h{level} id="{unique}">{html.escape(text)}</h{level}>')
            elif kind == "p":
                out.append("<p>" + "".join(html_inline(p) for p in value) + "</p>")  # type: ignore[union-attr]
            elif kind == "warn":
                out.append(f'<p class="warning"><b>Warning:</b> {html.escape(str(value))}</p>')
            elif kind == "img":
                out.append('<div class="figs">' + "".join(
                    f'<img src="{data_uri(i.path)}" alt="{html.escape(i.alt)}" title="{html.escape(i.alt)}">'
                    for i in value  # type: ignore[union-attr]
                ) + "</div>")
            elif kind == "pre":
                out.append(f"<pre>{html.escape(str(value))}</pre>")
            else:
                t: Table = value  # type: ignore[assignment]
                out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in t.header)
                           + "</tr></thead><tbody>")
                out.extend("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in t.rows)
                out.append("</tbody></table>")
        out.append("</body></html>")
        return "\n".join(out)


def md_text(text: str) -> str:
    """Plain text for Markdown: ``\\``, ``|``, ``<``, `````` and ``*`` backslash-escaped, so it reads literally.

    >>> md_text("a|b <x>")
    'a\\\\|b \\\\<x>'
    """
    return re.sub(r"([\\|<`*])", r"\\\1", str(text))


def md_code(text: str) -> str:
    """``text`` on one line as a Markdown code span, verbatim (a fence longer than any backtick run inside).

    >>> md_code("<think>x</think>"), md_code("a `b` c"), md_code("")
    ('`<think>x</think>`', '``a `b` c``', '')
    """
    one_line = " ".join(str(text).split())
    if not one_line:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", one_line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"


def md_fence(text: str) -> str:
    """A fenced ``text`` block, verbatim; the fence is longer than any backtick run in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def md_inline(part: Cell) -> str:
    return md_code(part.text) if isinstance(part, Code) else md_text(part)


def md_cell(part: Cell) -> str:
    """A table cell: one line; a pipe is escaped (also inside a code span, as GFM tables require)."""
    return md_code(part.text).replace("|", "\\|") if isinstance(part, Code) else md_text(part)


def html_inline(part: Cell) -> str:
    if isinstance(part, Code):
        return f"<code>{html.escape(part.text)}</code>" if part.text else ""
    return html.escape(part)


def _html_cell(part: Cell) -> str:
    """A table cell; short plain text (numbers, labels such as ``33.3 % ± 4.1``) does not wrap."""
    short = not isinstance(part, Code) and len(part) <= 24
    return ('<td class="nw">' if short else "<td>") + html_inline(part) + "</td>"


def anchor(text: str) -> str:
    """An id for a heading: lower-case words joined by ``-``."""
    return re.sub(r"[^\w]+", "-", text.lower()).strip("-")


def data_uri(path: Path) -> str:
    """A PNG file as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
