"""Command line: parse, call, print, exit. The only module that prints results or exits.

Expected mistakes (``BenchError``) print one line and exit with their code (2 for bad input, 4 for an
environment that is not ready); Ctrl-C exits 130 with every finished record kept; anything else is a bug:
its traceback is printed and the exit code is 70.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench import __version__
from bench.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_REQUEST_ERRORS, BenchError
from bench.report.fields import FIELDS, SUMMARY_COLUMNS
from bench.runner import ProgressEvent, RunInterrupted

__all__ = ["build_parser", "main"]

# Piped output is read by people too (CI logs): give tables room instead of rich's 80-column default.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------------------------ parser
def _positive_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got {text!r}")
    return value


# argparse dest → RunOptions field, where the names differ (for --resume overrides)
_OPTION_FIELD = {"min_time": "min_time_s", "cooldown": "cooldown_s"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="infercost",
        description="What does a task cost, how fast, and how well: on this device versus that cloud API.",
    )
    p.add_argument("--version", action="version", version=f"infercost {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a prompt suite on a device and write a result bundle")
    run.add_argument(
        "--device", default="auto", help="profile NAME (devices/NAME.toml) or PATH; default: auto"
    )
    run.add_argument(
        "--suite", default="default", help="suite NAME (prompts/NAME.toml) or PATH; default: default"
    )
    run.add_argument("--model", default=None, help="catalog name or GGUF path; default: smollm2-135m")
    run.add_argument(
        "--repetitions", "-r", type=_positive_int, default=3, help="measured requests per task (3)"
    )
    run.add_argument("--warmup", "-w", type=_positive_int, default=1, help="warmup requests per task (1)")
    run.add_argument(
        "--threads", "-t", type=_positive_int, default=None, help="engine threads (physical cores)"
    )
    run.add_argument("--out", type=Path, default=Path("reports/runs"), help="runs root (reports/runs)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    run.add_argument("--no-text", action="store_true", help="keep prompts and outputs out of the bundle")
    run.add_argument(
        "--min-time",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="repeat each task until its measured requests add up to SECONDS (--repetitions is the minimum)",
    )
    run.add_argument(
        "--cooldown", type=_seconds, default=0.0, metavar="SECONDS", help="pause between tasks (0)"
    )
    run.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="finish an interrupted run (bundle dir or run id): only its missing requests run",
    )

    sub.add_parser("suites", help="list the prompt suites in prompts/")
    sub.add_parser("models", help="list the catalog models and whether they are installed")
    return p


# ------------------------------------------------------------------------------------------- run
class _ProgressView:
    """Draws the runner's progress events: task, repetition and a live tok/s."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bar: Any = None

    def __call__(self, ev: ProgressEvent) -> None:
        if self.bar is None:
            self.bar = self.progress.add_task("starting", total=ev.total_requests, rate="")
        kind = "warmup" if ev.warmup else f"rep {ev.repetition + 1}"
        desc = f"[{ev.task_index + 1}/{ev.n_tasks}] {ev.task_id} {kind}"
        if ev.kind == "cooldown":
            desc = f"cooling down {ev.elapsed_ns / 1e9:g} s before {ev.task_id}"
            self.progress.update(self.bar, description=desc, rate="", total=ev.total_requests)
        elif ev.kind == "tokens" and ev.elapsed_ns > 0:
            self.progress.update(
                self.bar, description=desc, rate=f"{ev.tokens / (ev.elapsed_ns / 1e9):.0f} tok/s"
            )
        elif ev.kind == "request_end":
            rec = ev.record
            rate = f"{rec.decode_tps:.0f} tok/s" if rec and rec.decode_tps else ""
            self.progress.update(
                self.bar, completed=ev.done_requests, description=desc, rate=rate, total=ev.total_requests
            )
        else:
            self.progress.update(self.bar, description=desc, total=ev.total_requests)


def _cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from bench.enrich import enrich
    from bench.orchestrate import RunOptions, execute_run, prepare_run
    from bench.report.summary import summarize
    from bench.store import read_bundle

    options = RunOptions(
        device=args.device,
        suite=args.suite,
        model=args.model,
        repetitions=args.repetitions,
        warmup=args.warmup,
        threads=args.threads,
        out=args.out,
        no_text=args.no_text,
        command=["infercost", *argv],
        min_time_s=args.min_time,
        cooldown_s=args.cooldown,
        resume=args.resume,
        explicit=_explicit_options(argv),
    )
    prepared = prepare_run(options)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with progress:
        outcome = execute_run(prepared, on_progress=_ProgressView(progress))
    bundle = read_bundle(outcome.run_dir)
    summary = summarize(enrich(bundle), bundle.manifest, run_dir=str(outcome.run_dir))
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)
    _print_warnings(summary)
    errors = summary["overall"]["errors"]
    if errors:
        err.print(
            f"[yellow]warning:[/] {errors} request(s) errored; their records say why ({outcome.run_dir})"
        )
        return EXIT_REQUEST_ERRORS
    return EXIT_OK


def _explicit_options(argv: Sequence[str]) -> frozenset[str]:
    """RunOptions fields the user gave on the command line (on --resume they override the record).

    Parsed a second time with every ``run`` default replaced by a marker, so ``-r 3`` counts as given
    even though 3 is the default."""
    unset = object()
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    run = subparsers.choices["run"]
    dests = [a.dest for a in run._actions if a.dest != "help"]
    run.set_defaults(**dict.fromkeys(dests, unset))
    parsed = vars(parser.parse_args(argv))
    given = {name for name in dests if parsed.get(name, unset) is not unset}
    return frozenset(_OPTION_FIELD.get(name, name) for name in given)


