"""A sweep read back: the table with Pareto marks, ``report SWEEP_DIR`` (HTML, Markdown, JSON) and
``choose SWEEP_DIR``. The sweep is assembled from recorded bundles (tests/fixtures/bundles), so no engine
runs; the engine tests (tests/run/test_sweep_engine.py) make real ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.report.sweep_table import load_sweep, sweep_table
from bench.results.sweep import SweepCell, SweepManifest, write_sweep
from tests.helpers import FIXTURES, run_cli

BUNDLES = FIXTURES / "bundles"


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    """Four cells: two priced runs (one sampled, one estimated energy), an unpriced one, a failed one."""
    cells = []
    for i, (name, settings) in enumerate(
        [
            ("smollm2-mini-priced", {"model": "smollm2-135m", "threads": 2}),
            ("gemma3-mini-priced", {"model": "gemma3-270m", "threads": 2}),
            ("smollm2-mini", {"model": "smollm2-135m", "threads": 1}),
        ]
    ):
        shutil.copytree(BUNDLES / name, tmp_path / "cells" / f"c0{i}")
        cells.append(
            SweepCell(id=f"c0{i}", settings=settings, path=f"cells/c0{i}", status="done", attempts=1)
        )
    cells.append(
        SweepCell(
            id="c03",
            settings={"model": "gemma3-270m", "threads": 1},
            path="cells/c03",
            status="failed",
            error="llama.cpp could not create a context (n_ctx=1048576): out of memory",
        )
    )
    m = SweepManifest(
        sweep_id="test-sweep", created_utc="2026-11-28T00:00:00Z", suite="mini", suite_hash="x",
        device="auto", axes={"model": ["smollm2-135m", "gemma3-270m"], "threads": [2, 1]},
        order=["c02", "c00", "c03", "c01"], seed=1, cells=cells,
    )  # fmt: skip
    write_sweep(tmp_path, m)
    return tmp_path


def test_table_marks_fronts_and_dominated_cells(sweep_dir: Path) -> None:
    view = load_sweep(sweep_dir)
    rows = {r.cell_id: r for r in view.rows}
    priced = [rows["c00"], rows["c01"]]
    for r in priced:
        assert r.metrics["cost_per_success_usd"] is not None and r.metrics["e2e_p95_ms"] is not None
    # the front is computed from the figures, not assumed: recompute it by hand
    a, b = (r.metrics for r in priced)
    a_beats_b = a["cost_per_success_usd"] <= b["cost_per_success_usd"] and a["e2e_p95_ms"] <= b["e2e_p95_ms"]
    b_beats_a = b["cost_per_success_usd"] <= a["cost_per_success_usd"] and b["e2e_p95_ms"] <= a["e2e_p95_ms"]
    assert rows["c00"].fronts["cost"] == (not b_beats_a)
    assert rows["c01"].fronts["cost"] == (not a_beats_b)
    assert rows["c00"].fronts["cost"] or rows["c01"].fronts["cost"]
    assert not rows["c02"].fronts["cost"] and not rows["c02"].dominated  # no price: on no front, not judged
    assert rows["c03"].status == "failed" and rows["c03"].run is None
    table = sweep_table(view)
    header = [c.header for c in table.columns]
    assert header[:4] == ["cell", "model", "threads", "status"] and header[-1] == "Pareto"
    for key in (
        "pass",
        "TTFT p95 ms",
        "tok/s per stream",
        "tok/s aggregate",
        "J/task",
        "$/task",
        "$/success",
    ):
        assert key in header
    marks = {row[0]: row[-1] for row in table.rows}
    assert any(m.startswith("*") and "$" in m for m in marks.values())
    assert any("c03 failed: llama.cpp could not create a context" in n for n in table.notes)


def test_report_sweep_dir_writes_html_markdown_and_json(sweep_dir: Path, tmp_path: Path) -> None:
    html = tmp_path / "sweep.html"
    proc = run_cli("report", str(sweep_dir), "-o", str(html))
    assert proc.returncode == 0, proc.stderr
    text = html.read_text()
    assert "Pareto front: $/success vs latency p95" in text and "data:image/svg+xml;base64," in text
    assert "Pareto front: J/task vs latency p95" in text
    assert "Concurrency is not an axis of this sweep." in text  # the missing chart says why
    assert 'class="dominated"' in text or 'class="front"' in text
    assert "<script" not in text
    md = tmp_path / "md" / "sweep.md"
    md.parent.mkdir()
    assert run_cli("report", str(sweep_dir), "-o", str(md)).returncode == 0
    assert (tmp_path / "md" / "sweep-pareto-cost.png").stat().st_size > 1000
    assert "| c03 |" in md.read_text()
    proc = run_cli("report", str(sweep_dir), "--json")
    doc = json.loads(proc.stdout)
    assert [c["id"] for c in doc["cells"]] == ["c00", "c01", "c02", "c03"]
    assert doc["cells"][3]["status"] == "failed"
    proc = run_cli("report", str(sweep_dir))  # the terminal table
    assert proc.returncode == 0 and "Pareto" in proc.stdout and "c03" in proc.stdout


def test_choose_picks_among_done_cells(sweep_dir: Path, tmp_path: Path) -> None:
    rules = tmp_path / "gate.toml"
    rules.write_text('[absolute]\npass_rate = ">= 0%"\n')
    proc = run_cli("choose", str(sweep_dir), "--rules", str(rules), "--by", "cost", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    view = load_sweep(sweep_dir)
    cheapest = min(
        (r for r in view.rows if r.metrics.get("cost_per_success_usd") is not None),
        key=lambda r: r.metrics["cost_per_success_usd"],
    )
    assert doc["winner"].startswith(cheapest.cell_id + " ")
    labels = [c["label"] for c in doc["candidates"]]
    assert sorted(label.split()[0] for label in labels) == ["c00", "c01", "c02"]  # the failed cell is not one
    assert "cell c03 (model=gemma3-270m threads=1) is not a candidate: failed" in proc.stderr


def test_throughput_chart_draws_one_line_per_other_setting(tmp_path: Path) -> None:
    from bench.report.charts import Chart, render_svg
    from bench.report.sweep_table import SweepRow, SweepView
    from bench.report.sweep_view import sweep_charts

    cells = [
        SweepCell(id=f"c0{i}", settings={"threads": t, "concurrency": c}, path=f"cells/c0{i}", status="done")
        for i, (t, c) in enumerate([(1, 1), (1, 4), (2, 1), (2, 4)])
    ]
    m = SweepManifest(
        sweep_id="s", created_utc="2026-11-28T00:00:00Z", suite="mini", suite_hash="x", device="srv",
        axes={"threads": [1, 2], "concurrency": [1, 4]}, order=[c.id for c in cells], cells=cells,
    )  # fmt: skip
    rows = []
    for c in cells:
        conc = c.settings["concurrency"]
        metrics = {
            "output_tps_total": 10.0 * conc,
            "decode_tps_mean": 12.0 - conc,
            "e2e_p95_ms": 100.0 * conc,
        }
        rows.append(SweepRow(c.id, c.settings, "done", None, tmp_path, metrics=metrics))
    charts = {ch.key: ch for ch in sweep_charts(SweepView(tmp_path, m, rows))}
    chart = charts["throughput"]
    assert isinstance(chart, Chart)
    ax = chart.figure.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [
        "threads=1 aggregate", "threads=1 per stream", "threads=2 aggregate", "threads=2 per stream"
    ]  # fmt: skip
    assert list(ax.get_lines()[0].get_ydata()) == [10.0, 40.0]
    assert render_svg(chart).startswith(b"<?xml")
    assert "No cell has both figures" in charts["pareto-cost"].reason  # type: ignore[union-attr]
