"""Grouped billing (``Usages``, ``TokenRates.bill_usages``, ``pricing.Billable``) is per-record billing.

A report prices every local record at each cloud profile's prices; since the metric-core round it bills
each distinct usage once per profile instead of each record (issue 20: the 100,000-record report). These
tests pin that the shortcut changes nothing: on random records (repeated and distinct usages, agent tasks
with and without their calls, prompts on both sides of a context-length tier, request times that cross
dated prices, a daily window and UTC offsets), every record's bill, the totals summed from them and the
tier-crossing notes are exactly, to the last bit, what billing each record on its own gives, with the
algorithm the report used before (``_per_record_bills`` below).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cost.pricing import Billable, billed, priced_on_cloud, request_usages, tier_notes
from bench.cost.tiers import TierCrossing, TokenRates, Usages, _band_label, rates_for
from bench.devices.profiles import DeviceProfile, load_device
from bench.devices.token_prices import Period, PriceSchedule, PriceSet, PriceSource, Tier, TieredRate, When
from bench.results.metrics.policy import REQUESTS
from bench.results.schema import Record


def _tiered(base: float, above: float) -> TieredRate:
    return TieredRate(base=base, tiers=(Tier(above_tokens=1000, usd_per_mtok=above),))


# prices that change with everything a bill depends on besides the counts: the prompt's size (a tier at
# 1,000 input tokens), the day (from 2026-11-27), the hour of the day (a window over midnight UTC, with a
# fee per request) and the batch tier (a dated batch variant, else a discount)
SCHEDULE = PriceSchedule(
    periods=(
        Period(
            prices=PriceSet(
                input_usd_per_mtok=_tiered(3.0, 6.0),
                output_usd_per_mtok=_tiered(15.0, 22.5),
                cache_read_usd_per_mtok=0.3,
                cache_write_usd_per_mtok=3.75,
                cache_write_1h_usd_per_mtok=6.0,
            )
        ),
        Period(
            when=When(starts=dt.date(2026, 11, 27)),
            prices=PriceSet(
                input_usd_per_mtok=_tiered(2.0, 4.5), output_usd_per_mtok=11.0, reasoning_usd_per_mtok=13.0
            ),
        ),
        Period(
            when=When(daily_from=dt.time(22, 30), daily_until=dt.time(1, 30)),
            prices=PriceSet(input_usd_per_mtok=0.7, output_usd_per_mtok=2.1, usd_per_1k_requests=0.4),
        ),
    ),
    batch=(Period(when=When(starts=dt.date(2026, 11, 27)), prices=PriceSet(input_usd_per_mtok=1.1)),),
    batch_discount=0.5,
    source=PriceSource(kind="profile", ref="test"),
)

# request times: the same minute twice, minutes and days apart, UTC offsets that move the day or the
# window (the same local minute, another UTC time), an empty time, and text that is not a time
STAMPS = [
    "2026-11-26T10:00:00.000Z",
    "2026-11-26T10:00:41.500Z",
    "2026-11-26T23:10:00Z",
    "2026-11-26T23:10:30+05:00",
    "2026-11-26T23:59:59-03:00",
    "2026-11-27T00:15:00Z",
    "2026-11-27T12:00:00Z",
    "2026-11-28T22:45:00+00:00",
    "2026-11-28T22:45:00",
    "",
    "not a time",
]

counts = st.one_of(st.none(), st.integers(0, 40))
# a few usages that many records share (as repetitions of a task do), on both sides of the tier at 1,000
usage_fields = st.fixed_dictionaries(
    {
        "prompt_tokens": st.one_of(st.none(), st.sampled_from([0, 12, 400, 1000, 1001, 2500])),
        "completion_tokens": st.one_of(st.none(), st.sampled_from([0, 1, 7, 300])),
        "reasoning_tokens": counts,
        "cached_tokens": st.one_of(st.none(), st.sampled_from([0, 5, 900, 3000])),
        "cache_write_tokens": counts,
        "cache_write_1h_tokens": counts,
    }
)
record_fields = st.fixed_dictionaries(
    {
        "kind": st.sampled_from([None, None, "model", "agent", "tool"]),
        "task_id": st.sampled_from(["t1", "t2", "t3"]),
        "repetition": st.integers(0, 1),
        "warmup": st.booleans(),
        "status": st.sampled_from(["ok", "ok", "error"]),
        "started_utc": st.sampled_from(STAMPS),
    }
)


def _record(i: int, fields: dict[str, Any], usage: dict[str, Any]) -> Record:
    return Record(
        run_id="run-grouped",
        category="c",
        start_ns=i * 1_000_000,
        end_ns=i * 1_000_000 + 500_000,
        e2e_ms=0.5,
        **fields,
        **usage,
    )


records_st = st.lists(usage_fields, min_size=1, max_size=4).flatmap(
    lambda pool: st.lists(st.tuples(record_fields, st.sampled_from(pool)), max_size=60).map(
        lambda pairs: [_record(i, f, u) for i, (f, u) in enumerate(pairs)]
    )
)


def _per_record_bills(records: list[Record], rates: TokenRates) -> list[tuple[float | None, bool]]:
    """Every record billed on its own (the algorithm before grouping): agent summaries by the sum of
    their calls' bills, or by their own sums after every other record."""
    bills = [(None, False) if r.kind == "agent" else rates.record_bill(r) for r in records]
    calls: dict[tuple[str, str, int, bool], tuple[float, bool]] = {}
    for rec, (usd, at_batch) in zip(records, bills, strict=True):
        if rec.kind == "model" and usd is not None:
            key = (rec.run_id, rec.task_id, rec.repetition, rec.warmup)
            total, any_batch = calls.get(key, (0.0, False))
            calls[key] = (total + usd, any_batch or at_batch)
    for i, rec in enumerate(records):
        if rec.kind == "agent":
            found = calls.get((rec.run_id, rec.task_id, rec.repetition, rec.warmup))
            bills[i] = found if found is not None else rates.record_bill(rec)
    return bills


