"""One run, end to end: resolve inputs, fail fast on bad ones, load the backend, run, keep the bundle.

Every input is validated *before* anything is timed or written (a bad suite, profile, model or output
directory costs the user seconds, not a wasted run). The CLI calls ``execute_run``; tests and the
pytest plugin can call it too.

``RunOptions.resume`` continues an interrupted bundle instead of starting one (``bench.run.resume`` says what
must match); the machine's state is recorded at start and end (``bench.run.hygiene``).
"""

from __future__ import annotations

import math
import os
import secrets
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.backends.base import Backend
from bench.backends.http.client import HttpBackend
from bench.devices.cost_flags import check_cost_flags
from bench.devices.endpoint import apply_endpoint_overrides, apply_prompt_cache
from bench.devices.profiles import (
    MAX_THREADS,
    DeviceProfile,
    LlamaCppSettings,
    default_threads,
    load_device,
)
from bench.devices.token_prices import schedule_of
from bench.errors import BenchError, UsageError
from bench.models.catalog import DEFAULT_MODEL, ResolvedModel, resolve_model
from bench.power.meter import DEFAULT_IDLE_SECONDS, PowerMeter
from bench.power.registry import Selection, check_power_options, select_for_device, select_sensor
from bench.power.sampler import DEFAULT_RATE_HZ
from bench.results.bundle import (
    DEFAULT_RUNS_ROOT,
    Bundle,
    BundleWriter,
    check_writable,
    estimate_bundle_bytes,
    read_bundle,
    resolve_bundle,
)
from bench.results.schema import HygieneFacts, Manifest, RunSettingsFacts
from bench.run import hygiene, resume
from bench.run.agent_protocol import Protocol
from bench.run.runner import ProgressEvent, Runner, RunOutcome, RunSettings, build_manifest, new_run_id
from bench.run.runners import RunnerContext, build_runner
from bench.run.shape_checks import check_shapes, sequences_needed
from bench.run.traffic import TrafficOptions
from bench.suite.loader import PromptSuite, load_suite, resolve_suite_path
from bench.suite.sources import PROMPT_STYLES, is_source_suite, load_source_suite
from bench.suite.subset import select_tasks

__all__ = [
    "PreparedRun",
    "RunOptions",
    "base_manifest",
    "execute_run",
    "make_backend",
    "prepare_run",
    "run_id_stem",
    "with_engine_settings",
]


@dataclass(frozen=True)
class RunOptions:
    device: str = "auto"
    suite: str = "default"
    model: str | None = None
    repetitions: int = 3
    warmup: int = 1
    threads: int | None = None
    out: Path = DEFAULT_RUNS_ROOT
    no_text: bool = False
    command: list[str] = field(default_factory=list)
    # cost and roofline inputs: recorded in manifest.settings, used when the bundle is read
    kwh_usd: float | None = None
    hardware_usd: float | None = None
    memory_bandwidth_gbs: float | None = None
    tasks_per_month: float | None = None
    power_mode: str | None = None
    batch: bool = False  # --batch: price token APIs at their batch tier (docs/prices.md)

    def cost_settings(self) -> dict[str, float | None]:
        return {
            "kwh_usd": self.kwh_usd,
            "hardware_usd": self.hardware_usd,
            "memory_bandwidth_gbs": self.memory_bandwidth_gbs,
            "tasks_per_month": self.tasks_per_month,
        }

    power: str | None = None  # None: the profile's power_sensor, else auto
    power_hz: float = DEFAULT_RATE_HZ
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    min_time_s: float | None = None
    cooldown_s: float = 0.0
    resume: str | Path | None = None  # a bundle directory, or a run id under ``out``
    explicit: frozenset[str] = frozenset()  # fields the user set (on --resume they override the record)
    base_url: str | None = None  # --base-url: another address for an endpoint profile
    # a unique deterministic prefix per request (bench.run.cachebust). None: the default for the device,
    # on for HTTP endpoints (a new user's TTFT, not the server's prompt cache), off in-process (the engine
    # clears its KV cache before every request); prepare_run settles it to True or False
    cache_bust: bool | None = None
    warm_cache: bool = False  # --warm-cache: repeat prompts as written, to measure a warm prompt cache
    seed: int | None = None  # run seed (cache-bust nonces, open-loop schedule); None: drawn and recorded
    traffic: TrafficOptions = field(default_factory=TrafficOptions)
    prefix_cache: bool = True  # agent tasks: keep the previous step's KV cache (--prefix-cache on|off)
    cache_ttl: str | None = None  # --cache-ttl 5m|1h: the Messages backend's cache breakpoints' TTL
    trace: Path | None = None  # --trace FILE: replay a recorded agent session instead of a suite
    agent_protocol: str = "auto"  # --agent-protocol auto|native|text
    # part of the suite (bench.suite.subset): --tasks GLOB, --sample N (drawn with the run's seed)
    tasks: str | None = None
    sample: int | None = None
    # public benchmarks (docs/benchmarks.md): HumanEval's prompt style (auto: completion for a model
    # without a chat template, chat otherwise)
    prompt_style: str = "auto"
    # infercost sweep: per-cell overrides of the profile's [llama_cpp] section (n_gpu_layers, flash_attn,
    # n_ctx); they land in the manifest's device profile, so a resume or a comparison sees them
    llama_cpp: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None  # infercost sweep: the cell's run id (its bundle directory under ``out``)
    # infercost sweep rounds: run only repetitions below this, leaving the bundle incomplete (resumable)
    # when more remain; not recorded (the manifest says the repetitions the run will have)
    repetition_limit: int | None = None


