"""``infercost report SWEEP_DIR``: the sweep's table with its Pareto marks, and its charts.

Three charts, each a ``Chart`` or an ``Omitted`` that says why it is missing (as ``bench.report.charts``):

- the cost front: $/success against latency p95, one point per done cell, the front joined by a line
  and its cells named, dominated cells grey;
- the energy front: J/task against latency p95, the same way;
- throughput against concurrency: aggregate output tok/s (and per-stream decode tok/s, dashed) against
  ``concurrency``, one line per combination of the other axes (only when concurrency is an axis).

The HTML page is self-contained and script-free like the run report (same CSP, autoescaped jinja2).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from bench import __version__
from bench.report.charts import Chart, ChartResult, Omitted, _figure, render_png, render_svg
from bench.report.html import finalize
from bench.report.markdown import md_escape, md_table
from bench.report.sweep_table import FRONTS, SweepRow, SweepView, sweep_table

__all__ = ["sweep_charts", "write_sweep_report"]

_AXIS_LABEL = {
    "cost_per_success_usd": "$ per successful task",
    "energy_per_task_j": "J per task",
    "e2e_p95_ms": "latency p95 (ms, end to end)",
}
_FRONT_TITLE = {
    "cost": "Pareto front: $/success vs latency p95",
    "energy": "Pareto front: J/task vs latency p95",
}


def _front_chart(view: SweepView, name: str) -> ChartResult:
    y_key, x_key = FRONTS[name]
    key, title = f"pareto-{name}", _FRONT_TITLE[name]
    rows = [r for r in view.rows if r.metrics.get(x_key) is not None and r.metrics.get(y_key) is not None]
    if not rows:
        what = "a price" if name == "cost" else "a power sensor"
        return Omitted(
            key, title, f"No cell has both figures: the cells ran without {what} (or none passed)."
        )
    fig, axes = _figure(7.5, 4.6)
    ax = axes[0][0]
    on = [r for r in rows if r.fronts.get(name)]
    off = [r for r in rows if not r.fronts.get(name)]
    ax.scatter(
        [r.metrics[x_key] for r in off], [r.metrics[y_key] for r in off], color="#9aa4ad", label="dominated"
    )
    front = sorted(on, key=lambda r: r.metrics[x_key])
    ax.plot(
        [r.metrics[x_key] for r in front],
        [r.metrics[y_key] for r in front],
        marker="o",
        color="#0969da",
        label="Pareto front",
    )
    for r in rows:
        ax.annotate(
            r.cell_id,
            (r.metrics[x_key], r.metrics[y_key]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    ax.set_xlabel(_AXIS_LABEL[x_key])
    ax.set_ylabel(_AXIS_LABEL[y_key])
    ax.legend(loc="best", fontsize=8)
    names = ", ".join(f"{r.cell_id} ({r.label})" for r in front)
    caption = f"Lower left is better on both. On the front: {names}. Grey cells are beaten on both by one."
    return Chart(key, title, caption, fig)


def _series_label(row: SweepRow, axes: Sequence[str]) -> str:
    parts = [f"{a}={row.settings[a]}" for a in axes if a != "concurrency" and a in row.settings]
    return " ".join(parts) or "all cells"


def _throughput_chart(view: SweepView) -> ChartResult:
    key, title = "throughput", "Throughput vs concurrency"
    if "concurrency" not in view.axes:
        return Omitted(key, title, "Concurrency is not an axis of this sweep.")
    rows = [r for r in view.rows if r.metrics.get("output_tps_total") is not None]
    if not rows:
        return Omitted(key, title, "No cell under any concurrency finished.")
    series: dict[str, list[SweepRow]] = {}
    for r in rows:
        series.setdefault(_series_label(r, view.axes), []).append(r)
    fig, axes = _figure(7.5, 4.6)
    ax = axes[0][0]
    for i, (label, members) in enumerate(series.items()):
        members.sort(key=lambda r: r.settings["concurrency"])
        xs = [r.settings["concurrency"] for r in members]
        color = f"C{i % 10}"
        ax.plot(
            xs,
            [r.metrics["output_tps_total"] for r in members],
            marker="o",
            color=color,
            label=f"{label} aggregate",
        )
        per = [r.metrics.get("decode_tps_mean") for r in members]
        if all(v is not None for v in per):
            ax.plot(xs, per, marker=".", linestyle="--", color=color, label=f"{label} per stream")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({r.settings["concurrency"] for r in rows}))
    ax.get_xaxis().set_major_formatter("{x:g}")
    ax.set_xlabel("concurrency (requests in flight)")
    ax.set_ylabel("output tok/s")
    ax.legend(loc="best", fontsize=7)
    caption = (
        "Aggregate: completion tokens of all streams per second of the measured window; per stream: the "
        "mean decode rate of one request. Failed cells (e.g. a device that refused the concurrency) "
        "have no point."
    )
    return Chart(key, title, caption, fig)


def sweep_charts(view: SweepView) -> list[ChartResult]:
    return [_front_chart(view, "cost"), _front_chart(view, "energy"), _throughput_chart(view)]


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("bench.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    finalize=finalize,  # every {{ }} output, as the report's
)


def _context(view: SweepView, title: str | None) -> dict[str, Any]:
    m = view.manifest
    return {
        "title": title or f"Sweep {m.sweep_id}",
        "tool": f"infercost {__version__}",
        "generated_utc": dt.datetime.now(dt.timezone.utc)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "manifest": m,
        "table": sweep_table(view),
        "dominated": {r.cell_id for r in view.rows if r.dominated},
        "failed": {r.cell_id for r in view.rows if r.status not in ("done", "pending", "running")},
        "front": {r.cell_id for r in view.rows if any(r.fronts.values())},
        "n_done": sum(1 for r in view.rows if r.status == "done"),
        "n_failed": sum(1 for r in view.rows if r.status == "failed"),
    }


def render_sweep_html(view: SweepView, title: str | None = None) -> str:
    charts = []
    for ch in sweep_charts(view):
        if isinstance(ch, Chart):
            charts.append(
                {
                    "title": ch.title,
                    "caption": ch.caption,
                    "reason": "",
                    "svg": base64.b64encode(render_svg(ch)).decode(),
                }
            )
        else:
            charts.append({"title": ch.title, "caption": "", "reason": ch.reason, "svg": ""})
    return _ENV.get_template("sweep.html.j2").render(**_context(view, title), charts=charts)


def render_sweep_markdown(view: SweepView, path: Path, title: str | None = None) -> tuple[str, list[Path]]:
    ctx = _context(view, title)
    table = ctx["table"]
    m = view.manifest
    lines = [
        f"# {md_escape(ctx['title'])}",
        "",
        f"Suite `{m.suite}` · {len(m.cells)} cells · {ctx['n_done']} done · {ctx['n_failed']} failed"
        f" · run order seed {m.seed}",
        "",
    ]
    lines += [*md_table(table).splitlines(), ""]
    written: list[Path] = []
    for ch in sweep_charts(view):
        lines.append(f"## {ch.title}")
        if isinstance(ch, Chart):
            png = path.with_name(f"{path.stem}-{ch.key}.png")
            png.write_bytes(render_png(ch))
            written.append(png)
            lines += ["", f"![{ch.title}]({png.name})", "", ch.caption, ""]
        else:
            lines += ["", f"_{ch.reason}_", ""]
    return "\n".join(lines) + "\n", written


def write_sweep_report(view: SweepView, path: Path, title: str | None = None) -> list[Path]:
    """Write ``path`` (.html: one self-contained file; .md: Markdown with PNG charts beside it)."""
    if path.suffix.lower() in (".md", ".markdown"):
        text, written = render_sweep_markdown(view, path, title)
        path.write_text(text, encoding="utf-8")
        return [path, *written]
    path.write_text(render_sweep_html(view, title), encoding="utf-8")
    return [path]
