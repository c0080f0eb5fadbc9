"""Every formula of the cost model against an example computed by hand (the arithmetic is written out)."""

from __future__ import annotations

import math

import pytest

from bench.cost import formulas as cost


def test_energy_cost() -> None:
    # 20 J = 20 / 3.6e6 kWh = 5.5556e-6 kWh; × $0.16/kWh × wall 1.15 = 1.02222e-6 $
    assert cost.energy_cost_usd(20 / 3.6e6, 0.16, 1.15) == pytest.approx(1.0222222e-6, rel=1e-6)
    assert cost.energy_cost_usd(1.0, 0.30) == pytest.approx(0.30)  # wall_factor defaults to 1


def test_hardware_amortization() -> None:
    # $249 / (3 y × 8760 h × 0.25) = 249 / 6570 = $0.0378995 per serving hour
    assert cost.hardware_usd_per_hour(249, 3, 0.25) == pytest.approx(0.0378995434, rel=1e-9)
    # a 2 s request: 0.0378995433 × 2/3600 = 2.1055302e-5 $
    per_hour = cost.hardware_usd_per_hour(249, 3, 0.25)
    assert cost.hourly_cost_usd(per_hour, 2.0) == pytest.approx(2.1055302e-5, rel=1e-7)
    with pytest.raises(ValueError):
        cost.hardware_usd_per_hour(249, 3, 0)


def test_token_bill_with_cached_and_reasoning_tokens() -> None:
    # gpt-4o-mini ($0.15 in, $0.60 out, $0.075 cached): 1000 prompt tokens of which 400 cached,
    # 200 visible + 50 reasoning output tokens (the caller sums them):
    # (600 × 0.15 + 400 × 0.075 + 250 × 0.60) / 1e6 = (90 + 30 + 150) / 1e6 = 2.7e-4 $
    rates = cost.token_rate_set(0.15, 0.60, cache_read_usd_per_mtok=0.075)
    assert cost.token_bill_usd(1000, 250, 50, 400, 0, 0, rates) == pytest.approx(2.7e-4, rel=1e-12)
    # no published cached rate: (1000 × 0.15 + 250 × 0.60) / 1e6 = (150 + 150) / 1e6 = 3.0e-4 $
    plain = cost.token_rate_set(0.15, 0.60)
    assert cost.token_bill_usd(1000, 250, 50, 400, 0, 0, plain) == pytest.approx(3.0e-4, rel=1e-12)
    # a reasoning price of its own ($1.20) for the 50 reasoning tokens: + 50 × (1.20 − 0.60) / 1e6 = 3.0e-5
    thinking = cost.token_rate_set(0.15, 0.60, 0.075, reasoning_usd_per_mtok=1.20)
    assert cost.token_bill_usd(1000, 250, 50, 400, 0, 0, thinking) == pytest.approx(3.0e-4, rel=1e-12)
    # a fee per request and a batch discount: (2.7e-4 + 0.012) × 0.5
    assert cost.token_bill_usd(1000, 250, 50, 400, 0, 0, rates, 0.012, 0.5) == pytest.approx(6.135e-3)


def test_token_rate_fallbacks_and_context_tiers() -> None:
    # writes without a write price pay input; 1-hour writes without their own price pay the write price
    assert cost.token_rate_set(3.0, 15.0) == (3.0, 15.0, 3.0, 3.0, 3.0, 15.0)
    assert cost.token_rate_set(3.0, 15.0, 0.3, 3.75) == (3.0, 15.0, 0.3, 3.75, 3.75, 15.0)
    # the cliff: over 200,000 input tokens every token pays the tier's price; exactly 200,000 does not
    tiers = [(200_000, 6.0)]
    assert cost.tier_rate(3.0, tiers, 200_000) == 3.0 and cost.tier_rate(3.0, tiers, 200_001) == 6.0
    assert cost.tier_rate(1.0, [(100, 2.0), (1000, 4.0)], 5000) == 4.0


def test_subscription_share() -> None:
    # $10/month over 2000 stated tasks = $0.005 per task
    assert cost.subscription_usd_per_task(10, 2000) == pytest.approx(0.005)
    with pytest.raises(ValueError):
        cost.subscription_usd_per_task(10, 0)


