"""``infercost sweep``: run a grid of run options (``bench.run.sweep``), one line per cell, then the table.

A comma-separated list makes an axis (``--threads 1,2``); a single value is an axis of one, shown in
the table like any other. ``--resume SWEEP_DIR`` finishes an interrupted sweep (docs/sweeps.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape

from bench.cli.console import err, out
from bench.cli.jsonout import emit
from bench.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_REQUEST_ERRORS
from bench.run.flags import COST_FLAGS, add_flags, positive_int, seconds, whole_from_zero

__all__ = ["register"]

# axis name → argparse dest (the flags are the AXES' own)
_AXIS_DESTS = {
    "model": "model",
    "device": "device",
    "threads": "threads",
    "n_gpu_layers": "n_gpu_layers",
    "flash_attn": "flash_attn",
    "n_ctx": "n_ctx",
    "concurrency": "concurrency",
    "rate": "rate",
    "power_mode": "power_mode",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of settings (models, threads, concurrency, ...), one bundle per cell",
        description="Every comma-separated list is an axis; every combination is a cell, run as an "
        "ordinary bundle under one sweep directory. Resumable cell by cell with --resume.",
    )
    p.add_argument("--suite", default=None, metavar="NAME|PATH", help="suite for every cell (default)")
    p.add_argument("--device", default=None, metavar="LIST", help="device profiles (auto)")
    p.add_argument("--model", default=None, metavar="LIST", help="catalog names or GGUF paths (smollm2-135m)")
    p.add_argument("--threads", "-t", default=None, metavar="LIST", help="engine threads, e.g. 1,2")
    p.add_argument("--n-gpu-layers", default=None, metavar="LIST", help="layers offloaded, e.g. 0,-1")
    p.add_argument("--flash-attn", default=None, metavar="LIST", help="on,off")
    p.add_argument("--n-ctx", default=None, metavar="LIST", help="context sizes, e.g. 2048,8192")
    p.add_argument("--concurrency", "-c", default=None, metavar="LIST", help="requests in flight, e.g. 1,4")
    p.add_argument("--rate", default=None, metavar="LIST", help="open-loop arrivals per s, e.g. 0.5,1")
    p.add_argument("--power-mode", default=None, metavar="LIST", help="the profile's power modes")
    p.add_argument(
        "--repetitions",
        "-r",
        type=positive_int,
        default=1,
        metavar="N",
        help="repetitions per task, run as interleaved rounds (1)",
    )
    p.add_argument("--warmup", "-w", type=whole_from_zero, default=1, metavar="N", help="warmups (1)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="where the sweep directory goes")
    p.add_argument("--resume", type=Path, default=None, metavar="SWEEP_DIR", help="finish a sweep")
    p.add_argument("--seed", type=whole_from_zero, default=None, help="run order seed (drawn, recorded)")
    p.add_argument("--no-text", action="store_true", help="keep prompts and outputs out of the bundles")
    p.add_argument("--power", default=None, metavar="SENSOR", help="power sensor (as for run)")
    p.add_argument("--idle-seconds", type=seconds, default=None, help="idle baseline per cell (5)")
    p.add_argument("--cooldown", type=seconds, default=None, metavar="SECONDS", help="pause between tasks")
    p.add_argument("--json", action="store_true", help="print the table as JSON on stdout")
    add_flags(p.add_argument, COST_FLAGS)
    p.set_defaults(handler=cmd_sweep)


def _axes(args: argparse.Namespace) -> dict[str, list[Any]]:
    from bench.run.sweep import parse_axis

    return {
        name: parse_axis(name, getattr(args, dest))
        for name, dest in _AXIS_DESTS.items()
        if getattr(args, dest) is not None
    }


def _base(args: argparse.Namespace) -> dict[str, Any]:
    base: dict[str, Any] = {
        "repetitions": args.repetitions,
        "warmup": args.warmup,
        "no_text": args.no_text,
        "power": args.power,
        "idle_seconds": args.idle_seconds,
        "cooldown_s": args.cooldown,
        "seed": args.seed,
        "kwh_usd": args.kwh_usd,
        "hardware_usd": args.hardware_usd,
        "tasks_per_month": args.tasks_per_month,
    }
    return {k: v for k, v in base.items() if v is not None}


def _given(argv: Sequence[str], *flags: str) -> bool:
    return any(a == f or a.startswith(f + "=") for a in argv for f in flags)


def cmd_sweep(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from bench.errors import UsageError
    from bench.paths import DEFAULT_RUNS_ROOT
    from bench.report.sweep_table import load_sweep, sweep_json, sweep_table
    from bench.report.terminal import rich_table
    from bench.run.runner import RunInterrupted
    from bench.run.sweep import SweepPlan, new_sweep, open_sweep, run_sweep

    axes = _axes(args)  # malformed lists are refused first, on --resume too
    if args.resume is not None:
        if _given(argv, "-r", "--repetitions", "-w", "--warmup", "--out", "--seed"):
            raise UsageError(
                f"--resume {args.resume}: the sweep's repetitions, warmup, seed and place are recorded",
                fix="give --resume SWEEP_DIR alone (or with its axes and --suite, which must match)",
            )
        sweep_dir = args.resume
        manifest = open_sweep(sweep_dir, suite=args.suite, axes=axes)
        err.print(f"resuming sweep {sweep_dir}", markup=False, highlight=False)
    else:
        plan = SweepPlan(
            suite=args.suite or "default",
            axes=axes,
            base=_base(args),
            out=args.out or DEFAULT_RUNS_ROOT,
            seed=args.seed,
            command=("infercost", *argv),
        )
        sweep_dir, manifest = new_sweep(plan)
        err.print(f"sweep {sweep_dir}: {len(manifest.cells)} cells", markup=False, highlight=False)
    try:
        run_sweep(sweep_dir, manifest, on_cell=_print_cell)
    except (KeyboardInterrupt, RunInterrupted):
        err.print(
            f"[yellow]infercost:[/] sweep interrupted; finished cells are kept. Resume with: "
            f"infercost sweep --resume {escape(str(sweep_dir))}",
            markup=True,
            highlight=False,
        )
        return EXIT_INTERRUPTED
    view = load_sweep(sweep_dir)
    table = sweep_table(view)
    if args.json:
        emit("sweep", sweep_json(view))
    else:
        out.print(rich_table(table))
        for note in table.notes:
            out.print(f"  {note}", markup=False, highlight=False)
        out.print(f"  report: infercost report {sweep_dir} -o sweep.html", markup=False, highlight=False)
    failed = [r for r in view.rows if r.status != "done"]
    errors = sum(int(r.metrics.get("errors") or 0) for r in view.rows)
    return EXIT_REQUEST_ERRORS if failed or errors else EXIT_OK


def _print_cell(ev: Any) -> None:
    """One line per cell as it starts and ends: ``[3/8] c05 threads=2 concurrency=4 ... done``."""
    round_part = f"round {ev.round_index + 1}/{ev.rounds} " if ev.rounds > 1 else ""
    head = f"{round_part}[{ev.position}/{ev.n_cells}] {ev.cell.id} " + " ".join(
        f"{k}={v}" for k, v in ev.cell.settings.items()
    )
    if ev.kind == "start":
        return
    if ev.kind == "failed":
        err.print(f"{escape(head)} [red]failed[/]: {escape(ev.detail)}", markup=True, highlight=False)
    else:
        err.print(f"{escape(head)} {ev.kind}", markup=True, highlight=False)
