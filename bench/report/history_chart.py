"""A metric over time as a picture: one line per device, change points ringed (``infercost history -o``).

The terminal gets a text chart (``text_bars``); ``-o FILE.png``/``.svg`` a matplotlib chart; ``-o FILE.md``
a Markdown page with the table and the chart beside it (the fleet workflow's history page).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.results.db.history import HistoryPoint
from bench.results.metrics.registry import Field

__all__ = ["text_bars", "write_history"]

_BAR = 40


def text_bars(points: Sequence[HistoryPoint], spec: Field) -> list[str]:
    """One bar per run, scaled to the largest figure (shown in the registry's format); ◆ marks a change
    point."""
    top = max((p.value for p in points), default=0.0)
    lines = []
    for p in points:
        width = 0 if not top else max(0, round(_BAR * p.value / top))
        mark = " ◆" if p.change_point else ""
        lines.append(f"{p.started_utc[:16]:16} {'█' * width:<{_BAR}} {spec.format(p.value)}{mark}")
    return lines


def _figure(points: Sequence[HistoryPoint], spec: Field, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    for device in dict.fromkeys(p.device for p in points):
        series = [p for p in points if p.device == device]
        xs = list(range(len(points)))
        idx = [i for i, p in zip(xs, points, strict=True) if p.device == device]
        ax.plot(idx, [p.value for p in series], marker="o", ms=3, label=device)
        cps = [(i, p.value) for i, p in zip(idx, series, strict=True) if p.change_point]
        if cps:
            ax.scatter([c[0] for c in cps], [c[1] for c in cps], s=120, facecolors="none", edgecolors="red")
    step = max(1, len(points) // 8)
    ax.set_xticks(range(0, len(points), step))
    ax.set_xticklabels([p.started_utc[:10] for p in points][::step], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"{spec.label} ({spec.unit})" if spec.unit and spec.unit not in spec.label else spec.label)
    ax.set_title(title + " (red ring: significant change)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_history(
    points: Sequence[HistoryPoint], spec: Field, title: str, path: Path, table: Sequence[str]
) -> list[Path]:
    """Write the chart (.png/.svg) or a Markdown page with the table and the chart (.md)."""
    if path.suffix.lower() in (".png", ".svg"):
        _figure(points, spec, title, path)
        return [path]
    chart = path.with_suffix(".png")
    _figure(points, spec, title, chart)
    path.write_text(f"# {title}\n\n![{title}]({chart.name})\n\n" + "\n".join(table) + "\n", encoding="utf-8")
    return [path, chart]
