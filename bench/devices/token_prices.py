"""A token API's prices as data: rates per tier of input size, prices that change on a date (or by the
hour of the day), the batch tier, and where the numbers came from (docs/prices.md).

One ``PriceSchedule`` describes everything a bill depends on besides the usage: it is what a profile's
flat fields turn into, what the price database (``bench.devices.price_db``) gives a model, and what a
manifest records, so that a bundle is priced later with the very prices it was run with. It is plain
data (JSON in the manifest); the arithmetic lives in ``bench.cost`` (``tiers.py``, ``formulas.py``).

Semantics follow the price database's own calculator (genai-prices), which infercost agrees with to 1e-9
(tests/cost/test_price_db.py):

- a ``Rate`` is a base price and context-length tiers: when a request's input tokens (cache reads and
  writes included) *exceed* a tier's start, **all** its tokens of that kind pay the tier's price (the
  "cliff" the providers bill: Claude Sonnet 4.5 above 200k input tokens, Gemini Pro above 200k);
- of the ``periods``, the last whose condition holds at the request's time applies (a start date, or a
  daily window in UTC such as DeepSeek's off-peak hours); when none holds, the first;
- at the batch tier each price of the first active ``batch`` variant that gives it replaces the
  standard one; without an active variant, a profile's ``batch_discount`` comes off every price.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "PRICE_KEYS",
    "FlatPrices",
    "Period",
    "PriceSchedule",
    "PriceSet",
    "PriceSource",
    "Rate",
    "Tier",
    "TieredRate",
    "When",
    "schedule_from_fields",
    "schedule_of",
]

# the priced kinds of tokens, in the order a bill lists them
PRICE_KEYS = (
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cache_read_usd_per_mtok",
    "cache_write_usd_per_mtok",
    "cache_write_1h_usd_per_mtok",
    "reasoning_usd_per_mtok",
    "usd_per_1k_requests",
)


class Tier(BaseModel):
    """From ``above_tokens`` input tokens on (exclusive), every token of the kind costs ``usd_per_mtok``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    above_tokens: int = Field(ge=0)
    usd_per_mtok: float = Field(ge=0)


class TieredRate(BaseModel):
    """A price that depends on the request's input size: ``base`` up to the first tier's start."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    base: float = Field(ge=0)
    tiers: tuple[Tier, ...]

    @model_validator(mode="after")
    def _sorted(self) -> TieredRate:
        starts = [t.above_tokens for t in self.tiers]
        if starts != sorted(starts):
            raise ValueError("tiers must be in ascending order of above_tokens")
        return self


Rate = float | TieredRate


def rate_starts(rate: Rate | None) -> tuple[int, ...]:
    return tuple(t.above_tokens for t in rate.tiers) if isinstance(rate, TieredRate) else ()


class PriceSet(BaseModel):
    """USD per 1M tokens of each kind (``usd_per_1k_requests``: a fee per request, per 1,000); None: the
    kind is not priced apart, and its tokens pay the next price that covers them (a 1-hour cache write
    the write price, a write or a read the input price, reasoning the output price)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    input_usd_per_mtok: Rate | None = None
    output_usd_per_mtok: Rate | None = None
    cache_read_usd_per_mtok: Rate | None = None
    cache_write_usd_per_mtok: Rate | None = None
    cache_write_1h_usd_per_mtok: Rate | None = None
    reasoning_usd_per_mtok: Rate | None = None
    usd_per_1k_requests: Rate | None = None

    def given(self) -> dict[str, Rate]:
        return {k: v for k in PRICE_KEYS if (v := getattr(self, k)) is not None}

    def tier_starts(self) -> tuple[int, ...]:
        """Every input size at which some price of this set changes, ascending."""
        return tuple(sorted({s for v in self.given().values() for s in rate_starts(v)}))


