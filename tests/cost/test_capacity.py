"""Capacity at concurrency N: the aggregate throughput a run measured, the cost per task spread over it,
break-even per measured level, and no extrapolation beyond the largest level (docs/capacity.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cost import formulas as cost
from bench.cost.breakeven import device_economics
from bench.cost.capacity import measured_capacity, shared_seconds
from bench.cost.levels import MeasuredLevel, analyse_levels
from bench.cost.pricing import price_records
from bench.devices.profiles import load_device
from bench.errors import UsageError
from bench.results.bundle import BundleWriter
from bench.results.schema import Manifest, Record
from bench.results.sweep import SweepCell, SweepManifest, write_sweep
from tests.helpers import run_cli
from tests.helpers.cost import device_manifest, record

SEC = 10**9
JETSON = "jetson-orin-nano-super"  # $249 over 3 y, idle 5 W, $0.16/kWh, wall ×1.15, max_w 25 W
FIXED = 249 / 36 + 5 * 730 / 1000 * 0.16 * 1.15  # $/month: amortization + idle all month = 7.5882667
PER_S_HW = 249 / (3 * 8760 * 0.25) / 3600  # amortization per serving second at 25% utilization
CLOUD = "openai-gpt-4o-mini"  # (1000 × 0.15 + 200 × 0.60) / 1e6 = 2.7e-4 $/task


def _requests(streams: int, latency_s: float, n: int = 8, net_j: float | None = None) -> list[Record]:
    """``n`` requests in waves of ``streams`` at a time, each ``latency_s`` long: the device is busy
    ``n / streams × latency_s`` seconds, so it serves ``streams / latency_s`` tasks/s."""
    out = []
    for i in range(n):
        t0 = int(i // streams * latency_s * SEC)
        energy = {} if net_j is None else {"energy_j": net_j + 1.0, "energy_net_j": net_j}
        rec = record(task_id=f"t{i}", seconds=latency_s, prompt_tokens=1000, completion_tokens=200, **energy)
        out.append(rec.model_copy(update={"start_ns": t0, "end_ns": t0 + int(latency_s * SEC)}))
    return out


def _manifest(streams: int, device: str = JETSON, **kw: Any) -> Manifest:
    settings = {"concurrency": streams, "mode": "closed_loop" if streams > 1 else "sequential"}
    return device_manifest(device, settings=settings, **kw)


# (streams, latency): one at a time 2 s → 0.5 tasks/s; 2 streams at 3 s → 0.667/s; 4 streams at 5 s → 0.8/s
WAVES = ((1, 2.0), (2, 3.0), (4, 5.0))


def _level(streams: int, latency_s: float, **kw: Any) -> MeasuredLevel:
    m = _manifest(streams)
    return MeasuredLevel(f"c{streams}", price_records(_requests(streams, latency_s, **kw), m), m)


# ---------------------------------------------------------------------------------- capacity of one run
def test_one_at_a_time_keeps_the_old_figure_exactly() -> None:
    """Concurrency 1: capacity = 730 h ÷ mean request time and hardware = $/h × request time, bit for bit
    as before (and the same with no load settings at all, as every older bundle has)."""
    recs = _requests(1, 2.0, net_j=10.0)
    for m in (_manifest(1), device_manifest(JETSON)):
        priced = price_records(recs, m)
        econ = device_economics(priced, m)
        assert econ.capacity_tasks_per_month == cost.capacity_tasks_per_month(2.0) == 1_314_000
        assert econ.concurrency == 1 and econ.device_s_per_task is None
        assert econ.capacity_from.startswith("one request at a time")
        assert [r.cost_hardware_usd for r in priced] == [PER_S_HW * 2.0] * 8
    assert shared_seconds(recs) is None  # no overlap: callers keep their arithmetic


def test_capacity_is_the_measured_aggregate() -> None:
    for streams, latency in WAVES[1:]:
        m = _manifest(streams)
        cap = measured_capacity(_requests(streams, latency), m)
        busy = 8 / streams * latency  # 12 s at 2 streams, 10 s at 4
        assert cap.aggregate and cap.concurrency == streams and cap.busy_s == pytest.approx(busy)
        assert cap.tasks_per_s == pytest.approx(streams / latency)  # not 1 / latency: that is one stream
        assert cap.mean_latency_s == pytest.approx(latency)
        assert f"at concurrency {streams}" in cap.source and "measured aggregate" in cap.source
        econ = device_economics(price_records(_requests(streams, latency), m), m)
        assert econ.capacity_tasks_per_month == pytest.approx(730 * 3600 * streams / latency)
        assert econ.seconds_per_task == pytest.approx(latency)  # what a user waits, still shown


def test_cooldown_gaps_are_not_capacity() -> None:
    """Pauses between waves are not time the device spent serving: the busy time is the union of the
    windows, not first start to last end."""
    recs = _requests(2, 3.0)
    spaced = [
        r.model_copy(update={"start_ns": r.start_ns * 2, "end_ns": r.start_ns * 2 + 3 * SEC}) for r in recs
    ]
    cap = measured_capacity(spaced, _manifest(2))
    assert cap.busy_s == pytest.approx(12.0) and cap.tasks_per_s == pytest.approx(2 / 3)


def test_hardware_and_max_w_are_shared_across_streams() -> None:
    """Two requests in flight share the device: each carries half of each second's amortization, so a
    run's hardware cost is $/h × busy time (12 s), not × the sum of request times (24 s)."""
    m = _manifest(2)
    priced = price_records(_requests(2, 3.0), m)
    assert [r.cost_hardware_usd for r in priced] == pytest.approx([PER_S_HW * 1.5] * 8)
    assert sum(r.cost_hardware_usd or 0 for r in priced) == pytest.approx(PER_S_HW * 12.0)
    # no sensor energy: max_w 25 W over the device's time, shared: 25 × 1.5 s per task at the wall
    assert priced[0].cost_energy_usd == pytest.approx(25 * 1.5 / 3.6e6 * 0.16 * 1.15)
    econ = device_economics(priced, m)
    assert econ.net_kwh_per_task * 3.6e6 == pytest.approx((25 - 5) * 1.5)  # not × 3 s request time


