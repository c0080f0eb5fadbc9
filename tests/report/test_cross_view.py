"""One figure, one value: every view of a run shows the same pass rate, $/task, $/success, J/task, decode
tok/s, TTFT p50, break-even volume and capacity, to display rounding (issue 20, "how we will know").

For bundles of every kind (in-process, HTTP priced as a cloud API, an agent run with tools and cache
reads/writes, its trace replay, a concurrent run, a sweep), each figure is read from every view that shows
it: the run summary (``run`` / ``run --json``), the report (its frame, and the tables the terminal,
Markdown, HTML, CSV and JSON outputs draw), ``compare``, gate rules, ``choose``, history and the database
summary after ``db sync``, the sweep table, and break-even (answer and report chart). Each value is shown
through the field registry's format; the test asserts one string per figure per run. Property-based
tests then do the same over generated records, Python against SQL.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.ci.choose import choose
from bench.ci.gate import AbsoluteRule, Rules, evaluate_absolute
from bench.cli.db import derived_records
from bench.cost.breakeven import analyse
from bench.cost.enrich import enrich
from bench.cost.levels import MeasuredLevel, analyse_levels
from bench.cost.pricing import cloud_profiles
from bench.report.build import ReportOptions, build_report
from bench.report.charts import Chart
from bench.report.compare import compare_runs
from bench.report.export import frame_json, write_csv
from bench.report.html import render_html
from bench.report.markdown import render_markdown
from bench.report.runs import Run, load_run
from bench.report.summary import summarize
from bench.report.sweep_table import load_sweep, sweep_table
from bench.report.tables import TextTable, header
from bench.results.bundle import BundleWriter, read_bundle
from bench.results.db.embedded import open_embedded
from bench.results.db.filters import parse_where
from bench.results.db.history import history
from bench.results.db.summary import SUMMARY_FIGURES, summary
from bench.results.db.url import parse_store_url
from bench.results.metrics.aggregate import group_metrics, run_metrics
from bench.results.metrics.registry import FIELDS
from bench.results.metrics.sql import SQL_FIGURES, figure_sql
from bench.results.schema import Manifest, Record
from tests.helpers.bundles import agent_bundle, fixture_copy, request_bundle, sweep_of

FIGURES = (
    "pass_rate", "cost_per_task_usd", "cost_per_success_usd", "energy_per_task_j", "decode_tps_mean", "ttft_p50_ms",
)  # fmt: skip
KINDS: dict[str, Callable[[Path], Path]] = {
    "in-process": lambda root: fixture_copy("smollm2-mini-priced", root),
    "http-cloud": lambda root: fixture_copy("smollm2-mini-cloud", root),
    "agent": lambda root: agent_bundle(root, "agent-run"),
    "replay": lambda root: agent_bundle(root, "agent-replay", replay=True),
    "concurrent": lambda root: request_bundle(root, "concurrent-run", concurrency=4),
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {kind: make(root) for kind, make in KINDS.items()}


@pytest.fixture(scope="module")
def store(bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Every bundle indexed as `infercost db sync` indexes it (records with their derived figures)."""
    url = parse_store_url(f"duckdb:{tmp_path_factory.mktemp('db') / 'x.duckdb'}")
    db = open_embedded(url)
    db.sync(next(iter(bundles.values())).parent, derive=derived_records)
    yield db
    db.close()


def shown(name: str, value: Any) -> str:
    return FIELDS[name].format(value)


# --------------------------------------------------------------------------------------- the views
def _table_cells(table: TextTable, row: int) -> dict[str, str]:
    return {c.key: table.rows[row][i] for i, c in enumerate(table.columns)}


