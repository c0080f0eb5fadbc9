"""A ``Report`` as GitHub-ready Markdown, with its charts written as PNG files beside it.

Every string that comes from a bundle or the user (labels, model names, titles, notes) is escaped for
Markdown *and* inline HTML: GitHub sanitizes what it renders, but other renderers do not, and a table
cell must not be broken by a ``|``. Model outputs are not included (the HTML report has them, escaped);
a Markdown file is meant to be pasted and published.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.report.build import Report
from bench.report.charts import Chart, Omitted, render_png
from bench.report.layout import CATEGORY_COLUMNS, RUN_COLUMNS, TASK_COLUMNS
from bench.report.tables import TextTable
from bench.results.metrics.registry import FIELDS
from bench.textsafe import neutralize_controls

__all__ = ["aligned_md_table", "md_escape", "md_table", "render_markdown", "write_markdown"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#~!$])")  # $: GitHub renders $…$ as math


def md_escape(text: object) -> str:
    """Plain text → Markdown that renders as that text (no markup, no HTML, one line)."""
    s = str(text).replace("&", "&amp;").replace("\r", " ").replace("\n", " ")
    s = neutralize_controls(s)
    s = _MD_SPECIAL.sub(lambda m: {"<": "&lt;", ">": "&gt;"}.get(m.group(1), "\\" + m.group(1)), s)
    return s


def md_table(table: TextTable) -> str:
    if not table.columns:
        return ""
    head = "| " + " | ".join(md_escape(c.header) for c in table.columns) + " |"
    rule = "|" + "|".join("---:" if c.align == "right" else ":---" for c in table.columns) + "|"
    body = ["| " + " | ".join(md_escape(x) for x in row) + " |" for row in table.rows]
    lines = [head, rule, *body]
    if table.notes:
        lines.append("")
        lines += [f"- {md_escape(n)}" for n in table.notes]
    return "\n".join(lines)


def aligned_md_table(header: list[str], body: list[list[str]], right: set[int]) -> str:
    """A Markdown table padded to column width, as llama-bench prints it to a terminal (cells are trusted
    figures and names, not escaped; ``md_table`` is the escaping one for report files)."""
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        padded = (
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "| "
        + " | ".join(("-" * (w - 1) + ":") if i in right else "-" * w for i, w in enumerate(widths))
        + " |"
    )
    return "\n".join([fmt(header), rule, *(fmt(row) for row in body)])


def _definitions(names: list[str]) -> str:
    lines = ["| metric | unit | meaning |", "|:---|:---|:---|"]
    for name in dict.fromkeys(names):
        f = FIELDS[name]
        lines.append(f"| {md_escape(f.label)} | {md_escape(f.unit)} | {md_escape(f.description)} |")
    return "\n".join(lines)


def render_markdown(report: Report, chart_dir: str | None) -> str:
    """The Markdown text; charts are linked as ``chart_dir/<key>.png`` (None: no chart section)."""
    out = [f"# {md_escape(report.title)}", ""]
    out.append(f"Generated {md_escape(report.generated_utc)} by {md_escape(report.tool)}.")
    out.append("")
    for note in report.notes:
        out.append(f"> **Note:** {md_escape(note)}")
        out.append(">")
    if report.notes:
        out.pop()
        out.append("")
    out += ["## Runs", "", md_table(report.legend), ""]
    out += ["## Results per run", "", md_table(report.run_table), ""]
    if chart_dir is not None and report.charts:
        out += ["## Charts", ""]
        for ch in report.charts:
            out.append(f"### {md_escape(ch.title)}")
            out.append("")
            if isinstance(ch, Chart):
                out.append(f"![{md_escape(ch.title)}]({chart_dir}/{ch.key}.png)")
                out.append("")
                out.append(md_escape(ch.caption))
                if ch.table is not None:
                    out += ["", md_table(ch.table)]
            elif isinstance(ch, Omitted):
                out.append(f"*Not drawn:* {md_escape(ch.reason)}")
            out.append("")
    if report.batched_table is not None:
        out += ["## Parallel sequences (llama-batched-bench)", "", md_table(report.batched_table), ""]
    if report.benchmark_table is not None:
        out += ["## Public benchmarks", "", md_table(report.benchmark_table), ""]
    out += ["## Per category", "", md_table(report.category_table), ""]
    out += [
        "## Per task",
        "",
        f"<details><summary>{len(report.task_table.rows)} rows (task × run)</summary>",
        "",
        md_table(report.task_table),
        "",
        "</details>",
        "",
    ]
    out += ["## Provenance", "", md_table(report.provenance), ""]
    out += ["## Definitions", "", _definitions([*RUN_COLUMNS, *CATEGORY_COLUMNS, *TASK_COLUMNS]), ""]
    return "\n".join(out)


def write_markdown(report: Report, path: Path) -> list[Path]:
    """Write ``path`` and its charts (``<stem>-charts/*.png`` beside it); returns every file written."""
    chart_dir = path.parent / f"{path.stem}-charts"
    written = []
    drawn = [c for c in report.charts if isinstance(c, Chart)]
    if drawn:
        chart_dir.mkdir(parents=True, exist_ok=True)
        for ch in drawn:
            file = chart_dir / f"{ch.key}.png"
            file.write_bytes(render_png(ch))
            written.append(file)
    path.write_text(render_markdown(report, chart_dir.name), encoding="utf-8")
    return [path, *written]