def test_gross_minus_idle_uses_the_shared_time() -> None:
    """Measured gross energy is already each request's share; idle comes off over the same share."""
    m = _manifest(2, power={"idle_w": 4.0})
    recs = [r.model_copy(update={"energy_j": 30.0}) for r in _requests(2, 3.0)]
    econ = device_economics(price_records(recs, m), m)
    assert econ.energy_basis == "measured gross minus idle"
    assert econ.net_kwh_per_task * 3.6e6 == pytest.approx(30.0 - 4.0 * 1.5)


# --------------------------------------------------------------------------------------- several levels
def test_levels_table_divides_the_fixed_cost_by_each_capacity() -> None:
    clouds = [(CLOUD, load_device(CLOUD))]
    result = analyse_levels([_level(s, lat, net_j=10.0) for s, lat in WAVES], clouds)
    rows = {r["concurrency"]: r for r in result["levels"]}
    assert sorted(rows) == [1, 2, 4]
    for streams, latency in WAVES:
        row = rows[streams]
        cap = 730 * 3600 * streams / latency
        assert row["capacity_tasks_per_month"] == pytest.approx(cap)
        # owning the device for a month over every task it serves at this level, plus energy per task
        var = 10 / 3.6e6 * 0.16 * 1.15
        assert row["usd_per_task_at_capacity"] == pytest.approx(FIXED / cap + var, rel=1e-6)
        assert row["usd_per_task_at_utilization"] == pytest.approx(FIXED / (cap * 0.25) + var, rel=1e-6)
        # the break-even volume does not move with concurrency (same fixed and energy): only the ceiling
        b = next(x for x in row["breakeven"] if x["profile"] == CLOUD)  # its batch tier is a row too
        assert b["verdict"] == "breaks_even"
        assert b["breakeven_tasks_per_month"] == pytest.approx(FIXED / (2.7e-4 - var), rel=1e-6)
    assert (
        rows[4]["usd_per_task_at_capacity"]
        < rows[2]["usd_per_task_at_capacity"]
        < rows[1]["usd_per_task_at_capacity"]
    )
    assert result["chosen"] == {
        "concurrency": 4,
        "why": "the measured level with the most capacity",
        "largest_measured": 4,
        "max_latency_ms": None,
    }
    assert result["device"]["concurrency"] == 4
    json.dumps(result)


