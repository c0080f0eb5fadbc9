"""Break-even over several measured concurrency levels of one device and model.

A sweep (or several bundles) of the same device, model and suite at ``--concurrency 1, 2, 4, ...`` says
what the device serves at each level: aggregate tasks/s grows while each request slows. This module puts
them side by side (capacity, cost per task at full capacity, break-even against each cloud option), picks
the level to answer with, and runs the whole break-even (``bench.cost.breakeven.analyse``) at that level.

- The chosen level: the one asked for (it must have been measured), else the highest measured level
  whose p95 request time meets the user's latency bound, else the level with the most capacity.
- Nothing is extrapolated: a volume above the largest measured level's capacity is answered with
  "beyond the largest measured concurrency (N); not extrapolated", never with a number from a level that
  was not run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench.cost import formulas as cost
from bench.cost.breakeven import DAYS_PER_MONTH, CloudRun, DeviceEconomics, analyse, device_economics
from bench.cost.capacity import measured_capacity
from bench.cost.options import EnrichOptions
from bench.devices.profiles import DeviceProfile
from bench.errors import UsageError
from bench.results.identity import device_name, model_identity
from bench.results.schema import Manifest, PowerFacts, Record

__all__ = ["MeasuredLevel", "analyse_levels"]


@dataclass(frozen=True)
class MeasuredLevel:
    """One bundle at one concurrency: where it came from and what it measured."""

    label: str  # the bundle's path or run id, for messages
    records: Sequence[Record]
    manifest: Manifest


def _suite_identity(manifest: Manifest) -> str:
    return str(manifest.suite.hash or manifest.suite.name)


def _check_same(levels: Sequence[MeasuredLevel]) -> None:
    first = levels[0]
    facts: dict[str, Callable[[Manifest], str]] = {
        "device": device_name,
        "model": model_identity,  # the one identity comparability keys use (bench.results.identity)
        "suite": _suite_identity,
    }
    for name, fact in facts.items():
        want = fact(first.manifest)
        for lv in levels[1:]:
            got = fact(lv.manifest)
            if got != want:
                raise UsageError(
                    f"{lv.label}: {name} '{got}' differs from {first.label}'s '{want}'; breakeven over "
                    f"several runs needs one device, model and suite at different concurrency levels"
                )


def _shared_idle(levels: Sequence[MeasuredLevel], options: EnrichOptions | None) -> EnrichOptions | None:
    """One device has one idle draw: where several runs each measured theirs (a few tenths of a watt
    apart, from sensor noise), every level uses their mean, so the levels differ only in what they
    measured under load (capacity, energy per task), never in the fixed monthly cost."""
    if len(levels) < 2 or (options is not None and options.idle_w is not None):
        return options
    powers = [lv.manifest.power or PowerFacts() for lv in levels]
    if any(p.idle_w_from for p in powers):
        return options  # a stated figure (an estimate's), the same for every run: nothing to average
    watts = [p.idle_w for p in powers if p.idle_w is not None]
    if len(watts) != len(levels):
        return options  # some run has no measured figure: each level keeps its own (measured or profile)
    mean_w = sum(watts) / len(watts)
    why = f"measured before each run: mean of {len(watts)} runs ({min(watts):.2f}–{max(watts):.2f} W)"
    return replace(options or EnrichOptions(), idle_w=mean_w, idle_from=why)


def _bound_ok(p95_s: float | None, max_latency_ms: float | None) -> bool:
    return max_latency_ms is None or (p95_s is not None and p95_s * 1e3 <= max_latency_ms)


def _level_row(
    econ: DeviceEconomics, p95_s: float | None, source: str, clouds: list[dict[str, Any]]
) -> dict[str, Any]:
    cap = econ.capacity_tasks_per_month
    return {
        "concurrency": econ.concurrency,
        "tasks_per_s": cap / (DAYS_PER_MONTH * 86400),
        "capacity_tasks_per_month": cap,
        "capacity_from": source,
        "mean_latency_s": econ.seconds_per_task,
        "p95_latency_s": p95_s,
        "net_j_per_task": econ.net_kwh_per_task * 3.6e6,
        "fixed_usd_per_month": econ.fixed_usd_per_month,
        # owning the device for a month spread over every task it can serve, plus each task's energy
        "usd_per_task_at_capacity": cost.usd_per_task_at_volume(
            econ.fixed_usd_per_month, cap, econ.variable_usd_per_task
        ),
        "usd_per_task_at_utilization": (
            cost.usd_per_task_at_volume(
                econ.fixed_usd_per_month, cap * econ.utilization, econ.variable_usd_per_task
            )
            if econ.utilization
            else None
        ),
        "utilization": econ.utilization,
        "breakeven": [
            {k: c.get(k) for k in ("profile", "verdict", "breakeven_tasks_per_month")} for c in clouds
        ],
    }


def analyse_levels(
    levels: Sequence[MeasuredLevel],
    clouds: Sequence[tuple[str, DeviceProfile]],
    options: EnrichOptions | None = None,
    tasks_per_day: float | None = None,
    *,
    concurrency: int | None = None,
    max_latency_ms: float | None = None,
    cloud_runs: Sequence[CloudRun] = (),
) -> dict[str, Any]:
    """``analyse`` at the chosen level, with a ``levels`` table of every measured level and ``chosen``
    (the level and why). One bundle is one level (the table has one row). ``cloud_runs``: the suite
    measured on token APIs (``bench.cost.breakeven.CloudRun``)."""
    if not levels:
        raise UsageError("breakeven needs at least one run")
    if max_latency_ms is not None and max_latency_ms <= 0:
        raise UsageError(f"--max-latency-ms {max_latency_ms:g}: must be greater than 0")
    _check_same(levels)
    options = _shared_idle(levels, options)
    measured: dict[int, tuple[MeasuredLevel, DeviceEconomics, float | None, str]] = {}
    for lv in levels:
        cap = measured_capacity(lv.records, lv.manifest)
        econ = device_economics(lv.records, lv.manifest, options)
        if econ.concurrency in measured:
            other = measured[econ.concurrency][0].label
            raise UsageError(
                f"{lv.label}: a second run at concurrency {econ.concurrency} (also {other}); give one run "
                "per level (a sweep that varies another option too: pass the cells of one setting)"
            )
        measured[econ.concurrency] = (lv, econ, cap.p95_latency_s, cap.source)
    order = sorted(measured)
    largest = order[-1]
    if concurrency is not None:
        if concurrency not in measured:
            raise UsageError(
                f"--concurrency {concurrency}: not measured; measured levels: {', '.join(map(str, order))} "
                "(run the suite at that concurrency; levels are never extrapolated)"
            )
        chosen, why = concurrency, "asked for (--concurrency)"
    elif max_latency_ms is not None:
        meets = [c for c in order if _bound_ok(measured[c][2], max_latency_ms)]
        if not meets:
            p95s = ", ".join(
                f"{c}: {p * 1e3:,.0f} ms" if (p := measured[c][2]) is not None else f"{c}: ?" for c in order
            )
            raise UsageError(
                f"--max-latency-ms {max_latency_ms:g}: no measured concurrency meets it (p95 request time "
                f"by level: {p95s})"
            )
        chosen, why = meets[-1], f"the highest measured level with p95 request time ≤ {max_latency_ms:g} ms"
    else:
        chosen = max(order, key=lambda c: (measured[c][1].capacity_tasks_per_month, -c))
        why = "the measured level with the most capacity" if len(order) > 1 else "the only measured level"
    ceiling = [(c, measured[c][1].capacity_tasks_per_month) for c in order]
    rows = []
    result: dict[str, Any] = {}
    for c in order:
        lv, econ, p95, source = measured[c]
        full = analyse(
            lv.records, lv.manifest, clouds, options, tasks_per_day, levels=ceiling, cloud_runs=cloud_runs
        )
        if c == chosen:
            result = full
        row = _level_row(econ, p95, source, full["clouds"])
        row["run"] = lv.label
        row["meets_latency_bound"] = None if max_latency_ms is None else _bound_ok(p95, max_latency_ms)
        rows.append(row)
    result["levels"] = rows
    result["chosen"] = {
        "concurrency": chosen,
        "why": why,
        "largest_measured": largest,
        "max_latency_ms": max_latency_ms,
    }
    return result
