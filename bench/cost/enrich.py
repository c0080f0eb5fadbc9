"""Derived per-request figures: energy attribution and cost, computed when a bundle is read.

A bundle stores raw measurements only: request windows (``start_ns``/``end_ns``), token counts, the power
trace (``power.csv``) and the device profile with its dated prices (``manifest.json``). Energy per
request (which needs the whole trace to apportion short requests) and cost per request (which needs
prices that a reader may override, e.g. ``--kwh-usd``) are derived here, so

- nothing is ever rewritten on disk (records are append-only, crash-safe), and
- a report can re-price an old run with today's electricity price without re-running it.

Every consumer (the after-run summary, reports, compare, gate, breakeven) calls ``enrich`` on what it
reads, so they all see the same numbers.
"""

from __future__ import annotations

from bench.cost.options import EnrichOptions
from bench.cost.pricing import price_records
from bench.power.records import apply_energy
from bench.results.bundle import Bundle
from bench.results.schema import Record

__all__ = ["EnrichOptions", "enrich"]


def enrich(bundle: Bundle, options: EnrichOptions | None = None) -> list[Record]:
    """The bundle's records with energy and cost fields filled where the inputs exist."""
    options = options or EnrichOptions()
    records = list(bundle.records)
    # energy first (bench/power), then cost (bench/cost/pricing.py): cost needs energy.
    records = apply_energy(records, bundle.manifest, bundle.path)
    records = price_records(records, bundle.manifest, options)
    return records
