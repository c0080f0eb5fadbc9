"""Cross-field rules for the prices in a device profile (docs/devices.md: "prices are data with dates").

Kept apart from the schema in ``devices.py`` so that the rules read as a list. Every message starts with
the field it is about, so ``load_device`` prints ``FILE: FIELD: what is wrong (the fix)``.

The rules:

- every price carries ``as_of`` (the day it was read) and ``source`` (where); the electricity price may
  carry its own ``kwh_as_of`` / ``kwh_source`` instead;
- a local device is priced by hardware and electricity; a cloud profile by tokens or a subscription,
  never both, and never with nothing (a cloud profile without prices cannot be costed);
- a hardware price needs ``lifetime_years`` and ``utilization`` to be amortized;
- ``idle_w`` cannot exceed ``max_w``; ``power_mode`` must name one of ``power_modes`` when there are any.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.devices.profiles import DeviceProfile

__all__ = ["price_problem"]

_DATE_FIX = "add as_of = YYYY-MM-DD, the day the price was read"
_SOURCE_FIX = 'add source = "where the price comes from"'


def _provenance(p: DeviceProfile, priced: list[str]) -> str | None:
    if not priced:
        return None
    if p.as_of is None:
        return f"as_of: required with a price ({', '.join(priced)}); {_DATE_FIX}"
    if not (p.source or "").strip():
        return f"source: required with a price ({', '.join(priced)}); {_SOURCE_FIX}"
    return None


def _local(p: DeviceProfile) -> str | None:
    cloud_fields = [
        n
        for n in (
            "input_usd_per_mtok",
            "output_usd_per_mtok",
            "cached_input_usd_per_mtok",
            "subscription_usd_per_month",
            "tasks_per_month",
            "max_tasks_per_month",
        )
        if getattr(p, n) is not None
    ]
    if cloud_fields:
        return f'{cloud_fields[0]}: cloud prices belong to kind = "cloud" profiles (remove it)'
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


def _cloud(p: DeviceProfile) -> str | None:
    for name in ("price_usd", "kwh_usd", "lifetime_years", "utilization"):
        if getattr(p, name) is not None:
            return f'{name}: a kind = "cloud" profile is priced by tokens or a subscription (remove it)'
    tokens = p.input_usd_per_mtok is not None or p.output_usd_per_mtok is not None
    subscription = p.subscription_usd_per_month is not None
    if tokens and subscription:
        return "subscription_usd_per_month: give token prices or a subscription, not both"
    if not tokens and not subscription:
        if p.cached_input_usd_per_mtok is not None:
            return "input_usd_per_mtok: required with cached_input_usd_per_mtok"
        return (
            "input_usd_per_mtok: a cloud profile needs prices: input_usd_per_mtok and output_usd_per_mtok "
            "(token API) or subscription_usd_per_month (subscription)"
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


def price_problem(p: DeviceProfile) -> str | None:
    """The first price rule ``p`` breaks, as ``FIELD: problem (fix)``; None when it keeps them all."""
    return _local(p) if p.kind == "local" else _cloud(p)
