"""A token API's prices made ready to bill records: the schedule a profile, the price database or a
manifest gives (``bench.devices.token_prices``), resolved at each request's time and size.

One ``TokenRates`` is built per bundle (or per cloud profile) and prices every record: it finds the prices
in force at the record's ``started_utc`` (once per day, or per minute for prices with daily windows), the
context-length tier its prompt falls in, and hands the counts and the rates to
``bench.cost.formulas.token_bill_usd``, the one place a bill is computed. Pricing 100k records
stays under a second (tests/benchmarks/bench_tiers.py).

A report prices every local record at each cloud profile's prices (priced, not run): 100k records × 10
profiles. Records repeat their usage (a task's prompt is the same each repetition, the completion varies
within its length limit), so ``Usages`` keeps each distinct usage once, with how many records share it
and the time its first record started; ``TokenRates.bill_usages`` bills each distinct usage once per
prices in force and hands every record its bill. The bills are the very ``bill`` of each record, so the
sums over them (taken in record order by the callers) come out to the last bit
(tests/cost/test_grouped_billing.py pins it).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from bench.cost import formulas as cost
from bench.devices.token_prices import FlatPrices, PriceSchedule, PriceSet, Rate, TieredRate, schedule_of
from bench.results.schema import Record

__all__ = ["BATCH_LATENCY_NOTE", "TierCrossing", "TokenRates", "Usages", "rates_for"]

BATCH_LATENCY_NOTE = (
    "batch tier: priced at the provider's batch rates; a batch job returns within hours (up to 24 h), "
    "so the latency measured here would not be what a batch user sees (not interactive)"
)
NO_BATCH_TIER = "the profile publishes no batch tier: priced at its interactive list prices"


def _tiers(rate: Rate | None) -> tuple[tuple[int, float], ...]:
    return tuple((t.above_tokens, t.usd_per_mtok) for t in rate.tiers) if isinstance(rate, TieredRate) else ()


def _at(rate: Rate | None, input_tokens: int) -> float | None:
    if rate is None:
        return None
    if isinstance(rate, TieredRate):
        return cost.tier_rate(rate.base, _tiers(rate), input_tokens)
    return rate


@dataclass(frozen=True)
class _Band:
    """The prices of one context-length band: per-token prices with their fallbacks applied, the
    prices as published (for labels), and the fee per request."""

    rates: cost.TokenRateSet
    published: tuple[float | None, ...]  # input, output, read, write, write 1 h, reasoning (None: not priced)
    per_request: float


@dataclass(frozen=True)
class _InForce:
    """The prices in force at one moment, split into bands at the tier starts."""

    starts: tuple[int, ...]
    bands: tuple[_Band, ...]
    discount: float
    batch: bool


def _in_force(prices: PriceSet, discount: float, batch: bool) -> _InForce:
    starts = prices.tier_starts()
    bands = []
    # band j holds the prompts that exceed exactly j of the starts; one token over start j-1 stands for it
    for size in (0, *(s + 1 for s in starts)):
        fee = _at(prices.usd_per_1k_requests, size)
        published = tuple(
            _at(getattr(prices, key), size)
            for key in (
                "input_usd_per_mtok",
                "output_usd_per_mtok",
                "cache_read_usd_per_mtok",
                "cache_write_usd_per_mtok",
                "cache_write_1h_usd_per_mtok",
                "reasoning_usd_per_mtok",
            )
        )
        inp, out, read, write, write_1h, reasoning = published
        assert inp is not None and out is not None  # PriceSchedule validates every period has both
        rates = cost.token_rate_set(inp, out, read, write, write_1h, reasoning)
        bands.append(_Band(rates, published, 0.0 if fee is None else fee / 1000.0))
    return _InForce(starts, tuple(bands), discount, batch)


def _moment(stamp: str | None) -> dt.datetime | None:
    """A record's UTC start (``started_utc``: ISO 8601); None when it does not parse (priced as of now,
    as the database's own calculator does without a time)."""
    if not stamp:
        return None
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


# the longest prefix of a record's ``started_utc`` that prices are looked up by (``TokenRates._key_len``)
_MINUTE = 16
# a record's counts: prompt, completion (None: not billed), reasoning, cache read, write, 1-hour write
Usage = tuple[int, int | None, int, int, int, int]
_COUNTS = attrgetter(
    "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens", "cache_write_tokens",
    "cache_write_1h_tokens",
)  # fmt: skip


