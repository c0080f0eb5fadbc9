"""Run-level serving figures: request throughput, aggregate output tok/s and goodput under SLOs.

These describe the run as a whole (how much an endpoint served per second of wall time), not a request,
so they are computed once over the measured window, from the first measured dispatch to the last
measured stream end, as vLLM's ``benchmark_serving`` reports them:

- ``request_throughput_rps``: successful requests / window
- ``output_tps_total``: completion tokens of successful requests / window (all streams together)
- ``goodput_rps``: successful requests that met every given SLO / window (DistServe's goodput);
  ``slo_attainment`` is the share of measured requests that did. A request of one output token has no
  TPOT and meets a TPOT objective (vLLM counts it as 0).

With one request at a time the throughput is simply 1 / mean latency; the figures matter under
``--concurrency`` and ``--rate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.results.metrics.policy import REQUESTS
from bench.results.schema import Record

__all__ = ["meets_slo", "throughput_metrics"]


def meets_slo(r: Record, slo_ttft_ms: float | None, slo_tpot_ms: float | None) -> bool:
    if r.status != "ok":
        return False
    if slo_ttft_ms is not None and (r.ttft_ms is None or r.ttft_ms > slo_ttft_ms):
        return False
    if slo_tpot_ms is not None:
        if r.tpot_ms is None:
            return (r.completion_tokens or 0) <= 1
        return r.tpot_ms <= slo_tpot_ms
    return True


def throughput_metrics(
    records: Sequence[Record], slo_ttft_ms: float | None = None, slo_tpot_ms: float | None = None
) -> dict[str, Any]:
    measured = REQUESTS.select(records)  # model requests (agent calls too)
    ok = [r for r in measured if r.status == "ok"]
    empty: dict[str, Any] = {
        "window_s": None,
        "request_throughput_rps": None,
        "output_tps_total": None,
        "goodput_rps": None,
        "slo_attainment": None,
    }
    if not measured:
        return empty
    window_s = (max(r.end_ns for r in measured) - min(r.start_ns for r in measured)) / 1e9
    if window_s <= 0:
        return empty
    out_tokens = sum(r.completion_tokens or 0 for r in ok)
    result = {
        **empty,
        "window_s": window_s,
        "request_throughput_rps": len(ok) / window_s,
        "output_tps_total": out_tokens / window_s,
    }
    if slo_ttft_ms is not None or slo_tpot_ms is not None:
        good = sum(1 for r in measured if meets_slo(r, slo_ttft_ms, slo_tpot_ms))
        result["goodput_rps"] = good / window_s
        result["slo_attainment"] = good / len(measured)
    return result
