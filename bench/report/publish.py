"""``infercost report``'s work, minus the printing: find and read the runs, build the report, write the
files the user asked for. The CLI calls ``make_report`` then ``write_outputs`` and prints what they return.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.errors import UsageError
from bench.report.build import Report, ReportOptions, build_report
from bench.report.export import write_csv, write_json
from bench.report.html import write_html
from bench.report.markdown import write_markdown
from bench.report.runs import load_runs
from bench.results.bundle import DEFAULT_RUNS_ROOT, gc_paused

__all__ = ["Outputs", "check_outputs", "check_prices", "make_report", "write_outputs"]

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".json": "json"}


@dataclass(frozen=True)
class Outputs:
    report: Path | None = None  # .md or .html
    csv: Path | None = None
    json: Path | None = None

    @classmethod
    def from_flag(cls, output: Path | None, csv: Path | None = None) -> Outputs:
        """``-o FILE``: a .json file is the combined frame as JSON (what ``--json`` prints), else a report."""
        if output is not None and output.suffix.lower() == ".json":
            return cls(csv=csv, json=output)
        return cls(report=output, csv=csv)


def _check_dir(path: Path, flag: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(
            f"{flag} {path}: directory {parent} does not exist", fix="create it or choose another path"
        )


def check_outputs(outputs: Outputs) -> None:
    """Refuse bad output paths before any bundle is read (a 100,000-record report takes seconds)."""
    if outputs.report is not None:
        if outputs.report.suffix.lower() not in FORMATS:
            raise UsageError(
                f"-o {outputs.report}: unknown report format '{outputs.report.suffix}'",
                fix="name it .md (Markdown, PNG charts beside it), .html (one self-contained file) or "
                ".json (the figures as JSON)",
            )
        _check_dir(outputs.report, "-o")
    if outputs.csv is not None:
        _check_dir(outputs.csv, "--csv")
    if outputs.json is not None:
        _check_dir(outputs.json, "-o")


def check_prices(kwh_usd: float | None, hardware_usd: float | None) -> None:
    """Report-time price overrides: finite and not negative (0 is a real price: a device already paid for)."""
    for flag, value in (("--kwh-usd", kwh_usd), ("--hardware-usd", hardware_usd)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"{flag} {value}: must be a finite price, 0 or more")


def make_report(
    refs: Sequence[str | Path], options: ReportOptions, runs_root: Path = DEFAULT_RUNS_ROOT
) -> Report:
    with _built_long_lived():
        runs = load_runs(refs, options.enrich, runs_root)
        return build_report(runs, options)


@contextmanager
def _built_long_lived() -> Iterator[None]:
    """Read the runs and build the report with the cyclic garbage collector paused (``gc_paused``: the
    records and their statistics are millions of objects that all survive), then hand what was built
    to the collector's oldest generation at once (``gc.freeze`` then ``gc.unfreeze`` moves every object
    there, unexamined): enabled again with them all in its youngest generation, its first pass would
    walk every one of them (0.3 s for 100,000 records) only to promote them, and the next pass again."""
    with gc_paused():
        yield
        gc.freeze()
        gc.unfreeze()


@contextmanager
def _read_heap_frozen() -> Iterator[None]:
    """Keep the cyclic garbage collector off what is already in memory (``gc.freeze``) while the files
    are written, and let it see everything again afterwards.

    Rendering the charts and templates allocates freely, and the collector's full passes would re-walk
    every record read (millions of objects for 100,000 records: 1.5 s of a 100,000-record report's CPU
    time, tests/benchmarks/bench_views.py); the records hold no cycles to find. Unlike ``gc_paused``, the
    collector still frees the renderers' own garbage. That garbage holds the callers' frames: matplotlib's
    mathtext parser raises and catches exceptions whose tracebacks keep every frame up the stack, the
    report's among them, in reference cycles; collected here, among the young objects only, rather than
    by a full pass over every record (0.6 s at exit for 100,000 records), the report is freed as soon as
    it is dropped."""
    gc.freeze()
    try:
        yield
    finally:
        gc.collect()
        gc.unfreeze()


def write_outputs(report: Report, outputs: Outputs, options: ReportOptions) -> list[Path]:
    """Write every requested file; returns the paths written (charts included)."""
    with _read_heap_frozen():
        return _write_outputs(report, outputs, options)


def _write_outputs(report: Report, outputs: Outputs, options: ReportOptions) -> list[Path]:
    written: list[Path] = []
    if outputs.report is not None:
        if FORMATS[outputs.report.suffix.lower()] == "markdown":
            written += write_markdown(report, outputs.report)
        else:
            written += write_html(
                report,
                outputs.report,
                outputs_per_task=options.outputs_per_task,
                output_chars=options.output_chars,
            )
    if outputs.csv is not None:
        write_csv(report.frame, outputs.csv)
        written.append(outputs.csv)
    if outputs.json is not None:
        write_json(
            report.frame,
            outputs.json,
            title=report.title,
            generated_utc=report.generated_utc,
            tool=report.tool,
        )
        written.append(outputs.json)
    return written
