"""Warnings that say how far to trust a run, each with what to do about it.

Modelled on hyperfine's ``output/warnings.rs`` and pyperf's ``format_checks()``: a warning names what is
wrong *and* the remedy ("use --warmup", "close other programs"). Pure functions of the records and the
manifest, computed when a bundle is read (``summary["warnings"]``), never stored in place of the data.

- ``high_cv``: a task's repetitions disagree by more than ``CV_THRESHOLD`` (pyperf's 10%: "the
  benchmark seems unstable"), measured on the decode rate, or on latency for tasks without one.
- ``slow_first`` / ``outliers``: requests far from their task's median latency. Each request's e2e
  latency is taken relative to its task's median (log ratio) and pooled over the run, so three
  repetitions per task still make a sample large enough for the modified z-score (> 3.5, Iglewicz &
  Hoaglin); a request must also be at least 20% off its median to count. When most outliers are the
  *first* measured repetition and slow, it is hyperfine's "first run was significantly slower": caches
  were cold, use (more) warmup.
- ``thermal_drift``: the decode rate trends down over the run's wall time. Tasks run in suite order, so a
  plain trend would confuse "the device got slower" with "the suite's later tasks have longer
  contexts": the log decode rate is regressed on minutes *and* context length (``stats.linear_trend``);
  a warning needs a one-sided p below ``DRIFT_P_VALUE`` and a fitted drop of at least
  ``DRIFT_MIN_DROP`` over the run. The slope is reported in tok/s per minute.
- ``busy_machine`` / ``on_battery``: from the hygiene snapshots (``bench.run.hygiene``) at start and end.
- ``cached_prompts``: over HTTP with prompts sent as written (``--warm-cache``, or a bundle from before
  cache busting was the default), a task's repeats reach their first token in at most
  ``CACHED_TTFT_RATIO`` of the time its first request took (and at least ``CACHED_MIN_DROP_MS`` less), or
  the server reports most of their prompt as cached, in at least half the tasks: the server answered
  them from its prompt cache. Measured against ``python -m llama_cpp.server`` with ``-w 1``: every
  measured request repeated its warmup's prompt, TTFT p50 19.6 ms against 100–450 ms fresh. In-process
  engines clear their KV cache before every request and busted prompts share nothing, so neither is
  judged.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.results import stats
from bench.results.schema import HygieneFacts, HygieneSnapshot, Manifest, PowerFacts, Record, call_level

__all__ = [
    "BUSY_CPU_PCT",
    "CACHED_TTFT_RATIO",
    "CV_THRESHOLD",
    "DRIFT_MIN_DROP",
    "DRIFT_P_VALUE",
    "RunWarning",
    "run_warnings",
]

CV_THRESHOLD = 0.10
OUTLIER_Z = 3.5
OUTLIER_MIN_EFFECT = 0.20  # and at least 20% from the task's median: on a quiet machine a 3% blip is
# "statistically" an outlier, but not worth a warning
MIN_PER_TASK = 3
DRIFT_P_VALUE = 0.01
DRIFT_MIN_DROP = 0.05
DRIFT_MIN_POINTS = 10
BUSY_CPU_PCT = 10.0
CACHED_TTFT_RATIO = 0.35  # repeats this much faster than the first request did not prefill the prompt
CACHED_MIN_DROP_MS = 10.0  # and this much in absolute terms: sub-millisecond jitter is not a cache
CACHED_SHARE = 0.5  # or the server says at least this share of the repeats' prompt came from its cache


@dataclass(frozen=True)
class RunWarning:
    """One warning: ``kind`` (stable, for machines), ``message`` (what), ``remedy`` (what to do)."""

    kind: str
    message: str
    remedy: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.message}. {self.remedy}"


def _by_task(records: Sequence[Record]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.kind in ("tool", "agent"):  # agent tasks: their model calls, grouped per step below
            continue
        if not r.warmup and r.status == "ok":
            groups[r.task_id if r.step is None else f"{r.task_id} step {r.step}"].append(r)
    return groups


def _settings(manifest: Manifest) -> dict[str, Any]:
    return manifest.settings.model_dump()


def _hygiene(manifest: Manifest, when: str) -> HygieneSnapshot:
    return (manifest.hygiene or HygieneFacts()).at(when)


def _environment_hints(manifest: Manifest) -> list[str]:
    hints = []
    governors = _hygiene(manifest, "start").cpu_governors
    if governors and set(governors) != {"performance"}:
        hints.append(
            f"set the CPU governor to performance (now {', '.join(sorted(governors))}; "
            "e.g. sudo cpupower frequency-set -g performance)"
        )
    if _hygiene(manifest, "start").on_battery:
        hints.append("plug the machine in")
    return hints


def _high_cv(groups: dict[str, list[Record]], manifest: Manifest) -> RunWarning | None:
    noisy: list[tuple[float, str, str]] = []
    checked = 0
    for task_id, recs in groups.items():
        if len(recs) < MIN_PER_TASK:
            continue
        checked += 1
        rates = [r.decode_tps for r in recs]
        metric, values = (
            ("decode rate", rates)
            if all(v is not None for v in rates)
            else ("latency", [r.e2e_ms for r in recs])
        )
        cv = stats.coefficient_of_variation(values)
        if cv is not None and cv > CV_THRESHOLD:
            noisy.append((cv, task_id, metric))
    if not noisy:
        return None
    noisy.sort(reverse=True)
    cv, worst, metric = noisy[0]
    reps = _settings(manifest).get("repetitions")
    remedy = [
        f"run more repetitions (--repetitions, now {reps}) or use --min-time SECONDS",
        "add --cooldown SECONDS between tasks",
        "close other programs",
        *_environment_hints(manifest),
    ]
    return RunWarning(
        "high_cv",
        f"repetitions disagree by more than {CV_THRESHOLD:.0%} (coefficient of variation) in {len(noisy)} "
        f"of {checked} tasks (worst: '{worst}', {metric} CV {cv:.0%})",
        "To steady them: " + "; ".join(remedy),
        {"tasks": {t: round(c, 4) for c, t, _ in noisy}, "threshold": CV_THRESHOLD},
    )


def _outliers(groups: dict[str, list[Record]], manifest: Manifest) -> RunWarning | None:
    pooled: list[float] = []
    owners: list[tuple[Record, float]] = []
    group_of: list[str] = []  # the group (task, or agent task step) each pooled value belongs to
    for key, recs in groups.items():
        lat = [r.e2e_ms for r in recs if r.e2e_ms and r.e2e_ms > 0]
        if len(lat) < MIN_PER_TASK:
            continue
        median = stats.percentile(lat, 50)
        if not median:
            continue
        for r in recs:
            if r.e2e_ms and r.e2e_ms > 0:
                pooled.append(math.log(r.e2e_ms / median))
                owners.append((r, median))
                group_of.append(key)
    flagged = [
        i
        for i in stats.modified_z_outliers(pooled, threshold=OUTLIER_Z)
        if abs(pooled[i]) >= math.log1p(OUTLIER_MIN_EFFECT)
    ]
    if not flagged:
        return None
    first_rep = {t: min(r.repetition for r in recs) for t, recs in groups.items()}
    slow_first = [
        owners[i] for i in flagged if pooled[i] > 0 and owners[i][0].repetition == first_rep[group_of[i]]
    ]
    warmup = _settings(manifest).get("warmup", 0) or 0
    if slow_first and 2 * len(slow_first) >= len(flagged):
        rec, median = max(slow_first, key=lambda o: (o[0].e2e_ms or 0) / o[1])
        advice = (
            f"You already use --warmup {warmup}: increase it, or re-run on a quiet machine in case it was a "
            "one-off"
            if warmup
            else "Use --warmup 1 (or more) to fill them before the measured requests"
        )
        return RunWarning(
            "slow_first",
            f"the first measured request was much slower than the rest in {len(slow_first)} task(s) (e.g. "
            f"'{rec.task_id}': {rec.e2e_ms:.0f} ms against a median of {median:.0f} ms); caches "
            "(model pages, CPU caches, the engine's buffers) were probably not warm yet",
            advice,
            {"tasks": sorted({o[0].task_id for o in slow_first}), "warmup": warmup},
        )
    rec, median = max((owners[i] for i in flagged), key=lambda o: abs(math.log((o[0].e2e_ms or 1) / o[1])))
    return RunWarning(
        "outliers",
        f"{len(flagged)} of {len(pooled)} requests are statistical outliers (latency far from their task's "
        f"median, modified z-score > {OUTLIER_Z}; e.g. '{rec.task_id}' repetition {rec.repetition + 1}: "
        f"{rec.e2e_ms:.0f} ms against {median:.0f} ms)",
        "Re-run on a quiet machine without other programs competing for it; more --repetitions make the "
        "statistics robust to the odd interruption" + ("" if warmup else "; --warmup may help"),
        {
            "requests": [
                {"task_id": owners[i][0].task_id, "repetition": owners[i][0].repetition} for i in flagged
            ],
            "threshold": OUTLIER_Z,
        },
    )


def _context_tokens(r: Record) -> float | None:
    if r.prompt_tokens is None or r.completion_tokens is None:
        return None
    return r.prompt_tokens + r.completion_tokens / 2  # the mean context length while decoding


def _session_starts(manifest: Manifest) -> list[int] | None:
    """Where each resumed session begins on the run's clock (ns); None when that is unknown."""
    starts: list[int] = []
    for entry in manifest.resumes:
        start = entry.start_ns
        if entry.same_boot is False or start is None:
            return None  # stamps from two boots share no clock; older bundles did not record it
        starts.append(start)
    return sorted(starts)