@dataclass(frozen=True)
class Usages:
    """Records' token counts with each distinct usage once (``keys``), in the order of first appearance.

    A usage is the counts a bill depends on and the minute the request started (prices change by date,
    or by the hour of the day: never within a minute). ``stamps`` holds each usage's first record's
    ``started_utc``, so the prices in force are looked up from the same record, in the same order, as
    when every record is billed; ``sizes`` how many records share it; ``index`` each record's usage
    (-1: no prompt token count, or None given in its place: never billed)."""

    keys: list[Usage]
    stamps: list[str | None]
    sizes: list[int]
    index: list[int]

    @classmethod
    def of(cls, records: Iterable[Record | None]) -> Usages:
        keys: list[Usage] = []
        stamps: list[str | None] = []
        sizes: list[int] = []
        index: list[int] = []
        # keyed by the counts as recorded (absent and 0 apart: they bill alike, so at worst a usage is
        # billed twice) and read in one call per record: this runs over every record of a report
        seen: dict[tuple[tuple[int | None, ...], str], int] = {}
        counts = _COUNTS
        for rec in records:
            if rec is None:
                index.append(-1)
                continue
            recorded = counts(rec)
            stamp = rec.started_utc
            key = (recorded, (stamp or "")[:_MINUTE])
            at = seen.get(key)
            if at is None:
                if recorded[0] is None:
                    index.append(-1)
                    continue
                prompt, completion, reasoning, read, write, write_1h = recorded
                at = seen[key] = len(keys)
                keys.append((prompt, completion, reasoning or 0, read or 0, write or 0, write_1h or 0))
                stamps.append(stamp)
                sizes.append(0)
            sizes[at] += 1
            index.append(at)
        return cls(keys, stamps, sizes, index)


@dataclass(frozen=True)
class TierCrossing:
    """Requests whose prompt exceeded a tier start: billed at that tier's prices on every token."""

    above_tokens: int
    requests: int
    label: str


