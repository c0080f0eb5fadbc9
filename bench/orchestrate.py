"""One run, end to end: resolve inputs, fail fast on bad ones, load the backend, run, keep the bundle.

Every input is validated *before* anything is timed or written (a bad suite, profile, model or output
directory costs the user seconds, not a wasted run). The CLI calls ``execute_run``; tests and the
pytest plugin can call it too.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.backends.base import Backend
from bench.backends.openai_http import OpenAIHttpBackend
from bench.cachebust import CacheBustingBackend
from bench.devices import DeviceProfile, load_device
from bench.endpoint import apply_endpoint_overrides
from bench.errors import UsageError
from bench.load import LoadRunner, TrafficOptions
from bench.models import DEFAULT_MODEL, ResolvedModel, resolve_model
from bench.runner import ProgressEvent, Runner, RunOutcome, RunSettings, build_manifest, new_run_id
from bench.store import DEFAULT_RUNS_ROOT, BundleWriter, check_writable
from bench.suite import PromptSuite, load_suite, resolve_suite_path

__all__ = ["PreparedRun", "RunOptions", "execute_run", "make_backend", "prepare_run"]


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
    base_url: str | None = None  # --base-url: another address for an endpoint profile
    cache_bust: bool = False  # --cache-bust: a unique deterministic prefix per request
    seed: int | None = None  # run seed (cache-bust nonces, open-loop schedule); None: drawn and recorded
    traffic: TrafficOptions = field(default_factory=TrafficOptions)


@dataclass
class PreparedRun:
    options: RunOptions
    suite: PromptSuite
    suite_path: Path
    device: DeviceProfile
    model: ResolvedModel | None
    seed: int = 0


def make_backend(
    device: DeviceProfile,
    model: ResolvedModel | None,
    threads: int | None,
    *,
    max_connections: int = 1,
    seed: int | None = None,
) -> Backend:
    """The backend a profile asks for."""
    if device.backend == "llama_cpp":
        from bench.backends.llama_cpp import LlamaCppBackend

        assert model is not None
        return LlamaCppBackend(model, device.llama_cpp, threads=threads)
    if device.backend == "openai_http":
        return OpenAIHttpBackend(device, max_connections=max_connections, seed=seed)
    raise UsageError(
        f"device '{device.name}': backend '{device.backend}' is not available in this version of infercost"
    )


def prepare_run(options: RunOptions) -> PreparedRun:
    """Validate every input; raise a one-line ``BenchError`` for the first bad one."""
    if options.repetitions < 1:
        raise UsageError(f"--repetitions {options.repetitions}: must be at least 1")
    if options.warmup < 0:
        raise UsageError(f"--warmup {options.warmup}: must be 0 or more")
    if options.threads is not None and options.threads < 1:
        raise UsageError(f"--threads {options.threads}: must be at least 1")
    suite_path = resolve_suite_path(options.suite)
    suite = load_suite(suite_path)
    device = apply_endpoint_overrides(load_device(options.device), options.base_url, options.model)
    options.traffic.validate(device)
    model = None
    if device.backend == "llama_cpp":
        model = resolve_model(options.model or DEFAULT_MODEL)
    check_writable(options.out)
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    return PreparedRun(
        options=options, suite=suite, suite_path=suite_path, device=device, model=model, seed=seed
    )


def execute_run(
    prepared: PreparedRun, on_progress: Callable[[ProgressEvent], None] | None = None
) -> RunOutcome:
    """Load the backend, write the bundle as the run goes, and return the outcome."""
    opts = prepared.options
    traffic = opts.traffic
    backend = make_backend(
        prepared.device,
        prepared.model,
        opts.threads,
        max_connections=traffic.max_connections,
        seed=prepared.seed,
    )
    if opts.cache_bust and not traffic.is_load:  # under load, bench.load applies the same prefixes
        backend = CacheBustingBackend(backend, prepared.seed)
    try:
        backend_facts = backend.load()
        if opts.cache_bust or traffic.is_load:  # runs that differ in these are never pooled
            backend_facts.setdefault("settings", {}).update(
                cache_bust=opts.cache_bust, load=traffic.manifest()
            )
        settings = RunSettings(repetitions=opts.repetitions, warmup=opts.warmup, no_text=opts.no_text)
        label = prepared.model.label if prepared.model else (prepared.device.model or prepared.device.name)
        run_id = new_run_id(label, prepared.suite.name)
        manifest = build_manifest(
            run_id=run_id,
            anchor_ns=time.perf_counter_ns(),
            suite=prepared.suite,
            suite_path=str(prepared.suite_path),
            device=prepared.device,
            model=prepared.model,
            backend_facts=backend_facts,
            settings=settings,
            command=opts.command,
        )
        manifest.settings.update(seed=prepared.seed, cache_bust=opts.cache_bust, **traffic.manifest())
        writer = BundleWriter(opts.out / run_id, manifest)
        if traffic.is_load:
            assert isinstance(backend, OpenAIHttpBackend)  # TrafficOptions.validate guarantees it
            return LoadRunner(
                prepared.suite,
                backend,
                writer,
                settings,
                on_progress,
                traffic=traffic,
                seed=prepared.seed,
                cache_bust=opts.cache_bust,
            ).run()
        return Runner(prepared.suite, backend, writer, settings, on_progress).run()
    finally:
        backend.close()
