"""The report's small parts, each against a hand-worked example: escaping, formats, power traces,
break-even, roofline, Pareto front, labels, pooling, comparison verdicts, large-sample intervals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.cost.roofline import roofline_fraction
from bench.report import breakeven
from bench.report.charts import _pareto_front
from bench.report.compare import compare_runs
from bench.report.markdown import md_escape
from bench.report.power_trace import read_power_trace
from bench.report.runs import Run, assign_labels, load_runs, pool_runs
from bench.results import stats
from bench.results.metrics.aggregate import samples
from bench.results.metrics.registry import FIELDS
from bench.results.schema import Manifest, Record
from tests.helpers import FIXTURES

B = FIXTURES / "bundles"


def manifest(run_id: str = "r1", **over: object) -> Manifest:
    data: dict[str, object] = {
        "tool_version": "0",
        "run_id": run_id,
        "started_utc": "2026-11-26T00:00:00Z",
        "anchor_perf_ns": 0,
        "host": {},
        "device": {"name": "dev", "kind": "local"},
        "model": {"file_name": "m.gguf", "sha256": "a" * 64, "tensor_bytes": 100_000_000},
        "backend": {"name": "llama_cpp", "settings": {"n_threads": 2}},
        "suite": {"name": "s", "hash": "h"},
        "settings": {},
    }
    data.update(over)
    return Manifest.model_validate(data)


def record(
    i: int, *, e2e: float = 100.0, decode: float = 50.0, passed: bool = True, **over: object
) -> Record:
    data: dict[str, object] = {
        "run_id": "r1", "task_id": f"t{i % 3}", "category": "c", "repetition": i, "warmup": False,
        "status": "ok", "started_utc": "2026-11-26T00:00:00Z", "start_ns": i * 10**9,
        "end_ns": i * 10**9 + int(e2e * 1e6), "ttft_ms": e2e / 4, "e2e_ms": e2e, "decode_tps": decode,
        "completion_tokens": 10, "prompt_tokens": 20, "passed": passed,
    }  # fmt: skip
    data.update(over)
    return Record.model_validate(data)


def run_of(m: Manifest, records: list[Record]) -> Run:
    return Run(paths=[Path(m.run_id)], manifests=[m], records=records)


# --------------------------------------------------------------------------------------- formatting
def test_md_escape_neutralises_markup() -> None:
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"
    assert md_escape("**bold** _it_ `code` [l](u) $1 & $2") == (
        "\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\[l\\](u) \\$1 &amp; \\$2"
    )
    assert md_escape("two\nlines") == "two lines"


def test_registry_formats_absent_and_costs() -> None:
    usd = FIELDS["cost_per_task_usd"]
    assert usd.format(None) == "–" and usd.format(float("nan")) == "–"
    assert usd.format(0.00000819) == "$0.00000819"
    assert usd.format(0.000106) == "$0.000106"
    assert usd.format(0.0420) == "$0.0420"
    assert usd.format(15.894) == "$15.89" and usd.format(1234.5) == "$1,234.50" and usd.format(0) == "$0"
    assert usd.format(0.000106, estimated=True) == "≈$0.000106"
    assert FIELDS["n"].format(3, estimated=True) == "3"  # a count is never an estimate
    assert FIELDS["n"].format(np.int64(9)) == "9" and FIELDS["n"].format(9.0) == "9"
    assert FIELDS["pass_rate"].format(2 / 3) == "67%"
    assert FIELDS["decode_tps_mean"].words == ("faster", "slower")
    assert FIELDS["cost_per_task_usd"].words == ("cheaper", "costlier")
    assert FIELDS["decode_tps_mean"].sample == "decode_tps" and FIELDS["ttft_p50_ms"].sample == "ttft_ms"
    assert FIELDS["cost_per_success_usd"].sample is None  # a ratio of sums: no per-request value


# ------------------------------------------------------------------------------------- power trace
@pytest.mark.parametrize(
    ("header", "scale_t", "scale_w"),
    [("t_ns,power_w", 1e9, 1.0), ("elapsed_s,watts", 1.0, 1.0), ("t_ms,power_mw", 1e3, 1e3)],
)
def test_power_trace_columns(tmp_path: Path, header: str, scale_t: float, scale_w: float) -> None:
    f = tmp_path / "power.csv"
    rows = [f"{(10 + i * 0.5) * scale_t:.3f},{(5 + i) * scale_w}" for i in range(5)]
    f.write_text(header + "\n" + "\n".join(rows) + "\n")
    trace, reason = read_power_trace(f)
    assert reason is None and trace is not None
    assert np.allclose(trace.t_s, [0, 0.5, 1.0, 1.5, 2.0])
    assert np.allclose(trace.power_w, [5, 6, 7, 8, 9])


def test_power_trace_iso_times_and_unknown_columns(tmp_path: Path) -> None:
    f = tmp_path / "power.csv"
    f.write_text("utc,total_w\n2026-11-26T00:00:00Z,3\n2026-11-26T00:00:02Z,4\n")
    trace, _ = read_power_trace(f)
    assert trace is not None and np.allclose(trace.t_s, [0, 2])
    f.write_text("a,b\n1,2\n3,4\n")
    trace, reason = read_power_trace(f)
    assert trace is None and reason and "found: a, b" in reason


def test_power_trace_from_an_energy_counter(tmp_path: Path) -> None:
    """The power layer's format for counter sensors: power_w empty, cumulative energy_j (J)."""
    f = tmp_path / "power.csv"
    rows = ["t_ns,power_w,energy_j,package_j"]
    rows += [f"{i * 100_000_000},,{i * 2.5 if i != 3 else 5.0},0" for i in range(6)]  # 25 W; i=3 did not move
    f.write_text("\n".join(rows) + "\n")
    trace, reason = read_power_trace(f)
    assert reason is None and trace is not None
    assert np.allclose(trace.power_w, 25.0)
    assert trace.power_column.startswith("energy_j")


