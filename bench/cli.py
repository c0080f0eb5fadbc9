"""Command line: parse, call, print, exit. The only module that prints results or exits.

Expected mistakes (``BenchError``) print one line and exit with their code (2 for bad input, 4 for an
environment that is not ready); Ctrl-C exits 130 with every finished record kept; anything else is a bug:
its traceback is printed and the exit code is 70.
"""

from __future__ import annotations

import argparse
import json
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


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


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
    http = run.add_argument_group("endpoints (openai_http devices)")
    http.add_argument("--base-url", default=None, help="point the endpoint profile at another address")
    http.add_argument(
        "--cache-bust",
        action="store_true",
        help="a unique deterministic prefix per request (defeats KV reuse)",
    )
    http.add_argument("--seed", type=_positive_int, default=None, help="run seed (cache-bust nonces, --rate)")
    http.add_argument(
        "--concurrency", "-c", type=_positive_int, default=1, help="closed loop: N requests in flight (1)"
    )
    http.add_argument("--rate", type=_positive_float, default=None, help="open loop: Poisson arrivals per s")
    http.add_argument("--slo-ttft-ms", type=_positive_float, default=None, help="goodput: TTFT objective")
    http.add_argument("--slo-tpot-ms", type=_positive_float, default=None, help="goodput: TPOT objective")

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
        if ev.kind == "tokens" and ev.elapsed_ns > 0:
            self.progress.update(
                self.bar, description=desc, rate=f"{ev.tokens / (ev.elapsed_ns / 1e9):.0f} tok/s"
            )
        elif ev.kind == "request_end":
            rec = ev.record
            rate = f"{rec.decode_tps:.0f} tok/s" if rec and rec.decode_tps else ""
            self.progress.update(self.bar, completed=ev.done_requests, description=desc, rate=rate)
        else:
            self.progress.update(self.bar, description=desc)


def _cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from bench.enrich import enrich
    from bench.load import TrafficOptions
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
        base_url=args.base_url,
        cache_bust=args.cache_bust,
        seed=args.seed,
        traffic=TrafficOptions(args.concurrency, args.rate, args.slo_ttft_ms, args.slo_tpot_ms),
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
    errors = summary["overall"]["errors"]
    if errors:
        err.print(
            f"[yellow]warning:[/] {errors} request(s) errored; their records say why ({outcome.run_dir})"
        )
        return EXIT_REQUEST_ERRORS
    return EXIT_OK


def _print_summary(summary: dict[str, Any]) -> None:
    if summary.get("prompt_format") == "plain_completion":
        err.print("[yellow]note:[/] the model has no chat template; tasks ran as plain completion (recorded)")
    if "shapes" in summary:
        _print_llama_bench(summary["shapes"])
    else:
        out.print(_summary_table(summary))
    o = summary["overall"]
    if o.get("request_throughput_rps") is not None and (o["n"] > 1 or o.get("goodput_rps") is not None):
        line = ", ".join(
            f"{FIELDS[k].format(o[k])} {FIELDS[k].label}"
            for k in ("request_throughput_rps", "output_tps_total", "goodput_rps", "slo_attainment")
            if o.get(k) is not None
        )
        out.print(f"throughput: {line} (over {o['window_s']:.1f} s)")
    passed = f"{o['passed']}/{o['checked']} passed" if o["checked"] else "no checks"
    out.print(f"{passed} · {o['n']} measured requests · bundle: {summary['run_dir']}")


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
