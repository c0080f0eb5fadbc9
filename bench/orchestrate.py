"""One run, end to end: resolve inputs, fail fast on bad ones, load the backend, run, keep the bundle.

Every input is validated *before* anything is timed or written (a bad suite, profile, model or output
directory costs the user seconds, not a wasted run). The CLI calls ``execute_run``; tests and the
pytest plugin can call it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.backends.base import Backend
from bench.cost_flags import check_cost_flags
from bench.devices import DeviceProfile, load_device
from bench.errors import UsageError
from bench.models import DEFAULT_MODEL, ResolvedModel, resolve_model
from bench.power.meter import DEFAULT_IDLE_SECONDS, PowerMeter
from bench.power.registry import Selection, select_for_device, select_sensor
from bench.power.sampler import DEFAULT_RATE_HZ
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
    # cost and roofline inputs: recorded in manifest.settings, used when the bundle is read
    kwh_usd: float | None = None
    hardware_usd: float | None = None
    memory_bandwidth_gbs: float | None = None
    tasks_per_month: float | None = None
    power_mode: str | None = None

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


@dataclass
class PreparedRun:
    options: RunOptions
    suite: PromptSuite
    suite_path: Path
    device: DeviceProfile
    model: ResolvedModel | None
    power: Selection | None = None


def make_backend(device: DeviceProfile, model: ResolvedModel | None, threads: int | None) -> Backend:
    """The backend a profile asks for."""
    if device.backend == "llama_cpp":
        from bench.backends.llama_cpp import LlamaCppBackend

        assert model is not None
        return LlamaCppBackend(model, device.llama_cpp, threads=threads)
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
    check_cost_flags(options.cost_settings())
    suite_path = resolve_suite_path(options.suite)
    suite = load_suite(suite_path)
    device = load_device(options.device, power_mode=options.power_mode)
    model = None
    if device.backend == "llama_cpp":
        model = resolve_model(options.model or DEFAULT_MODEL)
    check_writable(options.out)
    power = select_for_device(options.power, device, rate_hz=options.power_hz, idle_s=options.idle_seconds)
    return PreparedRun(
        options=options, suite=suite, suite_path=suite_path, device=device, model=model, power=power
    )


def execute_run(
    prepared: PreparedRun, on_progress: Callable[[ProgressEvent], None] | None = None
) -> RunOutcome:
    """Load the backend, write the bundle as the run goes, and return the outcome."""
    opts = prepared.options
    backend = make_backend(prepared.device, prepared.model, opts.threads)
    try:
        backend_facts = backend.load()
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
        manifest.settings.update(opts.cost_settings())
        writer = BundleWriter(opts.out / run_id, manifest)
        meter = PowerMeter(
            prepared.power or select_sensor("none", selected_by="auto"),
            rate_hz=opts.power_hz,
            idle_seconds=opts.idle_seconds,
        )
        try:
            meter.start(writer)
            return Runner(prepared.suite, backend, writer, settings, meter.wrap(on_progress)).run()
        finally:
            meter.stop(writer)
    finally:
        backend.close()
        if prepared.power is not None and prepared.power.sensor is not None:
            prepared.power.sensor.close()