def test_power_trace_is_binned_keeping_mean_min_max(tmp_path: Path) -> None:
    n = 100_000
    t = np.arange(n) * 0.01
    w = np.where(np.arange(n) % 2 == 0, 10.0, 30.0)
    f = tmp_path / "power.csv"
    f.write_text("t_s,power_w\n" + "\n".join(f"{a:.2f},{b}" for a, b in zip(t, w, strict=True)))
    trace, _ = read_power_trace(f, max_points=1000)
    assert trace is not None and trace.n_samples == n and len(trace.t_s) == 1000
    assert trace.low_w is not None and trace.high_w is not None
    assert np.allclose(trace.power_w, 20.0) and np.all(trace.low_w == 10) and np.all(trace.high_w == 30)


# -------------------------------------------------------------------------------------- break-even
def test_breakeven_by_hand() -> None:
    """$1,200 over 2 years = $50/month; 10 W idle × 730 h = 7.3 kWh × $0.20 × 1.25 = $1.825/month.
    Net 36 J/task = 1e-5 kWh × $0.20 × 1.25 = $0.0000025/task. Cloud $0.001/task →
    break-even = 51.825 / (0.001 − 0.0000025) = 51,954.9 tasks/month. 1 s per task → 2,628,000/month."""
    device = {"name": "d", "kind": "local", "price_usd": 1200.0, "lifetime_years": 2.0, "idle_w": 10.0,
              "kwh_usd": 0.20, "wall_factor": 1.25}  # fmt: skip
    run = run_of(manifest(device=device), [record(i, e2e=1000.0, energy_net_j=36.0) for i in range(4)])
    line, reason = breakeven.local_line(run)
    assert reason is None and line is not None
    assert line.fixed_usd == pytest.approx(51.825)
    assert line.usd_per_task == pytest.approx(0.0000025)
    assert line.capacity_tasks == pytest.approx(2_628_000)
    assert line.breakeven_tasks(0.001) == pytest.approx(51.825 / 0.0009975)
    assert line.breakeven_tasks(0.000001) is None  # cloud cheaper than local energy: never
    cheap = run_of(manifest(device={**device, "kwh_usd": 0.0}), run.records)
    zero, _ = breakeven.local_line(cheap)
    assert zero is not None and zero.fixed_usd == pytest.approx(50.0) and zero.usd_per_task == 0


