"""The documentation stays in step with the code it describes.

Each fact below lives in one place in docs/ (the exit codes in docs/cli.md, the metric definitions in
docs/metrics.md); these tests fail when the code gains a code or a metric the page does not list, or
when a formula in the page and in ``bench/results/metrics/timing.py`` part ways. The site itself is built with
``make docs`` (MkDocs, strict: broken links fail there).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import bench.errors
import bench.results.metrics.timing
from bench.results.metrics.timing import TimingMetrics

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _table_rows(text: str, header: str) -> dict[str, str]:
    """First column → second column of the Markdown table whose header row starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows: dict[str, str] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1]
    return rows


def test_every_exit_code_is_in_the_one_exit_code_table() -> None:
    codes = {
        value
        for name, value in vars(bench.errors).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    table = _table_rows((DOCS / "cli.md").read_text(), "| code | meaning |")
    assert codes, "bench.errors defines no EXIT_* codes"
    assert {int(c) for c in table} == codes
    # and only one page holds that table
    holders = [p.name for p in DOCS.glob("*.md") if "| code | meaning |" in p.read_text()]
    assert holders == ["cli.md"]


def test_metric_table_lists_every_timing_metric_with_the_code_formulas() -> None:
    table = _table_rows((DOCS / "metrics.md").read_text(), "| metric | definition |")
    doc = bench.results.metrics.timing.__doc__ or ""
    for field in dataclasses.fields(TimingMetrics):
        row = table.get(f"`{field.name}`")
        assert row, f"docs/metrics.md has no row for {field.name}"
        stated = re.search(rf"``{field.name}``: (.+)", doc)
        assert stated, f"bench/results/metrics/timing.py's docstring does not define {field.name}"
        # the formula (the text before any explanatory clause) is the same on both sides
        formula = re.split(r",| \(vLLM", stated.group(1))[0].strip()
        assert formula in row, f"{field.name}: code says {formula!r}, docs/metrics.md says {row!r}"


def test_readme_is_the_door() -> None:
    readme = (ROOT / "README.md").read_bytes()
    assert len(readme) <= 10_000, "README.md is the door: move reference material into docs/"
    lines = readme.decode().splitlines()
    fence = lines.index("```")
    assert lines[fence + 1].startswith("make run ") and lines[fence + 2].startswith("make test ")
    for target in re.findall(r"\]\((docs/[^)#]+)", readme.decode()):
        assert (ROOT / target).is_file(), f"README links to a missing page: {target}"
