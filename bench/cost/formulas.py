"""The cost model of docs/cost.md as pure functions: energy → $, tokens → $, hardware amortization,
break-even volume and the decode roofline.

Nothing here reads files, profiles or records: callers pass numbers, so every formula can be checked
against a hand-computed example (tests/cost/test_cost.py writes them out). The names follow the
profile fields (``price_usd``, ``lifetime_years``, ``utilization``, ``wall_factor``, ``kwh_usd``,
``input_usd_per_mtok``, ...). Units are in every name.

Conventions (why they are what they are):

- A month is 730 h (8760 h / 12), as in the break-even formula (docs/cost.md); a year is 8760 h.
- ``wall_factor`` multiplies *energy* only: it converts what an on-board sensor reads into what the wall
  socket delivers (PSU and board losses). Hardware amortization is not energy and is not scaled.
- Cached prompt tokens are part of ``prompt_tokens`` (the OpenAI usage object counts them there); they
  are billed at the cached rate, or at the full input rate when a provider publishes no cached rate.
- Cache writes (Anthropic's cache_creation_input_tokens) are part of ``prompt_tokens`` too, billed at the
  write rate (5-minute TTL, or the 1-hour rate for the 1-hour share); without a write rate, at the input
  rate (OpenAI and Google bill no write premium). The batch tier takes its discount off every tier.
- A rented GPU bills hours: a task carries ``usd_per_hour × busy time ÷ concurrent streams ÷
  utilization`` (the idle time between tasks is paid too); a rental is billed in whole increments.
- Reasoning tokens are billed as output. infercost records them apart from the visible
  ``completion_tokens`` (docs/metrics.md), so billed output = completion + reasoning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "HOURS_PER_MONTH",
    "HOURS_PER_YEAR",
    "J_PER_KWH",
    "TokenRateSet",
    "billed_rental_s",
    "breakeven_tasks_per_month",
    "capacity_tasks_per_month",
    "decode_bound_tps",
    "energy_cost_usd",
    "hardware_usd_per_hour",
    "hourly_cost_usd",
    "local_fixed_usd_per_month",
    "local_variable_usd_per_task",
    "monthly_usd",
    "rented_usd_per_task",
    "subscription_breakeven_tasks_per_month",
    "subscription_usd_per_task",
    "tier_rate",
    "token_bill_usd",
    "token_rate_set",
    "usd_per_mtok",
    "usd_per_task_at_volume",
]

HOURS_PER_YEAR = 8760.0
HOURS_PER_MONTH = HOURS_PER_YEAR / 12  # 730 h
J_PER_KWH = 3.6e6
_MTOK = 1e6


# ------------------------------------------------------------------------------------ local, per request
def energy_cost_usd(gross_kwh: float, kwh_usd: float, wall_factor: float = 1.0) -> float:
    """``gross_kwh × kwh_usd × wall_factor``: the electricity a request drew, at the wall."""
    return gross_kwh * kwh_usd * wall_factor


def hardware_usd_per_hour(price_usd: float, lifetime_years: float, utilization: float) -> float:
    """``price_usd / (lifetime_years × 8760 × utilization)``: the purchase spread over the hours the
    device spends serving. A device that serves 25% of its life carries 4× the cost per serving hour."""
    if lifetime_years <= 0 or utilization <= 0:
        raise ValueError("lifetime_years and utilization must be > 0 to amortize a price")
    return price_usd / (lifetime_years * HOURS_PER_YEAR * utilization)


def hourly_cost_usd(usd_per_hour: float, seconds: float) -> float:
    """``usd_per_hour × seconds / 3600``: what ``seconds`` of something billed by the hour cost (a
    device's amortization per serving hour, a rental's rate)."""
    return usd_per_hour * seconds / 3600.0


# ------------------------------------------------------------------------------------------------- cloud
def tier_rate(base_usd_per_mtok: float, tiers: Sequence[tuple[int, float]], input_tokens: int) -> float:
    """The price per 1M tokens a request pays for one kind of token, by its size: the price of the last
    tier whose start its input tokens (cache reads and writes included) *exceed*, else ``base``.

    ``tiers``: ``(above_tokens, usd_per_mtok)`` in ascending order. The providers' "cliff": a prompt one
    token over the start pays the tier's price on **every** token, not only on those above it (Claude
    Sonnet 4.5: $3 → $6 per 1M input tokens above 200k)."""
    for above, price in reversed(tiers):
        if input_tokens > above:
            return price
    return base_usd_per_mtok


class TokenRateSet(NamedTuple):
    """The six prices a request's tokens pay, USD per 1M, every fallback already applied."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    cache_write_1h: float
    reasoning: float


