"""``infercost breakeven``: the monthly volume at which a local run's device beats each cloud API."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.cli.console import out
from bench.errors import EXIT_OK
from bench.results.bundle import DEFAULT_RUNS_ROOT
from bench.run.flags import COST_FLAGS, add_flags, number

__all__ = ["register"]


def register(sub: Any) -> None:
    be = sub.add_parser("breakeven", help="monthly volume at which a local run's device beats each cloud API")
    be.add_argument("run", help="bundle directory or run id")
    be.add_argument(
        "--cloud", action="append", default=None, metavar="NAME", help="cloud profile (repeat; default: all)"
    )
    be.add_argument("--tasks-per-day", type=number, default=None, help="also answer for this volume")
    add_flags(be.add_argument, COST_FLAGS, only=("kwh-usd", "hardware-usd"))
    be.add_argument("--runs-root", type=Path, default=DEFAULT_RUNS_ROOT, help="where run ids are looked up")
    be.add_argument("--batch", action="store_true", help="cloud rows at the batch tier only")
    be.add_argument("--json", action="store_true", help="print the answer as JSON")
    be.set_defaults(handler=lambda args, _argv: cmd_breakeven(args))


def cmd_breakeven(args: argparse.Namespace) -> int:
    from bench.cost.breakeven import analyse
    from bench.cost.enrich import EnrichOptions, enrich
    from bench.cost.pricing import cloud_profiles
    from bench.report import cost_view
    from bench.results.bundle import read_bundle

    bundle = read_bundle(args.run, runs_root=args.runs_root)
    options = EnrichOptions(kwh_usd=args.kwh_usd, hardware_usd=args.hardware_usd, batch=args.batch)
    clouds, _skipped = cloud_profiles(args.cloud)
    result = analyse(enrich(bundle, options), bundle.manifest, clouds, options, args.tasks_per_day)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return EXIT_OK
    for view in cost_view.breakeven_views(result):
        out.print(view)
    return EXIT_OK
