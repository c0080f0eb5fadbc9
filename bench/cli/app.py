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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench import __version__
from bench.errors import (
    EXIT_ENV_NOT_READY,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REQUEST_ERRORS,
    BenchError,
)
from bench.report.fields import ENERGY_COLUMNS, FIELDS, OPTIONAL_COLUMNS, SUMMARY_COLUMNS
from bench.report.markdown import aligned_md_table
from bench.run.runner import ProgressEvent, RunInterrupted

__all__ = ["build_parser", "main"]

# Piped output is read by people too (CI logs): give tables room instead of rich's 80-column default.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------------------------ parser
def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type for whole numbers >= minimum (counts: 1 or more; warmups and seeds: 0 or more)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"  # what argparse names in its error line
    return parse


_positive_int = _int_at_least(1)
_count_from_zero = _int_at_least(0)


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
    run.add_argument("--warmup", "-w", type=_count_from_zero, default=1, help="warmup requests per task (1)")
    run.add_argument(
        "--threads", "-t", type=_positive_int, default=None, help="engine threads (physical cores)"
    )
    run.add_argument("--out", type=Path, default=Path("reports/runs"), help="runs root (reports/runs)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    run.add_argument("--no-text", action="store_true", help="keep prompts and outputs out of the bundle")
    _add_cost_flags(run)
    run.add_argument(
        "--memory-bandwidth-gbs", type=_float, default=None, help="memory bandwidth for the roofline (GB/s)"
    )
    run.add_argument("--power-mode", default=None, help="one of the profile's power_modes (e.g. 15W)")

    gate = sub.add_parser("gate", help="check a run against CI rules; exit 1 when one fails")
    gate.add_argument("run", help="bundle directory or run id")
    gate.add_argument("--rules", required=True, type=Path, help="rules file (see gate.example.toml)")
    gate.add_argument("--baseline", default=None, help="bundle or run id that [relative] rules compare to")
    gate.add_argument("--json", action="store_true", help="print the verdicts as JSON on stdout")

    choose = sub.add_parser("choose", help="pick the best run that meets every [absolute] rule")
    choose.add_argument("runs", nargs="+", help="bundle directories or run ids (same suite)")
    choose.add_argument("--rules", required=True, type=Path, help="rules file (see gate.example.toml)")
    choose.add_argument("--by", choices=["cost", "latency", "energy"], default="cost", help="rank by (cost)")
    choose.add_argument("--json", action="store_true", help="print the verdicts as JSON on stdout")
    power = run.add_argument_group("power and energy")
    power.add_argument(
        "--power",
        default=None,
        metavar="SENSOR",
        help="auto (default, or the profile's power_sensor), none, nvml, jetson-ina3221, apple-macmon, "
        "apple-powermetrics, rapl, amdgpu-hwmon, estimate, csv:FILE; a named one must be readable (exit 4)",
    )
    power.add_argument("--power-hz", type=_seconds, default=100.0, help="sampling rate (100)")
    power.add_argument(
        "--idle-seconds", type=_seconds, default=5.0, help="idle baseline measured before the run (5)"
    )

    doctor = sub.add_parser("doctor", help="is this machine ready to measure? sensors, power mode, load")
    doctor.add_argument("--device", default="auto", help="profile NAME or PATH (for estimate watts)")
    doctor.add_argument("--power", default=None, metavar="SENSOR", help="insist on this sensor")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")

    report = sub.add_parser("report", help="combine result bundles into a report (terminal, Markdown, HTML)")
    report.add_argument(
        "bundles", nargs="+", metavar="BUNDLE_OR_DIR", help="bundles, run ids, or dirs of them"
    )
    report.add_argument("-o", "--output", type=Path, help="write FILE.md (PNG charts beside it) or FILE.html")
    report.add_argument("--title", help="report title (default: the models and devices compared)")
    report.add_argument("--csv", type=Path, metavar="FILE", help="export the combined frame as CSV")
    report.add_argument("--json", type=Path, metavar="FILE", help="export the combined frame as JSON")
    report.add_argument("--pool", action="store_true", help="pool runs whose key properties are all equal")
    report.add_argument("--kwh-usd", type=float, help="electricity price for cost, overriding the profiles")
    report.add_argument("--hardware-usd", type=float, help="device price for cost, overriding the profiles")

    compare = sub.add_parser("compare", help="compare two runs metric by metric, with significance")
    compare.add_argument("baseline", metavar="A", help="baseline bundle or run id")
    compare.add_argument("candidate", metavar="B", help="candidate bundle or run id")
    compare.add_argument("--min-effect", type=float, default=0.05, help="smallest change called (0.05 = 5%%)")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")
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
    http = run.add_argument_group("endpoints (openai_http devices)")
    http.add_argument("--base-url", default=None, help="point the endpoint profile at another address")
    http.add_argument(
        "--cache-bust",
        action="store_true",
        help="a unique deterministic prefix per request (defeats KV reuse)",
    )
    http.add_argument(
        "--seed", type=_count_from_zero, default=None, help="run seed (cache-bust nonces, --rate)"
    )
    http.add_argument(
        "--concurrency", "-c", type=_positive_int, default=1, help="closed loop: N requests in flight (1)"
    )
    http.add_argument("--rate", type=_positive_float, default=None, help="open loop: Poisson arrivals per s")
    http.add_argument("--slo-ttft-ms", type=_positive_float, default=None, help="goodput: TTFT objective")
    http.add_argument("--slo-tpot-ms", type=_positive_float, default=None, help="goodput: TPOT objective")
    agent = run.add_argument_group("agent tasks (docs/agents.md)")
    agent.add_argument(
        "--prefix-cache", choices=["on", "off"], default="on", help="keep the previous step's KV cache (on)"
    )
    agent.add_argument(
        "--agent-protocol",
        choices=["auto", "native", "text"],
        default="auto",
        help="tool calls: native tools, or one JSON object per call in text (auto: native where supported)",
    )
    agent.add_argument(
        "--trace", type=Path, default=None, metavar="FILE", help="replay a recorded trace.jsonl"
    )

    sub.add_parser("suites", help="list the prompt suites in prompts/")
    sub.add_parser("models", help="list the catalog models and whether they are installed")

    devices = sub.add_parser("devices", help="list the device profiles in devices/ (or: devices show NAME)")
    devices_sub = devices.add_subparsers(dest="devices_command", metavar="show")
    show = devices_sub.add_parser("show", help="print one resolved profile")
    show.add_argument("name", help="profile NAME, PATH or auto")
    show.add_argument("--power-mode", default=None, help="resolve the profile in this power mode")
    show.add_argument("--json", action="store_true", help="print the resolved profile as JSON")

    be = sub.add_parser("breakeven", help="monthly volume at which a local run's device beats each cloud API")
    be.add_argument("run", help="bundle directory or run id")
    be.add_argument(
        "--cloud", action="append", default=None, metavar="NAME", help="cloud profile (repeat; default: all)"
    )
    be.add_argument("--tasks-per-day", type=_float, default=None, help="also answer for this volume")
    be.add_argument(
        "--kwh-usd", type=_float, default=None, help="electricity price (USD/kWh) instead of the run's"
    )
    be.add_argument(
        "--hardware-usd", type=_float, default=None, help="device price (USD) instead of the run's"
    )
    be.add_argument(
        "--runs-root", type=Path, default=Path("reports/runs"), help="where run ids are looked up"
    )
    be.add_argument("--json", action="store_true", help="print the answer as JSON")
    return p


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _add_cost_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kwh-usd", type=_float, default=None, help="electricity price, USD/kWh (default: profile)"
    )
    parser.add_argument(
        "--hardware-usd",
        type=_float,
        default=None,
        help="device price, USD (default: profile; auto has none)",
    )
    parser.add_argument(
        "--tasks-per-month", type=_float, default=None, help="tasks per month a subscription is spread over"
    )


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
    from bench.cost.enrich import enrich
    from bench.report.summary import summarize
    from bench.results.bundle import read_bundle
    from bench.run.orchestrate import RunOptions, execute_run, prepare_run
    from bench.run.traffic import TrafficOptions

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
        kwh_usd=args.kwh_usd,
        hardware_usd=args.hardware_usd,
        memory_bandwidth_gbs=args.memory_bandwidth_gbs,
        tasks_per_month=args.tasks_per_month,
        power_mode=args.power_mode,
        power=args.power,
        power_hz=args.power_hz,
        idle_seconds=args.idle_seconds,
        min_time_s=args.min_time,
        cooldown_s=args.cooldown,
        resume=args.resume,
        explicit=_explicit_options(argv),
        base_url=args.base_url,
        cache_bust=args.cache_bust,
        seed=args.seed,
        traffic=TrafficOptions(args.concurrency, args.rate, args.slo_ttft_ms, args.slo_tpot_ms),
        prefix_cache=args.prefix_cache == "on",
        trace=args.trace,
        agent_protocol=args.agent_protocol,
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
    from bench.report.energy import power_note

    if summary.get("prompt_format") == "plain_completion":
        err.print("[yellow]note:[/] the model has no chat template; tasks ran as plain completion (recorded)")
    if "shapes" in summary:
        _print_llama_bench(summary["shapes"])
    else:
        out.print(_summary_table(summary))
    if summary.get("agents"):
        from bench.cli.agent_view import agent_table

        out.print(agent_table(summary["agents"]))
        o = summary["overall"]
        out.print(
            f"agent time: model {FIELDS['model_seconds_share'].format(o['model_seconds_share'])} · tools "
            f"{FIELDS['tool_seconds_share'].format(o['tool_seconds_share'])} · harness "
            f"{FIELDS['harness_seconds_share'].format(o['harness_seconds_share'])}; cached input "
            f"{FIELDS['cached_input_share'].format(o['cached_input_share'])} "
            f"(protocol {summary.get('agent_protocol')})"
        )
    note = power_note(summary)
    if note:
        out.print(note)
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
    ci = _ci_line(o)
    if ci:
        out.print(ci)
    _print_cost(summary)


