"""The report's charts (matplotlib, no pyplot: figures are built directly, so no GUI backend or global
state is involved). Each builder returns a ``Chart`` or an ``Omitted`` that says in one sentence why the
chart is not there (no run has energy data, no cloud run to break even against, ...): a missing chart is
never silent.

Charts that compare pass rates (Pareto, break-even) are drawn per suite: runs of different suites ran
different tasks, so their pass rates and costs per task do not share an axis.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.cost.enrich import EnrichOptions
from bench.report import breakeven
from bench.report.power_trace import read_power_trace
from bench.report.runs import Run
from bench.report.tables import Column, TextTable, frame_rows
from bench.results.metrics.display import ESTIMATE_MARK, usd
from bench.results.metrics.policy import TIMED
from bench.results.metrics.registry import FIELDS
from bench.results.schema import PowerFacts

__all__ = ["Chart", "ChartResult", "Omitted", "build_charts", "render_png", "render_svg"]

MAX_POWER_PANELS = 8
_RC: Any = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "infercost",  # stable ids: the same report twice gives the same SVG
    "svg.fonttype": "path",
}


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    caption: str
    figure: Figure
    table: TextTable | None = None  # the figures the chart draws, to read beside it (break-even volumes)


@dataclass(frozen=True)
class Omitted:
    key: str
    title: str
    reason: str


ChartResult = Chart | Omitted


def render_svg(chart: Chart) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        chart.figure.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


def render_png(chart: Chart, dpi: int = 144) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        chart.figure.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _colors(runs: Sequence[Run]) -> dict[str, Any]:
    cmap = matplotlib.colormaps["tab10"]
    return {r.label: cmap(i % 10) for i, r in enumerate(runs)}


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1) -> tuple[Figure, Any]:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _slug(text: str) -> str:
    """A file-name-safe key part (chart keys name the PNG files of a Markdown report)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60]


def _usd_axis(axis: Any) -> None:
    """Few ticks, in the registry's significant-digit format (costs per task are 1e-8..1e-2 USD)."""
    axis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
    axis.set_major_formatter(
        matplotlib.ticker.FuncFormatter(lambda x, _: _text(FIELDS["cost_per_task_usd"].format(x)))
    )


def _text(text: str) -> str:
    """Text for matplotlib: a dollar sign is a dollar, not the start of math."""
    return text.replace("$", r"\$")


def _names(labels: Sequence[str]) -> str:
    return ", ".join(labels)