def _drift(records: Sequence[Record], manifest: Manifest) -> RunWarning | None:
    """Judged within each session (a resumed run's gap is not run time); the largest drift is reported."""
    starts = _session_starts(manifest)
    if starts is None:
        return None
    sessions: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
    for r in records:
        if r.warmup or r.status != "ok" or not r.decode_tps or r.decode_tps <= 0:
            continue
        ctx = _context_tokens(r)
        if ctx is not None:
            point = (r.start_ns / 60e9, math.log(r.decode_tps), ctx, r.decode_tps)
            sessions[bisect.bisect_right(starts, r.start_ns)].append(point)
    found = [w for pts in sessions.values() if (w := _drift_in(pts, manifest)) is not None]
    return max(found, key=lambda w: w.details["drop_fraction"], default=None)


def _drift_in(points: list[tuple[float, float, float, float]], manifest: Manifest) -> RunWarning | None:
    if len(points) < DRIFT_MIN_POINTS:
        return None
    minutes = [p[0] for p in points]
    rate = [p[3] for p in points]
    trend = stats.linear_trend([p[1] for p in points], minutes, [[p[2] for p in points]])
    if trend is None or trend.p_decreasing >= DRIFT_P_VALUE:
        return None
    span = max(minutes) - min(minutes)
    drop = 1 - math.exp(trend.slope * span)
    if drop < DRIFT_MIN_DROP:
        return None
    typical = stats.percentile(rate, 50) or 0.0
    per_min = trend.slope * typical  # d(rate)/dt = rate · d(log rate)/dt
    temps = ""
    t0, t1 = (
        _hygiene(manifest, "start").temperatures_c,
        _hygiene(manifest, "end").temperatures_c,
    )
    common = sorted(set(t0) & set(t1))
    if common:
        hottest = max(common, key=lambda c: t1[c])
        temps = f"; {hottest} went from {t0[hottest]:.0f} to {t1[hottest]:.0f} °C"
    return RunWarning(
        "thermal_drift",
        f"the decode rate fell during the run: {per_min:+.2f} tok/s per minute, {drop:.0%} over "
        f"{span:.1f} min (p = {trend.p_decreasing:.2g}, context length held fixed){temps}; the device is "
        "probably heating up and throttling",
        "Add --cooldown SECONDS between tasks, improve cooling or check the power mode, and compare runs "
        "only when they ran at the same temperature",
        {
            "slope_tps_per_min": round(per_min, 4),
            "slope_log_per_min": round(trend.slope, 6),
            "drop_fraction": round(drop, 4),
            "span_min": round(span, 3),
            "p_value": trend.p_decreasing,
            "n": trend.n,
        },
    )


