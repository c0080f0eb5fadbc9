"""bench.results.variability: each warning fires on the pattern it names, stays quiet otherwise, carries a remedy,
and reaches the summary (so ``--json`` has it)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from bench.report.summary import summarize
from bench.results.schema import Manifest, Record
from bench.results.variability import run_warnings


def manifest(**extra: Any) -> Manifest:
    fields: dict[str, Any] = {
        "tool_version": "0",
        "run_id": "r",
        "started_utc": "2026-11-26T00:00:00Z",
        "anchor_perf_ns": 0,
        "host": {},
        "device": {"name": "d"},
        "backend": {"name": "llama_cpp"},
        "suite": {"name": "s", "hash": "h"},
        "settings": {"repetitions": 3, "warmup": 1},
    }
    return Manifest(**{**fields, **extra})


def rec(
    task: str,
    rep: int,
    *,
    start_s: float,
    e2e_ms: float = 500.0,
    tps: float | None = 100.0,
    prompt: int = 30,
    completion: int = 40,
    warmup: bool = False,
) -> Record:
    start = int(start_s * 1e9)
    return Record(
        run_id="r",
        task_id=task,
        category="c",
        repetition=rep,
        warmup=warmup,
        status="ok",
        started_utc="2026-11-26T00:00:00Z",
        start_ns=start,
        end_ns=start + int(e2e_ms * 1e6),
        e2e_ms=e2e_ms,
        ttft_ms=20.0,
        decode_tps=tps,
        prompt_tokens=prompt,
        completion_tokens=completion,
    )


def steady_run(n_tasks: int = 10, reps: int = 3, seed: int = 0, sd: float = 0.01) -> list[Record]:
    """A quiet run: every repetition within ~1% of its task's level, no trend."""
    rng = np.random.default_rng(seed)
    out, t = [], 0.0
    for i in range(n_tasks):
        level = 80 + 5 * i
        for r in range(reps):
            noise = 1 + rng.normal(0, sd)
            out.append(rec(f"t{i}", r, start_s=t, e2e_ms=400 * noise, tps=level * noise))
            t += 0.5
    return out


def kinds(records: list[Record], m: Manifest | None = None) -> list[str]:
    return [w.kind for w in run_warnings(records, m or manifest())]


def test_a_quiet_run_has_no_warnings() -> None:
    for seed in range(5):
        assert kinds(steady_run(seed=seed)) == []


def test_high_cv_names_the_worst_task_and_the_remedies() -> None:
    records = steady_run()
    records += [rec("wobbly", r, start_s=100 + r, tps=v) for r, v in enumerate([60.0, 100.0, 140.0])]
    (w,) = run_warnings(records, manifest())
    assert w.kind == "high_cv"
    assert "'wobbly'" in w.message and "1 of 11 tasks" in w.message and "CV 40%" in w.message
    for remedy in ("--repetitions", "--min-time", "--cooldown", "close other programs"):
        assert remedy in w.remedy
    assert w.details["tasks"] == {"wobbly": 0.4}


def test_high_cv_remedy_adds_governor_and_battery_when_known() -> None:
    records = [rec("a", r, start_s=r, tps=v) for r, v in enumerate([50.0, 100.0, 150.0])]
    m = manifest(hygiene={"start": {"cpu_governors": {"powersave": 8}, "on_battery": True}})
    by_kind = {w.kind: w for w in run_warnings(records, m)}
    assert "governor to performance (now powersave" in by_kind["high_cv"].remedy
    assert "plug the machine in" in by_kind["high_cv"].remedy
    assert "on_battery" in by_kind


def test_slow_first_repetition_is_blamed_on_cold_caches() -> None:
    records = steady_run()
    for task in ("t2", "t5", "t7"):
        i = next(k for k, r in enumerate(records) if r.task_id == task and r.repetition == 0)
        records[i] = records[i].model_copy(update={"e2e_ms": 1200.0})
    w = {w.kind: w for w in run_warnings(records, manifest())}["slow_first"]
    assert "3 task(s)" in w.message and "caches" in w.message and "1200 ms" in w.message
    assert "already use --warmup 1" in w.remedy
    m0 = manifest(settings={"repetitions": 3, "warmup": 0})
    w0 = {w.kind: w for w in run_warnings(records, m0)}["slow_first"]
    assert "Use --warmup 1" in w0.remedy


def test_scattered_outliers_are_not_called_slow_first() -> None:
    records = steady_run()
    i = next(k for k, r in enumerate(records) if r.task_id == "t4" and r.repetition == 2)
    records[i] = records[i].model_copy(update={"e2e_ms": 2000.0})
    (w,) = [w for w in run_warnings(records, manifest()) if w.kind in ("outliers", "slow_first")]
    assert w.kind == "outliers" and "1 of 30 requests" in w.message and "'t4' repetition 3" in w.message
    assert "quiet machine" in w.remedy


