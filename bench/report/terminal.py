"""Text tables → rich tables for the terminal (the CLI prints them; nothing here prints)."""

from __future__ import annotations

import textwrap

from rich.table import Table

from bench.report.tables import TextTable

__all__ = ["rich_table"]


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
        out.add_row(*row)
    return out