class When(BaseModel):
    """When a price holds: from a day on (UTC), and/or in a daily window of UTC time ``[from, until)``
    (a window that wraps past midnight holds on both sides of it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    starts: dt.date | None = None
    daily_from: dt.time | None = None
    daily_until: dt.time | None = None

    def holds(self, at: dt.datetime) -> bool:
        """``at`` is a UTC time (naive or aware)."""
        if self.starts is not None and at.date() < self.starts:
            return False
        if self.daily_from is not None and self.daily_until is not None:
            now = at.time().replace(tzinfo=None)
            lo, hi = self.daily_from, self.daily_until
            return (now >= lo or now < hi) if hi < lo else lo <= now < hi
        return True


class Period(BaseModel):
    """Prices and the condition under which they apply (None: always)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: When | None = None
    prices: PriceSet


class PriceSource(BaseModel):
    """Where a schedule's prices come from: the price database (package version and the date of its
    data) or a profile file (the day its prices were read)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["genai-prices", "profile"]
    version: str | None = None  # the package version, for the database
    as_of: dt.date | None = None  # the data's date (database) or the profile's as_of
    ref: str | None = None  # provider/model in the database, or the profile file
    note: str | None = None  # the profile's own source line

    def label(self) -> str:
        """``genai-prices 0.2.5 (data as of 2026-11-06): anthropic/claude-sonnet-4-5`` or
        ``profile devices/x.toml (as of 2026-08-05)``."""
        when = self.as_of.isoformat() if self.as_of else "undated"
        if self.kind == "genai-prices":
            return f"genai-prices {self.version} (data as of {when}): {self.ref}"
        ref = self.ref or "?"
        if "/devices/" in ref and ref.endswith(".toml"):  # a shipped profile, wherever the checkout is
            ref = "devices/" + ref.rsplit("/", 1)[1]
        return f"profile {ref} (as of {when})"


class PriceSchedule(BaseModel):
    """Everything a token API bills by, besides the usage: see the module docstring for the rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    periods: tuple[Period, ...] = Field(min_length=1)
    batch: tuple[Period, ...] = ()
    batch_discount: float | None = Field(default=None, gt=0, lt=1)
    source: PriceSource
    context_window: int | None = None

    @model_validator(mode="after")
    def _complete(self) -> PriceSchedule:
        for period in self.periods:
            if period.prices.input_usd_per_mtok is None or period.prices.output_usd_per_mtok is None:
                raise ValueError("every period needs input_usd_per_mtok and output_usd_per_mtok")
        return self

    @property
    def dated(self) -> bool:
        """Whether the price in force depends on the request's time at all."""
        return any(p.when is not None for p in (*self.periods, *self.batch))

    @property
    def daily(self) -> bool:
        """Whether it depends on the time of day (not only on the day)."""
        return any(p.when is not None and p.when.daily_from is not None for p in (*self.periods, *self.batch))

    @property
    def has_batch(self) -> bool:
        return bool(self.batch) or self.batch_discount is not None

    def standard_at(self, at: dt.datetime | None) -> PriceSet:
        """The interactive prices in force at ``at`` (None: the latest period, as of today)."""
        if at is None:
            at = dt.datetime.now(dt.timezone.utc)
        for period in reversed(self.periods):
            if period.when is None or period.when.holds(at):
                return period.prices
        return self.periods[0].prices

    def at(self, at: dt.datetime | None, batch: bool = False) -> tuple[PriceSet, float, bool]:
        """``(prices, discount, batch_applied)`` in force at ``at``: the standard prices, with the batch
        variant's over them where one holds, else the batch discount to take off every price."""
        standard = self.standard_at(at)
        if not batch:
            return standard, 0.0, False
        moment = at or dt.datetime.now(dt.timezone.utc)
        overrides: dict[str, Rate] = {}
        for variant in self.batch:
            if variant.when is not None and not variant.when.holds(moment):
                continue
            for key, value in variant.prices.given().items():
                overrides.setdefault(key, value)
        if overrides:
            return standard.model_copy(update=overrides), 0.0, True
        if self.batch_discount is not None:
            return standard, self.batch_discount, True
        return standard, 0.0, False


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class FlatPrices(Protocol):
    """A profile's flat token-price fields, as a loaded ``DeviceProfile`` and the device a manifest
    recorded (``bench.results.manifest_parts.DeviceFacts``) both have them; dates as a ``date`` (a profile)
    or ISO text (a manifest)."""

    @property
    def input_usd_per_mtok(self) -> float | None: ...
    @property
    def output_usd_per_mtok(self) -> float | None: ...
    @property
    def cache_read_usd_per_mtok(self) -> float | None: ...
    @property
    def cached_input_usd_per_mtok(self) -> float | None: ...
    @property
    def cache_write_usd_per_mtok(self) -> float | None: ...
    @property
    def cache_write_1h_usd_per_mtok(self) -> float | None: ...
    @property
    def batch_input_usd_per_mtok(self) -> float | None: ...
    @property
    def batch_output_usd_per_mtok(self) -> float | None: ...
    @property
    def batch_discount(self) -> float | None: ...
    @property
    def as_of(self) -> dt.date | str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def origin(self) -> str | None: ...
    @property
    def token_prices(self) -> PriceSchedule | None: ...


