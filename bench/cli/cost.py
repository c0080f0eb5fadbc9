"""``infercost breakeven``: the monthly volume at which a local run's device beats each cloud API."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.console import out
from bench.cli.jsonout import emit
from bench.errors import EXIT_OK
from bench.results.bundle import DEFAULT_RUNS_ROOT
from bench.run.flags import COST_FLAGS, add_flags, int_at_least, number, positive_number

__all__ = ["register"]


def register(sub: Any) -> None:
    be = sub.add_parser("breakeven", help="monthly volume at which a local run's device beats each cloud API")
    be.add_argument(
        "run",
        nargs="+",
        help="bundle directory or run id; several (or a sweep directory): one device and model at "
        "different --concurrency levels",
    )
    be.add_argument(
        "--concurrency",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="answer at this measured concurrency level (default: the highest that meets --max-latency-ms, "
        "else the one with the most capacity)",
    )
    be.add_argument(
        "--max-latency-ms",
        type=positive_number,
        default=None,
        metavar="MS",
        help="latency bound: the chosen level's p95 request time must not exceed it",
    )
    be.add_argument(
        "--cloud", action="append", default=None, metavar="NAME", help="cloud profile (repeat; default: all)"
    )
    be.add_argument(
        "--cloud-run",
        action="append",
        default=None,
        metavar="RUN",
        help="the same suite measured on a token API (bundle or run id; repeat): a row as billed, with its "
        "measured cache hit rate",
    )
    be.add_argument("--tasks-per-day", type=number, default=None, help="also answer for this volume")
    add_flags(be.add_argument, COST_FLAGS, only=("kwh-usd", "hardware-usd"))
    be.add_argument("--runs-root", type=Path, default=DEFAULT_RUNS_ROOT, help="where run ids are looked up")
    be.add_argument("--batch", action="store_true", help="cloud rows at the batch tier only")
    be.add_argument(
        "--reprice",
        action="store_true",
        help="price the run's device at today's profile or price-database prices (default: as recorded)",
    )
    be.add_argument("--json", action="store_true", help="print the answer as JSON")
    be.set_defaults(handler=lambda args, _argv: cmd_breakeven(args))


def _levels(refs: list[str], runs_root: Path, options: Any) -> tuple[list[Any], list[str]]:
    """Each argument's bundles (a sweep directory: its finished cells), enriched; and notes on cells
    left out."""
    from bench.cost.enrich import enrich
    from bench.cost.levels import MeasuredLevel
    from bench.results.bundle import read_bundle
    from bench.results.sweep import is_sweep_dir, read_sweep

    levels, notes = [], []
    for ref in refs:
        if is_sweep_dir(ref):
            sweep = read_sweep(ref)
            for cell in sweep.cells:
                if cell.status != "done":
                    notes.append(f"sweep cell {cell.id} ({cell.status}) left out")
                    continue
                bundle = read_bundle(Path(ref) / cell.path, runs_root=runs_root)
                levels.append(MeasuredLevel(str(bundle.path), enrich(bundle, options), bundle.manifest))
            continue
        bundle = read_bundle(ref, runs_root=runs_root)
        levels.append(MeasuredLevel(str(bundle.path), enrich(bundle, options), bundle.manifest))
    if not levels:
        from bench.errors import UsageError

        raise UsageError(f"{refs[0]}: the sweep has no finished cell to read")
    return levels, notes


def _cloud_runs(refs: list[str], runs_root: Path, options: Any) -> list[Any]:
    """``--cloud-run`` bundles, priced as billed."""
    from bench.cost.breakeven import CloudRun
    from bench.cost.enrich import enrich
    from bench.results.bundle import read_bundle

    runs = []
    for ref in refs:
        bundle = read_bundle(ref, runs_root=runs_root)
        origin = bundle.manifest.device.origin or bundle.path.name
        label = Path(origin).stem if origin.endswith(".toml") else origin
        runs.append(CloudRun(label, enrich(bundle, options), bundle.manifest))
    return runs


def cmd_breakeven(args: argparse.Namespace) -> int:
    from bench.cost.enrich import EnrichOptions
    from bench.cost.levels import analyse_levels
    from bench.cost.pricing import cloud_profiles
    from bench.report import cost_view

    options = EnrichOptions(
        kwh_usd=args.kwh_usd, hardware_usd=args.hardware_usd, batch=args.batch, reprice=args.reprice
    )
    clouds, _skipped = cloud_profiles(args.cloud)
    levels, notes = _levels(args.run, args.runs_root, options)
    result = analyse_levels(
        levels,
        clouds,
        options,
        args.tasks_per_day,
        concurrency=args.concurrency,
        max_latency_ms=args.max_latency_ms,
        cloud_runs=_cloud_runs(args.cloud_run or [], args.runs_root, options),
    )
    result["notes"] = notes
    if args.json:
        emit("breakeven", result)
        return EXIT_OK
    for view in cost_view.breakeven_views(result):
        out.print(view)
    return EXIT_OK