@dataclass
class PreparedRun:
    options: RunOptions
    suite: PromptSuite
    suite_path: Path
    device: DeviceProfile
    model: ResolvedModel | None
    resume: Bundle | None = None
    seed: int = 0


def make_backend(
    device: DeviceProfile,
    model: ResolvedModel | None,
    threads: int | None,
    *,
    max_connections: int = 1,
    seed: int | None = None,
    n_seq: int = 1,
    kv_unified: bool = False,
) -> Backend:
    """The backend a profile asks for (``n_seq``: sequences an in-process context holds, the run's
    ``--concurrency`` or its widest parallel shape; ``kv_unified``: one KV cache shared by them, for
    parallel shapes; ``max_connections``: an HTTP backend's pool)."""
    if device.backend == "llama_cpp":
        from bench.backends.llama_cpp import LlamaCppBackend

        assert model is not None
        return LlamaCppBackend(model, device.llama_cpp, threads=threads, n_seq=n_seq, kv_unified=kv_unified)
    if device.over_http:
        return HttpBackend(device, max_connections=max_connections, seed=seed)
    raise UsageError(
        f"device '{device.name}': backend '{device.backend}' is not available in this version of infercost"
    )


def run_settings(options: RunOptions, seed: int = 0) -> RunSettings:
    return RunSettings(
        repetitions=options.repetitions,
        warmup=options.warmup,
        no_text=options.no_text,
        min_time_s=options.min_time_s,
        cooldown_s=options.cooldown_s,
        repetition_limit=options.repetition_limit,
        cache_bust=bool(options.cache_bust),
        seed=seed,
    )


def resolve_cache_bust(options: RunOptions, device: DeviceProfile) -> bool:
    """Whether this run busts prompt caches (see ``RunOptions.cache_bust``); ``--warm-cache`` is the
    explicit way not to, and only means something where a server keeps a prompt cache."""
    if options.warm_cache:
        if options.cache_bust:
            raise UsageError("--warm-cache and --cache-bust contradict each other: give one")
        if not device.over_http:
            raise UsageError(
                f"--warm-cache: device '{device.name}' runs in-process, and the engine clears its KV cache "
                "before every request, so there is no warm prompt cache to measure",
                fix="measure a server's prompt cache over HTTP (docs/http.md)",
            )
        return False
    if options.cache_bust is not None:
        return options.cache_bust
    return device.over_http


def _resume_options(options: RunOptions, ref: str | Path) -> tuple[RunOptions, Bundle]:
    """The recorded run's options, overridden by the flags the user gave, and the bundle itself."""
    with warnings.catch_warnings():  # a torn last line is expected here: the writer cuts it off
        warnings.simplefilter("ignore")
        bundle = read_bundle(resolve_bundle(ref, options.out))
    if bundle.manifest.complete:
        raise UsageError(f"--resume {bundle.path}: the run is complete; there is nothing to resume")
    names = {f.name for f in fields(RunOptions)}
    recorded = {k: v for k, v in resume.recorded_options(bundle.manifest).items() if k in names}
    merged = {k: v for k, v in recorded.items() if v is not None}
    merged.update({k: getattr(options, k) for k in options.explicit if k in recorded})
    return replace(options, **merged, out=bundle.path.parent), bundle


