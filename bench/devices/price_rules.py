"""Cross-field rules for the prices in a device profile (docs/devices.md: "prices are data with dates").

Kept apart from the schema in ``devices.py`` so that the rules read as a list. Every message starts with
the field it is about, so ``load_device`` prints ``FILE: FIELD: what is wrong (the fix)``.

The rules:

- every price carries ``as_of`` (the day it was read) and ``source`` (where); the electricity price may
  carry its own ``kwh_as_of`` / ``kwh_source`` instead;
- a local device is priced by hardware and electricity; a cloud profile by tokens or a subscription,
  never both; a cloud profile without prices must name the provider and model whose prices the price
  database gives it when it is loaded (bench/devices/price_db.py), and may then give only a batch
  discount of its own (an explicit override of the database's batch tier);
- a hardware price needs ``lifetime_years`` and ``utilization`` to be amortized;
- ``idle_w`` cannot exceed ``max_w``; ``power_mode`` must name one of ``power_modes`` when there are any;
- price tiers (docs/prices.md) belong to a token API: a cache-write rate needs the cache-read rate beside
  it (a provider that bills writes bills reads too), a 1-hour write rate needs the default one, the batch
  tier is a discount strictly between 0 and 1 or explicit batch rates, not both;
- a rented GPU (``kind = "rented"``) needs its hourly rate, billing increment, GPU and date.

It also holds the one answer to "does this device have prices, and how is it priced?" (``pricing_basis``)
and what to tell a user whose device has none (``price_gap``): the profile, the cost layer, the report
and the gate all ask here, through the profile's ``pricing`` and the recorded device's
(``bench.results.manifest_parts.DeviceFacts``), which read the same fields (``Priceable``).

The rules read a profile through the ``PricedDevice`` protocol, not the ``DeviceProfile`` class: this
module sits below ``profiles.py`` (which calls it from its validator), and importing the class back, even
for type checking only, would make the two modules a cycle.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Mapping
from typing import Any, Literal, Protocol

__all__ = [
    "PRICE_FIELDS",
    "Priceable",
    "PricedDevice",
    "PricingBasis",
    "price_gap",
    "price_problem",
    "pricing_basis",
]

PricingBasis = Literal["hardware", "tokens", "subscription", "rented"]


class PricedDevice(Protocol):
    """The fields of a profile the price rules read (``bench.devices.profiles.DeviceProfile`` has them)."""

    @property
    def kind(self) -> str: ...
    @property
    def provider(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def price_usd(self) -> float | None: ...
    @property
    def lifetime_years(self) -> float | None: ...
    @property
    def utilization(self) -> float | None: ...
    @property
    def idle_w(self) -> float | None: ...
    @property
    def max_w(self) -> float | None: ...
    @property
    def kwh_usd(self) -> float | None: ...
    @property
    def kwh_as_of(self) -> dt.date | None: ...
    @property
    def kwh_source(self) -> str | None: ...
    @property
    def power_mode(self) -> str | None: ...
    @property
    def power_modes(self) -> Mapping[str, Any]: ...
    @property
    def input_usd_per_mtok(self) -> float | None: ...
    @property
    def output_usd_per_mtok(self) -> float | None: ...
    @property
    def cached_input_usd_per_mtok(self) -> float | None: ...
    @property
    def cache_read_usd_per_mtok(self) -> float | None: ...
    @property
    def cache_write_usd_per_mtok(self) -> float | None: ...
    @property
    def batch_discount(self) -> float | None: ...
    @property
    def batch_input_usd_per_mtok(self) -> float | None: ...
    @property
    def batch_output_usd_per_mtok(self) -> float | None: ...
    @property
    def subscription_usd_per_month(self) -> float | None: ...
    @property
    def tasks_per_month(self) -> float | None: ...
    @property
    def max_tasks_per_month(self) -> float | None: ...
    @property
    def tiers_as_of(self) -> dt.date | None: ...
    @property
    def tiers_source(self) -> str | None: ...
    @property
    def usd_per_hour(self) -> float | None: ...
    @property
    def billing_increment_s(self) -> float | None: ...
    @property
    def gpu(self) -> str | None: ...
    @property
    def as_of(self) -> dt.date | None: ...
    @property
    def source(self) -> str | None: ...


_DATE_FIX = "add as_of = YYYY-MM-DD, the day the price was read"
_SOURCE_FIX = 'add source = "where the price comes from"'


def _provenance(p: PricedDevice, priced: list[str]) -> str | None:
    if not priced:
        return None
    if p.as_of is None:
        return f"as_of: required with a price ({', '.join(priced)}); {_DATE_FIX}"
    if not (p.source or "").strip():
        return f"source: required with a price ({', '.join(priced)}); {_SOURCE_FIX}"
    return None


def _local(p: PricedDevice) -> str | None:
    cloud_fields = [n for n in (*_CLOUD, *_TIERS, *_RENTED) if getattr(p, n) is not None]
    if cloud_fields:
        owner = "rented" if cloud_fields[0] in _RENTED else "cloud"
        return f'{cloud_fields[0]}: these prices belong to kind = "{owner}" profiles (remove it)'
    if p.price_usd is not None:
        for name in ("lifetime_years", "utilization"):
            if getattr(p, name) is None:
                return f"{name}: required with price_usd to amortize the hardware (e.g. lifetime_years = 3)"
    if p.idle_w is not None and p.max_w is not None and p.idle_w > p.max_w:
        return f"idle_w: {p.idle_w} W exceeds max_w {p.max_w} W"
    if p.power_modes and p.power_mode is not None and p.power_mode not in p.power_modes:
        hint = difflib.get_close_matches(p.power_mode, list(p.power_modes), n=1)
        did = f"did you mean '{hint[0]}'? " if hint else ""
        return (
            f"power_mode: '{p.power_mode}' is not one of power_modes ({did}known: {', '.join(p.power_modes)})"
        )
    if p.kwh_usd is not None and p.kwh_as_of is None and p.as_of is None:
        return f"kwh_as_of: required with kwh_usd (or as_of); {_DATE_FIX}"
    if p.kwh_usd is not None and not (p.kwh_source or p.source or "").strip():
        return 'kwh_source: required with kwh_usd (or source); add kwh_source = "EIA ..."'
    return _provenance(p, ["price_usd"] if p.price_usd is not None else [])


_TIERS = (
    "cache_read_usd_per_mtok",
    "cache_write_usd_per_mtok",
    "cache_write_ttl",
    "cache_write_1h_usd_per_mtok",
    "cache_storage_usd_per_mtok_hour",
    "batch_discount",
    "batch_input_usd_per_mtok",
    "batch_output_usd_per_mtok",
    "tiers_as_of",
    "tiers_source",
)
_RENTED = ("usd_per_hour", "billing_increment_s", "gpu", "concurrent_streams")
_CLOUD = (
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cached_input_usd_per_mtok",
    "subscription_usd_per_month",
    "tasks_per_month",
    "max_tasks_per_month",
)

# every field of a profile that is a price or dates one: what ``--reprice`` takes from today's profile
PRICE_FIELDS = (
    "price_usd",
    "lifetime_years",
    "utilization",
    "kwh_usd",
    "kwh_as_of",
    "kwh_source",
    "wall_factor",
    *_CLOUD,
    *_TIERS,
    "usd_per_hour",
    "billing_increment_s",
    "token_prices",
    "as_of",
    "source",
)


def _tiers(p: PricedDevice) -> str | None:
    """The rules of the cache and batch tiers (only a token API has them)."""
    given = [n for n in _TIERS if getattr(p, n) is not None]
    if not given:
        return None
    if p.input_usd_per_mtok is None:
        database = p.subscription_usd_per_month is None and bool(p.provider and p.model)
        own = [n for n in given if n not in ("batch_discount", "tiers_as_of", "tiers_source")]
        if not database or own:
            return (
                f"{(own or given)[0]}: a price tier needs the token prices (input_usd_per_mtok, "
                "output_usd_per_mtok)"
                + ("; with the database's prices, only batch_discount" if database else "")
            )
    read, old = p.cache_read_usd_per_mtok, p.cached_input_usd_per_mtok
    if read is not None and old is not None and read != old:
        return (
            f"cache_read_usd_per_mtok: {read:g} differs from cached_input_usd_per_mtok {old:g} "
            "(one tier under two names): give one"
        )
    if p.cache_write_usd_per_mtok is not None and read is None and old is None:
        return (
            "cache_read_usd_per_mtok: required with cache_write_usd_per_mtok (a provider that bills "
            "cache writes bills cache reads too); add the read rate from the same price page"
        )
    for name in ("cache_write_1h_usd_per_mtok", "cache_write_ttl"):
        if getattr(p, name) is not None and p.cache_write_usd_per_mtok is None:
            return f"{name}: needs cache_write_usd_per_mtok (the default TTL's write rate)"
    d = p.batch_discount
    if d is not None and not (0 < d < 1):
        return (
            f"batch_discount: {d:g} is outside (0, 1); give the share taken off the price (0.5 for 50% off)"
        )
    explicit = p.batch_input_usd_per_mtok is not None or p.batch_output_usd_per_mtok is not None
    if d is not None and explicit:
        return "batch_discount: give a batch discount or explicit batch rates, not both"
    if explicit and (p.batch_input_usd_per_mtok is None or p.batch_output_usd_per_mtok is None):
        return (
            "batch_input_usd_per_mtok: explicit batch rates need both "
            "batch_input_usd_per_mtok and batch_output_usd_per_mtok"
        )
    if p.tiers_source is not None and p.tiers_as_of is None:
        return f"tiers_as_of: required with tiers_source; {_DATE_FIX}"
    return None


def _rented(p: PricedDevice) -> str | None:
    """A GPU rented by the hour: its rate, billing increment, GPU and date."""
    for name in (
        "price_usd",
        "kwh_usd",
        "lifetime_years",
        "input_usd_per_mtok",
        "subscription_usd_per_month",
    ):
        if getattr(p, name) is not None:
            return f'{name}: a kind = "rented" profile is priced by the hour (usd_per_hour; remove it)'
    tiers = [n for n in _TIERS if getattr(p, n) is not None]
    if tiers:
        return f'{tiers[0]}: token price tiers belong to kind = "cloud" profiles (remove it)'
    rate = p.usd_per_hour
    if rate is None:
        return (
            "usd_per_hour: required for a rented GPU (the provider's hourly rate, e.g. usd_per_hour = 2.49)"
        )
    if not (math.isfinite(rate) and rate > 0):
        return f"usd_per_hour: {rate} is not a positive hourly rate"
    inc = p.billing_increment_s
    if inc is None:
        return (
            "billing_increment_s: required: the provider's minimum billing increment in seconds (1, 60, 3600)"
        )
    if not (math.isfinite(inc) and inc > 0):
        return f"billing_increment_s: {inc} is not a positive number of seconds"
    if not (p.gpu or "").strip():
        return 'gpu: required for a rented GPU (e.g. gpu = "H100 80GB SXM")'
    if not (p.provider or "").strip():
        return 'provider: required for a rented GPU (who rents it, e.g. provider = "runpod")'
    if p.utilization is not None and not 0 < p.utilization <= 1:
        return f"utilization: {p.utilization} is outside (0, 1]"
    return _provenance(p, ["usd_per_hour"])


def _cloud(p: PricedDevice) -> str | None:
    for name in ("price_usd", "kwh_usd", "lifetime_years", "utilization", *_RENTED):
        if getattr(p, name) is not None:
            return f'{name}: a kind = "cloud" profile is priced by tokens or a subscription (remove it)'
    tier_problem = _tiers(p)
    if tier_problem:
        return tier_problem
    tokens = p.input_usd_per_mtok is not None or p.output_usd_per_mtok is not None
    subscription = p.subscription_usd_per_month is not None
    if tokens and subscription:
        return "subscription_usd_per_month: give token prices or a subscription, not both"
    if not tokens and not subscription:
        if p.cached_input_usd_per_mtok is not None:
            return "input_usd_per_mtok: required with cached_input_usd_per_mtok"
        if p.provider and p.model:
            return _tiers_dated(p)  # priced by the database when loaded (bench/devices/price_db.py)
        return (
            "input_usd_per_mtok: a cloud profile needs prices: input_usd_per_mtok and output_usd_per_mtok "
            "(token API), subscription_usd_per_month (subscription), or provider and model to take them "
            "from the price database (`infercost prices WORD` lists them)"
        )
    if tokens:
        for name in ("input_usd_per_mtok", "output_usd_per_mtok"):
            if getattr(p, name) is None:
                return f"{name}: required with the other token price"
        if p.tasks_per_month is not None or p.max_tasks_per_month is not None:
            return "tasks_per_month: belongs to a subscription (subscription_usd_per_month)"
    if (
        subscription
        and p.tasks_per_month is not None
        and p.max_tasks_per_month is not None
        and p.tasks_per_month > p.max_tasks_per_month
    ):
        return (
            f"tasks_per_month: {p.tasks_per_month:g} exceeds the plan's "
            f"max_tasks_per_month {p.max_tasks_per_month:g}"
        )
    priced = [
        n
        for n in ("input_usd_per_mtok", "output_usd_per_mtok", "subscription_usd_per_month")
        if getattr(p, n) is not None
    ]
    return _provenance(p, priced)


def _tiers_dated(p: PricedDevice) -> str | None:
    """A batch discount over the database's prices is a price of the profile's own: dated and sourced."""
    if p.batch_discount is None:
        return None
    if (p.tiers_as_of or p.as_of) is None:
        return f"tiers_as_of: required with batch_discount; {_DATE_FIX}"
    if not (p.tiers_source or p.source or "").strip():
        return 'tiers_source: required with batch_discount; add tiers_source = "where the discount is stated"'
    return None


def price_problem(p: PricedDevice) -> str | None:
    """The first price rule ``p`` breaks, as ``FIELD: problem (fix)``; None when it keeps them all."""
    if p.kind == "rented":
        return _rented(p)
    return _local(p) if p.kind == "local" else _cloud(p)


# ------------------------------------------------------------------------ does this device have prices?
class Priceable(Protocol):
    """What the pricing rule reads of a device: a loaded ``DeviceProfile`` and the device a manifest
    recorded (``bench.results.manifest_parts.DeviceFacts``) both have these fields."""

    @property
    def kind(self) -> str | None: ...
    @property
    def price_usd(self) -> float | None: ...
    @property
    def kwh_usd(self) -> float | None: ...
    @property
    def usd_per_hour(self) -> float | None: ...
    @property
    def input_usd_per_mtok(self) -> float | None: ...
    @property
    def subscription_usd_per_month(self) -> float | None: ...
    @property
    def tasks_per_month(self) -> float | None: ...
    @property
    def token_prices(self) -> object | None: ...


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def pricing_basis(device: Priceable) -> PricingBasis | None:
    """How a device turns a run into dollars, or None when it carries no price: the one rule, for a
    ``DeviceProfile`` (``DeviceProfile.pricing``) and for the device a manifest recorded
    (``DeviceFacts.pricing``).

    A local device is priced by its hardware or its electricity (either is enough to cost a request); a
    rented GPU by its hourly rate; a cloud API by token prices (its own, or the ones the price database
    gave it when it was loaded: ``token_prices``) or by a subscription fee. A device that does not say
    its kind is local."""
    kind = device.kind or "local"
    if kind == "rented":
        return "rented" if _number(device.usd_per_hour) else None
    if kind == "local":
        return "hardware" if _number(device.price_usd) or _number(device.kwh_usd) else None
    if device.token_prices is not None or _number(device.input_usd_per_mtok):
        return "tokens"
    if _number(device.subscription_usd_per_month):
        return "subscription"
    return None


def price_gap(device: Priceable) -> str | None:
    """Why a device's requests cannot be turned into dollars, with the fix (None: they can).

    A subscription has a price but no cost per task until the user states a monthly volume: that is a
    gap too, and its fix is the volume, not token prices."""
    kind = device.kind or "local"
    basis = pricing_basis(device)
    if basis == "subscription" and not _number(device.tasks_per_month):
        return (
            "a subscription's cost per task needs the tasks per month you expect: add tasks_per_month to "
            "the profile or give --tasks-per-month"
        )
    if basis is not None:
        return None
    if kind == "rented":
        return "the device profile has no hourly rate: add usd_per_hour (with as_of and source)"
    if kind == "cloud":
        return (
            "the device profile has no prices: name a model the price database knows (provider and model; "
            "`infercost prices WORD` lists them), or add input_usd_per_mtok and output_usd_per_mtok, "
            "or subscription_usd_per_month"
        )
    return (
        "the device profile has no prices: add price_usd (with lifetime_years and utilization) or kwh_usd, "
        "or give --hardware-usd / --kwh-usd"
    )
