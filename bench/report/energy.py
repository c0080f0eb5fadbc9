"""Energy in summaries: per-shape energy and the run's power facts (the per-group energy figures are the
metric core's, ``bench.results.metrics.aggregate.energy_metrics``).

Estimated energy (``energy_source = "estimated"``: CPU utilization × the profile's watts) is flagged in
every group (``energy_estimated``) so that no output shows a model's number as a measurement; every view
marks such values with ``≈``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench.results.metrics.aggregate import time_weighted_power
from bench.results.metrics.display import ESTIMATE_MARK
from bench.results.metrics.policy import MEASURED
from bench.results.schema import Manifest, Record

__all__ = ["power_note", "power_summary", "shape_energy"]

_POWER_KEYS = (
    "sensor", "selected_by", "kind", "estimated", "rate_hz", "period_s", "total", "idle_w",
    "idle_seconds", "power_mode", "reason", "samples", "read_errors", "sampler_cpu_share", "rate_lowered",
)  # fmt: skip


def shape_energy(records: Sequence[Record]) -> dict[str, Any]:
    """For one llama-bench test: J per request and per token *of that test* (prompt tokens for ``pp``,
    generated tokens for ``tg``, both for ``pp+tg``), like its t/s."""
    ok = [r for r in records if r.status == "ok" and r.energy_j is not None]
    if not ok:
        return {"energy_per_task_j": None, "j_per_token": None, "avg_power_w": None, "energy_estimated": None}
    shape = ok[0].shape or ""
    tokens = 0
    for r in ok:
        if "+" in shape or not shape.startswith(("pp", "tg")):
            tokens += (r.prompt_tokens or 0) + (r.completion_tokens or 0)
        elif shape.startswith("pp"):
            tokens += r.prompt_tokens or 0
        else:
            tokens += r.completion_tokens or 0
    total = sum(r.energy_j for r in ok if r.energy_j is not None)
    return {
        "energy_per_task_j": total / len(ok),
        "j_per_token": total / tokens if tokens else None,
        "avg_power_w": time_weighted_power(ok),
        "energy_estimated": any(r.energy_source == "estimated" for r in ok),
        "energy_sources": dict(Counter(str(r.energy_source) for r in ok)),
    }


def power_summary(records: Sequence[Record], manifest: Manifest) -> dict[str, Any] | None:
    """The run's power facts for ``--json`` and the note under the table; None when none were recorded."""
    if manifest.power is None:
        return None
    recorded = manifest.power.recorded()
    out = {k: recorded[k] for k in _POWER_KEYS if k in recorded}
    measured = MEASURED.select(records)
    with_energy = [r for r in measured if r.energy_j is not None]
    out["apportioned"] = sum(1 for r in with_energy if r.energy_source == "apportioned")
    out["with_energy"] = len(with_energy)
    out["measured"] = len(measured)
    return out


def power_note(summary: dict[str, Any]) -> str | None:
    """One line under the table: which sensor, what its total covers, idle watts, what was apportioned."""
    p = summary.get("power")
    if not p:
        return None
    if p.get("sensor") == "none":
        return f"energy: not measured ({p.get('reason') or 'no power sensor'})"
    parts = [f"energy: {p.get('sensor')} ({p.get('kind')}"]
    if p.get("rate_hz"):
        parts[0] += f", {p['rate_hz']:g} Hz"
    parts[0] += ")"
    if low := p.get("rate_lowered"):
        parts.append(
            f"sampling slowed to {low['to_hz']:g} Hz after {low['after_s']:g} s: at {low['from_hz']:g} Hz "
            f"the sensor's reads took {low['cpu_share']:.0%} of a core"
        )
    if p.get("total"):
        parts.append(f"total = {p['total']}")
    if p.get("idle_w") is not None:
        parts.append(f"idle {p['idle_w']:.2f} W")
    if p.get("apportioned"):
        parts.append(
            f"{p['apportioned']}/{p['with_energy']} requests apportioned from their task's window "
            "(shorter than 10 sensor periods)"
        )
    if p.get("with_energy", 0) < p.get("measured", 0):
        parts.append(f"{p['measured'] - p['with_energy']} request(s) without energy (outside the trace)")
    line = " · ".join(parts)
    if p.get("estimated"):
        line += (
            f"\n{ESTIMATE_MARK} = ESTIMATED from CPU utilization × the profile's idle/max watts, not measured"
        )
    return line