def _print_warnings(summary: dict[str, Any]) -> None:
    """hyperfine's shape: what is wrong, then what to do, after the results."""
    for w in summary.get("warnings", []):
        err.print(f"[yellow]warning:[/] {w['message']}. {w['remedy']}", markup=True, highlight=False)


def _ci_line(o: dict[str, Any]) -> str | None:
    parts = []
    if o.get("pass_rate_ci_low") is not None and o.get("pass_rate_ci_high") is not None:
        parts.append(f"pass rate {o['pass_rate_ci_low']:.0%}–{o['pass_rate_ci_high']:.0%} (Wilson)")
    if o.get("decode_tps_ci_low") is not None and o.get("decode_tps_ci_high") is not None:
        parts.append(f"decode {o['decode_tps_ci_low']:.1f}–{o['decode_tps_ci_high']:.1f} tok/s (mean)")
    return "95% CI: " + " · ".join(parts) if parts else None


def _print_summary(summary: dict[str, Any]) -> None:
    if summary.get("prompt_format") == "plain_completion":
        err.print("[yellow]note:[/] the model has no chat template; tasks ran as plain completion (recorded)")
    if "shapes" in summary:
        _print_llama_bench(summary["shapes"])
    else:
        out.print(_summary_table(summary))
    o = summary["overall"]
    passed = f"{o['passed']}/{o['checked']} passed" if o["checked"] else "no checks"
    out.print(f"{passed} · {o['n']} measured requests · bundle: {summary['run_dir']}")
    ci = _ci_line(o)
    if ci:
        out.print(ci)


def _summary_table(summary: dict[str, Any]) -> Table:
    """By category, then overall; columns and formats from the field registry."""
    table = Table(
        title=f"{summary['suite']} · {summary['model']} · {summary['device']}", title_justify="left", box=None
    )
    table.add_column("category", no_wrap=True)
    shown = [c for c in SUMMARY_COLUMNS if c != "decode_tps_sd"]
    for name in shown:
        f = FIELDS[name]
        label = f.label + (" ms" if f.unit == "ms" else "")
        table.add_column(label, justify="right", no_wrap=True)
    rows = [*summary["by_category"].items(), ("overall", summary["overall"])]
    for i, (name, m) in enumerate(rows):
        cells = []
        for col in shown:
            if col == "decode_tps_mean":
                mean, sd = m["decode_tps_mean"], m["decode_tps_sd"]
                cells.append(
                    "–" if mean is None else f"{mean:.1f}" + (f" ± {sd:.1f}" if sd is not None else "")
                )
            else:
                cells.append(FIELDS[col].format(m[col]))
        last = i == len(rows) - 1
        table.add_row(name, *cells, style="bold" if last else None, end_section=i == len(rows) - 2)
    return table


def _print_llama_bench(rows: list[dict[str, Any]]) -> None:
    """llama-bench's own Markdown table, so results paste next to published ones."""
    header = ["model", "size", "params", "backend", "threads", "test", "t/s"]
    body = []
    for r in rows:
        tps = "–" if r["tps_mean"] is None else f"{r['tps_mean']:.2f}"
        if r["tps_sd"] is not None:
            tps += f" ± {r['tps_sd']:.2f}"
        body.append([r["model"], r["size"], r["params"], r["backend"], str(r["threads"]), r["test"], tps])
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(header)]
    right = {1, 2, 4, 5, 6}

    def fmt(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    print(fmt(header))
    print(
        "| "
        + " | ".join(("-" * (w - 1) + ":") if i in right else "-" * w for i, w in enumerate(widths))
        + " |"
    )
    for row in body:
        print(fmt(row))


# ------------------------------------------------------------------------------------ listings
def _cmd_suites(_args: argparse.Namespace) -> int:
    from bench.suite import list_suites, load_suite

    table = Table(title="prompt suites (prompts/)", title_justify="left")
    for col in ("name", "tasks", "categories", "hash", "description"):
        table.add_column(col)
    for path in list_suites():
        try:
            s = load_suite(path)
        except BenchError as exc:
            table.add_row(path.stem, "–", "–", "–", f"[red]invalid:[/] {exc}")
            continue
        table.add_row(s.name, str(len(s.tasks)), ", ".join(s.categories), s.suite_hash[:12], s.description)
    out.print(table)
    return EXIT_OK


def _cmd_models(_args: argparse.Namespace) -> int:
    from bench.models import CATALOG, DEFAULT_MODEL

    table = Table(title="model catalog (installed from PyPI, no hub needed)", title_justify="left")
    for col in ("name", "model", "params", "quant", "size", "chat template", "installed"):
        table.add_column(col, justify="right" if col in ("params", "size") else "left")
    missing = []
    for name, m in CATALOG.items():
        installed = m.installed()
        if not installed:
            missing.append(m)
        table.add_row(
            name + (" (default)" if name == DEFAULT_MODEL else ""),
            m.title,
            m.params,
            m.quant,
            f"{m.size_mb} MB",
            "yes" if m.chat_template else "no (plain completion)",
            "[green]yes[/]" if installed else "[red]no[/]",
        )
    out.print(table)
    for m in missing:
        out.print(f"install {m.name}: {m.install_command}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------ main
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        if args.command == "run":
            return _cmd_run(args, argv)
        if args.command == "suites":
            return _cmd_suites(args)
        if args.command == "models":
            return _cmd_models(args)
        parser.error(f"unknown command {args.command}")
    except BenchError as exc:
        err.print(f"[red]infercost: error:[/] {exc}", markup=True, highlight=False)
        return exc.exit_code
    except RunInterrupted as exc:
        err.print(f"[yellow]infercost:[/] {exc}")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        err.print("[yellow]infercost:[/] interrupted")
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        err.print("[red]infercost: internal error[/] (a bug; please report it with the traceback above)")
        return EXIT_INTERNAL
    return EXIT_OK