def test_small_deviations_are_not_outliers_even_when_statistically_extreme() -> None:
    records = steady_run(sd=0.001)  # a very quiet machine: MAD is tiny
    i = next(k for k, r in enumerate(records) if r.task_id == "t1" and r.repetition == 1)
    records[i] = records[i].model_copy(update={"e2e_ms": records[i].e2e_ms * 1.08})  # 8%: not worth it
    assert "outliers" not in kinds(records)


def drifting_run(slowdown_per_min: float, minutes: float = 10.0, n: int = 60, seed: int = 1) -> list[Record]:
    """One task repeated over ``minutes``; the decode rate falls by ``slowdown_per_min`` (a fraction)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        t_min = minutes * k / (n - 1)
        rate = 100.0 * math.exp(-slowdown_per_min * t_min) * (1 + rng.normal(0, 0.01))
        out.append(rec("tg", k, start_s=t_min * 60, tps=rate))
    return out


def test_thermal_drift_reports_the_slope_in_tok_s_per_minute() -> None:
    records = drifting_run(0.01)  # -1%/min over 10 min: ~ -10% over the run
    m = manifest(
        hygiene={
            "start": {"temperatures_c": {"cpu_thermal": 48.0}},
            "end": {"temperatures_c": {"cpu_thermal": 83.0}},
        }
    )
    w = {w.kind: w for w in run_warnings(records, m)}["thermal_drift"]
    assert w.details["slope_tps_per_min"] < 0
    assert w.details["slope_tps_per_min"] == pytest.approx(-0.01 * 95.0, rel=0.25)  # ~ -0.95 tok/s/min
    assert 0.08 < w.details["drop_fraction"] < 0.12 and w.details["p_value"] < 1e-6
    assert "tok/s per minute" in w.message and "48 to 83 °C" in w.message
    assert "--cooldown" in w.remedy


def test_no_drift_warning_for_a_flat_or_tiny_trend() -> None:
    assert "thermal_drift" not in kinds(drifting_run(0.0))
    assert "thermal_drift" not in kinds(drifting_run(0.002))  # -2% over the run: below the 5% bar
    assert "thermal_drift" not in kinds(drifting_run(-0.01))  # getting faster is not throttling


def test_drift_is_not_confused_with_longer_contexts_later_in_the_suite() -> None:
    """A suite whose later tasks have longer contexts decodes slower later, on a perfectly cool device."""
    rng = np.random.default_rng(3)
    records, t = [], 0.0
    for i in range(20):
        prompt = 50 + 200 * i
        level = 120.0 / (1 + prompt / 2000)  # slower with context, not with time
        for r in range(3):
            records.append(
                rec(
                    f"t{i}", r, start_s=t, tps=level * (1 + rng.normal(0, 0.01)), prompt=prompt, completion=40
                )
            )
            t += 10.0
    raw = np.polyfit([r.start_ns for r in records], [r.decode_tps for r in records], 1)[0]
    assert raw < 0  # naively the rate falls over time...
    assert "thermal_drift" not in kinds(records)  # ...but with context length held fixed it does not


def test_drift_is_skipped_across_a_reboot() -> None:
    m = manifest(resumes=[{"same_boot": False}])
    assert "thermal_drift" not in kinds(drifting_run(0.02), m)


def test_busy_machine_names_the_busy_programs() -> None:
    m = manifest(
        hygiene={
            "start": {
                "cpu_busy_pct": 63.0,
                "top_processes": [{"name": "chrome", "pid": 9, "cpu_pct": 110.0}],
            },
            "end": {"cpu_busy_pct": 2.0},
        }
    )
    (w,) = run_warnings(steady_run(), m)
    assert w.kind == "busy_machine" and "start of the run" in w.message and "chrome 110%" in w.message
    assert "Close other programs" in w.remedy
    quiet = manifest(hygiene={"start": {"cpu_busy_pct": 3.0}, "end": {"cpu_busy_pct": 4.0}})
    assert run_warnings(steady_run(), quiet) == []


def test_warmups_and_errors_are_not_judged() -> None:
    records = steady_run()
    records += [rec("t0", 0, start_s=200, e2e_ms=9000.0, tps=5.0, warmup=True)]
    records += [rec("t1", 9, start_s=201, e2e_ms=9000.0, tps=5.0).model_copy(update={"status": "error"})]
    assert kinds(records) == []


def test_summary_carries_warnings_as_json_ready_dicts() -> None:
    records = [rec("a", r, start_s=r, tps=v) for r, v in enumerate([50.0, 100.0, 150.0])]
    summary = summarize(records, manifest())
    (w,) = summary["warnings"]
    assert set(w) == {"kind", "message", "remedy", "details"} and w["kind"] == "high_cv"
    assert json.dumps(summary)  # serializable as --json prints it


def test_no_drift_across_the_gap_of_a_resumed_run() -> None:
    """Issue 12 item 10: flat in each session, the resumed one a little slower after a 40-minute gap.
    Regressed over both sessions (the gap counted as run time) this read as throttling."""
    rng = np.random.default_rng(3)
    first = [rec("tg", k, start_s=k * 6.0, tps=100.0 * (1 + rng.normal(0, 0.01))) for k in range(30)]
    gap_s = 40 * 60
    second = [
        rec("tg", 30 + k, start_s=gap_s + k * 6.0, tps=90.0 * (1 + rng.normal(0, 0.01))) for k in range(30)
    ]
    resumed = {"same_boot": True, "start_ns": int((gap_s - 1) * 1e9), "records_before": 30}
    assert "thermal_drift" not in kinds(first + second, manifest(resumes=[resumed]))
    # a real drift inside one session is still found
    hot = drifting_run(0.01)
    late = [r.model_copy(update={"start_ns": r.start_ns + int(gap_s * 1e9)}) for r in hot]
    assert "thermal_drift" in kinds(first + late, manifest(resumes=[resumed]))


# --------------------------------------------------------------------------- cached prompts (issue 20)
HTTP = {"name": "openai_http", "base_url": "http://127.0.0.1:8080/v1", "model": "m"}


def served(
    ttft_first: float, ttft_repeat: float, n_tasks: int = 4, reps: int = 3, **fields: Any
) -> list[Record]:
    """A warmup and ``reps`` measured requests per task; the warmup's TTFT is ``ttft_first``."""
    out, t = [], 0.0
    for i in range(n_tasks):
        for k in range(reps + 1):
            ttft = ttft_first if k == 0 else ttft_repeat
            r = rec(f"t{i}", max(k - 1, 0), start_s=t, warmup=k == 0).model_copy(
                update={"ttft_ms": ttft, "prefill_tps": 30 / (ttft / 1e3), **fields}
            )
            out.append(r)
            t += 0.5
    return out


