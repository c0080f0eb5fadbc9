"""A ``Report`` as one self-contained HTML file: safe to open, safe to publish.

- Self-contained: CSS inline, charts as SVG ``data:`` URIs in ``<img>`` (an SVG loaded as an image can run
  no script), no JavaScript at all (``<details>`` collapses without it), no CDN or external font.
- Escaped: jinja2 with autoescape on and strict undefined variables; model outputs, labels, titles and
  every other string from a bundle or the command line go through it.
- Defence in depth: a Content-Security-Policy meta tag forbids scripts and every network fetch, so even
  an escaping mistake could not execute a payload or call home.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import jinja2
import markupsafe

from bench.report.build import Report
from bench.report.charts import Chart, render_svg
from bench.report.layout import CATEGORY_COLUMNS, RUN_COLUMNS, TASK_COLUMNS
from bench.report.tables import TextTable
from bench.results.metrics.registry import FIELDS, Field
from bench.textsafe import neutralize_controls

__all__ = ["finalize", "render_html", "write_html"]


def finalize(value: object) -> object:
    """Every ``{{ }}`` output: text with its control characters neutralized. Markup (a macro's output,
    built from parts that were finalized and escaped one by one) passes as it is: turned into plain text it
    would be escaped a second time, and every table would show its own tags."""
    if isinstance(value, markupsafe.Markup) or not isinstance(value, str):
        return value
    return neutralize_controls(value)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("bench.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=False,
    lstrip_blocks=False,
    finalize=finalize,
)


@dataclass(frozen=True)
class _ChartView:
    key: str
    title: str
    caption: str = ""
    reason: str = ""
    svg_b64: str = ""
    table: TextTable | None = None


def _chart_views(report: Report) -> list[_ChartView]:
    views = []
    for ch in report.charts:
        if isinstance(ch, Chart):
            svg = base64.b64encode(render_svg(ch)).decode("ascii")
            views.append(_ChartView(ch.key, ch.title, caption=ch.caption, svg_b64=svg, table=ch.table))
        else:
            views.append(_ChartView(ch.key, ch.title, reason=ch.reason))
    return views


def _definitions() -> list[Field]:
    return [FIELDS[n] for n in dict.fromkeys([*RUN_COLUMNS, *CATEGORY_COLUMNS, *TASK_COLUMNS])]


def render_html(report: Report, *, outputs_per_task: int = 3, output_chars: int = 2000) -> str:
    template = _ENV.get_template("report.html.j2")
    return template.render(
        report=report,
        charts=_chart_views(report),
        definitions=_definitions(),
        outputs_per_task=outputs_per_task,
        output_chars=output_chars,
    )


def write_html(
    report: Report, path: Path, *, outputs_per_task: int = 3, output_chars: int = 2000
) -> list[Path]:
    path.write_text(
        render_html(report, outputs_per_task=outputs_per_task, output_chars=output_chars), encoding="utf-8"
    )
    return [path]