def _provisional_manifest(prepared: PreparedRun, run_id: str, backend_facts: dict[str, Any]) -> Manifest:
    """The manifest this run would write; ``--resume`` compares it with the recorded one."""
    opts = prepared.options
    manifest = base_manifest(prepared, run_id, backend_facts)
    # every setting under the name of its RunOptions field, so --resume can restore and compare it
    manifest.settings = RunSettingsFacts.model_validate(
        {
            **manifest.settings.model_dump(),
            **opts.cost_settings(),
            "power_mode": opts.power_mode,
            "seed": prepared.seed,
            "cache_bust": opts.cache_bust,
            "warm_cache": opts.warm_cache,
            "batch": opts.batch,
            "tasks": opts.tasks,
            "sample": opts.sample,
            "prompt_style": opts.prompt_style if is_source_suite(opts.suite) else None,
            "cache_ttl": opts.cache_ttl,
            **opts.traffic.manifest(),
        }
    )
    if prepared.suite.has_agent_tasks:  # changes every agent step's prefill: runs differing are not pooled
        manifest.settings.prefix_cache = opts.prefix_cache
    return manifest


def prompt_style(options: RunOptions, device: DeviceProfile, model: ResolvedModel | None) -> str:
    """HumanEval's prompt style for this model: as asked, else plain completion for a base model (a
    GGUF without a chat template, an endpoint set to ``api = "completions"``) and chat otherwise."""
    if options.prompt_style != "auto":
        return options.prompt_style
    if model is not None:
        return "chat" if model.info.has_chat_template else "completion"
    return "completion" if device.http.api == "completions" else "chat"


def run_id_stem(prepared: PreparedRun) -> str:
    """What a new run id is named after: the model file, else the endpoint's model, else the device."""
    return prepared.model.label if prepared.model else (prepared.device.model or prepared.device.name)


def base_manifest(
    prepared: PreparedRun, run_id: str, backend_facts: dict[str, Any], settings: RunSettings | None = None
) -> Manifest:
    """The manifest of a run of ``prepared`` (``settings``: the run's, unless a caller times differently,
    as the pytest plugin does)."""
    return build_manifest(
        run_id=run_id,
        anchor_ns=time.perf_counter_ns(),
        suite=prepared.suite,
        suite_path=str(prepared.suite_path),
        device=prepared.device,
        model=prepared.model,
        backend_facts=backend_facts,
        settings=settings or run_settings(prepared.options),
        command=prepared.options.command,
    )


def with_engine_settings(device: DeviceProfile, overrides: dict[str, Any]) -> DeviceProfile:
    """``device`` with some of its ``[llama_cpp]`` settings replaced (a sweep cell's n_gpu_layers,
    flash_attn, n_ctx), validated as the profile's own would be."""
    if device.backend != "llama_cpp":
        keys = ", ".join(sorted(overrides))
        raise UsageError(f"{keys}: device '{device.name}' runs over HTTP; llama.cpp settings do not apply")
    try:
        settings = LlamaCppSettings.model_validate({**device.llama_cpp.model_dump(), **overrides})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise UsageError(f"llama_cpp.{where}: {first['msg']}") from None
    resolved = device.model_copy(update={"llama_cpp": settings})
    resolved.origin = device.origin
    return resolved


def check_batch_tier(device: DeviceProfile) -> None:
    """``--batch`` prices a token API at its batch tier: the profile must publish one."""
    if device.kind == "rented" or device.pricing == "subscription":
        raise UsageError(f"--batch: '{device.name}' is not priced by tokens, so it has no batch tier")
    schedule = schedule_of(device)
    if device.kind == "cloud" and (schedule is None or not schedule.has_batch):
        raise UsageError(
            f"--batch: '{device.name}' ({device.origin}) publishes no batch tier: add batch_discount "
            "(or batch_input_usd_per_mtok and batch_output_usd_per_mtok) with its source"
        )


