"""Cost per agent task, stated as the issue defines it: the sum over the task's model calls at the
token prices as billed (``bench.cost.tiers``: cache reads, cache writes at their TTL, the batch tier when
asked for), plus, locally, energy and hardware amortization over the task's whole wall time — tool time
included.

``price_record`` already prices an agent summary record this way (its token counts are the sums over
its calls, cache writes included, and its window spans the whole task), so the summary's ``cost_usd`` is
the task's cost; ``agent_task_cost`` recomputes it from the per-call records, the definition in one
place, and the tests hold the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.cost.pricing import CostInputs, _local_parts
from bench.results.schema import Record

__all__ = ["agent_task_cost"]


def agent_task_cost(summary: Record, calls: Sequence[Record], inp: CostInputs) -> dict[str, Any]:
    """The cost of one agent task attempt: ``{"api_usd", "energy_usd", "hardware_usd", "total_usd"}``
    (None where the inputs are missing). ``calls``: the task's records (model calls are priced)."""
    api: float | None = None
    energy = hardware = None
    if inp.kind == "local":
        energy, hardware, _source = _local_parts(summary, inp)  # over the whole task window
    elif inp.pricing == "tokens" and inp.rates is not None:
        prices = [inp.rates.price(r) for r in calls if r.kind == "model"]
        api = sum(p for p in prices if p is not None) if any(p is not None for p in prices) else None
    parts = [x for x in (api, energy, hardware) if x is not None]
    return {
        "api_usd": api,
        "energy_usd": energy,
        "hardware_usd": hardware,
        "total_usd": sum(parts) if parts else None,
    }
