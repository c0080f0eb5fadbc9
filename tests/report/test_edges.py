"""Every view survives the edges (issue 20, part 9): a run where every task passes, where none does, of one
task and one repetition, on a device that costs $0, without prices, without energy, or where every request
failed, goes through every output: the run summary (table and ``--json``), the report (terminal,
Markdown, HTML, CSV, JSON), ``compare``, gate rules, ``choose``, break-even, and the database summary and
history. Each must finish and say what it shows; none may fall over (a priced run with every task
passing stopped ``report -o x.html`` with "'yerr' must not contain negative values").
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rich.console import Console

from bench.ci.choose import choose
from bench.ci.gate import RULE_METRICS, AbsoluteRule, Rules, evaluate_absolute, evaluate_gate, parse_rules
from bench.cli.db import derived_records
from bench.cli.jsonout import emit
from bench.cli.summary import print_summary
from bench.cost.breakeven import analyse
from bench.cost.enrich import enrich
from bench.cost.pricing import cloud_profiles
from bench.report.build import ReportOptions, build_report
from bench.report.compare import compare_runs, comparison_table
from bench.report.export import frame_json, write_csv
from bench.report.html import render_html
from bench.report.markdown import render_markdown
from bench.report.runs import load_run
from bench.report.summary import summarize
from bench.report.terminal import report_view
from bench.results.bundle import read_bundle
from bench.results.db.embedded import open_embedded
from bench.results.db.filters import parse_where
from bench.results.db.history import history
from bench.results.db.summary import summary
from bench.results.db.url import parse_store_url
from bench.results.metrics.registry import FIELDS
from tests.helpers import run_cli
from tests.helpers.bundles import LOCAL_DEVICE, request_bundle

# a view that survives only by a library's fallback (matplotlib widening an empty axis) fails here
pytestmark = pytest.mark.filterwarnings("error")

FREE = {**LOCAL_DEVICE, "name": "Paid-off box", "price_usd": 0.0, "kwh_usd": 0.0}
UNPRICED = {k: v for k, v in LOCAL_DEVICE.items() if k not in ("price_usd", "kwh_usd", "max_w")}
EDGES: dict[str, dict[str, Any]] = {
    "every task passes": {"passes": "all"},
    "no task passes": {"passes": "none"},
    "one task, one run": {"tasks": 1, "reps": 1},
    "a $0 device": {"device": FREE},
    "no prices": {"device": {**UNPRICED, "name": "Unpriced box"}},
    "no energy": {"energy": False},
    "every request fails": {"errors": True},
}


@pytest.fixture(scope="module")
def edge_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("edges")
    return {
        name: request_bundle(root, name.replace(" ", "-").replace("$", "usd").replace(",", ""), seed=i, **kw)
        for i, (name, kw) in enumerate(EDGES.items())
    }


@pytest.fixture(scope="module")
def store(edge_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    db = open_embedded(parse_store_url(f"duckdb:{tmp_path_factory.mktemp('db') / 'e.duckdb'}"))
    db.sync(next(iter(edge_runs.values())).parent, derive=derived_records)
    yield db
    db.close()


def _text(*renderables: Any) -> str:
    console = Console(width=250, record=True, file=io.StringIO())
    for r in renderables:
        console.print(r)
    return console.export_text()


@pytest.mark.parametrize("edge", list(EDGES))
def test_every_output_of_an_edge_run(
    edge: str, edge_runs: dict[str, Path], store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = edge_runs[edge]
    bundle = read_bundle(path)
    summary_doc = summarize(enrich(bundle), bundle.manifest, run_dir=str(path))
    print_summary(summary_doc)  # the after-run table and cost block
    emit("summary", summary_doc)  # run --json
    printed = capsys.readouterr().out
    doc = json.loads(printed[printed.index('{\n  "format"') :])
    run = load_run(path)
    assert doc["format"] == "infercost-summary/2" and doc["overall"]["n"] == run.metrics["n"]
    report = build_report([run], ReportOptions(now_utc="2026-11-26T12:00:00Z"))  # with charts
    md = render_markdown(report, "charts")
    page = render_html(report)
    terminal = _text(*report_view(report))
    buf = io.StringIO()
    write_csv(report.frame, buf)  # type: ignore[arg-type]
    csv = pd.read_csv(io.StringIO(buf.getvalue()))
    frame = json.loads(
        json.dumps(frame_json(report.frame, title="t", generated_utc="g", tool="x"), allow_nan=False)
    )
    rate = FIELDS["pass_rate"].format(run.metrics["pass_rate"])
    for text in (md, page, terminal):
        assert rate in text, (edge, rate)
    assert set(csv["level"]) >= {"run", "task"} and any(r["level"] == "run" for r in frame["rows"])
    # compare, gate, choose
    assert comparison_table(compare_runs(run, run)).rows
    for name in RULE_METRICS:
        op = ">=" if FIELDS[name].higher_is_better else "<="
        outcome = evaluate_absolute(AbsoluteRule(name, op, 0.0), run)
        assert outcome.status in ("pass", "fail", "no data") and outcome.value_text
    gate = evaluate_gate(parse_rules({"absolute": {"pass_rate": ">= 50%"}}, "g"), run)
    assert gate.outcomes[0].status == ("pass" if run.metrics["pass_rate"] >= 0.5 else "fail")
    choose([run], Rules("g", (), ()), by="latency" if run.metrics["e2e_p95_ms"] is not None else "cost")
    # break-even: an answer, or a one-line reason it has none
    clouds = [(k, p) for k, p in cloud_profiles()[0] if p.pricing == "tokens"]
    try:
        answer = analyse(run.records, run.manifest, clouds)
        assert answer["device"]["capacity_tasks_per_month"] > 0
    except Exception as exc:
        from bench.errors import BenchError

        assert isinstance(exc, BenchError) and "\n" not in str(exc), exc
    # the database: summary and history after `db sync`
    rid = bundle.manifest.run_id
    q = summary(store, parse_where([f"run={rid}"]))
    row = dict(zip(q.columns, q.rows[0], strict=True))
    assert FIELDS["pass_rate"].format(None if row["pass_rate"] is None else float(row["pass_rate"])) == rate
    points = history(store, "pass_rate", parse_where([f"run={rid}"]))
    assert [FIELDS["pass_rate"].format(p.value) for p in points if p.run_id == rid] in ([rate], [])


def test_edge_specifics(edge_runs: dict[str, Path]) -> None:
    every = load_run(edge_runs["every task passes"])
    assert every.metrics["pass_rate"] == 1.0 and every.metrics["pass_rate_ci_high"] <= 1.0
    none = load_run(edge_runs["no task passes"])
    assert none.metrics["pass_rate"] == 0.0 and none.metrics["cost_per_success_usd"] is None
    gate = evaluate_absolute(AbsoluteRule("cost_per_success_usd", "<=", 1.0), none)
    assert gate.status == "fail" and "no task passed" in gate.detail  # every dollar bought no success
    free = load_run(edge_runs["a $0 device"])
    assert free.metrics["cost_per_task_usd"] == 0.0 and FIELDS["cost_per_task_usd"].format(0.0) == "$0"
    unpriced = load_run(edge_runs["no prices"])
    assert unpriced.metrics["cost_per_task_usd"] is None
    report = build_report([unpriced], ReportOptions(now_utc="2026-11-26T12:00:00Z", charts=False))
    assert any("no prices" in n for n in report.run_table.notes)
    dark = load_run(edge_runs["no energy"])
    assert (
        dark.metrics["energy_per_task_j"] is None and dark.metrics["cost_per_task_usd"] is not None
    )  # max_w
    failed = load_run(edge_runs["every request fails"])
    assert failed.metrics["errors"] == failed.metrics["n"] and failed.metrics["decode_tps_mean"] is None


def test_report_html_of_a_priced_run_where_every_task_passes(
    edge_runs: dict[str, Path], tmp_path: Path
) -> None:
    """The issue's failure, end to end: `report -o x.html` exited 70 on this run."""
    out = tmp_path / "x.html"
    proc = run_cli("report", str(edge_runs["every task passes"]), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Cost vs pass rate (Pareto frontier)" in out.read_text() and "100%" in out.read_text()


def test_the_cost_block_says_what_was_priced(edge_runs: dict[str, Path]) -> None:
    """A local run's cost block opens with what a task cost on this machine and what that is made of, or
    why it has no figure, and then the one command that puts this machine beside the cloud table."""
    from bench.report import cost_view

    def summary_of(name: str) -> dict[str, Any]:
        bundle = read_bundle(edge_runs[name])
        return summarize(enrich(bundle), bundle.manifest, run_dir=str(edge_runs[name]))

    priced = summary_of("every task passes")
    head = cost_view.cost_header(priced) or ""
    per_task = FIELDS["cost_per_task_usd"].format(priced["overall"]["cost_per_task_usd"])
    assert head.startswith(f"cost on this machine: {per_task}/task = measured energy at $0.16/kWh")
    assert "its price $1,000 (profile" in head and cost_view.local_hint(priced) is None
    table = cost_view.cloud_table(priced)
    assert table is not None and "this machine (this run)" in _text(table)
    unpriced = summary_of("no prices")
    head = cost_view.cost_header(unpriced) or ""
    assert head == "cost on this machine: not priced: no electricity price and the device's price is unknown"
    hint = cost_view.local_hint(unpriced) or ""
    assert hint.startswith(
        f"this machine beside them: infercost breakeven {edge_runs['no prices']} --hardware-usd"
    )
    assert "this machine (this run)" not in _text(cost_view.cloud_table(unpriced))