def test_levels_share_one_idle_draw() -> None:
    """Each run measures the device's idle draw before it starts, a little differently each time (the CI
    failure that found this: 18.34 vs 18.31 $/month); one device has one fixed cost, so every level and
    the chosen level's analysis use the mean of the measured figures."""
    clouds = [(CLOUD, load_device(CLOUD))]
    levels = []
    for (streams, latency), idle in zip(WAVES[:2], (4.0, 4.4), strict=True):
        m = _manifest(streams, power={"idle_w": idle})
        levels.append(
            MeasuredLevel(f"c{streams}", price_records(_requests(streams, latency, net_j=10.0), m), m)
        )
    result = analyse_levels(levels, clouds)
    rows = {r["concurrency"]: r for r in result["levels"]}
    fixed = 249 / 36 + 4.2 * 730 / 1000 * 0.16 * 1.15
    assert rows[1]["fixed_usd_per_month"] == pytest.approx(fixed)
    assert rows[2]["fixed_usd_per_month"] == pytest.approx(fixed)
    assert result["device"]["idle_w"] == pytest.approx(4.2)
    assert result["device"]["idle_from"].startswith("measured before each run: mean of 2 runs")
    # one run alone keeps its own measured figure
    alone = analyse_levels(levels[:1], clouds)
    assert alone["device"]["idle_w"] == 4.0 and alone["device"]["idle_from"] == "measured before the run"


def test_latency_bound_picks_the_highest_level_that_meets_it() -> None:
    levels = [_level(s, lat) for s, lat in WAVES]
    clouds = [(CLOUD, load_device(CLOUD))]
    assert analyse_levels(levels, clouds, max_latency_ms=4000)["chosen"]["concurrency"] == 2
    assert analyse_levels(levels, clouds, max_latency_ms=9000)["chosen"]["concurrency"] == 4
    with pytest.raises(UsageError, match="no measured concurrency meets it"):
        analyse_levels(levels, clouds, max_latency_ms=1000)
    with pytest.raises(UsageError, match="--concurrency 3: not measured; measured levels: 1, 2, 4"):
        analyse_levels(levels, clouds, concurrency=3)


def test_no_extrapolation_beyond_the_largest_level() -> None:
    """Level 4 serves 2,102,400 tasks/month, level 2 1,752,000. A volume above level 4's is answered
    without a number; one between them names the measured level that serves it."""
    levels = [_level(s, lat, net_j=10.0) for s, lat in WAVES]
    clouds = [(CLOUD, load_device(CLOUD))]
    per_day = 2_200_000 / (730 / 24)  # above every measured level
    top = analyse_levels(levels, clouds, None, per_day)
    at = top["clouds"][0]["at_volume"]
    assert at["defined"] is False and "device_usd_per_month" not in at
    assert "beyond the largest measured concurrency (4); not extrapolated" in at["text"]
    mid = analyse_levels(levels, clouds, None, 1_900_000 / (730 / 24), concurrency=2)["clouds"][0][
        "at_volume"
    ]
    assert mid["defined"] is False and "concurrency 4 (measured) serves up to 2,102,400/month" in mid["text"]
    inside = analyse_levels(levels, clouds, None, 1_900_000 / (730 / 24))["clouds"][0]["at_volume"]
    assert inside["defined"] is True  # level 4, chosen by default, serves it


def test_break_even_above_every_level_is_not_extrapolated() -> None:
    """An API so cheap the break-even volume is above the device's measured capacity."""
    levels = [_level(s, lat, net_j=10.0) for s, lat in WAVES]
    result = analyse_levels(levels, [(CLOUD, load_device(CLOUD))])
    cheap = next(c for c in result["clouds"] if c["profile"] == CLOUD)
    assert cheap["verdict"] == "breaks_even"  # 28,158/month, far below capacity
    from bench.cost.breakeven import compare

    econ = device_economics(levels[0].records, levels[0].manifest)
    out = compare(econ, usd_per_task=4e-6, levels=[(1, 1_314_000.0), (4, 2_102_400.0)])
    # 7.5882667 / (4e-6 − 5.11e-7) = 2,175,000 > 2,102,400 at the largest level
    assert out["verdict"] == "above_capacity"
    assert "beyond the largest measured concurrency (4); not extrapolated" in out["text"]


def test_mixed_runs_are_refused() -> None:
    clouds = [(CLOUD, load_device(CLOUD))]
    other = _manifest(2, device="mac-mini-m4")
    mixed = MeasuredLevel("pi", price_records(_requests(2, 3.0), other), other)
    with pytest.raises(UsageError, match=r"pi: device .* differs from c1's"):
        analyse_levels([_level(1, 2.0), mixed], clouds)
    with pytest.raises(UsageError, match="a second run at concurrency 2"):
        analyse_levels([_level(2, 3.0), _level(2, 3.5)], clouds)


