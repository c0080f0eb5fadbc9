"""The documentation stays in step with the code it describes.

Each fact below lives in one place in docs/ (the exit codes in docs/cli.md, the metric definitions in
docs/metrics.md); these tests fail when the code gains a code or a metric the page does not list, or
when a formula in the page and in ``bench/results/metrics/timing.py`` part ways, or when a page names a
path, a module or (docs/architecture.md) a code name the tree no longer has. The site itself is built with
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


# ------------------------------------------------------------------------------ names the docs give
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
_PATH = re.compile(r"(?<![\w/.])((?:bench|tests)/[\w./*-]*[\w/*])")
_DOTTED = re.compile(r"(?<![\w.])(bench(?:\.[A-Za-z_]\w*)+)")
_CODE_NAME = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(\))?`")


def _resolves(dotted: str) -> bool:
    """``bench.a.b.Name.attr``: the longest importable module prefix, then attributes."""
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_every_path_and_module_the_docs_name_exists() -> None:
    """A page that names ``bench/run/records.py`` or ``bench.results.bundle.read_bundle`` points at
    something in this tree: a moved or renamed module fails here, not in a reader's search."""
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for path in set(_PATH.findall(text)):
            if "*" not in path and not (ROOT / path).exists():  # a glob (test_messages_*.py) is a family
                missing.append(f"{page.name}: {path}")
        missing += [f"{page.name}: {name}" for name in set(_DOTTED.findall(text)) if not _resolves(name)]
    assert not missing, "the docs name what does not exist: " + "; ".join(sorted(missing))


def test_every_code_name_in_the_architecture_page_is_in_the_source() -> None:
    """docs/architecture.md is the design record: each function, class or constant it names in code
    spans (``RecordFactory.agent_summary``, ``ATTEMPTS``, ``figure_sql``) is a name in ``bench/`` or
    ``tests/``. Plain lowercase words (``kind``, ``load``) are left alone: they name values too."""
    source = "\n".join(
        p.read_text(encoding="utf-8") for top in ("bench", "tests") for p in (ROOT / top).rglob("*.py")
    )
    words = set(re.findall(r"\w+", source))
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    named = [n for n in _CODE_NAME.findall(text) if "_" in n or n != n.lower()]
    assert len(named) > 100, "the page names too few code objects for this check to mean anything"
    unknown = sorted({n for n in named for part in n.split(".") if part not in words})
    assert not unknown, "docs/architecture.md names what the source does not define: " + ", ".join(unknown)