def cost_per_success(runs: Sequence[Run], frame: pd.DataFrame) -> ChartResult:
    key, title = "cost-per-success", "Cost per successful task"
    usd = FIELDS["cost_per_success_usd"]
    rows = frame_rows(frame)
    have = [r for r in rows if r["cost_per_success_usd"] is not None]
    if not have:
        return Omitted(key, title, "No run has a cost per successful task: no prices, or no task passed.")
    colors = _colors(runs)
    estimated = {r.label for r in runs if r.energy_estimated and not r.manifest.device.is_cloud}
    fig, ax = _figure(7.5, 0.9 + 0.42 * len(have))
    ax = ax[0][0]
    labels = [r["run"] for r in have][::-1]
    values = [r["cost_per_success_usd"] for r in have][::-1]
    bars = ax.barh(labels, values, color=[colors[x] for x in labels])
    for bar, label, value in zip(bars, labels, values, strict=True):
        if label in estimated:
            bar.set_hatch("//")
        ax.annotate(
            " " + _text(usd.format(value)),
            (value, bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("USD per successful task (total cost / passed requests)")
    ax.set_xlim(0, max(values) * 1.3 or 1e-6)  # a $0 device: every bar is 0, the axis still needs a width
    _usd_axis(ax.xaxis)
    caption = "Lower is better."
    missing = [r["run"] for r in rows if r["cost_per_success_usd"] is None]
    if missing:
        caption += f" Not shown (no cost, or nothing passed): {_names(missing)}."
    if estimated & set(labels):
        caption += " Hatched: cost includes estimated (not measured) energy."
    return Chart(key, title, caption, fig)


def latency(runs: Sequence[Run], frame: pd.DataFrame) -> ChartResult:
    key, title = "latency", "Latency distributions"
    data: list[tuple[str, list[np.ndarray]]] = []
    for run in runs:
        ok = TIMED.select(run.records)  # model requests that succeeded, as the TTFT and e2e figures count
        ttft = np.asarray([r.ttft_ms for r in ok if r.ttft_ms is not None], dtype=float)
        e2e = np.asarray([r.e2e_ms for r in ok if r.e2e_ms is not None], dtype=float)
        if ttft.size or e2e.size:
            data.append((run.label, [ttft, e2e]))
    if not data:
        return Omitted(key, title, "No run has a successful request to time.")
    colors = _colors(runs)
    fig, axes = _figure(8.5, 1.0 + 0.45 * len(data), ncols=2)
    labels = [d[0] for d in data][::-1]
    for ax, idx, name in ((axes[0][0], 0, "TTFT (ms)"), (axes[0][1], 1, "end-to-end (ms)")):
        series = [d[1][idx] for d in data][::-1]
        positions = [i for i, s in enumerate(series) if s.size]
        box = ax.boxplot(
            [series[i] for i in positions],
            positions=positions,
            orientation="horizontal",
            whis=(5, 95),
            showfliers=False,
            widths=0.6,
            patch_artist=True,
            medianprops={"color": "black"},
        )
        for patch, i in zip(box["boxes"], positions, strict=True):
            patch.set_facecolor(colors[labels[i]])
            patch.set_alpha(0.75)
        ax.set_yticks(range(len(labels)), labels if idx == 0 else [""] * len(labels))
        ax.set_xlabel(name)
        values = np.concatenate([s for s in series if s.size])
        if values.size and values.min() > 0 and values.max() / values.min() > 30:
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    caption = "Boxes: quartiles and median; whiskers: 5th–95th percentile; measured requests that succeeded."
    return Chart(key, title, caption, fig)


def energy_vs_speed(runs: Sequence[Run], frame: pd.DataFrame) -> ChartResult:
    key, title = "energy-vs-speed", "Energy per task vs decode rate"
    rows = frame_rows(frame)
    have = [r for r in rows if r["energy_per_task_j"] is not None and r["decode_tps_mean"] is not None]
    if not have:
        return Omitted(key, title, "No run has energy per task: no power sensor ran.")
    colors = _colors(runs)
    estimated = {r.label for r in runs if r.energy_estimated}
    fig, ax = _figure(6.5, 4.2)
    ax = ax[0][0]
    for r in have:
        x, y = r["decode_tps_mean"], r["energy_per_task_j"]
        lo, hi = r.get("decode_tps_ci_low"), r.get("decode_tps_ci_high")
        xerr = [[max(x - lo, 0.0)], [max(hi - x, 0.0)]] if lo is not None and hi is not None else None
        est = r["run"] in estimated
        ax.errorbar(
            [x],
            [y],
            xerr=xerr,
            fmt="o",
            ms=8,
            capsize=3,
            color=colors[r["run"]],
            mfc="white" if est else colors[r["run"]],
            label=r["run"] + (" (estimated)" if est else ""),
        )
    ax.set_xlabel("decode tok/s (mean, 95% CI)")
    ax.set_ylabel("J per task (mean gross energy per request)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="best")
    caption = "Lower right is better: faster and less energy per task."
    if estimated & {r["run"] for r in have}:
        caption += " Hollow markers: estimated energy (a model, not a sensor)."
    missing = [r["run"] for r in rows if r not in have]
    if missing:
        caption += f" Not shown (no energy data): {_names(missing)}."
    return Chart(key, title, caption, fig)


def _pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Points no other point beats on both cost (lower) and pass rate (higher)."""
    front: list[tuple[float, float, str]] = []
    for cost, rate, label in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or rate > front[-1][1]:
            front.append((cost, rate, label))
    return front


def _suite_names(runs: Sequence[Run]) -> dict[str | None, str]:
    """suite hash → a display name, with a hash prefix where two suites share a name."""
    names = {r.suite_hash: r.suite_name for r in runs}
    ambiguous = len(set(names.values())) < len(names)
    return {h: n + (f" ({(h or '?')[:8]})" if ambiguous else "") for h, n in names.items()}


def pareto(runs: Sequence[Run], frame: pd.DataFrame) -> list[ChartResult]:
    colors = _colors(runs)
    names = _suite_names(runs)
    suites: dict[str | None, list[str]] = {}
    for run in runs:
        suites.setdefault(run.suite_hash, []).append(run.label)
    out: list[ChartResult] = []
    for suite_hash, labels in suites.items():
        suite = names[suite_hash]
        group = frame[frame["run"].isin(labels)]
        key = "pareto" if len(suites) == 1 else f"pareto-{_slug(suite)}"
        title = "Cost vs pass rate (Pareto frontier)" + (f": suite {suite}" if len(suites) > 1 else "")
        rows = frame_rows(group)
        have = [r for r in rows if r["cost_per_task_usd"] is not None and r["pass_rate"] is not None]
        if not have:
            out.append(Omitted(key, title, "No run of this suite has both a cost per task and a pass rate."))
            continue
        fig, ax = _figure(6.5, 4.2)
        ax = ax[0][0]
        for r in have:
            lo, hi = r.get("pass_rate_ci_low"), r.get("pass_rate_ci_high")
            p = r["pass_rate"]
            # clamped at 0: at 100% the Wilson upper end can round to 0.9999999999999999 < 1.0
            yerr = [[max(p - lo, 0.0)], [max(hi - p, 0.0)]] if lo is not None and hi is not None else None
            ax.errorbar(
                [r["cost_per_task_usd"]], [p], yerr=yerr, fmt="o", ms=8, capsize=3,
                color=colors[r["run"]], label=r["run"],
            )  # fmt: skip
        front = _pareto_front([(r["cost_per_task_usd"], r["pass_rate"], r["run"]) for r in have])
        ax.step(
            [f[0] for f in front], [f[1] for f in front], where="post", color="grey", ls="--", lw=1,
            label="Pareto frontier",
        )  # fmt: skip
        ax.set_xlabel("USD per task (mean cost of one request)")
        _usd_axis(ax.xaxis)
        ax.set_ylabel("pass rate (95% Wilson interval)")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(left=0)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.legend(fontsize=7, loc="best")
        caption = "Upper left is better. On the frontier: " + _names([f[2] for f in front]) + "."
        missing = [r["run"] for r in rows if r not in have]
        if missing:
            caption += f" Not shown (no cost): {_names(missing)}."
        out.append(Chart(key, title, caption, fig))
    return out


def breakeven_charts(
    runs: Sequence[Run], frame: pd.DataFrame, options: EnrichOptions | None = None
) -> list[ChartResult]:
    out: list[ChartResult] = []
    suites: dict[str | None, list[Run]] = {}
    for run in runs:
        suites.setdefault(run.suite_hash, []).append(run)
    names = _suite_names(runs)
    for members in suites.values():
        suite = names[members[0].suite_hash]
        key = "breakeven" if len(suites) == 1 else f"breakeven-{_slug(suite)}"
        title = "Break-even: monthly cost vs monthly tasks" + (f": suite {suite}" if len(suites) > 1 else "")
        local_runs = [r for r in members if not r.manifest.device.is_cloud]
        cloud_runs = [r for r in members if r.manifest.device.is_cloud]
        locals_, clouds, why = [], [], []
        for run in local_runs:
            line, reason = breakeven.local_line(run, options)
            if line is None:
                why.append(f"{run.label}: {reason}")
            else:
                locals_.append(line)
        for run in cloud_runs:
            cline, reason = breakeven.cloud_line(run)
            if cline is None:
                why.append(f"{run.label}: {reason}")
            else:
                clouds.append(cline)
        priced_note = None
        if not cloud_runs and local_runs:
            clouds, priced_note = breakeven.priced_cloud_lines(local_runs, options)
            if not clouds:
                out.append(Omitted(key, title, f"No cloud run of this suite, and {priced_note}."))
                continue
            title += " (cloud priced, not run)"
        if not local_runs:
            out.append(Omitted(key, title, "No local run of this suite in the report."))
            continue
        if not locals_ or not clouds:
            out.append(Omitted(key, title, "Inputs missing: " + "; ".join(why) + "."))
            continue
        out.append(_breakeven_figure(runs, key, title, locals_, clouds, why, priced_note))
    return out


def _breakeven_figure(
    runs: Sequence[Run],
    key: str,
    title: str,
    locals_: list[breakeven.LocalLine],
    clouds: list[breakeven.CloudLine],
    why: list[str],
    priced_note: str | None = None,
) -> Chart:
    colors = _colors(runs)
    palette = matplotlib.colormaps["Dark2"]
    points = [
        (loc, c, n)
        for loc in locals_
        for c in clouds
        if (n := loc.breakeven_tasks(c.usd_per_task)) is not None
    ]
    # Log scales on both axes: cloud prices span 100x (a small open model to a frontier one) and volumes
    # from a hobby's to the device's capacity; on linear axes the dearest line flattens every other one
    # and every break-even crowds into the corner. From a tenth of the smallest break-even (or of the
    # capacity / 1e4) up to the largest device's capacity, where the local lines end.
    capacity = 1.1 * max(loc.capacity_tasks for loc in locals_)
    lowest = min((n for _, _, n in points), default=capacity / 1e3)
    xmin = max(10 ** math.floor(math.log10(max(lowest / 10, 1.0))), 1.0)
    xmax = max(capacity, 10 * xmin)
    xs = np.geomspace(xmin, xmax, 200)
    fig, ax = _figure(7.0, 4.4)
    ax = ax[0][0]
    for loc in locals_:
        reach = xs[xs <= loc.capacity_tasks]
        ax.plot(
            reach,
            [loc.monthly_usd(n) for n in reach],
            color=colors[loc.run or loc.label],
            lw=2,
            label=f"{loc.label} (local)",
        )
        ax.plot(
            [loc.capacity_tasks],
            [loc.monthly_usd(loc.capacity_tasks)],
            "x",
            color=colors[loc.run or loc.label],
            ms=9,
        )
    for i, c in enumerate(clouds):
        ax.plot(
            xs,
            [c.monthly_usd(n) for n in xs],
            color=palette(i % 8) if c.priced_not_run else colors[c.label],
            lw=1.2 if c.priced_not_run else 2,
            ls="--",
            label=c.label if c.priced_not_run else f"{c.label} (cloud)",
        )
    served = [(loc, n) for loc, _c, n in points if n <= loc.capacity_tasks]
    for loc, n in served:
        ax.plot([n], [loc.monthly_usd(n)], "o", color="black", ms=5)
        if len(served) <= 4:  # more labels than that overlap; the table beside the chart has them
            ax.annotate(f" {n:,.0f}", (n, loc.monthly_usd(n)), fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tasks per month (log scale)")
    ax.set_ylabel("USD per month (log scale)")
    ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))
    ax.set_xlim(xmin, xmax)
    ax.legend(fontsize=7, loc="best")
    caption = (
        "Local: amortized price + idle power all month + net energy per task; cloud: cost per task × tasks. "
        "Dots: break-even volumes; ×: the most each local run serves. Both axes logarithmic. "
        "The volumes are in the table below."
    )
    if priced_note:
        caption += " " + priced_note
    return Chart(key, title, caption, fig, _volumes_table(locals_, clouds, why))


def _volumes_table(
    locals_: Sequence[breakeven.LocalLine], clouds: Sequence[breakeven.CloudLine], why: Sequence[str]
) -> TextTable:
    """The break-even chart as numbers: one row per cloud line, one column per local run, each cell the
    monthly volume where the two cost the same ("never": the API is cheaper per task than the device's
    energy alone; "> capacity": beyond what that run can serve); the last row each run's capacity."""
    columns = [
        Column("cloud", "cloud", "left"),
        Column("usd", "$/task"),
        Column("as_of", "price as of", "left"),
    ]
    columns += [Column(f"l{i}", f"{loc.run or loc.label}: tasks/month") for i, loc in enumerate(locals_)]
    rows = []
    for c in clouds:
        cells = []
        for loc in locals_:
            n = loc.breakeven_tasks(c.usd_per_task)
            mark = ESTIMATE_MARK if loc.estimated else ""
            if n is None:
                cells.append("never")
            elif n > loc.capacity_tasks:
                cells.append(f"> capacity ({mark}{n:,.0f})")
            else:
                cells.append(f"{mark}{n:,.0f}")
        rows.append([c.name or c.label, usd(c.usd_per_task), c.as_of or "–", *cells])
    rows.append(["capacity (most served)", "", "", *(f"{loc.capacity_tasks:,.0f}" for loc in locals_)])
    notes = [
        "never: the API costs less per task than the device's energy alone; > capacity: the volume where "
        "they would meet lies beyond what that run can serve at its measured throughput"
    ]
    if any(loc.estimated for loc in locals_):
        notes.append(f"{ESTIMATE_MARK} the run's energy is estimated (a model, not a sensor)")
    if why:
        notes.append("Not drawn: " + "; ".join(why))
    return TextTable(columns, rows, notes)


def power(runs: Sequence[Run], frame: pd.DataFrame) -> ChartResult:
    key, title = "power", "Power trace of each run"
    traces, problems = [], []
    for run in runs:
        for path in run.power_csvs:
            trace, reason = read_power_trace(path)
            if trace is None:
                problems.append(f"{run.label}: {reason}")
            else:
                traces.append((run, path, trace))
    if not traces:
        reason = "No run has a power trace (power.csv): no power sensor ran."
        if problems:
            reason = "No power trace could be read: " + "; ".join(problems) + "."
        return Omitted(key, title, reason)
    shown = traces[:MAX_POWER_PANELS]
    colors = _colors(runs)
    fig, axes = _figure(8.0, 0.6 + 1.5 * len(shown), nrows=len(shown))
    for ax_row, (run, path, trace) in zip(axes, shown, strict=True):
        ax = ax_row[0]
        color = colors[run.label]
        if trace.low_w is not None and trace.high_w is not None:
            ax.fill_between(trace.t_s, trace.low_w, trace.high_w, color=color, alpha=0.25, lw=0)
        ax.plot(trace.t_s, trace.power_w, color=color, lw=0.8)
        idle = next((m.power.idle_w for m in run.manifests if m.power is not None), None)
        if idle is not None:
            ax.axhline(idle, color="grey", ls=":", lw=1)
        sensor = (run.manifest.power or PowerFacts()).sensor or "?"
        name = run.label + (f" · {path.parent.name}" if run.pooled else "")
        ax.set_title(f"{name} — sensor {sensor}, {trace.n_samples:,} samples", loc="left", fontsize=8)
        ax.set_ylabel("W")
        ax.set_ylim(bottom=0)
    axes[-1][0].set_xlabel("seconds since the first sample")
    caption = (
        "Dotted: idle power measured before the run. Long traces are binned (line: mean; band: min–max)."
    )
    if len(traces) > len(shown):
        caption += f" {len(traces) - len(shown)} more trace(s) not drawn."
    if problems:
        caption += " Unreadable: " + "; ".join(problems) + "."
    return Chart(key, title, caption, fig)


def agent_time_split(runs: Sequence[Run], frame: pd.DataFrame) -> ChartResult:
    """Where each agent task's time went: model (TTFT + decode per call), tools, harness (the rest)."""
    key, title = "agent-time-split", "Where each agent task's time went"
    bars: list[tuple[str, float, float, float]] = []
    for run in runs:
        agents = [r for r in run.records if r.kind == "agent" and not r.warmup]
        for task_id in dict.fromkeys(r.task_id for r in agents):
            rs = [r for r in agents if r.task_id == task_id]
            mean = [
                float(np.mean([getattr(r, f) or 0.0 for r in rs])) for f in ("model_s", "tool_s", "harness_s")
            ]
            label = task_id if len(runs) == 1 else f"{run.label}: {task_id}"
            bars.append((label, mean[0], mean[1], mean[2]))
    if not bars:
        return Omitted(key, title, "No run has agent tasks.")
    fig, ax = _figure(7.5, 0.9 + 0.32 * len(bars))
    ax = ax[0][0]
    labels = [b[0] for b in bars][::-1]
    left = np.zeros(len(bars))
    for i, (part, color) in enumerate((("model", "#4c72b0"), ("tools", "#dd8452"), ("harness", "#8c8c8c"))):
        values = np.asarray([b[i + 1] for b in bars][::-1])
        ax.barh(labels, values, left=left, color=color, label=part)
        left += values
    ax.set_xlabel("seconds per task (mean over measured repetitions)")
    ax.legend(loc="lower right", fontsize=8)
    caption = (
        "Model: Σ dispatch → stream end over the task's model calls; tools: Σ tool wall time; harness: "
        "the rest of the task's wall time (prompt building, parsing, bookkeeping)."
    )
    return Chart(key, title, caption, fig)


def build_charts(
    runs: Sequence[Run], frame: pd.DataFrame, options: EnrichOptions | None = None
) -> list[ChartResult]:
    """Every chart of the report, in reading order."""
    single: list[Callable[[Sequence[Run], pd.DataFrame], ChartResult]] = [
        cost_per_success,
        latency,
        energy_vs_speed,
    ]
    out = [build(runs, frame) for build in single]
    out += pareto(runs, frame)
    out += breakeven_charts(runs, frame, options)
    out.append(power(runs, frame))
    if any(r.kind == "agent" for run in runs for r in run.records):
        out.append(agent_time_split(runs, frame))
    return out