# ---------------------------------------------------------------------------------------------- command
def _write(root: Path, name: str, streams: int, latency_s: float, device: str = JETSON) -> Path:
    m = _manifest(streams, device=device).model_copy(update={"run_id": name})
    writer = BundleWriter(root / name, m)
    for r in _requests(streams, latency_s, net_j=10.0):
        writer.append(r.model_copy(update={"run_id": name}))
    writer.close()
    return root / name


def _sweep(root: Path) -> Path:
    cells = []
    for i, (streams, latency) in enumerate(WAVES):
        _write(root / "cells", f"c{i:02d}", streams, latency)
        cells.append(
            SweepCell(
                id=f"c{i:02d}", settings={"concurrency": streams}, path=f"cells/c{i:02d}", status="done"
            )
        )
    cells.append(
        SweepCell(id="c03", settings={"concurrency": 8}, path="cells/c03", status="failed", error="x")
    )
    write_sweep(
        root,
        SweepManifest(
            sweep_id="s", created_utc="2026-11-28T00:00:00Z", suite="t", suite_hash="h", device=JETSON,
            axes={"concurrency": [1, 2, 4, 8]}, cells=cells,
        ),
    )  # fmt: skip
    return root


def test_breakeven_command_over_a_sweep(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "sweep")
    js = run_cli("breakeven", str(sweep), "--cloud", CLOUD, "--tasks-per-day", "80000", "--json", timeout=60)
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    assert [r["concurrency"] for r in data["levels"]] == [1, 2, 4]
    assert data["chosen"]["concurrency"] == 4 and data["device"]["concurrency"] == 4
    assert data["notes"] == ["sweep cell c03 (failed) left out"]
    # 80,000/day = 2,433,333/month > level 4's 2,102,400
    assert (
        "beyond the largest measured concurrency (4); not extrapolated"
        in data["clouds"][0]["at_volume"]["text"]
    )
    text = run_cli("breakeven", str(sweep), "--cloud", CLOUD, "--max-latency-ms", "4000", timeout=60)
    assert text.returncode == 0, text.stderr
    for needle in ("capacity by measured concurrency", "answer below at concurrency 2", "4 slow"):
        assert needle in text.stdout, needle


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--concurrency", "3"), "--concurrency 3: not measured; measured levels: 1, 2"),
        (("--max-latency-ms", "500"), "--max-latency-ms 500: no measured concurrency meets it"),
        (("--concurrency", "0"), "expected 1 or more, got 0"),
        (("--max-latency-ms", "-5"), "must be positive"),
        (("PI",), "differs from"),
        (("C2B",), "a second run at concurrency 2"),
    ],
)
def test_breakeven_levels_bad_input_exits_2(tmp_path: Path, extra: tuple[str, ...], needle: str) -> None:
    runs = [str(_write(tmp_path, "c1", 1, 2.0)), str(_write(tmp_path, "c2", 2, 3.0))]
    args = []
    for e in extra:
        if e == "PI":
            runs.append(str(_write(tmp_path, "pi", 4, 5.0, device="mac-mini-m4")))
        elif e == "C2B":
            runs.append(str(_write(tmp_path, "c2b", 2, 3.5)))
        else:
            args.append(e)
    proc = run_cli("breakeven", *runs, "--cloud", CLOUD, *args, timeout=60)
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    # a value argparse refuses comes after its usage line, as for every command; the rest is one line
    assert len(lines) == 1 or (lines[0].startswith("usage:") and needle in lines[-1]), proc.stderr


def test_rented_projection_uses_the_device_time_per_task() -> None:
    """A rented GPU projected from a run at concurrency 2: the hourly rate × each task's share of the
    device's time (1.5 s), one stream; the profile's own streams would count the concurrency twice."""
    from bench.cost.pricing import priced_on_cloud

    name = "lambda-h100-sxm"
    p = load_device(name)
    m = _manifest(2)
    recs = price_records(_requests(2, 3.0), m)
    (row,) = priced_on_cloud(recs, [(name, p)], manifest=m)
    assert p.usd_per_hour is not None
    expected = p.usd_per_hour * 1.5 / 3600 / (p.utilization or 1.0)
    assert row["cost_per_task_usd"] == pytest.approx(expected)
    # one at a time (no manifest, as before): the request time ÷ the profile's streams
    (old,) = priced_on_cloud(recs, [(name, p)])
    assert old["cost_per_task_usd"] == pytest.approx(
        p.usd_per_hour * 3.0 / 3600 / (p.concurrent_streams or 1) / (p.utilization or 1.0)
    )
