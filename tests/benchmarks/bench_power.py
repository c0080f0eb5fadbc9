"""Figures for issue 5 ("Power and energy"), measurable without special hardware.

1. Sampler overhead while a run is going: real llama.cpp decode (SmolLM2-135M, in-process) in the main
   thread while the sampler reads a sensor in its thread; the sampler thread's own CPU time
   (``time.thread_time_ns``) over the wall time is its share of one core (goal: <= 1% at 100 Hz). Sensors:
   the Jetson INA3221 layout (power, 100 Hz, six attribute reads per sample) and the RAPL layout (a
   counter: 10 Hz plus a read at each request edge), rebuilt in a temporary directory, and the CPU-time
   estimate. Decode rates with and without the sampler are interleaved round by round.
2. Integration of synthetic traces with known energy (goal: within 0.1%): power samples at 100 Hz with
   1 ms jitter (trapezoid), a RAPL counter wrapping every ~0.5 s read through the real reader, and an
   NVML-like counter that moves every 100 ms (reconstructed between its updates, requests >= 1 s).

    python tests/benchmarks/bench_power.py [--seconds 20] [--rounds 3] [--out FILE]

The 2-core VM this was written on is shared and noisy: treat CPU shares as upper bounds.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.backends.llama_cpp import LlamaCppBackend  # noqa: E402
from bench.devices.profiles import LlamaCppSettings, host_facts  # noqa: E402
from bench.models.catalog import resolve_model  # noqa: E402
from bench.power.attribution import attribute  # noqa: E402
from bench.power.base import Kind, PowerSample, PowerSensor  # noqa: E402
from bench.power.estimate import Estimate  # noqa: E402
from bench.power.jetson_ina3221 import JetsonIna3221  # noqa: E402
from bench.power.rapl import Rapl  # noqa: E402
from bench.power.sampler import PowerSampler  # noqa: E402
from bench.power.trace import trace_from_samples  # noqa: E402
from bench.suite.loader import Task  # noqa: E402
from tests.helpers.power import orin_nano_tree, rapl_tree  # noqa: E402
from tests.power.test_power_attribution import (  # noqa: E402
    max_rel_error,
    nvml_like,
    random_windows,
    sampled_trace,
    wrapping_rapl_samples,
)

TG = Task.model_validate(
    {"id": "tg64", "shape": {"prompt_tokens": 0, "gen_tokens": 64}, "check": {"type": "none"}}
)


class NullPower:
    """A power sensor that reads nothing (a constant): the floor of the 100 Hz sampler loop itself
    (timer wake-ups, the lock, writing CSV rows), to set the real sensors' shares against."""

    name: str = "null"
    kind: Kind = "power"
    estimated: bool = False
    live: bool = True
    period_s: float = 0.01
    rail_names: tuple[str, ...] = ()

    def read(self) -> PowerSample:
        return PowerSample(t_ns=time.perf_counter_ns(), power_w=1.0)

    def info(self) -> dict[str, Any]:
        return {"total": "constant 1 W"}

    def close(self) -> None:
        pass


def decode_for(backend: LlamaCppBackend, seconds: float, sampler: PowerSampler | None) -> tuple[int, float]:
    """Generate tg64 requests back to back for ``seconds``; marks at request edges as the meter does."""
    n, t_end, t0 = 0, time.perf_counter() + seconds, time.perf_counter()
    while time.perf_counter() < t_end:
        if sampler is not None:
            sampler.mark()
        g = backend.generate(TG)
        if sampler is not None:
            sampler.mark()
        n += g.completion_tokens or 0
    return n, n / (time.perf_counter() - t0)


def bare_thread_share(backend: LlamaCppBackend, seconds: float) -> float:
    """CPU share of a thread that wakes at 100 Hz as the sampler does and does nothing else: what any
    Python sampling thread costs on this machine while decode runs, before reading or writing anything."""
    stop = threading.Event()
    share: list[float] = []

    def loop() -> None:
        cpu0, t0 = time.thread_time_ns(), time.perf_counter()
        next_t = t0 + 0.01
        while not stop.is_set():
            delay = next_t - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            next_t += 0.01
        share.append((time.thread_time_ns() - cpu0) / 1e9 / (time.perf_counter() - t0))

    thread = threading.Thread(target=loop)
    thread.start()
    decode_for(backend, seconds, None)
    stop.set()
    thread.join()
    return share[0]


