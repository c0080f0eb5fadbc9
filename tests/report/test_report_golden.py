"""Golden output for what people read: the report's tables (Markdown and terminal) on recorded bundles.

The bundles under tests/fixtures/bundles/ are real runs (and documented post-processed variants); the
expected text lives in tests/fixtures/golden/. After an intended change to a table, regenerate with
``UPDATE_GOLDEN=1 python -m pytest tests/report/test_report_golden.py`` and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from bench.report.build import Report, ReportOptions, build_report
from bench.report.markdown import md_table, render_markdown
from bench.report.runs import load_runs
from bench.report.terminal import report_view
from tests.helpers import FIXTURES

BUNDLES = FIXTURES / "bundles"
GOLDEN = FIXTURES / "golden"
COMPARISON = [
    "smollm2-mini",
    "gemma3-mini",
    "smollm2-mini-priced",
    "gemma3-mini-priced",
    "smollm2-mini-cloud",
]


def _report(names: list[str], *, charts: bool = False) -> Report:
    runs = load_runs([BUNDLES / n for n in names])
    report = build_report(runs, ReportOptions(now_utc="2026-11-26T12:00:00Z", charts=charts))
    report.tool = "infercost (golden test)"
    return report


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from the golden file (UPDATE_GOLDEN=1 to accept a change)"


def _terminal(report: Report) -> str:
    console = Console(record=True, width=160, color_system=None, force_terminal=False)
    for renderable in report_view(report):
        console.print(renderable)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


@pytest.fixture(scope="module")
def comparison() -> Report:
    return _report(COMPARISON)


def test_markdown_run_table(comparison: Report) -> None:
    _check("comparison-runs.md", md_table(comparison.run_table) + "\n")


def test_markdown_category_and_task_tables(comparison: Report) -> None:
    _check("comparison-categories.md", md_table(comparison.category_table) + "\n")
    _check("comparison-tasks.md", md_table(comparison.task_table) + "\n")


def test_terminal_table(comparison: Report) -> None:
    _check("comparison-terminal.txt", _terminal(comparison))


def test_full_markdown_report() -> None:
    report = _report(COMPARISON, charts=True)
    _check("comparison-report.md", render_markdown(report, "comparison-report-charts"))


def test_golden_tables_say_what_is_absent_and_estimated(comparison: Report) -> None:
    """What the golden files must keep saying, whatever else changes in them."""
    text = md_table(comparison.run_table)
    rows = {row[0]: row for row in comparison.run_table.rows}
    headers = [c.header for c in comparison.run_table.columns]
    cost = headers.index("$/task")
    energy = headers.index("J/task")
    # the unpriced real run shows "–", never 0, and a note says why
    assert rows["smollm2-135m · this machine · in-process"][cost] == "–"
    assert "the device profile gives no prices" in text
    # the estimated-energy run is marked in the cell itself
    assert rows["gemma3-270m · Fixture desktop · in-process"][energy].startswith("≈")
    assert not rows["smollm2-135m · Fixture desktop · in-process"][energy].startswith("≈")
    assert "≈ estimated energy" in text
    # intervals are shown with the values they qualify
    assert "(95% CI)" in headers[headers.index("pass (95% CI)")]
    # what `infercost run` warned about when it finished travels with the report (a noisy run must not
    # look as trustworthy as a quiet one): the fixture's repetitions disagree, and the report says so
    assert any(
        n.startswith("gemma3-270m · Fixture desktop · in-process: repetitions disagree by more than 10%")
        for n in comparison.notes
    )


def test_single_run_markdown_has_no_empty_columns() -> None:
    report = _report(["smollm2-mini"])
    headers = [c.header for c in report.run_table.columns]
    assert "$/task" not in headers and "J/task" not in headers
    assert any("Not shown: J/task, J/tok: no power sensor ran" in n for n in report.run_table.notes)


def test_render_is_deterministic() -> None:
    a, b = _report(COMPARISON), _report(COMPARISON)
    assert render_markdown(a, None) == render_markdown(b, None)


def test_golden_files_exist() -> None:
    for name in ("comparison-runs.md", "comparison-terminal.txt", "comparison-report.md"):
        assert (GOLDEN / name).is_file(), f"missing golden file {name}"
    assert Path(BUNDLES / "README.md").is_file()