def _busy(manifest: Manifest) -> RunWarning | None:
    busy = {
        when: pct
        for when in ("start", "end")
        if (pct := _hygiene(manifest, when).cpu_busy_pct) is not None and pct >= BUSY_CPU_PCT
    }
    if not busy:
        return None
    when, pct = next(iter(busy.items()))
    tops = ", ".join(f"{p.name} {p.cpu_pct or 0:.0f}%" for p in _hygiene(manifest, when).top_processes)
    where = " and ".join(busy)
    return RunWarning(
        "busy_machine",
        f"the machine was busy at the {where} of the run: {pct:.0f}% of all CPU in use by "
        f"other programs" + (f" ({tops})" if tops else ""),
        "Close other programs and re-run; a busy machine slows and scatters every measurement",
        dict(busy),
    )


def _battery(manifest: Manifest) -> RunWarning | None:
    if not any(_hygiene(manifest, w).on_battery for w in ("start", "end")):
        return None
    return RunWarning(
        "on_battery",
        "the machine ran on battery",
        "Plug it in and re-run: on battery, power management lowers clocks and numbers are not comparable",
    )


def _threads(manifest: Manifest) -> RunWarning | None:
    """More engine threads than logical cores: they contend, and every rate measured is lower for it."""
    threads = manifest.backend.settings.threads()
    logical = manifest.host.cpu_logical
    if not isinstance(logical, int) or threads <= logical:
        return None
    physical = manifest.host.cpu_physical or logical
    return RunWarning(
        "oversubscribed_threads",
        f"the engine ran {threads} threads on {logical} logical cores: they contended for the CPU, and the "
        "rates measured are lower than the machine can do",
        f"Use --threads {physical} (the physical cores) or fewer",
        {"threads": threads, "cpu_logical": logical},
    )