def _day(as_of: dt.date | str | None) -> dt.date | None:
    if isinstance(as_of, dt.date):
        return as_of
    if isinstance(as_of, str):
        try:
            return dt.date.fromisoformat(as_of[:10])
        except ValueError:
            return None
    return None


def schedule_from_fields(p: FlatPrices, source: PriceSource | None = None) -> PriceSchedule | None:
    """The schedule of a profile's flat price fields (a profile, or the device an older manifest
    recorded): one period without tiers, explicit batch rates as a batch variant (the cache prices scaled
    with the input price, docs/prices.md), or the batch discount. None: no token prices."""
    inp, out = _number(p.input_usd_per_mtok), _number(p.output_usd_per_mtok)
    if inp is None or out is None:
        return None
    read = _number(p.cache_read_usd_per_mtok)
    if read is None:
        read = _number(p.cached_input_usd_per_mtok)
    write, write_1h = _number(p.cache_write_usd_per_mtok), _number(p.cache_write_1h_usd_per_mtok)
    prices = PriceSet(
        input_usd_per_mtok=inp,
        output_usd_per_mtok=out,
        cache_read_usd_per_mtok=read,
        cache_write_usd_per_mtok=write,
        cache_write_1h_usd_per_mtok=write_1h,
    )
    batch: tuple[Period, ...] = ()
    b_in, b_out = _number(p.batch_input_usd_per_mtok), _number(p.batch_output_usd_per_mtok)
    discount = _number(p.batch_discount)
    if b_in is not None and b_out is not None and discount is None:
        scale = b_in / inp if inp else 1.0

        def scaled(v: float | None) -> float | None:
            return None if v is None else v * scale

        batch = (
            Period(
                prices=PriceSet(
                    input_usd_per_mtok=b_in,
                    output_usd_per_mtok=b_out,
                    cache_read_usd_per_mtok=scaled(read),
                    cache_write_usd_per_mtok=scaled(write),
                    cache_write_1h_usd_per_mtok=scaled(write_1h),
                )
            ),
        )
    if source is None:
        source = PriceSource(
            kind="profile",
            as_of=_day(p.as_of),
            ref=str(p.origin) if p.origin else None,
            note=str(p.source) if p.source else None,
        )
    return PriceSchedule(
        periods=(Period(prices=prices),), batch=batch, batch_discount=discount, source=source
    )


def schedule_of(device: FlatPrices) -> PriceSchedule | None:
    """A device's token prices: the schedule it recorded (``token_prices``), else its flat price fields
    (a profile, or the device a manifest written before schedules existed). None: not a token API."""
    return device.token_prices if device.token_prices is not None else schedule_from_fields(device)