class TokenRates:
    """A schedule ready to bill records at its standard prices or (``batch``) its batch tier."""

    def __init__(self, schedule: PriceSchedule, batch: bool = False) -> None:
        self.schedule = schedule
        self.batch = batch and schedule.has_batch
        # the key under which a record's time finds its prices: nothing when they never change, the day
        # when they change by date, the minute when they change by the hour of the day
        self._key_len = _MINUTE if schedule.daily else 10 if schedule.dated else 0
        self._cache: dict[str, _InForce] = {}
        self._static = None if self._key_len else self._resolve(None)

    @property
    def tiered(self) -> bool:
        """Whether any of its prices, at any time, has context-length tiers (else no request crosses one:
        ``crossings`` is empty)."""
        return any(p.prices.tier_starts() for p in (*self.schedule.periods, *self.schedule.batch))

    def _resolve(self, stamp: str | None) -> _InForce:
        key = (stamp or "")[: self._key_len]
        found = self._cache.get(key)
        if found is None:
            moment = _moment(stamp) if self._key_len else None
            prices, discount, applied = self.schedule.at(moment, self.batch)
            found = self._cache[key] = _in_force(prices, discount, applied)
        return found

    def bill(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        reasoning_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
        started_utc: str | None = None,
    ) -> tuple[float, bool]:
        """One request's bill, and whether a batch price applied to it. Cache counts beyond what the
        prompt holds are clipped (a usage object that reports more reads than prompt tokens is the API's
        inconsistency, not a negative fresh input)."""
        force = self._static or self._resolve(started_utc)
        band = force.bands[bisect_left(force.starts, prompt_tokens)] if force.starts else force.bands[0]
        read = cache_read_tokens if cache_read_tokens < prompt_tokens else prompt_tokens
        room = prompt_tokens - read
        write = cache_write_tokens if cache_write_tokens < room else room
        usd = cost.token_bill_usd(
            prompt_tokens,
            completion_tokens + reasoning_tokens,
            reasoning_tokens,
            read,
            write,
            cache_write_1h_tokens if cache_write_1h_tokens < write else write,
            band.rates,
            band.per_request,
            force.discount,
        )
        return usd, force.batch

    def price_usage(
        self,
        *,
        prompt_tokens: int,
        completion_tokens: int,
        reasoning_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
        started_utc: str | None = None,
    ) -> float:
        """``bill``'s dollars, by name."""
        return self.bill(
            prompt_tokens,
            completion_tokens,
            reasoning_tokens,
            cache_read_tokens,
            cache_write_tokens,
            cache_write_1h_tokens,
            started_utc,
        )[0]

    def record_bill(self, rec: Record) -> tuple[float | None, bool]:
        """One record as billed, and whether at a batch price (None: it has no token counts)."""
        prompt, completion = rec.prompt_tokens, rec.completion_tokens
        if prompt is None or completion is None:
            return None, False
        return self.bill(
            prompt,
            completion,
            rec.reasoning_tokens or 0,
            rec.cached_tokens or 0,
            rec.cache_write_tokens or 0,
            rec.cache_write_1h_tokens or 0,
            rec.started_utc,
        )

    def bill_usages(self, usages: Usages) -> list[tuple[float | None, bool]]:
        """Each record's ``record_bill``, in order, billing each distinct usage once (at the prices in
        force at its first record's time: a usage shares its minute, and the key prices are looked up
        by, with its first record)."""
        key_len = self._key_len
        memo: dict[tuple[Usage, str], tuple[float, bool]] = {}
        bills: list[tuple[float | None, bool]] = []
        for usage, stamp in zip(usages.keys, usages.stamps, strict=True):
            prompt, completion, reasoning, read, write, write_1h = usage
            if completion is None:
                bills.append((None, False))
                continue
            key = (usage, (stamp or "")[:key_len])
            found = memo.get(key)
            if found is None:
                found = memo[key] = self.bill(prompt, completion, reasoning, read, write, write_1h, stamp)
            bills.append(found)
        unbilled: tuple[float | None, bool] = (None, False)
        return [bills[i] if i >= 0 else unbilled for i in usages.index]

    def price(self, rec: Record) -> float | None:
        """One record as billed (None: it has no token counts)."""
        return self.record_bill(rec)[0]

    def batch_applied(self, rec: Record) -> bool:
        """Whether ``rec`` was billed at a batch price (a dated batch variant may not hold yet)."""
        return self.record_bill(rec)[1]

    def crossings(self, records: Iterable[Record]) -> list[TierCrossing]:
        """How many requests went over each tier start, with the prices above it (empty: none did, or
        the prices have no tiers). Shown wherever a task crosses a boundary."""
        return self.usage_crossings(Usages.of(records))

    def usage_crossings(self, usages: Usages) -> list[TierCrossing]:
        """``crossings`` of the records ``usages`` holds (each distinct usage looked up once)."""
        counts: dict[int, int] = {}
        labels: dict[int, str] = {}
        for usage, stamp, size in zip(usages.keys, usages.stamps, usages.sizes, strict=True):
            force = self._resolve(stamp)
            j = bisect_left(force.starts, usage[0])
            if j:
                start = force.starts[j - 1]
                counts[start] = counts.get(start, 0) + size
                labels.setdefault(start, _band_label(force.bands[j]))
        return [TierCrossing(s, counts[s], labels[s]) for s in sorted(counts)]

    def label(self, at: dt.datetime | None = None) -> str:
        """``$3 in / $15 out / $0.3 cache read / $3.75 cache write (1h $6) per 1M tok; above 200,000
        input tokens: $6 in / ...`` (and the batch tier), at ``at`` (default: now)."""
        prices, discount, applied = self.schedule.at(at, self.batch)
        force = _in_force(prices, discount, applied)
        text = _band_label(force.bands[0]) + " per 1M tok"
        for start, band in zip(force.starts, force.bands[1:], strict=True):
            text += f"; above {start:,} input tokens: {_band_label(band)}"
        if applied:
            text += f", batch tier ({discount:.0%} off)" if discount else ", batch tier"
        changes = sum(1 for p in self.schedule.periods if p.when is not None)
        if changes:
            text += f" ({changes} dated or timed price change{'s' if changes > 1 else ''}: by request time)"
        return text


def _band_label(band: _Band) -> str:
    inp, out, read, write, write_1h, reasoning = band.published
    parts = [f"${inp:g} in", f"${out:g} out"]
    if read is not None:
        parts.append(f"${read:g} cache read")
    if write is not None:
        one_hour = f" (1h ${write_1h:g})" if write_1h is not None else ""
        parts.append(f"${write:g} cache write{one_hour}")
    if reasoning is not None:
        parts.append(f"${reasoning:g} reasoning")
    if band.per_request:
        parts.append(f"${band.per_request * 1000:g} per 1k requests")
    return " / ".join(parts)


def rates_for(device: FlatPrices, batch: bool = False) -> tuple[TokenRates | None, str | None]:
    """The rates of a token-priced device and, with ``batch``, a note when it has no batch tier (then it
    is billed at its list prices). (None, None): not a token API."""
    schedule = schedule_of(device)
    if schedule is None:
        return None, None
    rates = TokenRates(schedule, batch)
    return rates, NO_BATCH_TIER if batch and not schedule.has_batch else None
