"""``infercost run``: parse the run's flags, run, draw progress, print the summary, exit."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.cli.console import err
from bench.cli.jsonout import emit
from bench.cli.parser import Parser
from bench.errors import EXIT_OK, EXIT_REQUEST_ERRORS
from bench.run.flags import (
    CORE_RUN_FLAGS,
    COST_FLAGS,
    add_flags,
    number,
    positive_int,
    positive_number,
    seconds,
    whole_from_zero,
)
from bench.run.runner import ProgressEvent

__all__ = ["ProgressView", "explicit_options", "register"]

# argparse dest → RunOptions field, where the names differ (for --resume overrides)
_OPTION_FIELD = {"min_time": "min_time_s", "cooldown": "cooldown_s"}


def register(sub: Any) -> None:
    """Add ``run`` and its flags to the command parsers."""
    run = sub.add_parser("run", help="run a prompt suite on a device and write a result bundle")
    add_flags(run.add_argument, CORE_RUN_FLAGS)
    run.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    run.add_argument("--no-text", action="store_true", help="keep prompts and outputs out of the bundle")
    add_flags(run.add_argument, COST_FLAGS)
    run.add_argument(
        "--memory-bandwidth-gbs", type=number, default=None, help="memory bandwidth for the roofline (GB/s)"
    )
    run.add_argument("--power-mode", default=None, help="one of the profile's power_modes (e.g. 15W)")
    run.add_argument(
        "--batch", action="store_true", help="price token APIs at their batch tier (not interactive)"
    )
    run.add_argument(
        "--min-time",
        type=seconds,
        default=None,
        metavar="SECONDS",
        help="repeat each task until its measured requests add up to SECONDS (--repetitions is the minimum)",
    )
    run.add_argument(
        "--cooldown", type=seconds, default=0.0, metavar="SECONDS", help="pause between tasks (0)"
    )
    run.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="finish an interrupted run (bundle dir or run id): only its missing requests run",
    )
    power = run.add_argument_group("power and energy")
    power.add_argument(
        "--power",
        default=None,
        metavar="SENSOR",
        help="auto (default, or the profile's power_sensor), none, nvml, jetson-ina3221, apple-macmon, "
        "apple-powermetrics, rapl, amdgpu-hwmon, estimate, csv:FILE; a named one must be readable (exit 4)",
    )
    power.add_argument("--power-hz", type=seconds, default=100.0, help="sampling rate (100)")
    power.add_argument(
        "--idle-seconds", type=seconds, default=5.0, help="idle baseline measured before the run (5)"
    )
    http = run.add_argument_group("endpoints (openai_http and anthropic_messages devices)")
    http.add_argument("--base-url", default=None, help="point the endpoint profile at another address")
    cache = http.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache-bust",
        action="store_const",
        const=True,
        default=None,
        help="a unique deterministic prefix per request, so no prompt cache answers it (default over HTTP)",
    )
    cache.add_argument(
        "--warm-cache",
        action="store_true",
        help="send prompts as written: measure the server's warm prompt cache (repeats are served from it)",
    )
    http.add_argument(
        "--seed", type=whole_from_zero, default=None, help="run seed (cache-bust nonces, --rate, --sample)"
    )
    http.add_argument(
        "--concurrency", "-c", type=positive_int, default=1, help="closed loop: N requests in flight (1)"
    )
    http.add_argument("--rate", type=positive_number, default=None, help="open loop: Poisson arrivals per s")
    http.add_argument("--slo-ttft-ms", type=positive_number, default=None, help="goodput: TTFT objective")
    http.add_argument("--slo-tpot-ms", type=positive_number, default=None, help="goodput: TPOT objective")
    subset = run.add_argument_group("part of a suite, public benchmarks (docs/benchmarks.md)")
    subset.add_argument(
        "--tasks", default=None, metavar="GLOB", help="only tasks whose id matches (comma-separated patterns)"
    )
    subset.add_argument(
        "--sample", type=positive_int, default=None, metavar="N", help="N tasks drawn with the run's --seed"
    )
    subset.add_argument(
        "--prompt-style",
        choices=["auto", "chat", "completion"],
        default="auto",
        help="humaneval: chat, or plain completion (auto: completion for a model without a chat template)",
    )
    agent = run.add_argument_group("agent tasks (docs/agents.md)")
    agent.add_argument(
        "--prefix-cache", choices=["on", "off"], default="on", help="keep the previous step's KV cache (on)"
    )
    agent.add_argument(
        "--cache-ttl",
        choices=["5m", "1h"],
        default=None,
        help="anthropic_messages devices: the cache breakpoints' TTL (default: the profile's, 5m)",
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
    run.set_defaults(handler=cmd_run)


# ------------------------------------------------------------------------------------------ progress
class ProgressView:
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


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from bench.cost.enrich import enrich
    from bench.report.summary import summarize
    from bench.results.bundle import read_bundle, remember_run
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
        batch=args.batch,
        power=args.power,
        power_hz=args.power_hz,
        idle_seconds=args.idle_seconds,
        min_time_s=args.min_time,
        cooldown_s=args.cooldown,
        resume=args.resume,
        explicit=explicit_options(argv),
        base_url=args.base_url,
        cache_bust=args.cache_bust,
        warm_cache=args.warm_cache,
        seed=args.seed,
        traffic=TrafficOptions(args.concurrency, args.rate, args.slo_ttft_ms, args.slo_tpot_ms),
        prefix_cache=args.prefix_cache == "on",
        cache_ttl=args.cache_ttl,
        trace=args.trace,
        agent_protocol=args.agent_protocol,
        tasks=args.tasks,
        sample=args.sample,
        prompt_style=args.prompt_style,
    )
    prepared = prepare_run(options)
    progress = Progress(
        TextColumn("{task.description}", markup=False),  # task ids are the suite's text
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}", markup=False),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with progress:
        outcome = execute_run(prepared, on_progress=ProgressView(progress))
    from bench.cli.summary import print_summary, print_warnings

    remember_run(outcome.run_dir)  # named by its id in every command, wherever --out put it
    bundle = read_bundle(outcome.run_dir)
    summary = summarize(enrich(bundle), bundle.manifest, run_dir=str(outcome.run_dir))
    if args.json:
        emit("summary", summary)
    else:
        print_summary(summary)
    print_warnings(summary)
    errors = summary["overall"]["errors"]
    if errors:
        err.print(
            f"[yellow]warning:[/] {errors} request(s) errored; their records say why "
            f"({escape(str(outcome.run_dir))})",
            markup=True,
        )
        return EXIT_REQUEST_ERRORS
    return EXIT_OK


def explicit_options(argv: Sequence[str]) -> frozenset[str]:
    """RunOptions fields the user gave on the command line (on --resume they override the record).

    Parsed a second time with every ``run`` default replaced by a marker, so ``-r 3`` counts as given
    even though 3 is the default."""
    unset = object()
    parser = Parser(add_help=False)
    sub = parser.add_subparsers(dest="command")
    register(sub)
    run = sub.choices["run"]
    dests = [a.dest for a in run._actions if a.dest not in ("help", "handler")]
    run.set_defaults(**dict.fromkeys(dests, unset))
    parsed = vars(parser.parse_args(argv))
    given = {name for name in dests if parsed.get(name, unset) is not unset}
    return frozenset(_OPTION_FIELD.get(name, name) for name in given)
