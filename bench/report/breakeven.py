"""Break-even curves for the report: monthly cost against monthly tasks, a local device versus a cloud API.

The cost model of docs/cost.md, per month:

- local = ``price_usd / (lifetime_years × 12) + idle_w × 730 h × kwh_usd × wall_factor
  + N × net_kwh_per_task × kwh_usd × wall_factor`` (net, idle-subtracted energy: idle is in the fixed part);
- cloud = ``N × cloud_usd_per_task``;
- undefined beyond what the device can serve at its measured throughput (sequential requests:
  730 h / mean request time).

The formulas are ``bench/cost/formulas.py``'s; this module only gathers their inputs from a report's runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.cost import formulas as cost
from bench.cost.enrich import EnrichOptions
from bench.report.runs import Run
from bench.results.stats import mean

__all__ = ["CloudLine", "LocalLine", "cloud_line", "local_line"]


@dataclass(frozen=True)
class LocalLine:
    label: str
    fixed_usd: float  # per month: amortization + idle energy
    usd_per_task: float  # marginal: net energy per task
    capacity_tasks: float  # per month at the measured request time, one request at a time

    def monthly_usd(self, n_tasks: float) -> float:
        return self.fixed_usd + n_tasks * self.usd_per_task

    def breakeven_tasks(self, cloud_usd_per_task: float) -> float | None:
        """Monthly volume where local = cloud; None when local never gets cheaper."""
        return cost.breakeven_tasks_per_month(self.fixed_usd, self.usd_per_task, cloud_usd_per_task)


@dataclass(frozen=True)
class CloudLine:
    label: str
    usd_per_task: float

    def monthly_usd(self, n_tasks: float) -> float:
        return n_tasks * self.usd_per_task


def local_line(run: Run, options: EnrichOptions | None = None) -> tuple[LocalLine | None, str | None]:
    """The run's monthly cost line, or (None, the missing inputs)."""
    d = run.manifest.device
    options = options or EnrichOptions()
    price = options.hardware_usd if options.hardware_usd is not None else d.get("price_usd")
    kwh = options.kwh_usd if options.kwh_usd is not None else d.get("kwh_usd")
    inputs = {
        "price_usd": price,
        "lifetime_years": d.get("lifetime_years"),
        "idle_w": d.get("idle_w"),
        "kwh_usd": kwh,
    }
    missing = [k for k, v in inputs.items() if v is None]
    net_j = mean(r.energy_net_j for r in run.measured)
    if net_j is None:
        missing.append("net energy per task (no power sensor)")
    e2e_ms = mean(r.e2e_ms for r in run.measured if r.status == "ok")
    if missing or net_j is None or e2e_ms is None or price is None or kwh is None:
        return None, "missing " + ", ".join(missing or ["request times"])
    wall = float(d.get("wall_factor") or 1.0)
    fixed = cost.local_fixed_usd_per_month(
        price_usd=float(price),
        lifetime_years=float(d["lifetime_years"]),
        idle_w=float(d["idle_w"]),
        kwh_usd=float(kwh),
        wall_factor=wall,
    )
    per_task = cost.local_variable_usd_per_task(net_j / cost.J_PER_KWH, float(kwh), wall)
    capacity = cost.capacity_tasks_per_month(e2e_ms / 1000)
    return LocalLine(run.label, fixed, per_task, capacity), None


def cloud_line(run: Run) -> tuple[CloudLine | None, str | None]:
    usd_per_task = mean(r.cost_usd for r in run.measured)
    if usd_per_task is None:
        return None, "no cost per task (the profile gives no token prices)"
    return CloudLine(run.label, usd_per_task), None