def cached_warning(records: list[Record], **settings: Any) -> Any:
    m = manifest(backend=HTTP, settings={"repetitions": 3, "warmup": 1, **settings})
    return {w.kind: w for w in run_warnings(records, m)}.get("cached_prompts")


def test_repeats_answered_from_a_prompt_cache_are_named_with_the_remedy() -> None:
    w = cached_warning(served(250.0, 19.6), cache_bust=False, warm_cache=True)
    assert (
        w is not None and "4 of 4 tasks" in w.message and "250.0 ms" in w.message and "19.6 ms" in w.message
    )
    assert "prefill 120 → 1,531 tok/s" in w.message and "--warm-cache" in w.remedy
    assert w.details["warm_cache"] is True and w.details["repeat_ttft_ms_p50"] == 19.6
    # a bundle from before busting was the default: the remedy is the flag
    old = cached_warning(served(250.0, 19.6), cache_bust=None)
    assert old is not None and "--cache-bust" in old.remedy
    # and it reaches the summary (the run's output and every report read it there)
    summary = summarize(served(250.0, 19.6), manifest(backend=HTTP, settings={"cache_bust": False}))
    assert [w["kind"] for w in summary["warnings"]] == ["cached_prompts"]


@pytest.mark.parametrize(
    "records,settings,backend",
    [
        (served(250.0, 19.6), {"cache_bust": True}, HTTP),  # busted prompts share nothing to cache
        (served(250.0, 19.6), {"cache_bust": False}, {"name": "llama_cpp"}),  # in-process: KV cleared
        (served(250.0, 200.0), {"cache_bust": False}, HTTP),  # repeats as slow as the first: fresh
        (served(12.0, 3.0), {"cache_bust": False}, HTTP),  # 9 ms is jitter, not a prefill skipped
        (served(250.0, 19.6, n_tasks=1) + served(250.0, 240.0, n_tasks=3)[4:], {"cache_bust": False}, HTTP),
    ],
)
def test_no_cached_prompts_warning_without_the_pattern(
    records: list[Record], settings: dict[str, Any], backend: dict[str, Any]
) -> None:
    m = manifest(backend=backend, settings={"repetitions": 3, "warmup": 1, **settings})
    assert "cached_prompts" not in [w.kind for w in run_warnings(records, m)]


def test_a_server_that_reports_cached_prompt_tokens_is_believed() -> None:
    """A hosted API's TTFT may barely move, but its usage says the repeats were served from cache."""
    records = [
        r.model_copy(update={"prompt_tokens": 2000, "cached_tokens": 0 if r.warmup else 1920})
        for r in served(400.0, 320.0)
    ]
    w = cached_warning(records, cache_bust=False)
    assert w is not None and "4 of 4" in w.message
