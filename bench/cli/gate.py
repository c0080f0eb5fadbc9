"""``infercost gate`` and ``infercost choose``: CI rules over runs, verdicts and exit codes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bench.cli import db as db_cli
from bench.cli.console import err, out
from bench.cli.db import add_store_filters
from bench.cli.jsonout import emit
from bench.results.metrics.registry import FIELDS

if TYPE_CHECKING:
    from bench.report.runs import Run

__all__ = ["register"]


def register(sub: Any) -> None:
    gate = sub.add_parser("gate", help="check a run against CI rules; exit 1 when one fails")
    gate.add_argument("run", help="bundle directory or run id")
    gate.add_argument("--rules", required=True, type=Path, help="rules file (see gate.example.toml)")
    gate.add_argument("--baseline", default=None, help="bundle or run id that [relative] rules compare to")
    gate.add_argument("--json", action="store_true", help="print the verdicts as JSON on stdout")
    add_store_filters(gate, "with --store: --baseline is a stored run id (prefix) or 'latest'")
    gate.set_defaults(handler=lambda args, _argv: cmd_gate(args))

    choose = sub.add_parser("choose", help="pick the best run that meets every [absolute] rule")
    choose.add_argument(
        "runs", nargs="*", help="bundle directories, run ids or sweep directories (same suite)"
    )
    choose.add_argument("--rules", required=True, type=Path, help="rules file (see gate.example.toml)")
    choose.add_argument("--by", choices=["cost", "latency", "energy"], default="cost", help="rank by (cost)")
    choose.add_argument("--json", action="store_true", help="print the verdicts as JSON on stdout")
    add_store_filters(choose, "with --store: the candidates are the stored runs matching --where")
    choose.set_defaults(handler=lambda args, _argv: cmd_choose(args))


_STATUS_STYLE = {"pass": "green", "fail": "red"}  # any other outcome is yellow


def cmd_gate(args: argparse.Namespace) -> int:
    import dataclasses

    from bench.ci import github
    from bench.ci.gate import evaluate_gate, load_rules, load_run, run_label

    rules = load_rules(args.rules)
    for warning in rules.warnings:  # an older metric name, read as the registry's
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    view = load_run(args.run)
    baseline: Run | None = None
    if args.baseline and (args.store or args.where):
        baseline = db_cli.stored_view(args.store, args.baseline, args.where)
    elif args.baseline:
        baseline = load_run(args.baseline)
    result = evaluate_gate(rules, view, baseline)
    for note in result.notes:
        err.print(f"[cyan]note:[/] {escape(note)}", markup=True)
    if args.json:
        rows = [dataclasses.asdict(o) for o in result.outcomes]
        doc = {
            "exit_code": result.exit_code,
            "headline": result.headline,
            "notes": result.notes,
            "rules": rows,
        }
        emit("gate", doc)
    else:
        out.print(f"run:      {run_label(view)} ({view.path})")
        if baseline:
            out.print(f"baseline: {run_label(baseline)} ({baseline.path})")
        table = Table(box=None)
        for col in ("rule", "kind", "value", "limit", "result", "detail"):
            table.add_column(col, justify="right" if col == "value" else "left")
        for o in result.outcomes:
            status = Text(o.status.upper(), style=_STATUS_STYLE.get(o.status, "yellow"))
            table.add_row(o.rule, o.kind, o.value_text, o.limit, status, o.detail)
        out.print(table)
        out.print(result.headline)
    if github.in_github_actions():
        for line in github.gate_annotations(result):
            print(line)
        base = f"{run_label(baseline)} (`{baseline.path}`)" if baseline else None
        github.append_step_summary(github.gate_markdown(result, f"{run_label(view)} (`{view.path}`)", base))
    return result.exit_code


def cmd_choose(args: argparse.Namespace) -> int:
    from bench.ci.choose import BY_METRIC, choose, sweep_candidates
    from bench.ci.gate import load_rules, load_run
    from bench.results.sweep import is_sweep_dir

    rules = load_rules(args.rules)
    for warning in rules.warnings:  # an older metric name, read as the registry's
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    views: list[Any] = []
    labels: list[str | None] = []
    notes: list[str] = []
    for ref in args.runs:  # a sweep directory stands for its done cells
        if is_sweep_dir(ref):
            cell_runs, cell_labels, cell_notes = sweep_candidates(ref)
            views += cell_runs
            labels += cell_labels
            notes += cell_notes
        else:
            views.append(load_run(ref))
            labels.append(None)
    if db_cli.from_store(args, args.runs):
        stored = db_cli.stored_views(args.store, args.where)
        views += stored
        labels += [None] * len(stored)
    choice = choose(views, rules, by=args.by, labels=labels)
    for note in [*notes, *choice.notes]:
        err.print(f"[cyan]note:[/] {escape(note)}", markup=True)
    if args.json:
        rows = [{"label": v.label, "path": v.view.path, "qualified": v.qualified, "value": v.value,
                 "verdict": v.line} for v in choice.verdicts]  # fmt: skip
        winner = choice.winner.label if choice.winner else None
        emit("choose", {"by": choice.by, "metric": choice.metric, "winner": winner, "candidates": rows})
        return choice.exit_code
    table = Table(title=f"choose --by {args.by} ({choice.metric})", title_justify="left", box=None)
    cols = ["pass_rate", *BY_METRIC.values()]
    table.add_column("candidate")
    for c in cols:
        table.add_column(FIELDS[c].label, justify="right")
    table.add_column("verdict")
    for v in choice.verdicts:
        cells = [FIELDS[c].format(v.view.metrics.get(c)) for c in cols]
        verdict = ("chosen: " if v.chosen else "") + v.reason
        table.add_row(v.label, *cells, verdict, style="bold green" if v.chosen else None)
    out.print(table)
    out.print(choice.winner.line if choice.winner else "choose: no candidate meets every rule")
    return choice.exit_code