def _print_cost(summary: dict[str, Any]) -> None:
    from bench.report import cost_view

    header = cost_view.cost_header(summary)
    table = cost_view.cost_table(summary)
    out.print()
    if header:
        out.print(header)
    if table is not None:
        out.print(table)
    for note in (summary.get("cost") or {}).get("notes", []):
        out.print(f"[yellow]note:[/] {note}")
    clouds = cost_view.cloud_table(summary)
    if clouds is not None:
        out.print()
        out.print(clouds)
    line = cost_view.roofline_line(summary)
    if line:
        out.print()
        out.print(line)


def _summary_table(summary: dict[str, Any]) -> Table:
    """By category, then overall; columns and formats from the field registry."""
    table = Table(
        title=f"{summary['suite']} · {summary['model']} · {summary['device']}", title_justify="left", box=None
    )
    table.add_column("category", no_wrap=True)
    rows = [*summary["by_category"].items(), ("overall", summary["overall"])]
    shown = [
        c
        for c in SUMMARY_COLUMNS
        if c != "decode_tps_sd" and (c not in OPTIONAL_COLUMNS or any(m.get(c) is not None for _, m in rows))
    ]
    for name in shown:
        f = FIELDS[name]
        label = f.label + (" ms" if f.unit == "ms" else "")
        table.add_column(label, justify="right", no_wrap=True)
    for i, (name, m) in enumerate(rows):
        cells = []
        for col in shown:
            if col == "decode_tps_mean":
                mean, sd = m["decode_tps_mean"], m["decode_tps_sd"]
                cells.append(
                    "–" if mean is None else f"{mean:.1f}" + (f" ± {sd:.1f}" if sd is not None else "")
                )
            else:
                cell = FIELDS[col].format(m[col])
                if col in ENERGY_COLUMNS and m.get("energy_estimated") and m[col] is not None:
                    cell = "~" + cell  # a model's number, not a measurement
                cells.append(cell)
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
    print(aligned_md_table(header, body, right={1, 2, 4, 5, 6}))
    energy = [r for r in rows if r.get("energy_per_task_j") is not None]
    if energy:  # per test, J per token *of that test* (prompt tokens for pp, generated for tg)
        print()
        marks = ["~" if r.get("energy_estimated") else "" for r in energy]
        print(
            aligned_md_table(
                ["test", "J/test", "J/tok", "avg W"],
                [
                    [
                        r["test"],
                        f"{m}{r['energy_per_task_j']:.3f}",
                        "–" if r["j_per_token"] is None else f"{m}{r['j_per_token']:.4f}",
                        "–" if r["avg_power_w"] is None else f"{m}{r['avg_power_w']:.1f}",
                    ]
                    for r, m in zip(energy, marks, strict=True)
                ],
                right={1, 2, 3},
            )
        )


