"""Public benchmarks in the views: the report's benchmark table, compare, and gate rules on a category.

The bundles under tests/fixtures/benchmark_bundles/ are real runs (``infercost run --suite bfcl-simple
--sample 20 --seed 42`` on SmolLM2-135M and Gemma 3 270M, 1 thread, stated watts; power.csv left out, so
they carry no energy): the same 20 BFCL problems, so they may be compared.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.ci.gate import evaluate_gate, load_run, parse_rules
from bench.report.build import ReportOptions, build_report
from bench.report.markdown import render_markdown
from bench.report.runs import load_runs
from tests.helpers import FIXTURES, run_cli

BUNDLES = FIXTURES / "benchmark_bundles"
SMOL, GEMMA = BUNDLES / "bfcl-simple-smollm2", BUNDLES / "bfcl-simple-gemma3"


def _passed(path: Path) -> int:
    return sum(1 for line in (path / "records.jsonl").read_text().splitlines() if json.loads(line)["passed"])


def test_the_report_names_the_source_and_shows_pass_rate_per_category_with_its_interval() -> None:
    report = build_report(
        load_runs([SMOL, GEMMA]), ReportOptions(now_utc="2026-12-06T12:00:00Z", charts=False)
    )
    table = report.benchmark_table
    assert table is not None
    headers = [c.header for c in table.columns]
    assert headers[:4] == ["benchmark", "category", "run", "tasks"]
    assert "pass (95% CI)" in headers and "$/success" in headers
    assert len(table.rows) == 2
    for row in table.rows:
        assert row[:2] == ["BFCL v4", "simple_python"] and row[3] == "20 of 400 tasks (--sample 20, seed 42)"
        assert "(" in row[headers.index("pass (95% CI)")]  # the Wilson interval beside the rate
    source = dict((r[0], r[1:]) for r in report.provenance.rows)["suite source"]
    assert all("bfcl-eval 2026.3.23 (Apache-2.0)" in s and "category simple_python" in s for s in source)
    assert "## Public benchmarks" in render_markdown(report, None)


def test_compare_prints_each_runs_category_figures_and_json_carries_them() -> None:
    text = run_cli("compare", str(SMOL), str(GEMMA))
    assert text.returncode == 0, text.stderr
    assert "simple_python" in text.stdout and "20 of 400 tasks" in text.stdout
    data = json.loads(run_cli("compare", str(SMOL), str(GEMMA), "--json").stdout)
    bench = data["benchmark"]
    assert "bfcl-eval 2026.3.23" in bench["source"]["A"]
    a, b = bench["categories"]["simple_python"]["A"], bench["categories"]["simple_python"]["B"]
    assert a["n"] == b["n"] == 20
    assert a["pass_rate"] == _passed(SMOL) / 20 and b["pass_rate"] == _passed(GEMMA) / 20
    assert a["pass_rate_ci_low"] <= a["pass_rate"] <= a["pass_rate_ci_high"]


def test_gate_rules_name_a_benchmark_category() -> None:
    smol, gemma = load_run(SMOL), load_run(GEMMA)
    rate = _passed(SMOL) / 20
    rules = parse_rules(
        {
            "categories": {
                "simple_python": {"absolute": {"pass_rate": f">= {rate}"}, "relative": {"pass_rate": "-50%"}},
                "humaneval": {"absolute": {"pass_rate": ">= 0.1"}},
            }
        },
        "g.toml",
    )
    assert [r.label for r in rules.absolute] == ["pass_rate[simple_python]", "pass_rate[humaneval]"]
    result = evaluate_gate(rules, smol, baseline=gemma)
    by = {o.rule + o.kind: o for o in result.outcomes}
    assert by["pass_rate[simple_python]absolute"].status == "pass"
    missing = by["pass_rate[humaneval]absolute"]
    assert missing.status == "no data" and "no task of category humaneval" in missing.detail
    assert "simple_python" in missing.detail  # it says which categories the run has
    assert by["pass_rate[simple_python]relative"].status in ("pass", "untested", "fail")
    assert result.exit_code == 2  # a category the run lacks is bad input, not a failed rule
