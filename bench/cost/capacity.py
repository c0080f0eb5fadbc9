"""How many tasks a local device serves per second at the concurrency a run held, and each request's share
of the device's time.

A device serving one request at a time is busy for each request's whole latency, so its capacity is
``1 / mean request time`` (what break-even always used). Serving ``N`` streams at once (llama.cpp decodes
several sequences per step) each request gets slower but the device finishes more of them per second:
its capacity is the *aggregate* throughput, measured, never ``N / latency`` guessed from one stream.

- ``measured_capacity``: tasks/s at the run's concurrency, with where the figure comes from. One stream
  (a sequential run, or no two requests overlapped): ``1 / mean request time``, unchanged. A run under
  ``--concurrency N`` or ``--rate`` whose requests overlapped: successful
  measured tasks ÷ the time requests were in flight (the union of their windows: cooldowns and pauses
  between requests are not capacity), per bundle (a pooled run's clocks are not comparable).
- ``shared_seconds``: per request, its window with each instant divided among the requests in flight,
  the rule the power layer uses for energy (bench/power/attribution.py). Summed over a run it is the busy
  time once, so the hardware share of a request (``$/serving hour × shared seconds``) adds up to the hours
  the device served, never ``N ×`` them. One request at a time: its own length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.errors import BundleError
from bench.results import stats
from bench.results.metrics.policy import ATTEMPTS, COMPLETED
from bench.results.schema import Manifest, Record

__all__ = ["Capacity", "concurrent_load", "measured_capacity", "run_concurrency", "shared_seconds"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Capacity:
    """What one run says about its device's throughput."""

    concurrency: int  # streams the run kept in flight (its --concurrency; 1 when it ran one at a time)
    device_s_per_task: float  # seconds of device time one task takes: 1 / tasks per second
    source: str  # how it was measured, in words
    n_tasks: int  # successful measured tasks it rests on
    aggregate: bool  # True: measured from overlapping requests over the busy time
    busy_s: float | None = None  # time requests were in flight (aggregate only)
    mean_latency_s: float | None = None  # each request's own mean end-to-end time
    p95_latency_s: float | None = None

    @property
    def tasks_per_s(self) -> float:
        return 1.0 / self.device_s_per_task

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tasks_per_s": self.tasks_per_s}


def concurrent_load(manifest: Manifest) -> bool:
    """Whether the run put several requests in flight at once (``--concurrency N``, ``--rate``): only
    then are overlapping windows shared; a sequential run is one request at a time by construction (and
    hand-built records that all start at 0 are not read as concurrent)."""
    st = manifest.settings
    return bool((st.concurrency and st.concurrency > 1) or st.rate_rps or st.mode == "open_loop")


def run_concurrency(manifest: Manifest) -> int:
    """The concurrency a run was given (``--concurrency``), 1 when it ran one request at a time."""
    c = manifest.settings.concurrency
    return int(c) if c and c > 1 else 1


def _durations_s(records: Sequence[Record]) -> list[float]:
    return [r.e2e_ms / 1e3 if r.e2e_ms is not None else (r.end_ns - r.start_ns) / 1e9 for r in records]


def _shared(starts: FloatArray, ends: FloatArray) -> tuple[FloatArray, float, int]:
    """Per window (ns): its time with each instant split among the windows in flight; the busy time
    (union of the windows, ns); the most windows in flight at once. The sweep of
    bench/power/attribution.py without an energy curve."""
    edges = np.unique(np.concatenate((starts, ends)))
    i0 = np.searchsorted(edges, starts)
    i1 = np.searchsorted(edges, ends)
    count = np.zeros(edges.size, dtype=np.int64)
    np.add.at(count, i0, 1)
    np.add.at(count, i1, -1)
    active = np.cumsum(count)[:-1]
    seg = np.diff(edges)
    per = np.where(active > 0, seg / np.maximum(active, 1), 0.0)
    cum = np.concatenate(([0.0], np.cumsum(per)))
    return cum[i1] - cum[i0], float(seg[active > 0].sum()), int(active.max()) if active.size else 0