# --------------------------------------------------------------------------------- report, compare
def _cmd_report(args: argparse.Namespace) -> int:
    from bench.cost.enrich import EnrichOptions
    from bench.report.build import ReportOptions
    from bench.report.publish import Outputs, check_outputs, check_prices, make_report, write_outputs
    from bench.report.terminal import report_view

    outputs = Outputs(report=args.output, csv=args.csv, json=args.json)
    check_outputs(outputs)
    check_prices(args.kwh_usd, args.hardware_usd)
    enrich_options = EnrichOptions(kwh_usd=args.kwh_usd, hardware_usd=args.hardware_usd)
    options = ReportOptions(
        title=args.title, pool=args.pool, enrich=enrich_options, charts=args.output is not None
    )
    report = make_report(args.bundles, options)
    for note in report.notes:
        err.print(f"[yellow]note:[/] {note}", markup=True, highlight=False)
    if args.output is None:
        for renderable in report_view(report):
            out.print(renderable)
    for path in write_outputs(report, outputs, options):
        err.print(f"wrote {path}", markup=False)
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from bench.report.compare import compare_runs, comparison_table
    from bench.report.runs import assign_labels, load_runs
    from bench.report.terminal import rich_table

    runs = [load_runs([args.baseline])[0], load_runs([args.candidate])[0]]
    assign_labels(runs)
    result = compare_runs(runs[0], runs[1], min_effect=args.min_effect)
    if args.json:
        print(json.dumps(_comparison_json(result), indent=2, default=str))
        return EXIT_OK
    for name, a, b in result.differences:
        out.print(f"key property differs: {name}\n  A: {a}\n  B: {b}", markup=False)
    if not result.differences:
        out.print("same configuration (every key property matches)", markup=False)
    table = comparison_table(result)
    out.print(rich_table(table), markup=False)
    for note in table.notes:
        out.print(f"  {note}", markup=False)
    return EXIT_OK