def overhead(seconds: float, rounds: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-power-"))
    orin_nano_tree(tmp / "jetson")
    rapl_tree(tmp / "rapl")
    backend = LlamaCppBackend(resolve_model("smollm2-135m"), LlamaCppSettings(n_ctx=1024))
    backend.load()
    decode_for(backend, 1.0, None)  # warm
    sensors: dict[str, Callable[[], PowerSensor]] = {
        "null sensor (power, 100 Hz): the floor": NullPower,
        "jetson-ina3221 (power, 100 Hz)": lambda: JetsonIna3221(tmp / "jetson", nvpmodel="/nonexistent"),
        "rapl (counter, 10 Hz + edges)": lambda: Rapl(tmp / "rapl"),
        "estimate (counter, 10 Hz + edges)": lambda: Estimate(10.0, 40.0),
    }
    out: dict[str, object] = {}
    bare = [bare_thread_share(backend, seconds) for _ in range(rounds)]
    out["bare thread"] = {"cpu_share_median": statistics.median(bare), "cpu_share_max": max(bare)}
    print(
        f"{'bare thread waking at 100 Hz, no work':<40} thread CPU  {statistics.median(bare):6.3%} of a core "
        f"(max {max(bare):.3%})"
    )
    for name, make in sensors.items():
        shares, with_s, without_s, rows = [], [], [], []
        for r in range(rounds):
            _, base = decode_for(backend, seconds / 2, None)
            sensor = make()
            sampler = PowerSampler(sensor, tmp / f"power-{r}.csv", time.perf_counter_ns(), rate_hz=100)
            sampler.start()
            _, rate = decode_for(backend, seconds, sampler)
            stats = sampler.stop(settle=False)
            sensor.close()
            shares.append(stats.cpu_share)
            with_s.append(rate)
            without_s.append(base)
            rows.append(stats.rows / stats.wall_s)
        out[name] = {
            "sampler_cpu_share_median": statistics.median(shares),
            "sampler_cpu_share_max": max(shares),
            "rows_per_s": statistics.median(rows),
            "decode_tps_with": statistics.median(with_s),
            "decode_tps_without": statistics.median(without_s),
        }
        print(
            f"{name:<40} sampler CPU {statistics.median(shares):6.3%} of a core (max {max(shares):.3%}), "
            f"{statistics.median(rows):5.1f} rows/s; decode {statistics.median(with_s):.1f} vs "
            f"{statistics.median(without_s):.1f} tok/s without"
        )
    backend.close()
    return out


def integration() -> dict[str, float]:
    rng = random.Random(5)
    errs: dict[str, float] = {}
    # 1. instantaneous power at 100 Hz, 1 ms jitter, 60 windows of 0.3-1.2 s
    windows = random_windows(rng, 60, 0.3, 1.2, 80.0)
    shares = attribute(windows, trace_from_samples(sampled_trace(80.0, seed=2)), kind="power", period_s=0.01)
    errs["power samples, trapezoid"] = max_rel_error(windows, shares)
    # 2. RAPL counter wrapping every ~0.5 s, read by the real reader at 10 Hz plus request edges
    windows = random_windows(rng, 30, 0.2, 1.0, 40.0)
    samples, wraps = wrapping_rapl_samples(Path(tempfile.mkdtemp(prefix="bench-power-")), windows, 40.0)
    shares = attribute(windows, trace_from_samples(samples), kind="counter", period_s=0.001)
    errs[f"RAPL counter, {wraps} wraparounds"] = max_rel_error(windows, shares)
    # 3. NVML-like counter stepping every 100 ms, read at 100 Hz, requests of 1-3 s
    windows = random_windows(rng, 15, 1.0, 3.0, 59.0)
    shares = attribute(windows, trace_from_samples(nvml_like(60.0)), kind="counter", period_s=0.1)
    errs["stepped counter (100 ms), >= 1 s"] = max_rel_error(windows, shares)
    for k, v in errs.items():
        print(f"integration: {k:<36} max error {v:.4%}")
    return errs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="decode time per round with the sampler")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = ap.parse_args()
    facts = host_facts()
    print(f"host: {facts['cpu_model']}, {facts['cpu_logical']} CPUs, Python {platform.python_version()}")
    result = {
        "host": facts,
        "integration_max_rel_error": integration(),
        "overhead": overhead(args.seconds, args.rounds),
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
