"""Break-even: at what monthly volume does owning the device beat renting each cloud API?

docs/cost.md's model, per month: local = ``price_usd / (lifetime_years × 12) + idle_w × 730 h × kwh_usd ×
wall_factor + N × net_kwh_per_task × kwh_usd × wall_factor``; cloud = ``N × cloud_usd_per_task``.

- The device's per-task inputs come from a measured local run: net energy per task (the power layer's
  ``energy_net_j``; else gross minus idle; else the profile's ``(max_w − idle_w)`` × request time,
  labelled estimated) and its capacity (bench/cost/capacity.py), which caps the volume: one request at
  a time, 730 h / mean request time a month; a run at ``--concurrency N``, 730 h × the aggregate tasks/s
  it measured (the fixed cost is spread over that many tasks). A break-even volume above it is not a
  volume the device reached, and the answer says so instead of printing a number as if it were; above
  the largest measured concurrency nothing is extrapolated (bench/cost/levels.py, docs/capacity.md).
- The cloud's per-task cost is the same run's token counts at the API's list prices (priced, not run).
  A subscription is a flat fee: the device is cheaper *below* some volume instead of above it.
- Sensitivity: the break-even volume at 0×, ½×, 1× and 2× the electricity price, and which side is
  cheaper at several utilizations (the share of the month the device spends serving).
- Further rows (docs/prices.md): each token API at its batch tier (a job that can wait up to 24 h), and
  each rented GPU at its hourly rate × this run's time per task (projected: the rented GPU's own speed
  would differ); for token APIs, the break-even volume at 0%, 50% and 90% of the input served from the
  provider's cache (cache-read rate, a warm cache: no writes).
- Runs measured on a token API (``CloudRun``, ``infercost breakeven --cloud-run RUN``): the same suite run on
  the API itself, priced as billed (cache reads, writes at their TTL), is a row of its own, ``measured``,
  with its measured cache hit rate (cache reads ÷ input) and cache-write share: for an agent suite on
  Claude that is what prompt caching really saved, where the priced-not-run rows can only assume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.cost import formulas as cost
from bench.cost.capacity import concurrent_load, measured_capacity, shared_seconds
from bench.cost.options import EnrichOptions
from bench.cost.pricing import CostInputs, cost_inputs, priced_on_cloud
from bench.cost.tiers import TokenRates, rates_for
from bench.devices.cost_flags import check_cost_flags
from bench.devices.profiles import DeviceProfile
from bench.devices.token_prices import schedule_of
from bench.errors import BundleError, UsageError
from bench.results import stats
from bench.results.metrics.display import usd
from bench.results.metrics.policy import ATTEMPTS, COMPLETED, REQUESTS
from bench.results.schema import Manifest, PowerFacts, Record

__all__ = [
    "DAYS_PER_MONTH",
    "CloudRun",
    "DeviceEconomics",
    "analyse",
    "compare",
    "device_economics",
    "idle_watts",
    "missing_inputs",
]

DAYS_PER_MONTH = cost.HOURS_PER_MONTH / 24  # 30.42
KWH_FACTORS = (0.0, 0.5, 1.0, 2.0)
CACHED_SHARES = (0.0, 0.5, 0.9)
UTILIZATIONS = (0.05, 0.10, 0.25, 0.50, 1.0)


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else value


@dataclass(frozen=True)
class DeviceEconomics:
    """The device side of the comparison, from a measured run and its profile."""

    device: str
    kwh_usd: float
    kwh_from: str
    wall_factor: float
    hardware_usd: float
    hardware_from: str
    lifetime_years: float
    utilization: float | None
    idle_w: float
    idle_from: str
    net_kwh_per_task: float
    energy_basis: str
    seconds_per_task: float  # each request's mean end-to-end time (what a user waits)
    n_requests: int
    notes: list[str] = field(default_factory=list)
    # the throughput behind the capacity (bench/cost/capacity.py): one request at a time, the device is
    # busy ``seconds_per_task`` per task; at concurrency N, the measured busy time ÷ tasks (aggregate)
    concurrency: int = 1
    device_s_per_task: float | None = None  # None: seconds_per_task (one at a time)
    capacity_from: str = "one request at a time: 1 / mean request time"

    @property
    def capacity_tasks_per_month(self) -> float:
        return cost.capacity_tasks_per_month(self.device_s_per_task or self.seconds_per_task)

    @property
    def fixed_usd_per_month(self) -> float:
        return cost.local_fixed_usd_per_month(
            price_usd=self.hardware_usd,
            lifetime_years=self.lifetime_years,
            idle_w=self.idle_w,
            kwh_usd=self.kwh_usd,
            wall_factor=self.wall_factor,
        )

    @property
    def variable_usd_per_task(self) -> float:
        return cost.local_variable_usd_per_task(self.net_kwh_per_task, self.kwh_usd, self.wall_factor)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            capacity_tasks_per_month=self.capacity_tasks_per_month,
            fixed_usd_per_month=self.fixed_usd_per_month,
            variable_usd_per_task=self.variable_usd_per_task,
        )
        return out


def idle_watts(
    manifest: Manifest, inp: CostInputs, options: EnrichOptions | None = None
) -> tuple[float | None, str]:
    """The device's idle draw for the fixed monthly cost: the reader's figure (one for several runs of
    the device), else measured before the run where the power layer did, else the profile's;
    (None, "unknown") without any. One rule for ``breakeven`` and reports."""
    if options is not None and options.idle_w is not None:
        return options.idle_w, options.idle_from or "given"
    power = manifest.power or PowerFacts()
    if power.idle_w is not None:
        return power.idle_w, power.idle_w_from or "measured before the run"
    if inp.idle_w is not None:
        return inp.idle_w, "profile"
    return None, "unknown"


def missing_inputs(
    records: Sequence[Record], manifest: Manifest, options: EnrichOptions | None = None
) -> list[str]:
    """What ``device_economics`` would count as $0 or cannot know (a chart leaves such a device out
    rather than draw a flattering line): price, lifetime, idle power, electricity price, net energy."""
    inp = cost_inputs(manifest, options)
    idle_w, _idle_from = idle_watts(manifest, inp, options)
    missing = [
        name
        for name, value in (
            ("price_usd", inp.hardware_usd),
            ("lifetime_years", inp.lifetime_years),
            ("idle_w", idle_w),
            ("kwh_usd", inp.kwh_usd),
        )
        if value is None
    ]
    ok = COMPLETED.select(records)
    has_energy = (
        any(r.energy_net_j is not None for r in ok)
        or (idle_w is not None and any(r.energy_j is not None for r in ok))
        or inp.max_w is not None
    )
    if not has_energy:
        missing.append("net energy per task (no power sensor)")
    return missing


def device_economics(
    records: Sequence[Record], manifest: Manifest, options: EnrichOptions | None = None
) -> DeviceEconomics:
    """Fixed and per-task cost of the device that ran ``records`` (a local run)."""
    inp = cost_inputs(manifest, options)
    if inp.kind != "local":
        raise UsageError(
            f"breakeven needs a run on a local device; '{inp.device}' is a cloud API "
            "(run the suite on the device)"
        )
    ok = COMPLETED.select(records)  # one per task attempt: an agent task by its summary (its whole wall)
    if not ok:
        raise BundleError(
            "the run has no successful measured requests to derive time and energy per task from"
        )
    notes: list[str] = []
    seconds = stats.mean(
        r.e2e_ms / 1e3 if r.e2e_ms is not None else (r.end_ns - r.start_ns) / 1e9 for r in ok
    )
    assert seconds is not None
    capacity = measured_capacity(records, manifest, completed=ok)
    kwh = inp.kwh_usd
    if kwh is None:
        kwh = 0.0
        notes.append("no electricity price: energy counted at $0 (give --kwh-usd)")
    hardware = inp.hardware_usd
    if hardware is None:
        hardware = 0.0
        notes.append(
            "hardware price unknown: counted as $0, so only idle energy is fixed (give --hardware-usd)"
        )
    lifetime = inp.lifetime_years
    if lifetime is None:
        raise UsageError(f"device '{inp.device}': lifetime_years is unknown; add it to the profile")
    known_idle_w, idle_from = idle_watts(manifest, inp, options)
    idle_w = known_idle_w if known_idle_w is not None else 0.0
    if known_idle_w is None:
        notes.append("idle power unknown: the fixed cost leaves out idle energy")
    net_j = [r.energy_net_j for r in ok if r.energy_net_j is not None]
    gross = [(r.energy_j, r) for r in ok if r.energy_j is not None]
    if net_j:
        net = stats.mean(net_j) or 0.0
        estimated = any(r.energy_source == "estimated" for r in ok if r.energy_net_j is not None)
        basis = "estimated (power layer)" if estimated else "measured"
    elif gross and idle_from != "unknown":
        # idle over the time the request is attributed: its share of the busy time when requests overlap
        # (its gross energy is that share of the device's), its own window one at a time
        shares = shared_seconds(records) if concurrent_load(manifest) else None
        share_s = {id(r): s for r, s in zip(records, shares, strict=True)} if shares else {}
        net = (
            stats.mean(
                max(e - idle_w * share_s.get(id(r), (r.end_ns - r.start_ns) / 1e9), 0.0) for e, r in gross
            )
            or 0.0
        )
        basis = "measured gross minus idle"
    elif inp.max_w is not None:
        # the device at max_w for the time it spends on a task: the request time one at a time, its share
        # of the busy time when requests overlap (N streams share one device's watts)
        busy = capacity.device_s_per_task if capacity.aggregate else seconds
        net = (inp.max_w - idle_w) * busy
        basis = f"estimated: (max_w {inp.max_w:g} W − idle {idle_w:g} W) × request time, an upper bound"
        if capacity.aggregate:
            basis = basis.replace("request time", "device time per task")
    else:
        net = 0.0
        basis = "unknown"
        notes.append("per-task energy unknown (no power data, no max_w): counted as 0, flattering the device")
    return DeviceEconomics(
        device=inp.device,
        kwh_usd=kwh,
        kwh_from=inp.kwh_from or "none",
        wall_factor=inp.wall_factor,
        hardware_usd=hardware,
        hardware_from=inp.hardware_from or "none",
        lifetime_years=lifetime,
        utilization=inp.utilization,
        idle_w=idle_w,
        idle_from=idle_from,
        net_kwh_per_task=net / cost.J_PER_KWH,
        energy_basis=basis,
        seconds_per_task=seconds,
        n_requests=len(ok),
        notes=notes,
        concurrency=capacity.concurrency,
        device_s_per_task=capacity.device_s_per_task if capacity.aggregate else None,
        capacity_from=capacity.source,
    )


Levels = Sequence[tuple[int, float]]  # (concurrency, capacity tasks/month) of every measured level


def _beyond(econ: DeviceEconomics, n: float, levels: Levels | None) -> str:
    """What to say about a volume ``n`` above this level's capacity: a measured level that serves it,
    or that it lies beyond the largest measured level (never a number extrapolated past it)."""
    measured = sorted(levels or [(econ.concurrency, econ.capacity_tasks_per_month)])
    serves = [(c, cap) for c, cap in measured if cap >= n]
    if serves:
        c, cap = serves[0]
        return f"concurrency {c} (measured) serves up to {cap:,.0f}/month"
    return f"beyond the largest measured concurrency ({measured[-1][0]}); not extrapolated"


def _verdict(
    econ: DeviceEconomics, usd_per_task: float | None, fee: float | None, levels: Levels | None = None
) -> dict[str, Any]:
    """Break-even volume and verdict against a token price (``usd_per_task``) or a flat ``fee``."""
    fixed, var, cap = econ.fixed_usd_per_month, econ.variable_usd_per_task, econ.capacity_tasks_per_month
    if fee is not None:
        below = cost.subscription_breakeven_tasks_per_month(fixed, var, fee)
        if below is None:
            return {
                "verdict": "never",
                "breakeven_tasks_per_month": None,
                "text": (
                    f"never: owning costs {usd(fixed)}/month before any task, not below the {usd(fee)} fee"
                ),
            }
        if math.isinf(below) or below >= cap:
            return {
                "verdict": "device_cheaper",
                "breakeven_tasks_per_month": _finite(below),
                "text": (
                    f"the device is cheaper at any volume it can serve (up to {cap:,.0f} tasks/month at "
                    f"concurrency {econ.concurrency}, measured)"
                ),
            }
        return {
            "verdict": "cheaper_below",
            "breakeven_tasks_per_month": below,
            "text": f"the device is cheaper below {below:,.0f} tasks/month; above that the flat fee wins",
        }
    assert usd_per_task is not None
    n = cost.breakeven_tasks_per_month(fixed, var, usd_per_task)
    if n is None:
        return {
            "verdict": "never",
            "breakeven_tasks_per_month": None,
            "text": (
                f"never: the API costs {usd(usd_per_task)}/task, the device's energy alone {usd(var)}/task"
            ),
        }
    if n > cap:
        return {
            "verdict": "above_capacity",
            "breakeven_tasks_per_month": n,
            "text": (
                f"above capacity: it would break even at {n:,.0f} tasks/month, but serves at most "
                f"{cap:,.0f}/month at concurrency {econ.concurrency} (measured); {_beyond(econ, n, levels)}"
            ),
        }
    return {
        "verdict": "breaks_even",
        "breakeven_tasks_per_month": n,
        "text": (
            f"breaks even at {n:,.0f} tasks/month ({n / DAYS_PER_MONTH:,.0f}/day, {n / cap:.0%} of capacity)"
        ),
    }


def _at_volume(
    econ: DeviceEconomics,
    n: float,
    usd_per_task: float | None,
    fee: float | None,
    levels: Levels | None = None,
) -> dict[str, Any]:
    cap = econ.capacity_tasks_per_month
    if n > cap:
        return {
            "tasks_per_month": n,
            "defined": False,
            "text": (
                f"{n:,.0f} tasks/month exceed what the device serves at concurrency {econ.concurrency} "
                f"({cap:,.0f}/month measured): its cost at this volume is undefined; "
                f"{_beyond(econ, n, levels)}"
            ),
        }
    local = cost.monthly_usd(econ.fixed_usd_per_month, n, econ.variable_usd_per_task)
    # a subscription is all fixed (the fee), a token API all per task
    cloud = cost.monthly_usd(fee or 0.0, n, 0.0 if fee is not None else usd_per_task or 0.0)
    cheaper = "device" if local < cloud else "cloud" if cloud < local else "tie"
    return {
        "tasks_per_month": n,
        "defined": True,
        "device_usd_per_month": local,
        "cloud_usd_per_month": cloud,
        "cheaper": cheaper,
        "text": f"at {n:,.0f} tasks/month: device {usd(local)}, cloud {usd(cloud)} → {cheaper} cheaper",
    }


def compare(
    econ: DeviceEconomics,
    *,
    usd_per_task: float | None = None,
    subscription_usd_per_month: float | None = None,
    tasks_per_month: float | None = None,
    plan_max_tasks_per_month: float | None = None,
    levels: Levels | None = None,
) -> dict[str, Any]:
    """One cloud option against the device: verdict, volume check, and sensitivity. ``levels``: every
    measured (concurrency, capacity) of this device and model, so a volume above this level's capacity
    names a measured level that serves it, or says it is beyond the largest one."""
    fee = subscription_usd_per_month
    out = _verdict(econ, usd_per_task, fee, levels)
    out["at_volume"] = None
    if tasks_per_month is not None:
        at = _at_volume(econ, tasks_per_month, usd_per_task, fee, levels)
        if plan_max_tasks_per_month is not None and tasks_per_month > plan_max_tasks_per_month:
            at["text"] += f" (but the plan allows about {plan_max_tasks_per_month:,.0f} tasks/month)"
        out["at_volume"] = at
    out["sensitivity_kwh"] = [
        {
            "kwh_usd": econ.kwh_usd * f,
            "factor": f,
            **_verdict(replace(econ, kwh_usd=econ.kwh_usd * f), usd_per_task, fee, levels),
        }
        for f in KWH_FACTORS
    ]
    shares = sorted({*UTILIZATIONS, *([econ.utilization] if econ.utilization else [])})
    rows = []
    for u in shares:
        n = u * econ.capacity_tasks_per_month
        device = cost.usd_per_task_at_volume(econ.fixed_usd_per_month, n, econ.variable_usd_per_task)
        cloud = cost.usd_per_task_at_volume(fee, n, 0.0) if fee is not None else (usd_per_task or 0.0)
        rows.append(
            {
                "utilization": u,
                "tasks_per_month": n,
                "device_usd_per_task": device,
                "cloud_usd_per_task": cloud,
                "cheaper": "device" if device < cloud else "cloud" if cloud < device else "tie",
            }
        )
    out["sensitivity_utilization"] = rows
    return out


@dataclass(frozen=True)
class CloudRun:
    """A run of the same suite measured on a token API, its records priced (``bench.cost.enrich``)."""

    label: str
    records: Sequence[Record]
    manifest: Manifest


def measured_on_cloud(run: CloudRun, suite_hash: str | None) -> dict[str, Any]:
    """A measured cloud run's cost per task (as billed) and cache use, or a one-line ``UsageError``."""
    device = run.manifest.device
    tasks = ATTEMPTS.select(run.records)  # every attempt is billed, failed ones too
    if device.kind != "cloud" or not any(r.cost_source == "tokens" for r in tasks):
        raise UsageError(
            f"--cloud-run {run.label}: not a run on a token API (device {device.name!r}, "
            f"kind {device.kind!r})",
            fix="give a bundle of a run on a cloud profile priced per token",
        )
    if run.manifest.suite.hash != suite_hash:
        raise UsageError(
            f"--cloud-run {run.label}: suite {run.manifest.suite.name!r} differs from the local run's "
            "(break-even compares the same tasks)",
            fix="run the local run's suite on the API, or compare priced-not-run rows only",
        )
    costs = [r.cost_usd for r in tasks if r.cost_usd is not None]
    calls = [r for r in REQUESTS.select(run.records) if r.prompt_tokens]
    prompt = sum(r.prompt_tokens or 0 for r in calls)
    read = sum(r.cached_tokens or 0 for r in calls)
    write = sum(r.cache_write_tokens or 0 for r in calls)
    return {
        "n": len(tasks),
        "usd_per_task": sum(costs) / len(costs) if costs and len(costs) == len(tasks) else None,
        "cache_hit_rate": read / prompt if prompt else None,
        "cache_write_share": write / prompt if prompt else None,
        "as_of": device.as_of or None,
        "source": device.source,
        "name": device.name,
    }