def _overlaps(starts: FloatArray, ends: FloatArray) -> bool:
    if starts.size < 2:
        return False
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    return bool((s[1:] < np.maximum.accumulate(e)[:-1]).any())


def _layers(records: Sequence[Record]) -> list[list[int]]:
    """Indices per (bundle, layer): an agent task's summary spans its own calls, so the two layers are
    shared separately (as the power layer attributes them), and each bundle has its own clock."""
    groups: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        groups[(r.run_id, r.kind in ("model", "tool"))].append(i)
    return list(groups.values())


def shared_seconds(records: Sequence[Record]) -> list[float] | None:
    """Each request's share of the device's time (s), or None when no two requests overlap (then every
    request's share is its own window, and callers keep their one-at-a-time arithmetic unchanged)."""
    if len(records) < 2:
        return None
    out: list[float] | None = None
    for idx in _layers(records):
        starts = np.fromiter((records[i].start_ns for i in idx), dtype=np.float64, count=len(idx))
        ends = np.fromiter((records[i].end_ns for i in idx), dtype=np.float64, count=len(idx))
        ends = np.maximum(ends, starts)
        if not _overlaps(starts, ends):
            continue
        if out is None:
            out = [max(r.end_ns - r.start_ns, 0) / 1e9 for r in records]
        share, _busy, _peak = _shared(starts, ends)
        for i, s in zip(idx, share.tolist(), strict=True):
            out[i] = s / 1e9
    return out


def measured_capacity(
    records: Sequence[Record], manifest: Manifest, completed: Sequence[Record] | None = None
) -> Capacity:
    """Tasks per second the device served at the run's concurrency (module docstring). ``completed``:
    ``COMPLETED.select(records)``, when the caller has it already."""
    ok = COMPLETED.select(records) if completed is None else completed
    if not ok:
        raise BundleError(
            "the run has no successful measured requests to derive time and energy per task from"
        )
    level = run_concurrency(manifest)
    latencies = _durations_s(ok)
    mean_s = stats.mean(latencies)
    assert mean_s is not None
    p95 = stats.percentile(latencies, 95)
    busy_s, peak, overlap = 0.0, 1, False
    by_run: dict[str, list[Record]] = defaultdict(list)
    if concurrent_load(manifest):  # else one at a time whatever the windows: the sweep would go unused
        for r in ATTEMPTS.select(records):
            by_run[r.run_id].append(r)
    for rs in by_run.values():
        starts = np.asarray([r.start_ns for r in rs], dtype=np.float64)
        ends = np.maximum(np.asarray([r.end_ns for r in rs], dtype=np.float64), starts)
        overlap = overlap or _overlaps(starts, ends)
        _share, busy_ns, most = _shared(starts, ends)
        busy_s += busy_ns / 1e9
        peak = max(peak, most)
    if not overlap or not concurrent_load(manifest):
        # one at a time: today's figure, 1 / mean request time, unchanged
        source = "one request at a time: 1 / mean request time"
        if level > 1:
            source += f" (--concurrency {level} given, but no two requests overlapped)"
        return Capacity(1, mean_s, source, len(ok), False, None, mean_s, p95)
    if busy_s <= 0:
        raise BundleError("the run's measured requests have no duration to derive a throughput from")
    at = (
        f"at concurrency {level}" if level > 1 else f"with up to {peak} requests in flight (no --concurrency)"
    )
    source = f"measured aggregate: {len(ok)} tasks ÷ {busy_s:,.1f} s with requests in flight, {at}"
    rate = manifest.settings.rate_rps
    if rate:
        source += f"; at --rate {rate:g} req/s the offered load bounds it (a lower bound on capacity)"
    return Capacity(
        level if level > 1 else peak, busy_s / len(ok), source, len(ok), True, busy_s, mean_s, p95
    )
