"""Break-even curves for the report: monthly cost against monthly tasks, a local device versus a cloud API.

The cost model of docs/cost.md, per month:

- local = ``price_usd / (lifetime_years × 12) + idle_w × 730 h × kwh_usd × wall_factor
  + N × net_kwh_per_task × kwh_usd × wall_factor`` (net, idle-subtracted energy: idle is in the fixed part);
- cloud = ``N × cloud_usd_per_task``;
- undefined beyond what the device can serve at its measured throughput (one request at a time: 730 h /
  mean request time; at ``--concurrency N``: the measured aggregate, bench/cost/capacity.py).

The device side is ``bench/cost/breakeven.device_economics``, the same function ``infercost breakeven``
answers with; this module only turns it into lines for a chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.cost import formulas as cost
from bench.cost.breakeven import device_economics, missing_inputs
from bench.cost.enrich import EnrichOptions
from bench.cost.pricing import cloud_profiles, priced_on_cloud
from bench.devices.staleness import price_age
from bench.errors import BenchError
from bench.report.runs import Run

__all__ = ["MAX_PRICED_LINES", "CloudLine", "LocalLine", "cloud_line", "local_line", "priced_cloud_lines"]

MAX_PRICED_LINES = 6  # a chart stays readable; the cost table lists every profile


@dataclass(frozen=True)
class LocalLine:
    label: str
    fixed_usd: float  # per month: amortization + idle energy
    usd_per_task: float  # marginal: net energy per task
    capacity_tasks: float  # per month at the measured throughput, at the run's concurrency
    run: str = ""  # the run's label (its colour), when ``label`` says more
    estimated: bool = False  # its energy is an estimate: its volumes are marked ≈

    def monthly_usd(self, n_tasks: float) -> float:
        return cost.monthly_usd(self.fixed_usd, n_tasks, self.usd_per_task)

    def breakeven_tasks(self, cloud_usd_per_task: float) -> float | None:
        """Monthly volume where local = cloud; None when local never gets cheaper."""
        return cost.breakeven_tasks_per_month(self.fixed_usd, self.usd_per_task, cloud_usd_per_task)


@dataclass(frozen=True)
class CloudLine:
    label: str
    usd_per_task: float
    priced_not_run: bool = False  # a profile's prices for a local run's tokens, not a run on the API
    name: str = ""  # the profile (priced, not run) or the run's label, for the volumes table
    as_of: str = ""  # the price's date and age ("2026-08-05 (4 months)"), "" for a run's own cost

    def monthly_usd(self, n_tasks: float) -> float:
        return cost.monthly_usd(0.0, n_tasks, self.usd_per_task)


def local_line(run: Run, options: EnrichOptions | None = None) -> tuple[LocalLine | None, str | None]:
    """The run's monthly cost line, or (None, the missing inputs): ``bench.cost.breakeven.device_economics``
    (the one implementation ``infercost breakeven`` uses too: the same inputs, idle watts, energy basis and
    capacity at the run's concurrency), drawn only where no input had to be counted as $0."""
    options = options or EnrichOptions()
    missing = missing_inputs(run.records, run.manifest, options)
    if missing:
        return None, "missing " + ", ".join(missing)
    try:
        econ = device_economics(run.records, run.manifest, options)
    except BenchError as exc:
        return None, str(exc)
    label = run.label
    if econ.energy_basis.startswith("estimated:"):
        label += " (energy estimated from stated watts)"
    elif econ.energy_basis.startswith("estimated"):
        label += " (energy estimated, not measured)"
    if econ.concurrency > 1:
        label += f" (concurrency {econ.concurrency})"
    line = LocalLine(
        label,
        econ.fixed_usd_per_month,
        econ.variable_usd_per_task,
        econ.capacity_tasks_per_month,
        run.label,
        estimated=econ.energy_basis.startswith("estimated"),
    )
    return line, None


def cloud_line(run: Run) -> tuple[CloudLine | None, str | None]:
    """A cloud run's line: its own cost per task (the figure every view shows, ``Run.metrics``)."""
    usd_per_task = run.metrics.get("cost_per_task_usd")
    if usd_per_task is None:
        return None, "no cost per task (the profile gives no token prices)"
    return CloudLine(run.label, usd_per_task, name=run.label), None


def priced_cloud_lines(
    local_runs: Sequence[Run], options: EnrichOptions | None = None
) -> tuple[list[CloudLine], str]:
    """Cloud lines for a report of local runs only: every token-priced cloud profile in devices/ at the
    local runs' own token counts (priced, not run), and a sentence naming the profiles and their dates.

    At most ``MAX_PRICED_LINES`` are drawn, spread from the cheapest to the dearest; the sentence names the
    ones left out."""
    # every record, model calls included: an agent task is billed call by call (each at its own size)
    records = [r for run in local_runs for r in run.records]
    n_tasks = sum(int(run.metrics["n"]) for run in local_runs)
    clouds, _skipped = cloud_profiles()
    token_clouds = [(k, p) for k, p in clouds if p.pricing == "tokens"]
    batch = bool(options and options.batch)
    rows = [r for r in priced_on_cloud(records, token_clouds, batch=batch) if r["cost_per_task_usd"]]
    if not rows:
        return [], "no token counts in the local runs to price"
    if len(rows) > MAX_PRICED_LINES:
        step = (len(rows) - 1) / (MAX_PRICED_LINES - 1)
        keep = sorted({round(i * step) for i in range(MAX_PRICED_LINES)})
    else:
        keep = list(range(len(rows)))
    drawn = [rows[i] for i in keep]
    left = [r["profile"] for i, r in enumerate(rows) if i not in keep]
    lines = []
    for r in drawn:
        age = price_age(r["as_of"], r["source"])
        lines.append(
            CloudLine(
                f"{r['profile']} (priced, not run)",
                float(r["cost_per_task_usd"]),
                priced_not_run=True,
                name=r["profile"],
                as_of=age.short if age else "undated",
            )
        )
    text = (
        "Cloud lines are priced, not run: the local runs' own token counts (mean per task over "
        f"{n_tasks:,} measured tasks) at each API's list prices"
        + (" (batch tier)" if batch else "")
        + " (dated in the table); the API's own tokenizer, answers and pass rate would differ."
    )
    if left:
        text += f" Not drawn (see the cost table): {', '.join(left)}."
    sources = sorted(
        {str(r["prices_from"]).split(": ")[0] for r in drawn if str(r.get("prices_from")).startswith("genai")}
    )
    if sources:
        text += f" Prices from {'; '.join(sources)}."
    crossed = [f"{r['profile']}: {n}" for r in drawn for n in r.get("tier_notes") or []]
    if crossed:
        text += " Context-length tiers crossed: " + "; ".join(crossed) + "."
    return lines, text