def token_rate_set(
    input_usd_per_mtok: float,
    output_usd_per_mtok: float,
    cache_read_usd_per_mtok: float | None = None,
    cache_write_usd_per_mtok: float | None = None,
    cache_write_1h_usd_per_mtok: float | None = None,
    reasoning_usd_per_mtok: float | None = None,
) -> TokenRateSet:
    """A provider's published prices, each kind without a price of its own falling back to the next one
    that covers it: a 1-hour cache write → the write price → the input price; a cache read → the input
    price; reasoning → the output price. Never a guessed discount: OpenAI and Google bill no write
    premium (writes cost the input price), a provider without a cached price bills reads as input."""
    write = input_usd_per_mtok if cache_write_usd_per_mtok is None else cache_write_usd_per_mtok
    return TokenRateSet(
        input_usd_per_mtok,
        output_usd_per_mtok,
        input_usd_per_mtok if cache_read_usd_per_mtok is None else cache_read_usd_per_mtok,
        write,
        write if cache_write_1h_usd_per_mtok is None else cache_write_1h_usd_per_mtok,
        output_usd_per_mtok if reasoning_usd_per_mtok is None else reasoning_usd_per_mtok,
    )


def token_bill_usd(
    prompt_tokens: int,
    output_tokens: int,
    reasoning_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
    cache_write_1h_tokens: int,
    rates: TokenRateSet,
    usd_per_request: float = 0.0,
    discount: float = 0.0,
) -> float:
    """docs/prices.md, one request as billed: fresh input (prompt − reads − writes) at the input price,
    reads at the read price, writes at the write price (their 1-hour share at the 1-hour price), output
    (visible + reasoning: the caller sums them; prompt tokens include reads and writes, OpenAI's
    convention) at the output price with its ``reasoning_tokens`` share at the reasoning price, plus a fee
    per request; then ``× (1 − discount)`` (a batch tier given as a discount).

    ``rates`` are the prices for this request's size (``tier_rate``), fallbacks applied
    (``token_rate_set``). Positional and flat because every reader of a bundle calls it once per record."""
    fresh = prompt_tokens - cache_read_tokens - cache_write_tokens
    if fresh < 0 or cache_write_1h_tokens > cache_write_tokens or reasoning_tokens > output_tokens:
        raise ValueError(
            f"impossible counts: cache reads {cache_read_tokens} + writes {cache_write_tokens} (1 h: "
            f"{cache_write_1h_tokens}) against prompt_tokens {prompt_tokens}; reasoning "
            f"{reasoning_tokens} of output {output_tokens}"
        )
    # term by term, as each line of a bill (and as earlier versions summed them: an old bundle's dollars
    # come out to the last bit)
    if rates.reasoning == rates.output:
        output_usd = output_tokens * rates.output / _MTOK
    else:
        output_usd = (output_tokens - reasoning_tokens) * rates.output / _MTOK
        output_usd += reasoning_tokens * rates.reasoning / _MTOK
    usd = (
        fresh * rates.input / _MTOK
        + cache_read_tokens * rates.cache_read / _MTOK
        + (cache_write_tokens - cache_write_1h_tokens) * rates.cache_write / _MTOK
        + cache_write_1h_tokens * rates.cache_write_1h / _MTOK
        + output_usd
        + usd_per_request
    )
    return usd * (1.0 - discount) if discount else usd


def usd_per_mtok(usd: float, tokens: float) -> float | None:
    """Dollars per 1M tokens (``$/1M out`` in the cost table); None without tokens to spread them over."""
    return usd / tokens * _MTOK if tokens else None


def rented_usd_per_task(
    usd_per_hour: float, busy_s: float, concurrent_streams: int = 1, utilization: float = 1.0
) -> float:
    """A task's share of a rented GPU: ``usd_per_hour × busy_s / 3600 ÷ streams ÷ utilization``.

    ``concurrent_streams`` requests share the GPU's hour; ``utilization`` is the share of the rented time
    spent serving, so the idle time between tasks (which is billed too) lands on the tasks."""
    if concurrent_streams < 1 or not 0 < utilization <= 1:
        raise ValueError("concurrent_streams must be ≥ 1 and utilization in (0, 1]")
    return hourly_cost_usd(usd_per_hour, busy_s) / concurrent_streams / utilization


def billed_rental_s(held_s: float, increment_s: float) -> float:
    """The seconds a rental of ``held_s`` is billed for: whole increments, rounded up (at least one)."""
    if increment_s <= 0:
        raise ValueError("increment_s must be > 0")
    return max(1, math.ceil(held_s / increment_s - 1e-9)) * increment_s


