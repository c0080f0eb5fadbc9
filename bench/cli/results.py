"""``infercost report`` and ``infercost compare``: bundles in, tables and files out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from bench.cli import db as db_cli
from bench.cli.console import NOTED, err, out
from bench.cli.db import add_store_filters
from bench.cli.jsonout import emit, format_id
from bench.errors import EXIT_OK, UsageError
from bench.run.flags import COST_FLAGS, add_flags, number

__all__ = ["register"]


def register(sub: Any) -> None:
    report = sub.add_parser("report", help="combine result bundles into a report (terminal, Markdown, HTML)")
    report.add_argument(
        "bundles", nargs="*", metavar="BUNDLE_OR_DIR", help="bundles, run ids, or dirs of them"
    )
    report.add_argument(
        "-o", "--output", type=Path, help="write FILE.md (PNG charts beside it), FILE.html or FILE.json"
    )
    report.add_argument("--title", help="report title (default: the models and devices compared)")
    report.add_argument("--csv", type=Path, metavar="FILE", help="export the combined frame as CSV")
    report.add_argument(
        "--json", action="store_true", help="print the combined frame as JSON on stdout (as every command)"
    )
    report.add_argument("--pool", action="store_true", help="pool runs whose key properties are all equal")
    add_flags(report.add_argument, COST_FLAGS, only=("kwh-usd", "hardware-usd"))
    report.add_argument(
        "--batch", action="store_true", help="price token APIs at their batch tier (not interactive)"
    )
    report.add_argument(
        "--reprice",
        action="store_true",
        help="price at today's profile and price-database prices (default: the prices each bundle recorded)",
    )
    add_store_filters(report)
    report.add_argument(
        "--summary",
        action="store_true",
        help="with --store: headline figures per run, computed in the database",
    )
    report.set_defaults(handler=lambda args, _argv: cmd_report(args))

    compare = sub.add_parser("compare", help="compare two runs metric by metric, with significance")
    compare.add_argument("baseline", metavar="A", help="baseline bundle or run id")
    compare.add_argument("candidate", metavar="B", help="candidate bundle or run id")
    compare.add_argument(
        "--min-effect", type=number, default=0.05, help="smallest change called (0.05 = 5%%)"
    )
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")
    add_store_filters(compare, "with --store: A and B are stored run ids (or 'latest' per --where)")
    compare.set_defaults(handler=lambda args, _argv: cmd_compare(args))


def cmd_report(args: argparse.Namespace) -> int:
    if args.summary and db_cli.from_store(args):  # computed by the database: no report (nor matplotlib)
        return db_cli.summary_report(args, out)
    from bench.cost.enrich import EnrichOptions
    from bench.cost.tiers import BATCH_LATENCY_NOTE
    from bench.report.build import ReportOptions
    from bench.report.publish import Outputs, check_outputs, check_prices, make_report, write_outputs
    from bench.report.terminal import report_view

    _refuse_old_json_form(args.bundles, args.json)
    outputs = Outputs.from_flag(args.output, args.csv)
    check_outputs(outputs)
    check_prices(args.kwh_usd, args.hardware_usd)
    enrich_options = EnrichOptions(
        kwh_usd=args.kwh_usd, hardware_usd=args.hardware_usd, batch=args.batch, reprice=args.reprice
    )
    if args.batch:
        err.print(f"[yellow]note:[/] {BATCH_LATENCY_NOTE}", markup=True, highlight=False)
    options = ReportOptions(
        title=args.title, pool=args.pool, enrich=enrich_options, charts=outputs.report is not None
    )
    if len(args.bundles) == 1 and not db_cli.from_store(args):
        from bench.results.sweep import is_sweep_dir

        if is_sweep_dir(args.bundles[0]):
            return sweep_report(args, enrich_options)
    if db_cli.from_store(args):  # from a results database (--store, --where or INFERCOST_STORE)
        report = db_cli.store_report(args, options)
    else:
        report = make_report(args.bundles, options)
    for note in report.notes:
        if not any(seen in note for seen in NOTED):
            err.print(f"[yellow]note:[/] {escape(note)}", markup=True)
    if args.json:  # stdout is the JSON document alone
        from bench.report.export import frame_json

        doc = frame_json(
            report.frame, title=report.title, generated_utc=report.generated_utc, tool=report.tool
        )
        emit(None, doc)
    elif outputs.report is None and outputs.json is None:
        for renderable in report_view(report):
            out.print(renderable)
    for path in write_outputs(report, outputs, options):
        err.print(f"wrote {path}", markup=False)
    return EXIT_OK


def _refuse_old_json_form(refs: list[str], json_flag: bool) -> None:
    """``report --json FILE`` used to write FILE; now ``--json`` prints on stdout and FILE would be read
    as a run. Say so rather than fail on "no bundle named FILE"."""
    for ref in refs:
        path = Path(ref)
        if json_flag and path.suffix.lower() == ".json" and not path.is_dir():
            raise UsageError(
                f"{ref}: not a bundle: --json prints the JSON on stdout (it no longer takes a FILE)",
                fix=f"write the file with -o {ref}, or redirect: > {ref}",
            )


def sweep_report(args: argparse.Namespace, enrich_options: Any) -> int:
    """``infercost report SWEEP_DIR``: the sweep's table with Pareto marks; -o writes its charts too."""
    from bench.errors import UsageError
    from bench.report.sweep_table import load_sweep, sweep_json, sweep_table
    from bench.report.sweep_view import write_sweep_report
    from bench.report.terminal import rich_table

    if args.csv is not None or args.pool:
        raise UsageError(
            f"{args.bundles[0]}: a sweep directory takes -o, --json and --title, not --csv or --pool"
        )
    view = load_sweep(args.bundles[0], enrich_options)
    if args.json:
        emit("sweep", sweep_json(view))
    elif args.output is None:
        table = sweep_table(view)
        out.print(rich_table(table))
        for note in table.notes:
            out.print(f"  {note}", markup=False, highlight=False)
    if args.output is not None and args.output.suffix.lower() == ".json":
        doc = {"format": format_id("sweep"), **sweep_json(view)}
        args.output.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
        err.print(f"wrote {args.output}", markup=False)
    elif args.output is not None:
        for path in write_sweep_report(view, args.output, args.title):
            err.print(f"wrote {path}", markup=False)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.report.compare import benchmark_comparison, compare_runs, comparison_table
    from bench.report.runs import assign_labels, load_runs
    from bench.report.terminal import rich_table

    if args.store or args.where:
        runs = db_cli.stored_runs(args.store, [args.baseline, args.candidate], args.where)
    else:
        runs = [load_runs([args.baseline])[0], load_runs([args.candidate])[0]]
    assign_labels(runs)
    result = compare_runs(runs[0], runs[1], min_effect=args.min_effect)
    if args.json:
        emit("compare", comparison_json(result))
        return EXIT_OK
    for name, a, b in result.differences:
        out.print(f"key property differs: {name}\n  A: {a}\n  B: {b}", markup=False)
    if not result.differences:
        out.print("same configuration (every key property matches)", markup=False)
    table = comparison_table(result)
    out.print(rich_table(table), markup=False)
    for note in table.notes:
        out.print(f"  {note}", markup=False)
    bench_table = benchmark_comparison(result)
    if bench_table is not None:  # public benchmarks: the quality figure per category, with intervals
        out.print(rich_table(bench_table), markup=False)
        for note in bench_table.notes:
            out.print(f"  {note}", markup=False)
    return EXIT_OK