def _per_record_crossings(records: list[Record], rates: TokenRates) -> list[TierCrossing]:
    """``crossings`` as it was: every measured request looked up on its own."""
    counts: dict[int, int] = {}
    labels: dict[int, str] = {}
    for rec in REQUESTS.select(records):
        if rec.prompt_tokens is None:
            continue
        force = rates._resolve(rec.started_utc)
        j = bisect_left(force.starts, rec.prompt_tokens)
        if j:
            start = force.starts[j - 1]
            counts[start] = counts.get(start, 0) + 1
            labels.setdefault(start, _band_label(force.bands[j]))
    return [TierCrossing(s, counts[s], labels[s]) for s in sorted(counts)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=records_st, batch=st.booleans())
def test_grouped_bills_are_the_per_record_bills(records: list[Record], batch: bool) -> None:
    # fresh rates for each side: the prices in force are looked up (and kept) in the order records come
    expected = _per_record_bills(records, TokenRates(SCHEDULE, batch))
    got = billed(records, TokenRates(SCHEDULE, batch))
    assert got == expected
    # the same records billed at several prices from one Billable, as the priced-not-run table does
    plan = Billable.of(records)
    for b in (batch, not batch):
        assert billed(records, TokenRates(SCHEDULE, b), plan) == _per_record_bills(
            records, TokenRates(SCHEDULE, b)
        )
    # bit for bit: the totals summed in record order agree too (not merely within a rounding)
    assert [repr(u) for u, _ in got] == [repr(u) for u, _ in expected]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=records_st)
def test_grouped_tier_crossings_are_the_per_record_ones(records: list[Record]) -> None:
    crossings = TokenRates(SCHEDULE).usage_crossings(request_usages(records))
    assert crossings == _per_record_crossings(records, TokenRates(SCHEDULE))
    calls = request_usages(records)
    assert sum(calls.sizes) == sum(1 for r in REQUESTS.select(records) if r.prompt_tokens is not None)
    assert tier_notes(records, TokenRates(SCHEDULE)) == tier_notes(records, TokenRates(SCHEDULE), calls=calls)


@given(records=records_st)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_usages_keep_each_distinct_usage_once(records: list[Record]) -> None:
    usages = Usages.of(records)
    assert len(usages.index) == len(records)
    assert sum(usages.sizes) == sum(1 for r in records if r.prompt_tokens is not None)
    keyed = {(k, (s or "")[:16]) for k, s in zip(usages.keys, usages.stamps, strict=True)}
    assert len(keyed) == len(usages.keys)  # no usage twice
    for rec, at in zip(records, usages.index, strict=True):
        if rec.prompt_tokens is None:
            assert at == -1
            continue
        assert usages.keys[at][:2] == (rec.prompt_tokens, rec.completion_tokens)
        assert (usages.stamps[at] or "")[:16] == (rec.started_utc or "")[:16]


def _cloud(name: str) -> tuple[str, DeviceProfile]:
    return name, load_device(name)


@given(records=records_st)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_priced_on_cloud_totals_are_the_per_record_sums(records: list[Record]) -> None:
    """The shipped profiles' rows: each total is the sum, in record order, of the per-record bills."""
    clouds = [
        _cloud("anthropic-claude-sonnet-4.5"),
        _cloud("openai-gpt-4o-mini"),
        _cloud("groq-llama-3.1-8b"),
    ]
    rows = {row["profile"]: row for row in priced_on_cloud(records, clouds)}
    measured = {id(r) for r in records if not r.warmup and r.kind in (None, "agent")}
    measured &= {id(r) for r in records if r.prompt_tokens is not None and r.completion_tokens is not None}
    for name, profile in clouds:
        rates, _ = rates_for(profile)
        assert rates is not None
        bills = _per_record_bills(records, rates)
        present = [b for r, (b, _) in zip(records, bills, strict=True) if id(r) in measured and b is not None]
        assert rows[name]["cost_total_usd"] == (float(sum(present)) if present else None)


ONE = {"task_id": "t1", "repetition": 0, "warmup": False, "status": "ok"}


def test_the_prices_in_force_come_from_the_first_record_of_a_minute() -> None:
    """Prices are looked up once per minute as written (``started_utc[:16]``), from the first record of
    that minute: 23:10 at UTC+5 is 18:10 UTC (outside the night window), 23:10Z is inside it. Grouped,
    the lookup is still made from the first record, so both are billed alike, as record by record."""
    usage = {"prompt_tokens": 400, "completion_tokens": 7}
    first, second = (
        _record(0, {**ONE, "started_utc": "2026-11-26T23:10:30+05:00"}, usage),
        _record(1, {**ONE, "started_utc": "2026-11-26T23:10:00Z"}, usage),
    )
    for records in ([first, second], [second, first]):
        expected = _per_record_bills(records, TokenRates(SCHEDULE))
        assert billed(records, TokenRates(SCHEDULE)) == expected
        assert expected[0] == expected[1]
    # and the two orders do differ: the night window's fee is in one and not the other
    assert _per_record_bills([first], TokenRates(SCHEDULE)) != _per_record_bills(
        [second], TokenRates(SCHEDULE)
    )