def subscription_usd_per_task(monthly_usd: float, tasks_per_month: float) -> float:
    """docs/cost.md, subscription: the monthly fee spread over the tasks per month the user states."""
    if tasks_per_month <= 0:
        raise ValueError("tasks_per_month must be > 0")
    return monthly_usd / tasks_per_month


# --------------------------------------------------------------------------------------------- break-even
def local_fixed_usd_per_month(
    *, price_usd: float, lifetime_years: float, idle_w: float, kwh_usd: float, wall_factor: float
) -> float:
    """What owning the device costs in a month before it serves anything:
    ``price_usd / (lifetime_years × 12) + idle_w × 730 h × kwh_usd × wall_factor``."""
    if lifetime_years <= 0:
        raise ValueError("lifetime_years must be > 0")
    idle_kwh = idle_w * HOURS_PER_MONTH / 1000.0
    return price_usd / (lifetime_years * 12) + idle_kwh * kwh_usd * wall_factor


def local_variable_usd_per_task(net_kwh_per_task: float, kwh_usd: float, wall_factor: float) -> float:
    """Each task's energy *above idle* (``net_kwh_per_task × kwh_usd × wall_factor``); idle is already in
    the fixed part, so counting gross energy here would count it twice."""
    return net_kwh_per_task * kwh_usd * wall_factor


def monthly_usd(fixed_usd_per_month: float, tasks_per_month: float, usd_per_task: float) -> float:
    """A month of ``tasks_per_month`` tasks: ``fixed + N × per task`` (the device's line in break-even:
    fixed = amortization + idle energy, per task = net energy; a token API's: fixed 0, per task its
    price; a subscription's: the fee, per task 0)."""
    return fixed_usd_per_month + tasks_per_month * usd_per_task


def usd_per_task_at_volume(fixed_usd_per_month: float, tasks_per_month: float, usd_per_task: float) -> float:
    """Each task's share of a month at ``tasks_per_month``: ``fixed / N + per task`` (the fixed cost
    spread over the tasks actually served, so a device idle most of the month is dear per task)."""
    if tasks_per_month <= 0:
        raise ValueError("tasks_per_month must be > 0")
    return fixed_usd_per_month / tasks_per_month + usd_per_task


def breakeven_tasks_per_month(
    fixed_usd_per_month: float, local_usd_per_task: float, cloud_usd_per_task: float
) -> float | None:
    """N where ``fixed + N × local = N × cloud``: ``fixed / (cloud − local)``.

    ``None`` when the device never breaks even: its per-task cost is not below the API's, so every
    extra task widens the gap. ``0.0`` when owning costs nothing fixed (a free device, no idle draw)."""
    margin = cloud_usd_per_task - local_usd_per_task
    if margin <= 0:
        return None
    return fixed_usd_per_month / margin


def subscription_breakeven_tasks_per_month(
    fixed_usd_per_month: float, local_usd_per_task: float, subscription_usd_per_month: float
) -> float | None:
    """A flat fee against a device: the device is cheaper *below* N = ``(fee − fixed) / local`` tasks.

    ``None``: the device's fixed cost alone reaches the fee (it is never cheaper); ``math.inf``: the device
    costs nothing per task and less than the fee in fixed cost (cheaper at any volume it can serve)."""
    headroom = subscription_usd_per_month - fixed_usd_per_month
    if headroom <= 0:
        return None
    if local_usd_per_task <= 0:
        return math.inf
    return headroom / local_usd_per_task


def capacity_tasks_per_month(seconds_per_task: float, concurrency: int = 1) -> float:
    """The most tasks a device serves in a 730-hour month at a measured time per task (one at a time
    unless ``concurrency`` says otherwise)."""
    if seconds_per_task <= 0:
        raise ValueError("seconds_per_task must be > 0")
    return HOURS_PER_MONTH * 3600.0 / seconds_per_task * concurrency


# ------------------------------------------------------------------------------------------------ roofline
def decode_bound_tps(memory_bandwidth_gbs: float, bytes_per_token: float) -> float:
    """Decode upper bound: each generated token reads every weight once, so tok/s ≤ bandwidth / bytes.

    (It ignores KV-cache reads, which lower the real ceiling at long contexts, and mixture-of-experts
    models, which read only their active experts.)"""
    if memory_bandwidth_gbs <= 0 or bytes_per_token <= 0:
        raise ValueError("memory_bandwidth_gbs and bytes_per_token must be > 0")
    return memory_bandwidth_gbs * 1e9 / bytes_per_token