def _md_rows(text: str, section: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table after ``## section``, as header → cell (unescaped)."""
    body = text.split(f"## {section}\n", 1)[1].lstrip("\n").splitlines()
    lines = []
    for ln in body:
        if not ln.startswith("|"):
            break
        lines.append(ln)
    cells = [
        [c.strip().replace("\\$", "$").replace("\\|", "|") for c in ln.strip("|").split(" | ")]
        for ln in lines
    ]
    head = cells[0]
    return [dict(zip(head, row, strict=True)) for row in cells[2:]]


def _html_rows(text: str, anchor: str) -> list[dict[str, str]]:
    """The rows of the first HTML table after element ``id=anchor``, as header → cell text."""
    part = text.split(f'id="{anchor}"', 1)[1].split("</table>", 1)[0]
    heads = [html.unescape(re.sub("<[^>]+>", "", h)) for h in re.findall(r"<th[^>]*>(.*?)</th>", part)]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", part, flags=re.S)[1:]:
        cells = [html.unescape(re.sub("<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
        rows.append(dict(zip(heads, cells, strict=True)))
    return rows


def _value(cell: str) -> str:
    """A table cell's figure without its interval or estimate mark: "67% (35–88%)" → "67%"."""
    return cell.split(" (", 1)[0].removeprefix("≈")


def report_views(run: Run) -> dict[str, dict[str, str]]:
    """The report's figures for its one run, through every output format."""
    report = build_report([run], ReportOptions(now_utc="2026-11-26T12:00:00Z", charts=False))
    frame_row = report.run_frame.iloc[0].to_dict()
    out: dict[str, dict[str, str]] = {"report frame": {f: shown(f, frame_row.get(f)) for f in FIGURES}}
    cells = _table_cells(report.run_table, 0)
    out["report table"] = {f: _value(cells[f]) for f in FIGURES if f in cells}
    terminal = _table_cells(report.terminal_table, 0)
    out["terminal"] = {f: _value(terminal[f]) for f in FIGURES if f in terminal}
    md = _md_rows(render_markdown(report, None), "Results per run")[0]
    out["markdown"] = {f: _value(md[header(f)]) for f in FIGURES if header(f) in md}
    page = _html_rows(render_html(report), "results")[0]
    out["html"] = {f: _value(page[header(f)]) for f in FIGURES if header(f) in page}
    buf = io.StringIO()
    write_csv(report.frame, buf)  # type: ignore[arg-type]
    csv_row = pd.read_csv(io.StringIO(buf.getvalue())).query("level == 'run'").iloc[0].to_dict()
    out["csv"] = {f: shown(f, None if pd.isna(csv_row[f]) else csv_row[f]) for f in FIGURES}
    doc = json.loads(json.dumps(frame_json(report.frame, title="t", generated_utc="g", tool="x")))
    json_row = next(r for r in doc["rows"] if r["level"] == "run")
    out["json"] = {f: shown(f, json_row[f]) for f in FIGURES}
    return out


def other_views(path: Path, run: Run, store: Any) -> dict[str, dict[str, str]]:
    bundle = read_bundle(path)
    overall = summarize(enrich(bundle), bundle.manifest, run_dir=str(path))["overall"]
    out = {"run summary": {f: shown(f, overall[f]) for f in FIGURES}}
    out["run --json"] = {
        f: shown(f, v) for f, v in json.loads(json.dumps(overall, default=str)).items() if f in FIGURES
    }
    gate = {}
    for f in FIGURES:
        op = ">=" if FIELDS[f].higher_is_better else "<="
        outcome = evaluate_absolute(AbsoluteRule(f, op, 0.0), run)
        if outcome.value is not None and outcome.value != float("inf"):
            gate[f] = shown(f, outcome.value)
    out["gate"] = gate
    pick = choose([run], Rules("g", (), ()), by="cost")
    if pick.verdicts[0].value is not None:
        out["choose"] = {"cost_per_success_usd": shown("cost_per_success_usd", pick.verdicts[0].value)}
    comparison = compare_runs(run, run)
    out["compare"] = {r.field.name: shown(r.field.name, r.comparison.baseline_mean) for r in comparison.rows
                      if r.field.name in FIGURES}  # fmt: skip
    rid = bundle.manifest.run_id
    row = dict(
        zip(*(lambda q: (q.columns, q.rows[0]))(summary(store, parse_where([f"run={rid}"]))), strict=True)
    )
    out["db summary"] = {f: shown(f, row[f]) for f in FIGURES if f in SUMMARY_FIGURES}
    out["history"] = {}
    for f in FIGURES:
        if FIELDS[f].sample is None:
            continue
        points = [p for p in history(store, f, parse_where([f"run={rid}"])) if p.run_id == rid]
        if points:
            out["history"][f] = shown(f, points[0].value)
    return out


def assert_one_value(views: dict[str, dict[str, str]], what: str) -> None:
    for f in FIGURES:
        seen = {view: values[f] for view, values in views.items() if f in values}
        assert len(set(seen.values())) == 1, f"{what}: {f} differs between views: {seen}"


# --------------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_view_shows_the_same_figures(kind: str, bundles: dict[str, Path], store: Any) -> None:
    run = load_run(bundles[kind])
    views = {**report_views(run), **other_views(bundles[kind], run, store)}
    assert_one_value(views, kind)
    # the figures exist where they should: a view that lost one would pass the test above vacuously
    assert views["report frame"]["pass_rate"] != "–" and views["report frame"]["decode_tps_mean"] != "–"
    assert views["db summary"]["cost_per_task_usd"] != "–" and views["history"]["ttft_p50_ms"] != "–"
    if kind in ("in-process", "concurrent"):
        assert views["db summary"]["energy_per_task_j"] != "–"


def test_an_agent_task_counts_once_in_every_view(bundles: dict[str, Path], store: Any) -> None:
    run = load_run(bundles["agent"])
    assert run.metrics["n"] == 9  # 3 tasks × 3 repetitions: the summaries, not their calls
    rid = run.run_ids[0]
    q = summary(store, parse_where([f"run={rid}"]))
    assert dict(zip(q.columns, q.rows[0], strict=True))["n"] == 9
    replay = load_run(bundles["replay"])
    for f in FIGURES:  # the replay's records have the original's shape: it costs what the original cost
        assert shown(f, replay.metrics[f]) == shown(f, run.metrics[f])


@pytest.mark.parametrize("kind", ["in-process", "concurrent"])
def test_breakeven_answer_and_report_chart_agree(kind: str, bundles: dict[str, Path]) -> None:
    """The break-even volume and capacity `infercost breakeven` answers are the report chart's."""
    run = load_run(bundles[kind])
    clouds, _ = cloud_profiles()
    token = [(k, p) for k, p in clouds if p.pricing == "tokens"]
    answer = analyse(run.records, run.manifest, token)
    report = build_report([run], ReportOptions(now_utc="2026-11-26T12:00:00Z"))
    chart = next(c for c in report.charts if isinstance(c, Chart) and c.key == "breakeven")
    assert chart.table is not None
    rows = {r[0]: r for r in chart.table.rows}
    capacity = f"{answer['device']['capacity_tasks_per_month']:,.0f}"
    assert rows["capacity (most served)"][3] == capacity
    drawn = [c for c in answer["clouds"] if c["profile"] in rows]
    assert len(drawn) >= 3
    for c in drawn:
        n = c["breakeven_tasks_per_month"]
        cell = rows[c["profile"]][3].replace("≈", "")  # an estimated energy marks the volume
        if c["verdict"] == "never":
            assert cell == "never"
        elif c["verdict"] == "above_capacity":
            assert cell == f"> capacity ({n:,.0f})"
        else:
            assert cell == f"{n:,.0f}", c["profile"]
        assert rows[c["profile"]][1] == shown("cost_per_task_usd", c["usd_per_task"])
    # levels over one run: the same capacity
    levels = analyse_levels([MeasuredLevel("x", run.records, run.manifest)], token)
    assert f"{levels['device']['capacity_tasks_per_month']:,.0f}" == capacity


def test_sweep_table_shows_each_cells_report_figures(tmp_path: Path) -> None:
    sweep = sweep_of(tmp_path)
    view = load_sweep(sweep)
    table = sweep_table(view)
    heads = [c.key for c in table.columns]
    for row, cells in zip(view.rows, table.rows, strict=True):
        assert row.run is not None
        alone = load_run(row.path)  # the cell's bundle read as `infercost report` reads it
        for f in (
            "pass_rate",
            "cost_per_task_usd",
            "cost_per_success_usd",
            "energy_per_task_j",
            "decode_tps_mean",
        ):
            assert shown(f, row.metrics[f]) == shown(f, alone.metrics[f])
            if f in heads:
                assert _value(cells[heads.index(f)]) == shown(f, alone.metrics[f]), f
    # capacity per level: break-even over the sweep's levels, against each cell alone
    levels = [
        MeasuredLevel(r.cell_id, r.run.records, r.run.manifest) for r in view.done() if r.run is not None
    ]
    clouds = [(k, p) for k, p in cloud_profiles()[0] if p.pricing == "tokens"]
    answer = analyse_levels(levels, clouds)
    for lv, row in zip(answer["levels"], view.done(), strict=True):
        assert row.run is not None
        one = analyse(row.run.records, row.run.manifest, clouds)
        assert f"{lv['capacity_tasks_per_month']:,.0f}" == f"{one['device']['capacity_tasks_per_month']:,.0f}"


# ------------------------------------------------------------------------------ property-based
_EXAMPLES = itertools.count()
_KINDS = st.sampled_from([None, None, "model", "tool", "agent"])


@st.composite
def records(draw: st.DrawFn) -> list[Record]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        kind = draw(_KINDS)
        ok = draw(st.booleans()) or draw(st.booleans())
        timed = kind in (None, "model") and ok
        out.append(
            Record(
                run_id="p", task_id=f"t{draw(st.integers(0, 3))}", category=draw(st.sampled_from(["a", "b"])),
                repetition=i, warmup=draw(st.booleans()) and draw(st.booleans()), status="ok" if ok else "error",
                started_utc="2026-11-26T00:00:00Z", start_ns=i * 10**9, end_ns=i * 10**9 + 5 * 10**8, kind=kind,
                ttft_ms=draw(st.floats(1, 500)) if timed else None, e2e_ms=draw(st.floats(1, 5000)),
                decode_tps=draw(st.one_of(st.none(), st.floats(1, 300))) if timed else None,
                prompt_tokens=draw(st.integers(1, 500)), completion_tokens=draw(st.integers(0, 200)) if ok else None,
                passed=draw(st.one_of(st.none(), st.booleans())) if kind in (None, "agent") else None,
                cost_usd=draw(st.one_of(st.none(), st.floats(0, 0.01))), energy_j=draw(st.one_of(st.none(), st.floats(0.1, 100))),
                avg_power_w=draw(st.floats(1, 300)), steps=2 if kind == "agent" else None,
            )
        )  # fmt: skip
    return out


def _manifest(run_id: str) -> Manifest:
    return Manifest(
        tool_version="0", run_id=run_id, started_utc="2026-11-26T00:00:00Z", complete=True, anchor_perf_ns=0,
        host={}, device={"name": "d", "kind": "local"}, backend={"name": "llama_cpp"},
        suite={"name": "s", "hash": "h"}, settings={},
    )  # fmt: skip


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)), abs(float(b))))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recs=records())
def test_the_database_computes_what_python_computes(recs: list[Record], tmp_path: Path) -> None:
    """Python's aggregation and the SQL a database runs agree on every figure both compute, over any mix
    of warm-ups, errors, single requests, agent calls, tool calls and summaries."""
    sub = tmp_path / f"example-{next(_EXAMPLES)}"
    writer = BundleWriter(sub / "p", _manifest("p"))
    for r in recs:
        writer.append(r)
    writer.close()
    with open_embedded(parse_store_url(f"duckdb:{sub / 'x.duckdb'}")) as db:
        db.sync(sub)
        cols = ", ".join(f"{figure_sql(name)} AS {name}" for name in SQL_FIGURES)
        q = db.query(f"SELECT {cols} FROM current_records rec")
    sql = dict(zip(q.columns, q.rows[0], strict=True))
    py = group_metrics(read_bundle(sub / "p").records)
    for name in SQL_FIGURES:
        assert _close(py[name], sql[name]), (name, py[name], sql[name])


@settings(max_examples=40, deadline=None)
@given(recs=records())
def test_summary_report_and_gate_agree_on_any_records(recs: list[Record]) -> None:
    manifest = _manifest("p")
    run = Run([Path("p")], [manifest], recs)
    overall = summarize(recs, manifest)["overall"]
    frame = build_report([run], ReportOptions(charts=False)).run_frame.iloc[0].to_dict()
    core = run_metrics(recs, manifest)
    for f in FIGURES:
        values = {shown(f, overall[f]), shown(f, core[f]), shown(f, None if pd.isna(frame[f]) else frame[f])}
        gate = evaluate_absolute(
            AbsoluteRule(f, ">=" if FIELDS[f].higher_is_better else "<=", 0.0), run
        ).value
        if gate is not None and gate != float("inf"):
            values.add(shown(f, gate))
        assert len(values) == 1, (f, values)
