"""Timestamps → TTFT, ITL, TPOT, decode and prefill rates. Pure functions, no I/O.

Definitions (docs/metrics.md states them the same way):

- ``ttft_ms``: request dispatch → first non-empty content token received
- ``e2e_ms``: request dispatch → last token received (stream end)
- ``itl_ms``: gaps between consecutive content tokens after the first
- ``tpot_ms``: (e2e − ttft) / (completion_tokens − 1), the first token excluded (vLLM / MLPerf meaning)
- ``decode_tps``: (completion_tokens − 1) / (e2e − ttft)
- ``prefill_tps``: prompt_tokens / ttft
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["TimingMetrics", "derive_timing"]


@dataclass(frozen=True, slots=True)
class TimingMetrics:
    ttft_ms: float | None
    e2e_ms: float
    itl_ms: list[float]
    tpot_ms: float | None
    decode_tps: float | None
    prefill_tps: float | None


def derive_timing(
    t_dispatch_ns: int,
    content_ns: Sequence[int],
    t_end_ns: int,
    completion_tokens: int | None,
    prompt_tokens: int | None,
) -> TimingMetrics:
    """Derive the metrics from raw ``perf_counter_ns`` stamps.

    ``content_ns`` are the arrival times of content events (tokens in-process, chunks over HTTP);
    ``t_end_ns`` is the stream end. ``completion_tokens`` is the count from its recorded source; rates
    need at least two tokens and a positive decode window, else they are ``None`` (not zero: a missing
    value must never pull a mean down).
    """
    e2e_ms = (t_end_ns - t_dispatch_ns) / 1e6
    if not content_ns:
        return TimingMetrics(None, e2e_ms, [], None, None, None)
    ttft_ms = (content_ns[0] - t_dispatch_ns) / 1e6
    itl = [(b - a) / 1e6 for a, b in itertools.pairwise(content_ns)]
    decode_ms = e2e_ms - ttft_ms
    tpot = tps = None
    if completion_tokens is not None and completion_tokens > 1 and decode_ms > 0:
        tpot = decode_ms / (completion_tokens - 1)
        tps = (completion_tokens - 1) / (decode_ms / 1e3)
    prefill = prompt_tokens / (ttft_ms / 1e3) if prompt_tokens and ttft_ms > 0 else None
    return TimingMetrics(ttft_ms, e2e_ms, itl, tpot, tps, prefill)