def prepare_run(options: RunOptions) -> PreparedRun:
    """Validate every input; raise a one-line ``BenchError`` for the first bad one."""
    bundle: Bundle | None = None
    if options.resume is not None:
        options, bundle = _resume_options(options, options.resume)
    if options.repetitions < 1:
        raise UsageError(f"--repetitions {options.repetitions}: must be at least 1")
    if options.warmup < 0:
        raise UsageError(f"--warmup {options.warmup}: must be 0 or more")
    if options.threads is not None and not 1 <= options.threads <= MAX_THREADS:
        raise UsageError(
            f"--threads {options.threads}: must be between 1 and {MAX_THREADS}",
            fix=f"this machine has {os.cpu_count() or 1} logical cores; --threads {default_threads()} "
            "uses its physical cores",
        )
    if options.min_time_s is not None and not (options.min_time_s > 0 and math.isfinite(options.min_time_s)):
        raise UsageError(f"--min-time {options.min_time_s}: must be a number of seconds above 0")
    if not (options.cooldown_s >= 0 and math.isfinite(options.cooldown_s)):
        raise UsageError(f"--cooldown {options.cooldown_s}: must be a number of seconds, 0 or more")
    check_cost_flags(options.cost_settings())
    if options.prompt_style not in ("auto", *PROMPT_STYLES):
        raise UsageError(f"--prompt-style {options.prompt_style}: one of auto, {', '.join(PROMPT_STYLES)}")
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    try:
        device = apply_endpoint_overrides(
            load_device(options.device, power_mode=options.power_mode), options.base_url, options.model
        )
        device = apply_prompt_cache(device, options.prefix_cache, options.cache_ttl)
        if options.llama_cpp:
            device = with_engine_settings(device, options.llama_cpp)
        model = None
        if device.backend == "llama_cpp":
            model = resolve_model(options.model or DEFAULT_MODEL)
        if options.trace is not None:  # --trace: the suite is the recorded session (bench.run.trace)
            from bench.run.trace import load_trace, trace_suite

            suite_path = options.trace
            suite = trace_suite(suite_path, load_trace(suite_path))
        elif is_source_suite(options.suite):  # a public benchmark, built from its package
            suite_path = Path(options.suite)
            suite = load_source_suite(options.suite, prompt_style=prompt_style(options, device, model))
        else:
            suite_path = resolve_suite_path(options.suite)
            suite = load_suite(suite_path)
        suite = select_tasks(suite, tasks=options.tasks, sample=options.sample, seed=seed)
    except BenchError as exc:
        if bundle is None:
            raise
        raise type(exc)(
            f"--resume {bundle.path}: {exc.message}", fix="give the suite, profile or model with its flag"
        ) from None
    options.traffic.validate(device)
    check_shapes(suite, suite_path, device, options.traffic.concurrency)
    if options.batch:
        check_batch_tier(device)
    options = replace(options, cache_bust=resolve_cache_bust(options, device))
    if options.trace is not None and (options.traffic.is_load or bundle is not None):
        raise UsageError(
            "--trace replays sequentially: it does not combine with --concurrency, --rate or --resume"
        )
    if suite.has_agent_tasks and options.traffic.is_load:
        raise UsageError(
            f"--concurrency/--rate does not apply to agent tasks (suite {suite.name})",
            fix="run agent suites sequentially; --prefix-cache off re-prefills every step instead",
        )
    if suite.has_tool_tasks and options.traffic.is_load:
        raise UsageError(
            f"--concurrency/--rate does not apply to tasks that offer tools (suite {suite.name})",
            fix="run it sequentially (the default)",
        )
    if bundle is not None and options.traffic.is_load:
        raise UsageError(f"--resume {bundle.path}: a run under --concurrency/--rate cannot be resumed")
    n_requests = len(suite.tasks) * (options.warmup + options.repetitions)
    max_tokens = max(t.generation_limit for t in suite.tasks)
    check_writable(bundle.path if bundle else options.out, estimate_bundle_bytes(n_requests, max_tokens))
    check_power_options(options.power, device, rate_hz=options.power_hz, idle_s=options.idle_seconds)
    prepared = PreparedRun(
        options=options,
        suite=suite,
        suite_path=suite_path,
        device=device,
        model=model,
        resume=bundle,
        seed=seed,
    )
    if bundle is not None:  # everything but the loaded engine can be checked now, before the model loads
        old = bundle.manifest
        resume.verify(old, _provisional_manifest(prepared, old.run_id, old.backend.model_dump()), bundle.path)
    return prepared