def _comparison_json(result: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "baseline": {"label": result.baseline.label, "run_ids": result.baseline.run_ids},
        "candidate": {"label": result.candidate.label, "run_ids": result.candidate.run_ids},
        "differences": [{"property": k, "baseline": a, "candidate": b} for k, a, b in result.differences],
        "min_effect": result.min_effect,
        "metrics": {r.field.name: {**asdict(r.comparison), "unit": r.field.unit} for r in result.rows},
        "not_compared": result.skipped,
    }


# ------------------------------------------------------------------------------------ listings
def _cmd_suites(_args: argparse.Namespace) -> int:
    from bench.suite.loader import list_suites, load_suite

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
    from bench.models.catalog import CATALOG, DEFAULT_MODEL

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


def _cmd_devices(args: argparse.Namespace) -> int:
    from bench.devices.profiles import auto_profile, list_devices, load_device
    from bench.report import cost_view

    if args.devices_command == "show":
        profile = load_device(args.name, power_mode=args.power_mode)
        if args.json:
            print(json.dumps({**profile.public_dict(), "origin": profile.origin}, indent=2, default=str))
        else:
            for line in cost_view.device_lines(args.name, profile):
                out.print(line, markup=False)
        return EXIT_OK
    rows: list[Any] = [("auto", auto_profile(), None)]
    for path in list_devices():
        try:
            rows.append((path.stem, load_device(str(path)), None))
        except BenchError as exc:
            rows.append((path.stem, None, str(exc)))
    out.print(cost_view.devices_table(rows))
    return EXIT_OK


def _cmd_breakeven(args: argparse.Namespace) -> int:
    from bench.cost.breakeven import analyse
    from bench.cost.enrich import EnrichOptions, enrich
    from bench.cost.pricing import cloud_profiles
    from bench.report import cost_view
    from bench.results.bundle import read_bundle

    bundle = read_bundle(args.run, runs_root=args.runs_root)
    options = EnrichOptions(kwh_usd=args.kwh_usd, hardware_usd=args.hardware_usd)
    clouds, _skipped = cloud_profiles(args.cloud)
    result = analyse(enrich(bundle, options), bundle.manifest, clouds, options, args.tasks_per_day)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return EXIT_OK
    for view in cost_view.breakeven_views(result):
        out.print(view)
    return EXIT_OK


# ------------------------------------------------------------------------------- gate and choose
_STATUS_STYLE = {"pass": "[green]PASS[/]", "fail": "[red]FAIL[/]", "no data": "[yellow]NO DATA[/]"}


