"""Break-even against cloud APIs: verdicts, the edge cases, sensitivity, and the command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bench.cost.breakeven import DeviceEconomics, analyse, compare, device_economics
from bench.cost.pricing import price_records
from bench.devices.profiles import load_device
from bench.errors import UsageError
from bench.results.bundle import BundleWriter
from tests.helpers import run_cli
from tests.helpers.cost import device_manifest, record

# The Jetson example of tests/cost/test_cost.py: fixed $7.5882667/month, 10 J net per task (5.1111111e-7 $),
# 2 s per task (capacity 730 × 3600 / 2 = 1,314,000 tasks/month).
JETSON = DeviceEconomics(
    device="Jetson",
    kwh_usd=0.16,
    kwh_from="profile",
    wall_factor=1.15,
    hardware_usd=249,
    hardware_from="profile",
    lifetime_years=3,
    utilization=0.25,
    idle_w=5.0,
    idle_from="profile",
    net_kwh_per_task=10 / 3.6e6,
    energy_basis="measured",
    seconds_per_task=2.0,
    n_requests=10,
)


def test_economics_numbers() -> None:
    assert JETSON.fixed_usd_per_month == pytest.approx(7.5882667, rel=1e-7)
    assert JETSON.variable_usd_per_task == pytest.approx(5.1111111e-7, rel=1e-7)
    assert JETSON.capacity_tasks_per_month == pytest.approx(1_314_000)


def test_breaks_even() -> None:
    out = compare(JETSON, usd_per_task=2.7e-4)
    # 7.5882667 / (2.7e-4 − 5.1111111e-7) = 28158.1 tasks/month; 28158.1 / 30.4167 = 926/day
    assert out["verdict"] == "breaks_even"
    assert out["breakeven_tasks_per_month"] == pytest.approx(28158.1, rel=1e-5)
    assert "28,158 tasks/month (926/day, 2% of capacity)" in out["text"]


def test_never_breaks_even() -> None:
    out = compare(JETSON, usd_per_task=1e-7)  # the API costs less than the device's energy per task
    assert out["verdict"] == "never" and out["breakeven_tasks_per_month"] is None
    assert "never" in out["text"]


def test_cannot_serve_the_volume() -> None:
    slow = replace(JETSON, seconds_per_task=60.0)  # capacity 730 × 60 = 43,800 tasks/month
    out = compare(slow, usd_per_task=1e-4, tasks_per_month=50_000)
    # 7.5882667 / (1e-4 − 5.1111111e-7) = 76,272 > 43,800: a volume the device cannot reach
    assert out["verdict"] == "above_capacity"
    assert out["breakeven_tasks_per_month"] == pytest.approx(76_272.5, rel=1e-4)
    assert "serves at most 43,800/month" in out["text"]
    at = out["at_volume"]
    assert at["defined"] is False and "undefined" in at["text"] and "device_usd_per_month" not in at


def test_zero_electricity_price() -> None:
    free = replace(JETSON, kwh_usd=0.0)
    assert free.variable_usd_per_task == 0.0
    out = compare(free, usd_per_task=2.7e-4)
    # only the amortization is left: 249 / 36 = 6.9166667 → 6.9166667 / 2.7e-4 = 25,617.3 tasks/month
    assert out["breakeven_tasks_per_month"] == pytest.approx(25_617.28, rel=1e-6)
    sens = {
        s["factor"]: s["breakeven_tasks_per_month"]
        for s in compare(JETSON, usd_per_task=2.7e-4)["sensitivity_kwh"]
    }
    assert sens[0.0] == pytest.approx(25_617.28, rel=1e-6)
    assert sens[1.0] == pytest.approx(28_158.1, rel=1e-5)
    assert sens[0.0] < sens[0.5] < sens[1.0] < sens[2.0]  # dearer power, later break-even


def test_volume_within_capacity() -> None:
    at = compare(JETSON, usd_per_task=2.7e-4, tasks_per_month=100_000)["at_volume"]
    # device: 7.5882667 + 100,000 × 5.1111111e-7 = 7.6393778; cloud: 100,000 × 2.7e-4 = 27.0
    assert at["defined"] and at["cheaper"] == "device"
    assert at["device_usd_per_month"] == pytest.approx(7.6393778, rel=1e-6)
    assert at["cloud_usd_per_month"] == pytest.approx(27.0)


def test_utilization_sensitivity() -> None:
    rows = {r["utilization"]: r for r in compare(JETSON, usd_per_task=2.7e-4)["sensitivity_utilization"]}
    # at 25%: 328,500 tasks/month; device 7.5882667 / 328,500 + 5.1111111e-7 = 2.3610e-5 $/task
    assert rows[0.25]["tasks_per_month"] == pytest.approx(328_500)
    assert rows[0.25]["device_usd_per_task"] == pytest.approx(2.3610e-5, rel=1e-4)
    assert rows[0.25]["cheaper"] == "device"
    # the lowest level, 5%, is 65,700 tasks: above the 28,158 break-even, so still the device
    assert rows[0.05]["cheaper"] == "device"
    # at $1e-5/task the API wins at 5% (7.5882667 / 65,700 + 5.1e-7 = 1.16e-4 $/task) and at 10%
    expensive = compare(JETSON, usd_per_task=1e-5)["sensitivity_utilization"]
    assert [r["cheaper"] for r in expensive][:2] == ["cloud", "cloud"]


def test_subscription_against_the_device() -> None:
    # fee $10 > fixed $7.59: cheaper below 4.7M tasks, which is above capacity → at any volume it serves
    out = compare(JETSON, subscription_usd_per_month=10.0)
    assert out["verdict"] == "device_cheaper"
    assert compare(JETSON, subscription_usd_per_month=5.0)["verdict"] == "never"  # fixed alone > fee
    pricey = replace(JETSON, net_kwh_per_task=2000 / 3.6e6)  # 2 kJ/task: 1.0222222e-4 $/task
    out = compare(pricey, subscription_usd_per_month=20.0)
    # (20 − 7.5882667) / 1.0222222e-4 = 121,419 tasks/month
    assert out["verdict"] == "cheaper_below"
    assert out["breakeven_tasks_per_month"] == pytest.approx(121_419.1, rel=1e-5)


def test_device_economics_from_records() -> None:
    m = device_manifest("jetson-orin-nano-super", power={"idle_w": 4.0})
    recs = [record(seconds=2.0, energy_j=18.0, energy_net_j=10.0, energy_source="counter") for _ in range(3)]
    econ = device_economics(price_records(recs, m), m)
    assert econ.idle_w == 4.0 and econ.idle_from == "measured before the run"
    assert econ.net_kwh_per_task == pytest.approx(10 / 3.6e6) and econ.energy_basis == "measured"
    # no sensor energy: (max_w 25 − idle 5) × 2 s = 40 J, labelled estimated
    plain = device_manifest("jetson-orin-nano-super")
    est = device_economics([record(seconds=2.0)], plain)
    assert est.net_kwh_per_task == pytest.approx(40 / 3.6e6) and est.energy_basis.startswith("estimated")
    with pytest.raises(UsageError, match="cloud API"):
        device_economics([record()], device_manifest("openai-gpt-4o-mini"))


def test_analyse_prices_each_cloud() -> None:
    m = device_manifest("jetson-orin-nano-super")
    recs = price_records([record(prompt_tokens=1000, completion_tokens=200, energy_j=20.0)], m)
    clouds = [(n, load_device(n)) for n in ("openai-gpt-4o-mini", "opencode-go-kimi-k2.5")]
    result = analyse(recs, m, clouds, tasks_per_day=100)
    by = {c["profile"]: c for c in result["clouds"]}
    # (1000 × 0.15 + 200 × 0.60) / 1e6 = 2.7e-4 $/task
    assert by["openai-gpt-4o-mini"]["usd_per_task"] == pytest.approx(2.7e-4)
    assert by["opencode-go-kimi-k2.5"]["subscription_usd_per_month"] == 10
    assert result["tasks_per_month"] == pytest.approx(100 * 730 / 24)
    json.dumps(result)  # JSON-able: no infinities, no dates


def _bundle(tmp_path: Path) -> Path:
    m = device_manifest("jetson-orin-nano-super")
    writer = BundleWriter(tmp_path / "run-test", m)
    for i in range(4):
        writer.append(record(task_id=f"t{i}", seconds=2.0, prompt_tokens=1000, completion_tokens=200))
    writer.close()
    return tmp_path / "run-test"


def test_breakeven_command(tmp_path: Path) -> None:
    run = _bundle(tmp_path)
    proc = run_cli(
        "breakeven", str(run), "--cloud", "openai-gpt-4o-mini", "--tasks-per-day", "1000", timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for needle in (
        "capacity",
        "openai-gpt-4o-mini",
        "breaks even at",
        "priced, not run",
        "sensitivity",
        "$0.16/kWh",
    ):
        assert needle in proc.stdout, needle
    js = run_cli(
        "breakeven", "run-test", "--runs-root", str(tmp_path), "--kwh-usd", "0", "--json", timeout=60
    )
    data = json.loads(js.stdout)
    assert data["device"]["kwh_usd"] == 0 and data["device"]["kwh_from"] == "--kwh-usd"
    assert len(data["clouds"]) >= 7  # every shipped cloud profile by default


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--kwh-usd", "-1"), "--kwh-usd -1: a price cannot be negative"),
        (("--tasks-per-day", "0"), "--tasks-per-day 0: must be greater than 0"),
        (("--cloud", "jetson-orin-nano-super"), "not a cloud API"),
        (("--cloud", "openai-gpt-9"), "unknown device 'openai-gpt-9'"),
    ],
)
def test_breakeven_bad_input_exits_2(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    proc = run_cli("breakeven", str(_bundle(tmp_path)), *args, timeout=60)
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_breakeven_unknown_run_exits_2(tmp_path: Path) -> None:
    proc = run_cli("breakeven", "no-such-run", "--runs-root", str(tmp_path), timeout=60)
    assert proc.returncode == 2 and "no bundle 'no-such-run'" in proc.stderr