def comparison_json(result: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "baseline": {"label": result.baseline.label, "run_ids": result.baseline.run_ids},
        "candidate": {"label": result.candidate.label, "run_ids": result.candidate.run_ids},
        "differences": [{"property": k, "baseline": a, "candidate": b} for k, a, b in result.differences],
        "min_effect": result.min_effect,
        "metrics": {r.field.name: {**asdict(r.comparison), "unit": r.field.unit} for r in result.rows},
        "not_compared": result.skipped,
        "benchmark": _benchmark_json(result),
    }


def _benchmark_json(result: Any) -> dict[str, Any] | None:
    """Per benchmark category and run (A, B): pass rate with its interval, $/success, J/success."""
    from bench.report.benchmarks import BENCHMARK_COLUMNS, source_text
    from bench.results.metrics.aggregate import group_metrics

    if result.baseline.manifest.suite.source is None:
        return None
    out: dict[str, Any] = {
        "source": {"A": source_text(result.baseline.manifest), "B": source_text(result.candidate.manifest)}
    }
    for side, run in (("A", result.baseline), ("B", result.candidate)):
        for category in dict.fromkeys(r.category for r in run.measured):
            m = group_metrics([r for r in run.measured if r.category == category])
            keys = [*BENCHMARK_COLUMNS, "pass_rate_ci_low", "pass_rate_ci_high"]
            out.setdefault("categories", {}).setdefault(category, {})[side] = {k: m.get(k) for k in keys}
    return out