def _trace_missing(manifest: Manifest) -> RunWarning | None:
    missing = (manifest.power or PowerFacts()).external_missing
    if missing is None or Path(missing).exists():  # it may have been exported since
        return None
    return RunWarning(
        "power_trace_missing",
        f"the power trace {missing} did not appear during the run: no request has energy yet",
        f"Export the meter's log to {missing}; `infercost report` reads it from there once it exists",
        {"file": missing},
    )


def _first_and_repeats(records: Sequence[Record]) -> list[tuple[Record, list[Record]]]:
    """Per task (per step, for agent model calls), its first timed request and the requests after it,
    warmups included: with ``-w 1`` the warmup is the only request a cache has not seen."""
    groups: dict[tuple[str, int | None], list[Record]] = defaultdict(list)
    for r in call_level(records):
        if r.status == "ok" and r.ttft_ms is not None and r.ttft_ms > 0:
            groups[(r.task_id, r.step)].append(r)
    out = []
    for recs in groups.values():
        if len(recs) >= 2:
            first, *rest = sorted(recs, key=lambda r: r.start_ns)
            out.append((first, rest))
    return out


def _cached_share(r: Record) -> float | None:
    if r.cached_tokens is None or not r.prompt_tokens:
        return None
    return r.cached_tokens / r.prompt_tokens


def _served_from_cache(first: Record, repeats: list[Record]) -> bool:
    ttft = stats.percentile([r.ttft_ms for r in repeats], 50) or 0.0
    assert first.ttft_ms is not None
    if ttft <= CACHED_TTFT_RATIO * first.ttft_ms and first.ttft_ms - ttft >= CACHED_MIN_DROP_MS:
        return True
    share = stats.percentile([_cached_share(r) for r in repeats], 50)
    return share is not None and share >= CACHED_SHARE and share > (_cached_share(first) or 0.0)


def _cached_prompts(records: Sequence[Record], manifest: Manifest) -> RunWarning | None:
    """Repeated prompts answered from a server's prompt cache (see the module docstring)."""
    if manifest.backend.base_url is None or manifest.settings.cache_bust:
        return None
    pairs = _first_and_repeats(records)
    cached = [(first, rest) for first, rest in pairs if _served_from_cache(first, rest)]
    if not cached or 2 * len(cached) < len(pairs):
        return None
    firsts = [f for f, _ in cached]
    repeats = [r for _, rest in cached for r in rest]
    first_ms = stats.percentile([r.ttft_ms for r in firsts], 50) or 0.0
    repeat_ms = stats.percentile([r.ttft_ms for r in repeats], 50) or 0.0
    first_tps = stats.percentile([r.prefill_tps for r in firsts], 50)
    repeat_tps = stats.percentile([r.prefill_tps for r in repeats], 50)
    prefill = (
        f", prefill {first_tps:,.0f} → {repeat_tps:,.0f} tok/s"
        if first_tps is not None and repeat_tps is not None
        else ""
    )
    warm = manifest.settings.warm_cache
    return RunWarning(
        "cached_prompts",
        f"time to first token collapsed on repeated prompts in {len(cached)} of {len(pairs)} tasks: the "
        f"first request of a task took a median {first_ms:,.1f} ms, its repeats {repeat_ms:,.1f} ms"
        f"{prefill}; "
        "the server answered the repeats from its prompt cache, so the run's TTFT and prefill figures are "
        "a warm cache's, not what a new user of the endpoint sees",
        (
            "You asked for this with --warm-cache; drop it to measure fresh prompts (the default gives "
            "every request its own prefix)"
            if warm
            else "Re-run with --cache-bust (the default for HTTP endpoints): every request gets its own "
            "prefix, so no cache can answer it"
        ),
        {
            "tasks": len(cached),
            "of": len(pairs),
            "first_ttft_ms_p50": round(first_ms, 3),
            "repeat_ttft_ms_p50": round(repeat_ms, 3),
            "first_prefill_tps_p50": first_tps,
            "repeat_prefill_tps_p50": repeat_tps,
            "warm_cache": warm,
        },
    )


def run_warnings(records: Sequence[Record], manifest: Manifest) -> list[RunWarning]:
    """Every warning that applies to this run, most actionable first."""
    groups = _by_task(records)
    found = [
        _busy(manifest),
        _battery(manifest),
        _threads(manifest),
        _cached_prompts(records, manifest),
        _trace_missing(manifest),
        _drift(records, manifest),
        _outliers(groups, manifest),
        _high_cv(groups, manifest),
    ]
    return [w for w in found if w is not None]
