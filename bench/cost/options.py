"""What a reader may override when it prices a bundle: ``--kwh-usd``, ``--hardware-usd``,
``--tasks-per-month``, ``--memory-bandwidth-gbs``, ``--batch`` and ``--reprice`` given to ``report``,
``breakeven``, ``gate``... (None: what the run recorded, else the profile's own).

Its own module, below ``pricing``, ``roofline``, ``breakeven`` and ``enrich``, so each of them can take
it typed: a renamed override fails mypy instead of silently reading None through ``getattr``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EnrichOptions"]


@dataclass(frozen=True)
class EnrichOptions:
    """Reader-side overrides of the profile (None: what the run recorded, else the profile's own)."""

    kwh_usd: float | None = None
    hardware_usd: float | None = None
    tasks_per_month: float | None = None  # a subscription's stated volume
    memory_bandwidth_gbs: float | None = None  # the roofline's bandwidth (read by bench.cost.roofline)
    batch: bool = False  # price token APIs at their batch tier (--batch; docs/prices.md)
    # today's prices from the profile or price database the run used, not the ones its bundle recorded
    # (--reprice; docs/prices.md): an old bundle otherwise reproduces its dollars
    reprice: bool = False
    # one idle draw for several runs of one device (``bench.cost.levels``: the mean of the idle watts each
    # run measured, so the levels share one fixed cost); with its provenance
    idle_w: float | None = None
    idle_from: str | None = None