def _cmd_gate(args: argparse.Namespace) -> int:
    import dataclasses

    from bench.ci import github
    from bench.ci.gate import evaluate_gate, load_rules, load_run, run_label

    rules = load_rules(args.rules)
    view = load_run(args.run)
    baseline = load_run(args.baseline) if args.baseline else None
    result = evaluate_gate(rules, view, baseline)
    for note in result.notes:
        err.print(f"[cyan]note:[/] {escape(note)}")
    if args.json:
        rows = [dataclasses.asdict(o) for o in result.outcomes]
        doc = {
            "exit_code": result.exit_code,
            "headline": result.headline,
            "notes": result.notes,
            "rules": rows,
        }
        print(json.dumps(doc, indent=2))
    else:
        out.print(escape(f"run:      {run_label(view)} ({view.path})"))
        if baseline:
            out.print(escape(f"baseline: {run_label(baseline)} ({baseline.path})"))
        table = Table(box=None)
        for col in ("rule", "kind", "value", "limit", "result", "detail"):
            table.add_column(col, justify="right" if col == "value" else "left")
        for o in result.outcomes:
            status = _STATUS_STYLE.get(o.status, f"[yellow]{o.status.upper()}[/]")
            table.add_row(o.rule, o.kind, o.value_text, escape(o.limit), status, escape(o.detail))
        out.print(table)
        out.print(result.headline)
    if github.in_github_actions():
        for line in github.gate_annotations(result):
            print(line)
        base = f"{run_label(baseline)} (`{baseline.path}`)" if baseline else None
        github.append_step_summary(github.gate_markdown(result, f"{run_label(view)} (`{view.path}`)", base))
    return result.exit_code


def _cmd_choose(args: argparse.Namespace) -> int:
    from bench.ci.choose import BY_METRIC, choose
    from bench.ci.gate import load_rules, load_run

    rules = load_rules(args.rules)
    choice = choose([load_run(r) for r in args.runs], rules, by=args.by)
    for note in choice.notes:
        err.print(f"[cyan]note:[/] {escape(note)}")
    if args.json:
        rows = [{"label": v.label, "path": v.view.path, "qualified": v.qualified, "value": v.value,
                 "verdict": v.line} for v in choice.verdicts]  # fmt: skip
        winner = choice.winner.label if choice.winner else None
        print(
            json.dumps(
                {"by": choice.by, "metric": choice.metric, "winner": winner, "candidates": rows}, indent=2
            )
        )
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
        table.add_row(escape(v.label), *cells, escape(verdict), style="bold green" if v.chosen else None)
    out.print(table)
    out.print(escape(choice.winner.line) if choice.winner else "choose: no candidate meets every rule")
    return choice.exit_code


# ---------------------------------------------------------------------------------------- doctor
def _cmd_doctor(args: argparse.Namespace) -> int:
    from bench.devices.profiles import load_device
    from bench.run.doctor import is_ready, run_checks

    device = load_device(args.device)
    checks = run_checks(idle_w=device.idle_w, max_w=device.max_w, insist=args.power or device.power_sensor)
    ready = is_ready(checks)
    if args.json:
        print(json.dumps({"ready": ready, "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        table = Table(title="infercost doctor", title_justify="left", box=None)
        for col in ("check", "state", "detail"):
            table.add_column(col, overflow="fold")
        color = {"ok": "green", "warn": "yellow", "fail": "red", "info": "dim"}
        for c in checks:
            table.add_row(c.name, f"[{color[c.state]}]{c.state}[/]", escape(c.detail))
        out.print(table)
        for c in checks:
            if c.fix and c.state in ("fail", "warn"):
                out.print(f"[{color[c.state]}]{c.name}:[/] {escape(c.fix)}", soft_wrap=True)
        out.print("ready to measure" if ready else "[red]not ready[/]: fix the failing checks above")
    return EXIT_OK if ready else EXIT_ENV_NOT_READY


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
        if args.command == "gate":
            return _cmd_gate(args)
        if args.command == "choose":
            return _cmd_choose(args)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "suites":
            return _cmd_suites(args)
        if args.command == "models":
            return _cmd_models(args)
        if args.command == "devices":
            return _cmd_devices(args)
        if args.command == "breakeven":
            return _cmd_breakeven(args)
        if args.command == "doctor":
            return _cmd_doctor(args)
        parser.error(f"unknown command {args.command}")
    except BenchError as exc:
        err.print(f"[red]infercost: error:[/] {escape(str(exc))}", markup=True, highlight=False)
        return exc.exit_code
    except RunInterrupted as exc:
        err.print(f"[yellow]infercost:[/] {escape(str(exc))}")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        err.print("[yellow]infercost:[/] interrupted")
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        err.print("[red]infercost: internal error[/] (a bug; please report it with the traceback above)")
        return EXIT_INTERNAL
    return EXIT_OK