def test_breakeven_line_uses_the_runs_recorded_prices_and_measured_idle() -> None:
    """`run --hardware-usd 1200` on a profile without a price: the report's line is priced like
    `infercost breakeven` (one source of cost inputs), with the idle watts measured before the run."""
    device = {"name": "auto", "kind": "local", "lifetime_years": 2.0, "idle_w": 99.0, "kwh_usd": 0.20}
    m = manifest(device=device, settings={"hardware_usd": 1200.0}, power={"sensor": "rapl", "idle_w": 10.0})
    run = run_of(m, [record(i, e2e=1000.0, energy_net_j=36.0) for i in range(4)])
    line, reason = breakeven.local_line(run)
    assert reason is None and line is not None
    # $1,200 / 24 months + 10 W (measured, not the profile's 99 W) × 730 h × $0.20 = $50 + $1.46
    assert line.fixed_usd == pytest.approx(50.0 + 10.0 * 730 / 1000 * 0.20)
    from bench.cost.breakeven import device_economics

    econ = device_economics(run.records, m)
    assert econ.fixed_usd_per_month == pytest.approx(line.fixed_usd)


def test_breakeven_line_at_concurrency_uses_the_measured_aggregate() -> None:
    """A run at --concurrency 2 whose requests overlapped in pairs of 1 s each: the device served 2
    tasks/s, so the chart's capacity is 730 h × 3600 × 2, not the 1-per-second of one stream; the line is
    `infercost breakeven`'s own (device_economics), labelled with the concurrency."""
    from bench.cost.breakeven import device_economics

    device = {"name": "d", "kind": "local", "price_usd": 1200.0, "lifetime_years": 2.0, "idle_w": 10.0,
              "kwh_usd": 0.20, "wall_factor": 1.25}  # fmt: skip
    m = manifest(device=device, settings={"concurrency": 2, "mode": "closed_loop"})
    recs = [
        record(i, e2e=1000.0, energy_net_j=36.0, start_ns=i // 2 * 10**9, end_ns=i // 2 * 10**9 + 10**9)
        for i in range(8)
    ]
    line, reason = breakeven.local_line(run_of(m, recs))
    assert reason is None and line is not None
    assert line.capacity_tasks == pytest.approx(730 * 3600 * 2)
    assert line.capacity_tasks == device_economics(recs, m).capacity_tasks_per_month
    assert line.fixed_usd == pytest.approx(51.825) and "(concurrency 2)" in line.label


def test_breakeven_names_missing_inputs() -> None:
    run = run_of(manifest(device={"name": "d", "kind": "local", "price_usd": 500.0}), [record(0)])
    line, reason = breakeven.local_line(run)
    assert line is None and reason is not None
    for name in ("lifetime_years", "idle_w", "kwh_usd", "net energy per task"):
        assert name in reason


# --------------------------------------------------------------------------------- roofline, pareto
def test_roofline_by_hand() -> None:
    # 100 GB/s over a 100 MB model: at most 1,000 tok/s; 450 measured = 45%
    m = manifest(device={"name": "d", "kind": "local", "memory_bandwidth_gbs": 100.0})
    assert roofline_fraction(m, 450.0) == (pytest.approx(0.45), None)
    assert roofline_fraction(manifest(), 450.0)[1] == "the device profile gives no memory_bandwidth_gbs"
    # the run's --memory-bandwidth-gbs reaches report rows too (one roofline for summary and report)
    ran = manifest(settings={"memory_bandwidth_gbs": 100.0})
    assert roofline_fraction(ran, 450.0) == (pytest.approx(0.45), None)


def test_pareto_front() -> None:
    pts = [(1.0, 0.5, "a"), (2.0, 0.4, "b"), (3.0, 0.9, "c"), (0.5, 0.2, "d"), (3.0, 0.8, "e")]
    assert [p[2] for p in _pareto_front(pts)] == ["d", "a", "c"]


# ----------------------------------------------------------------------------------- labels, pooling
def test_labels_show_only_what_varies() -> None:
    a = run_of(manifest("r-aaaa"), [record(0)])
    b = run_of(manifest("r-bbbb", model={"file_name": "other.gguf", "sha256": "b" * 64}), [record(0)])
    c = run_of(manifest("r-cccc"), [record(0)])
    assign_labels([a, b, c])
    assert [a.label, b.label, c.label] == ["m · aaaa", "other", "m · cccc"]


def test_pooling_never_merges_differing_key_properties() -> None:
    a = run_of(manifest("r1"), [record(i) for i in range(3)])
    b = run_of(manifest("r2"), [record(i) for i in range(3)])
    c = run_of(manifest("r3", backend={"name": "llama_cpp", "settings": {"n_threads": 1}}), [record(0)])
    pooled = pool_runs([a, b, c])
    assert [len(r.records) for r in pooled] == [6, 1]
    assert pooled[0].run_ids == ["r1", "r2"] and pooled[0].pooled and not pooled[1].pooled


def test_load_runs_reads_a_directory_once_per_bundle() -> None:
    runs = load_runs([B, B / "smollm2-mini"])
    names = [r.paths[0].name for r in runs]
    assert len(names) == len(set(names)) == 9


# ---------------------------------------------------------------------------------------- compare
def test_compare_verdicts_on_known_samples() -> None:
    rng = np.random.default_rng(1)
    base = [record(i, e2e=float(x), decode=float(d)) for i, (x, d) in
            enumerate(zip(rng.normal(200, 5, 30), rng.normal(50, 1, 30), strict=True))]  # fmt: skip
    fast = [record(i, e2e=float(x), decode=float(d)) for i, (x, d) in
            enumerate(zip(rng.normal(100, 5, 30), rng.normal(100, 2, 30), strict=True))]  # fmt: skip
    same = [record(i, e2e=float(x), decode=float(d)) for i, (x, d) in
            enumerate(zip(rng.normal(200, 5, 30), rng.normal(50, 1, 30), strict=True))]  # fmt: skip
    a, b, c = run_of(manifest("a"), base), run_of(manifest("b"), fast), run_of(manifest("c"), same)
    result = compare_runs(a, b)
    rows = {r.field.name: r.comparison for r in result.rows}
    assert rows["decode_tps_mean"].verdict.endswith("x faster (significant)")
    assert rows["decode_tps_mean"].improvement and rows["e2e_mean_ms"].improvement
    assert rows["e2e_mean_ms"].verdict.startswith("2.0") and "faster" in rows["e2e_mean_ms"].verdict
    assert result.differences == []
    assert "cost per task" not in result.skipped and "$/task" in result.skipped
    steady = {r.field.name: r.comparison for r in compare_runs(a, c).rows}
    assert not steady["decode_tps_mean"].improvement and not steady["decode_tps_mean"].regression


def test_compare_samples_skip_failed_requests_for_timings_only() -> None:
    recs = [record(0), record(1, status="error", passed=False, e2e_ms=None, decode_tps=None)]
    assert samples("e2e_mean_ms", recs) == [100.0]
    assert samples("pass_rate", recs) == [1.0, 0.0]


# ------------------------------------------------------------------------------------------ stats
def test_clean_drops_none_and_nan() -> None:
    assert stats.clean([1.0, None, math.nan, 2.0]).tolist() == [1.0, 2.0]
    assert stats.clean(x for x in (None, 3.0)).tolist() == [3.0]


def test_bootstrap_switches_to_t_interval_for_large_samples() -> None:
    rng = np.random.default_rng(3)
    big = rng.lognormal(3, 0.3, stats.BOOTSTRAP_MAX_N + 1)
    assert stats.bootstrap_ci(big) == pytest.approx(stats.t_interval(big))
    small = rng.lognormal(3, 0.3, 500)
    boot, t = stats.bootstrap_ci(small), stats.t_interval(small)
    assert boot is not None and t is not None and boot != t
    assert boot == pytest.approx(t, rel=0.01)  # they agree where both are computed