def execute_run(
    prepared: PreparedRun, on_progress: Callable[[ProgressEvent], None] | None = None
) -> RunOutcome:
    """Load the backend, write the bundle as the run goes, and return the outcome."""
    opts = prepared.options
    hygiene_start = hygiene.snapshot()  # before the model loads: what else is using the machine
    traffic = opts.traffic
    shape_seqs = sequences_needed(prepared.suite)
    backend = make_backend(
        prepared.device,
        prepared.model,
        opts.threads,
        max_connections=traffic.max_connections,
        seed=prepared.seed,
        # streams of a closed loop each in their own KV range; a parallel shape's sequences share one
        # cache, as llama-batched-bench -kvu (check_shapes keeps the two apart)
        n_seq=max(traffic.concurrency, shape_seqs),
        kv_unified=shape_seqs > 1,
    )
    power: Selection | None = None
    try:
        backend_facts = backend.load()
        if prepared.resume is None:  # a resumed session does not sample power (see below)
            # Opened only now, after the engine: NVML initialised before llama.cpp's CUDA context crashed
            # the model load on an H200 (see bench/power/nvml.py). A sensor the user insisted on that
            # cannot be read still stops the run here, before its bundle or any request exists.
            power = select_for_device(
                opts.power, prepared.device, rate_hz=opts.power_hz, idle_s=opts.idle_seconds
            )
        if opts.cache_bust or traffic.is_load:  # runs that differ in these are never pooled
            backend_facts.setdefault("settings", {}).update(
                cache_bust=opts.cache_bust, load=traffic.manifest()
            )
        settings = run_settings(opts, prepared.seed)
        prior = []
        if prepared.resume is not None:
            old = prepared.resume.manifest
            now = _provisional_manifest(prepared, old.run_id, backend_facts)
            resume.verify(old, now, prepared.resume.path)
            prior = prepared.resume.records
            manifest = resume.continue_manifest(
                old, now, records_before=len(prior), hygiene_start=hygiene_start
            )
            writer = BundleWriter(prepared.resume.path, manifest, append=True)
        else:
            run_id = opts.run_id or new_run_id(run_id_stem(prepared), prepared.suite.name)
            manifest = _provisional_manifest(prepared, run_id, backend_facts)
            manifest.hygiene = HygieneFacts(start=hygiene_start)
            writer = BundleWriter(opts.out / manifest.run_id, manifest)
        runner: Runner | None = None

        def before_finish(m: Manifest) -> None:
            if m.hygiene is None:  # a resumed bundle from before hygiene was recorded
                m.hygiene = HygieneFacts()
            m.hygiene.end = hygiene.snapshot(window_s=0.25)
            if m.resumes and runner is not None:
                m.resumes[-1].session_warmup = runner.session_warmup
                m.resumes[-1].torn_bytes_dropped = writer.repaired_bytes

        tool_protocol: Protocol = "native_tools"
        if prepared.suite.has_tool_tasks or prepared.suite.has_agent_tasks or opts.trace is not None:
            from bench.run.agent import choose_protocol

            # how tools reach the model (natively or in the text protocol): it decides every prompt
            tool_protocol = choose_protocol(backend, opts.agent_protocol)  # type: ignore[arg-type]  # chat
            manifest.backend.agent_protocol = tool_protocol
        runner = build_runner(
            RunnerContext(
                suite=prepared.suite,
                device=prepared.device,
                backend=backend,
                writer=writer,
                settings=settings,
                on_progress=on_progress,
                prior=prior,
                before_finish=before_finish,
                traffic=traffic,
                prefix_cache=opts.prefix_cache,
                agent_protocol=opts.agent_protocol,
                tool_protocol=tool_protocol,
                trace=opts.trace,
                model_name=run_id_stem(prepared),
            )
        )
        if prepared.resume is not None:
            # The first session's power.csv, idle baseline and manifest.power stay as they were; this
            # session's requests get no energy (a new sensor session would restart its counter mid-trace).
            manifest.resumes[-1].power = "not sampled in a resumed session: its requests have no energy"
            return runner.run()
        meter = PowerMeter(
            power or select_sensor("none", selected_by="auto"),
            rate_hz=opts.power_hz,
            idle_seconds=opts.idle_seconds,
        )
        try:
            meter.start(writer)
            runner.on_progress = meter.wrap(on_progress)
            return runner.run()
        finally:
            meter.stop(writer)
    finally:
        backend.close()
        if power is not None and power.sensor is not None:
            power.sensor.close()