def _measured_rows(
    econ: DeviceEconomics, runs: Sequence[CloudRun], suite_hash: str | None, volume: float | None,
    levels: Levels | None,
) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for run in runs:
        m = measured_on_cloud(run, suite_hash)
        entry: dict[str, Any] = {
            "profile": f"{run.label} (measured)",
            "name": m["name"],
            "pricing": "tokens",
            "as_of": m["as_of"],
            "source": m["source"],
            "label": "measured on the API, priced as billed",
            "batch": False,
            "basis": "measured",
            "run_id": run.manifest.run_id,
            "usd_per_task": m["usd_per_task"],
            "subscription_usd_per_month": None,
            "max_tasks_per_month": None,
            "cache_hit_rate": m["cache_hit_rate"],
            "cache_write_share": m["cache_write_share"],
        }
        if m["usd_per_task"] is None:
            entry.update(
                verdict="unpriced", text="the run has no priced tasks", breakeven_tasks_per_month=None
            )
        else:
            entry.update(compare(econ, usd_per_task=m["usd_per_task"], tasks_per_month=volume, levels=levels))
        if m["cache_hit_rate"] is not None:
            entry["text"] += (
                f" (measured: cache hit rate {m['cache_hit_rate']:.0%} of input, "
                f"cache writes {m['cache_write_share']:.0%})"
            )
        rows.append(entry)
    return rows


