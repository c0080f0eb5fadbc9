"""Text tables → rich renderables for the terminal (the CLI prints them; nothing here prints)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from bench.report.tables import TextTable
from bench.textsafe import neutralize_controls

if TYPE_CHECKING:
    from rich.console import RenderableType

    from bench.report.build import Report

__all__ = ["report_view", "rich_table"]


def rich_table(table: TextTable, title: str | None = None) -> Table:
    """Same cells as the Markdown and HTML tables, drawn without borders like the after-run summary.

    Cells never wrap or get cut; a header wider than its column's values folds onto lines instead, so a
    wide report still fits a 160-column log.
    """
    out = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for i, c in enumerate(table.columns):
        widest = max((len(row[i]) for row in table.rows), default=0)
        header = "\n".join(textwrap.wrap(c.header, width=max(widest, 6), break_long_words=False))
        out.add_column(header or c.header, justify=c.align, no_wrap=True)
    for row in table.rows:
        out.add_row(*(neutralize_controls(c) for c in row))
    return out


def report_view(report: Report) -> list[RenderableType]:
    """What ``infercost report`` prints without ``-o``: title, the short run table, its notes."""
    view: list[RenderableType] = [
        Text(neutralize_controls(report.title), style="bold"),
        rich_table(report.terminal_table),
    ]
    view += [Text(f"  {neutralize_controls(note)}") for note in report.run_table.notes]
    if report.benchmark_table is not None:  # public benchmarks: the quality figure per category
        view.append(rich_table(report.benchmark_table))
        view += [Text(f"  {neutralize_controls(note)}") for note in report.benchmark_table.notes]
    view.append(Text("  All columns, charts and provenance: -o report.html or -o report.md"))
    return view
