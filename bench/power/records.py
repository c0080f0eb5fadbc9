"""Per-request energy for a bundle's records: ``manifest.power`` + ``power.csv`` → record fields.

Called by ``bench.cost.enrich.enrich`` (read time; nothing on disk is rewritten). Fills ``energy_j`` (gross),
``energy_net_j`` (minus the idle baseline), ``avg_power_w`` and ``energy_source`` using
``bench.power.attribution.attribute``; records the trace cannot cover keep None (never 0).
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from bench.errors import BenchError
from bench.power.attribution import EnergyCurve, EnergyShare, Window, attribute, idle_power_w
from bench.power.base import Kind
from bench.power.csv_trace import CsvTrace
from bench.power.trace import POWER_CSV, Trace, read_trace, trace_from_samples
from bench.results.schema import Manifest, PowerFacts, Record
from bench.userfiles import one_line

__all__ = ["apply_energy", "idle_baseline_w", "load_trace", "rail_energies"]


def load_trace(run_dir: Path, manifest: Manifest) -> Trace | None:
    """The bundle's ``power.csv``; for an external trace not yet copied in, the external file itself."""
    power = manifest.power or PowerFacts()
    path = run_dir / POWER_CSV
    trace: Trace | None = None
    if path.exists():
        try:
            trace = read_trace(path)
        except (OSError, ValueError, csv.Error, BenchError) as exc:  # unreadable: no energy, said once
            warnings.warn(f"{path}: power trace left out ({one_line(str(exc))[:200]})", stacklevel=2)
            trace = None
    sensor = power.sensor or ""
    anchors = (power.anchor_wall_ns, power.anchor_perf_ns)
    if (trace is None or len(trace) < 2) and sensor.startswith("csv:"):
        if anchors[0] is None or anchors[1] is None:
            return trace  # a trace the run never aligned (no anchors recorded): nothing to place it by
        source = CsvTrace(Path(power.file or sensor[4:]))
        samples = source.samples(anchors[0], anchors[1])
        if samples:
            trace = trace_from_samples(samples, manifest.anchor_perf_ns)
    return trace


def idle_baseline_w(power: PowerFacts, trace: Trace) -> float | None:
    """The idle watts measured before the run, or computed now from the idle window (external traces)."""
    if power.idle_w is not None:
        return power.idle_w
    t0, t1 = power.idle_start_ns, power.idle_end_ns
    if t0 is None or t1 is None:
        return None
    try:
        kind: Kind = "counter" if power.kind == "counter" else "power"
        return idle_power_w(EnergyCurve(trace, kind), t0, t1)
    except ValueError:
        return None


def _measurable(manifest: Manifest, run_dir: Path) -> Trace | None:
    power = manifest.power or PowerFacts()
    if not power.ran or power.kind not in ("counter", "power"):
        return None
    trace = load_trace(run_dir, manifest)
    return trace if trace is not None and len(trace) >= 2 else None


def _shares(
    records: list[Record], trace: Trace, power: PowerFacts, kind: Kind, idle_w: float | None
) -> list[EnergyShare]:
    """Every record's share of ``trace``. An agent task's summary window spans its calls' windows: the
    two layers are attributed separately, so overlapping windows never split one joule between a task
    and its own calls."""
    layers = [[i for i, r in enumerate(records) if r.kind in (None, "agent")]]
    layers.append([i for i, r in enumerate(records) if r.kind in ("model", "tool")])
    shares = [EnergyShare()] * len(records)
    for layer in layers:
        if not layer:
            continue
        got = attribute(
            [Window(records[i].task_id, records[i].start_ns, records[i].end_ns) for i in layer],
            trace,
            kind=kind,
            period_s=power.period_s or 0.0,  # 0: the trace's own interval decides
            idle_w=idle_w,
            estimated=bool(power.estimated),
        )
        for i, share in zip(layer, got, strict=True):
            shares[i] = share
    return shares


def apply_energy(records: list[Record], manifest: Manifest, run_dir: Path) -> list[Record]:
    trace = _measurable(manifest, run_dir)
    if trace is None:
        return records
    out: list[Record] = []
    power = manifest.power or PowerFacts()
    kind: Kind = "counter" if power.kind == "counter" else "power"  # _measurable: one of the two
    shares = _shares(records, trace, power, kind, idle_baseline_w(power, trace))
    for r, s in zip(records, shares, strict=True):
        if s.energy_j is None:
            out.append(r)
            continue
        out.append(
            r.model_copy(
                update={
                    "energy_j": s.energy_j,
                    "energy_net_j": s.energy_net_j,
                    "avg_power_w": s.avg_power_w,
                    "energy_source": s.source,
                }
            )
        )
    return out


def rail_energies(records: list[Record], manifest: Manifest, run_dir: Path) -> dict[str, list[float | None]]:
    """Per rail (Jetson VDD_CPU_CV vs VDD_GPU_SOC, Apple CPU/GPU/ANE, amdgpu cards), every record's gross
    energy on that rail, attributed exactly as the total is (same windows, layers and fallbacks). Empty
    when the trace has no rail columns. Read time only; nothing is stored."""
    trace = _measurable(manifest, run_dir)
    if trace is None or not trace.rails:
        return {}
    power = manifest.power or PowerFacts()
    kind: Kind = "counter" if trace.rail_counters else "power"
    # gross per rail: the idle baseline is a total
    return {
        name: [s.energy_j for s in _shares(records, trace.rail(name), power, kind, None)]
        for name in trace.rails
    }