def _at_cached_share(rates: TokenRates, calls: Sequence[Record], share: float) -> float:
    """The requests' bill had ``share`` of every prompt been read from the provider's cache (a warm
    cache: no writes), each at its own size's tier."""
    return sum(
        rates.price_usage(
            prompt_tokens=r.prompt_tokens or 0,
            completion_tokens=r.completion_tokens or 0,
            reasoning_tokens=r.reasoning_tokens or 0,
            cache_read_tokens=round((r.prompt_tokens or 0) * share),
            started_utc=r.started_utc,
        )
        for r in calls
    )


def analyse(
    records: Sequence[Record],
    manifest: Manifest,
    clouds: Sequence[tuple[str, DeviceProfile]],
    options: EnrichOptions | None = None,
    tasks_per_day: float | None = None,
    levels: Levels | None = None,
    cloud_runs: Sequence[CloudRun] = (),
) -> dict[str, Any]:
    """The whole break-even answer for a local run against ``clouds`` (JSON-able). ``levels``: every
    measured concurrency level of this device and model (``bench.cost.levels``); default: this run's.
    ``cloud_runs``: the same suite measured on token APIs, each a ``measured`` row beside the others."""
    check_cost_flags(
        {
            "tasks_per_day": tasks_per_day,
            "kwh_usd": options.kwh_usd if options else None,
            "hardware_usd": options.hardware_usd if options else None,
        }
    )
    econ = device_economics(records, manifest, options)
    volume = tasks_per_day * DAYS_PER_MONTH if tasks_per_day is not None else None
    batch = bool(options and options.batch)
    profiles = dict(clouds)
    rows = [
        (row, profiles[row["profile"]])
        for row in priced_on_cloud(records, clouds, batch=batch, manifest=manifest)
    ]
    if not batch:  # the batch tier as rows of its own, beside the interactive prices
        tiered = [(k, p) for k, p in clouds if (sched := schedule_of(p)) is not None and sched.has_batch]
        for row in priced_on_cloud(records, tiered, batch=True, manifest=manifest):
            profile = profiles[row["profile"]]
            row["profile"] += " (batch)"
            rows.append((row, profile))
    # the cached-share sensitivity bills each request (model call) at its own size and time, and spreads
    # the total over the tasks (an agent task's calls are one task)
    calls = [r for r in REQUESTS.select(records) if r.prompt_tokens is not None]
    n_tasks = sum(1 for r in ATTEMPTS.select(records) if r.prompt_tokens is not None)
    options_out = []
    for row, profile in rows:
        fee = profile.subscription_usd_per_month if profile.pricing == "subscription" else None
        per_task = row["cost_per_task_usd"] if fee is None else None
        entry = {k: row[k] for k in ("profile", "name", "pricing", "as_of", "source", "label", "batch")}
        entry["basis"] = "projected" if profile.pricing == "rented" else "priced, not run"
        entry["usd_per_task"] = per_task
        entry["subscription_usd_per_month"] = fee
        entry["max_tasks_per_month"] = profile.max_tasks_per_month
        if fee is None and per_task is None:
            entry.update(
                verdict="unpriced", text="no token counts in the run to price", breakeven_tasks_per_month=None
            )
        else:
            entry.update(
                compare(
                    econ,
                    usd_per_task=per_task,
                    subscription_usd_per_month=fee,
                    tasks_per_month=volume,
                    plan_max_tasks_per_month=profile.max_tasks_per_month,
                    levels=levels,
                )
            )
        entry["tier_notes"] = row.get("tier_notes") or []
        rates, _ = rates_for(profile, bool(row.get("batch")))
        if rates is not None and calls and n_tasks:
            entry["sensitivity_cached"] = [
                {
                    "cached_share": share,
                    "usd_per_task": (usd := _at_cached_share(rates, calls, share) / n_tasks),
                    **_verdict(econ, usd, None, levels),
                }
                for share in CACHED_SHARES
            ]
        options_out.append(entry)
    options_out += _measured_rows(econ, cloud_runs, manifest.suite.hash, volume, levels)
    return {
        "run_id": manifest.run_id,
        "device": econ.as_dict(),
        "tasks_per_day": tasks_per_day,
        "tasks_per_month": volume,
        "label": (
            "cloud cost per task = this run's token counts at list prices (priced, not run); rented GPU = "
            "its hourly rate × this run's time per task (projected"
            + (
                f"; at concurrency {econ.concurrency}: each task's share of the device's time)"
                if econ.concurrency > 1
                else ")"
            )
        ),
        "batch": batch,
        "clouds": options_out,
    }