def test_breakeven_formulas() -> None:
    # fixed: $249 / (3 × 12) + 5 W × 730 h / 1000 × $0.16 × 1.15
    #      = 6.9166667 + 3.65 kWh × 0.184 = 6.9166667 + 0.6716 = 7.5882667 $/month
    fixed = cost.local_fixed_usd_per_month(
        price_usd=249, lifetime_years=3, idle_w=5, kwh_usd=0.16, wall_factor=1.15
    )
    assert fixed == pytest.approx(7.5882667, rel=1e-7)
    # per task: 10 J net = 2.7777778e-6 kWh × 0.16 × 1.15 = 5.1111111e-7 $
    var = cost.local_variable_usd_per_task(10 / 3.6e6, 0.16, 1.15)
    assert var == pytest.approx(5.1111111e-7, rel=1e-7)
    # cloud $2.7e-4/task: N = 7.5882667 / (2.7e-4 − 5.1111111e-7) = 7.5882667 / 2.6948889e-4 = 28158.1
    n = cost.breakeven_tasks_per_month(fixed, var, 2.7e-4)
    assert n == pytest.approx(28158.1, rel=1e-5)
    # at that volume both sides cost the same: N × 2.7e-4 = 7.6027 $
    local = cost.monthly_usd(fixed, n, var)
    assert local == pytest.approx(cost.monthly_usd(0.0, n, 2.7e-4), rel=1e-12)
    # each task's share at that volume is the API's price: 7.5882667 / N + 5.1111111e-7 = 2.7e-4
    assert cost.usd_per_task_at_volume(fixed, n, var) == pytest.approx(2.7e-4, rel=1e-9)


def test_breakeven_never_and_free_device() -> None:
    # the API is cheaper per task than the device's energy alone: never
    assert cost.breakeven_tasks_per_month(7.59, 5.1e-7, 1e-7) is None
    assert cost.breakeven_tasks_per_month(7.59, 1e-6, 1e-6) is None  # a tie never pays back the fixed cost
    # nothing fixed (a device already paid for, no idle draw): breaks even at zero tasks
    assert cost.breakeven_tasks_per_month(0.0, 0.0, 1e-6) == 0.0


def test_breakeven_at_zero_electricity_price() -> None:
    # kwh 0: fixed = 249 / 36 = 6.9166667 (idle is free), per task 0 → N = 6.9166667 / 2.7e-4 = 25617.28
    fixed = cost.local_fixed_usd_per_month(
        price_usd=249, lifetime_years=3, idle_w=5, kwh_usd=0.0, wall_factor=1.15
    )
    var = cost.local_variable_usd_per_task(10 / 3.6e6, 0.0, 1.15)
    assert var == 0.0
    assert cost.breakeven_tasks_per_month(fixed, var, 2.7e-4) == pytest.approx(25617.284, rel=1e-6)


def test_subscription_breakeven() -> None:
    # fee $10, fixed $7.5882667, per task 5.1111111e-7: the device is cheaper below
    # (10 − 7.5882667) / 5.1111111e-7 = 2.4117333 / 5.1111111e-7 = 4,718,609 tasks/month
    below = cost.subscription_breakeven_tasks_per_month(7.5882667, 5.1111111e-7, 10)
    assert below == pytest.approx(4_718_609, rel=1e-5)
    assert cost.subscription_breakeven_tasks_per_month(12.0, 1e-7, 10) is None  # fixed alone above the fee
    assert cost.subscription_breakeven_tasks_per_month(5.0, 0.0, 10) == math.inf


def test_capacity() -> None:
    # 2 s per task, one at a time: 730 h × 3600 s / 2 s = 1,314,000 tasks/month
    assert cost.capacity_tasks_per_month(2.0) == pytest.approx(1_314_000)
    assert cost.capacity_tasks_per_month(2.0, concurrency=4) == pytest.approx(5_256_000)
    assert cost.HOURS_PER_MONTH == 730


def test_decode_roofline_bound() -> None:
    # Jetson 102 GB/s, a 4.0 GB model: 102e9 / 4.0e9 = 25.5 tok/s; SmolLM2 Q4_1 (98e6 B): 1040.8 tok/s
    assert cost.decode_bound_tps(102, 4.0e9) == pytest.approx(25.5)
    assert cost.decode_bound_tps(102, 98e6) == pytest.approx(1040.8163, rel=1e-6)
    with pytest.raises(ValueError):
        cost.decode_bound_tps(0, 98e6)
